"""The outbox and the sender against a real SMTP server on loopback, on
SQLite and PostgreSQL, with a gate over a consent table."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tenure.campaigns import outbox, sender
from tenure.campaigns.channels.smtp import SmtpProvider, SmtpSettings, message_id
from tenure.campaigns.templates import Rendered
from tenure.errors import InputError
from tenure.store.ops_schema import campaign_messages as messages_t

from .conftest import consent_gate, grant, senders_at_once

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
UNSUBSCRIBE = {"List-Unsubscribe": "<https://shop.example/u/abc>",
               "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}  # fmt: skip


def rendered(who: str) -> Rendered:
    return Rendered("win-back", "en", f"We miss you, {who}", f"Hello {who}, come back.",
                    f"<p>Hello {who}</p>")  # fmt: skip


def smtp(server) -> SmtpProvider:
    return SmtpProvider(SmtpSettings(host=server.host, port=server.port, security="none",
                                     sender="news@shop.example", sender_name="Shop"))  # fmt: skip


def enqueue(ops, who: str, *, occurrence: str = "1", **more) -> int | None:
    with ops.engine.begin() as conn:
        return outbox.enqueue(conn, campaign="win-back", step="1", customer_id=who,
                              occurrence=occurrence, channel="email", purpose="marketing",
                              recipient=f"{who.lower()}@example.com", message=rendered(who),
                              headers=UNSUBSCRIBE, now=NOW, **more)  # fmt: skip


def rows(ops) -> dict[str, dict]:
    with ops.engine.connect() as conn:
        found = conn.execute(sa.select(messages_t).order_by(messages_t.c.id)).mappings()
        return {r["customer_id"]: dict(r) for r in found}


def test_messages_reach_the_server_once_with_their_key_as_message_id(ops, smtp_server):
    grant(ops, "C1", "C2")
    assert enqueue(ops, "C1") is not None
    assert enqueue(ops, "C2") is not None
    assert enqueue(ops, "C1") is None  # the same decision again: nothing added
    provider = smtp(smtp_server)
    done = sender.send_due(ops, provider, consent_gate, now=NOW)
    provider.close()
    assert (done["claimed"], done["sent"]) == (2, 2)
    inbox = smtp_server.inbox
    assert len(inbox.arrivals) == 2
    mail = inbox.to("c1@example.com")[0]
    assert mail["Message-ID"] == message_id("win-back:1:C1:1", "shop.example")
    assert mail["Subject"] == "We miss you, C1"
    assert mail["From"] == "Shop <news@shop.example>"
    assert mail["List-Unsubscribe"] == "<https://shop.example/u/abc>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail.get_body(("html",)).get_content().strip() == "<p>Hello C1</p>"
    assert mail.get_body(("plain",)).get_content().strip() == "Hello C1, come back."
    kept = rows(ops)["C1"]
    assert kept["state"] == "sent" and kept["provider_message_id"] == mail["Message-ID"]
    assert kept["body_text"] == "Hello C1, come back."  # the message is kept with its send
    assert json.loads(kept["headers"]) == UNSUBSCRIBE
    # nothing is due any more: a second pass sends nothing
    assert sender.send_due(ops, smtp(smtp_server), consent_gate, now=NOW)["claimed"] == 0
    assert len(inbox.arrivals) == 2


def test_a_decision_rolled_back_leaves_no_message(sqlite_ops):
    with pytest.raises(RuntimeError), sqlite_ops.engine.begin() as conn:
        outbox.enqueue(conn, campaign="c", step="1", customer_id="C1", occurrence=1,
                       channel="email", purpose="marketing", recipient="c1@example.com",
                       message=rendered("C1"), now=NOW)  # fmt: skip
        raise RuntimeError("the decision failed after writing its message")
    assert rows(sqlite_ops) == {}


def test_the_gate_blocks_and_expired_messages_expire_each_with_its_reason(ops, smtp_server):
    grant(ops, "C1", "C3")
    grant(ops, "C2", granted=False, reason="unsubscribed 2026-02-01 by one-click link")
    for who in ("C1", "C2", "C4"):
        enqueue(ops, who)
    enqueue(ops, "C3", expires_at=NOW - timedelta(seconds=1))
    done = sender.send_due(ops, smtp(smtp_server), consent_gate, now=NOW)
    assert (done["sent"], done["blocked"], done["expired"]) == (1, 2, 1)
    assert [m["To"] for m in smtp_server.inbox.arrivals] == ["c1@example.com"]
    kept = rows(ops)
    assert (kept["C2"]["state"], kept["C2"]["reason"]) == (
        "blocked",
        "unsubscribed 2026-02-01 by one-click link",
    )
    assert (kept["C4"]["state"], kept["C4"]["reason"]) == (
        "blocked",
        "no marketing consent for email",
    )
    assert kept["C3"]["state"] == "expired"
    assert kept["C3"]["reason"] == "not sent by 2026-03-02T08:59:59+00:00"
    with ops.engine.connect() as conn:
        counted = outbox.accounting(conn, "win-back")
    assert counted["total"] == 4
    assert counted["states"] == {"pending": 0, "sending": 0, "sent": 1, "failed": 0,
                                 "expired": 1, "blocked": 2}  # fmt: skip
    assert counted["not_sent"]["blocked"] == {
        "no marketing consent for email": 1,
        "unsubscribed 2026-02-01 by one-click link": 1,
    }
    assert counted["not_sent"]["expired"] == {"not sent by its deadline": 1}


def test_a_permanent_refusal_fails_and_a_busy_server_is_tried_again_after_the_backoff(
    sqlite_ops, smtp_server
):
    ops = sqlite_ops
    grant(ops, "C1", "C2")
    smtp_server.inbox.refuse["c1@example.com"] = 550
    smtp_server.inbox.busy["c2@example.com"] = 1
    enqueue(ops, "C1")
    enqueue(ops, "C2")
    provider = smtp(smtp_server)
    done = sender.send_due(ops, provider, consent_gate, now=NOW, rand=lambda: 1.0)
    assert (done["failed"], done["retrying"], done["sent"]) == (1, 1, 0)
    kept = rows(ops)
    assert kept["C1"]["state"] == "failed"
    assert kept["C1"]["reason"] == "SMTP 550 5.1.1 no such user"
    assert (
        kept["C2"]["state"] == "pending"
        and kept["C2"]["reason"] == "SMTP 451 4.3.0 try again later"
    )
    # the first retry waits a minute (rand 1.0: the full wait)
    assert kept["C2"]["next_at"].replace(tzinfo=UTC) == NOW + timedelta(minutes=1)
    early = sender.send_due(ops, provider, consent_gate, now=NOW + timedelta(seconds=59))
    assert early["claimed"] == 0
    later = sender.send_due(ops, provider, consent_gate, now=NOW + timedelta(minutes=1))
    assert later["sent"] == 1
    assert [m["To"] for m in smtp_server.inbox.arrivals] == ["c2@example.com"]
    assert rows(ops)["C2"]["attempts"] == 2


def test_a_server_always_busy_fails_the_message_after_the_last_attempt(sqlite_ops, smtp_server):
    ops = sqlite_ops
    grant(ops, "C1")
    smtp_server.inbox.busy["c1@example.com"] = 100
    enqueue(ops, "C1")
    provider, at = smtp(smtp_server), NOW
    waits = []
    for attempt in range(1, sender.MAX_ATTEMPTS + 1):
        done = sender.send_due(ops, provider, consent_gate, now=at, rand=lambda: 0.0)
        assert done["claimed"] == 1
        if attempt < sender.MAX_ATTEMPTS:
            # rand 0.0 takes half the full wait: 30 s, 1 min, 2 min, ... at most 3 h
            wait = min(timedelta(minutes=2 ** (attempt - 1)), timedelta(hours=6)) / 2
            waits.append(wait)
            assert rows(ops)["C1"]["next_at"].replace(tzinfo=UTC) == at + wait
            at += wait
    assert waits[-1] == timedelta(minutes=32)
    kept = rows(ops)["C1"]
    assert kept["state"] == "failed" and kept["attempts"] == sender.MAX_ATTEMPTS
    assert kept["reason"] == "failed 8 times; last: SMTP 451 4.3.0 try again later"


def test_a_claim_that_runs_out_makes_the_message_due_again(ops, smtp_server):
    grant(ops, "C1")
    enqueue(ops, "C1")
    summary = dict.fromkeys(sender.SUMMARY, 0)
    provider = smtp(smtp_server)
    taken = sender.claim(ops, consent_gate, {"email": provider}, NOW, summary)
    assert [t.customer_id for t in taken] == ["C1"]  # and the sender dies here
    before = NOW + sender.LEASE - timedelta(seconds=1)
    assert sender.send_due(ops, provider, consent_gate, now=before)["claimed"] == 0
    done = sender.send_due(ops, provider, consent_gate, now=NOW + sender.LEASE)
    assert done["sent"] == 1 and rows(ops)["C1"]["attempts"] == 2
    assert len(smtp_server.inbox.arrivals) == 1


def test_a_channel_without_a_provider_is_recorded_as_failed(sqlite_ops, smtp_server):
    grant(sqlite_ops, "C1", channel="sms")
    with sqlite_ops.engine.begin() as conn:
        outbox.enqueue(conn, campaign="c", step="1", customer_id="C1", occurrence=1,
                       channel="sms", purpose="marketing", recipient="+4366012345",
                       message=rendered("C1"), now=NOW)  # fmt: skip
    done = sender.send_due(sqlite_ops, smtp(smtp_server), consent_gate, now=NOW)
    assert done["failed"] == 1
    assert rows(sqlite_ops)["C1"]["reason"] == "no provider for the channel 'sms'"


def test_a_test_send_goes_to_the_staff_address_and_is_kept_apart(sqlite_ops, smtp_server):
    out = sender.send_test(sqlite_ops, smtp(smtp_server), rendered("C9"), to="qa@shop.example",
                           customer_id="C9", now=NOW)  # fmt: skip
    assert out["sent"] is True
    assert [m["To"] for m in smtp_server.inbox.arrivals] == ["qa@shop.example"]
    kept = rows(sqlite_ops)["C9"]
    assert kept["test"] and kept["state"] == "sent" and kept["subject"] == "We miss you, C9"
    with sqlite_ops.engine.connect() as conn:
        assert outbox.accounting(conn)["total"] == 0  # not a campaign's message


@pytest.mark.parametrize("part", ["campaign", "step", "occurrence"])
def test_a_dedup_key_part_with_the_separator_is_refused(part):
    parts = {"campaign": "c", "step": "1", "occurrence": "2026"}
    parts[part] = "a:b"
    with pytest.raises(InputError, match=f"the {part} 'a:b' cannot be part"):
        outbox.dedup_key(parts["campaign"], parts["step"], "C1", parts["occurrence"])


def test_two_senders_at_once_take_different_messages(ops, smtp_server):
    who = [f"C{i:03d}" for i in range(60)]
    grant(ops, *who)
    for w in who:
        enqueue(ops, w)
    results = senders_at_once(ops, lambda: smtp(smtp_server), consent_gate, NOW)
    assert sum(r["sent"] for r in results) == 60
    received = [m["To"] for m in smtp_server.inbox.arrivals]
    assert sorted(received) == sorted(f"{w.lower()}@example.com" for w in who)


def test_a_message_whose_every_claim_ran_out_fails_after_the_last_attempt(sqlite_ops, smtp_server):
    grant(sqlite_ops, "C1")
    enqueue(sqlite_ops, "C1")
    provider, at = smtp(smtp_server), NOW
    for _ in range(sender.MAX_ATTEMPTS):  # a sender dies after each claim
        summary = dict.fromkeys(sender.SUMMARY, 0)
        assert len(sender.claim(sqlite_ops, consent_gate, {"email": provider}, at, summary)) == 1
        at += sender.LEASE
    done = sender.send_due(sqlite_ops, provider, consent_gate, now=at)
    assert (done["claimed"], done["failed"]) == (0, 1)
    kept = rows(sqlite_ops)["C1"]
    assert (kept["state"], kept["attempts"]) == ("failed", 8)
    assert kept["reason"] == "8 attempts, each cut short by a sender that stopped"
    assert smtp_server.inbox.arrivals == []
