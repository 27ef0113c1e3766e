"""The sender with the workspace's send-time gate (tenure.campaigns.sending):
the consent ledger, the suppression list, caps and quiet hours decide, a
real SMTP server on loopback receives, on SQLite and PostgreSQL. Times are
worked by hand; the clock is a parameter, nothing sleeps.

The rules of every example (as a tenure.toml would give them)::

    [campaigns.sending]
    default_timezone = "Europe/Berlin"
    [campaigns.caps]
    email = {messages = 1, days = 7}
    [campaigns.quiet_hours]
    start = "21:00"
    end = "08:00"
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from tenure.campaigns import consent, outbox, sender, suppression
from tenure.campaigns.channels.smtp import SmtpProvider, SmtpSettings
from tenure.campaigns.consent_settings import read
from tenure.campaigns.sending import SendGate, store_zones
from tenure.campaigns.templates import Rendered
from tenure.config import load_settings
from tenure.store.ops_schema import campaign_messages as messages_t
from tenure.store.ops_schema import contacts as contacts_t
from tenure.store.workspace import Workspace

from .conftest import senders_at_once

RULES = read(
    {
        "sending": {"default_timezone": "Europe/Berlin"},
        "caps": {"email": {"messages": 1, "days": 7}},
        "quiet_hours": {"start": "21:00", "end": "08:00"},
    },
    "tenure.toml",
)
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 10:00 in Berlin: not quiet
WEEK = timedelta(days=7)


def smtp(server) -> SmtpProvider:
    return SmtpProvider(SmtpSettings(host=server.host, port=server.port, security="none",
                                     sender="news@shop.example"))  # fmt: skip


def enqueue(ops, who: str, campaign: str = "win-back", at: datetime = NOW) -> None:
    with ops.engine.begin() as conn:
        outbox.enqueue(conn, campaign=campaign, step="1", customer_id=who, occurrence="1",
                       channel="email", purpose="marketing", recipient=f"{who.lower()}@example.com",
                       message=Rendered("t", "en", f"Hello {who}", "Come back."), now=at)  # fmt: skip


def grant(ops, *who: str, granted: bool = True) -> None:
    for w in who:
        consent.record(ops, w, "email", "marketing", granted, source="api",
                       at=NOW - timedelta(days=30))  # fmt: skip


def fates(ops) -> dict[tuple[str, str], tuple[str, str | None, datetime]]:
    with ops.engine.connect() as conn:
        rows = conn.execute(sa.select(messages_t.c.customer_id, messages_t.c.campaign,
                                      messages_t.c.state, messages_t.c.reason,
                                      messages_t.c.next_at))  # fmt: skip
        return {(w, c): (s, r, n.replace(tzinfo=UTC)) for w, c, s, r, n in rows}


def contacts(ops) -> list[tuple]:
    with ops.engine.connect() as conn:
        rows = conn.execute(sa.select(contacts_t.c.customer_id, contacts_t.c.reference,
                                      contacts_t.c.at, contacts_t.c.priority)
                            .order_by(contacts_t.c.id))  # fmt: skip
        return [(w, ref, at.replace(tzinfo=UTC), p) for w, ref, at, p in rows]


def test_no_consent_a_withdrawal_and_suppressions_block_for_good(ops, smtp_server):
    grant(ops, "A", "D", "E")
    grant(ops, "C", granted=False)
    suppression.suppress(ops, "email", address="d@example.com", at=NOW - timedelta(days=1))
    suppression.suppress(ops, "email", customer_id="E", at=NOW - timedelta(days=1))
    for who in "ABCDE":
        enqueue(ops, who)
    provider = smtp(smtp_server)
    done = sender.send_all(ops, provider, SendGate(RULES), now=NOW)
    provider.close()
    assert (done["sent"], done["blocked"], done["postponed"]) == (1, 4, 0)
    assert [m["To"] for m in smtp_server.inbox.arrivals] == ["a@example.com"]
    got = fates(ops)
    assert got["B", "win-back"][:2] == (
        "blocked", "consent_missing: no marketing consent for email was ever given")  # fmt: skip
    assert got["C", "win-back"][:2] == (
        "blocked", "consent_withdrawn: marketing consent for email withdrawn at "
        "2026-01-31T09:00:00+00:00 (source: api)")  # fmt: skip
    # by address (the message's recipient) and by customer
    assert got["D", "win-back"][1].startswith("suppressed: d@example.com suppressed (manual)")
    assert got["E", "win-back"][1].startswith("suppressed: customer E suppressed (manual)")
    # only the message sent counts, once, under its dedup key
    assert contacts(ops) == [("A", "win-back:1:A:1", NOW, None)]
    # messages not sent are counted by the gate's code, not by each detail
    with ops.engine.connect() as conn:
        counted = outbox.accounting(conn, "win-back")
    assert counted["not_sent"] == {
        "blocked": {"consent_missing": 1, "consent_withdrawn": 1, "suppressed": 2}}
    # blocked for good: a later pass does not ask again
    later = sender.send_all(ops, smtp(smtp_server), SendGate(RULES), now=NOW + 2 * WEEK)
    assert later["claimed"] + later["blocked"] == 0


def test_a_full_cap_postpones_to_when_a_place_frees_then_sends(ops, smtp_server):
    grant(ops, "C1")
    enqueue(ops, "C1", "welcome")
    enqueue(ops, "C1", "win-back")
    gate = SendGate(RULES, priority_of={"welcome": "high", "win-back": "low"}.get)
    provider = smtp(smtp_server)
    done = sender.send_all(ops, provider, gate, now=NOW)
    assert (done["sent"], done["postponed"], done["blocked"]) == (1, 1, 0)
    got = fates(ops)
    assert got["C1", "welcome"][0] == "sent"
    # the cap (1 in 7 days) frees when the welcome leaves the window
    assert got["C1", "win-back"] == (
        "pending", "frequency_cap: 1 email message(s) in the last 7 days; the cap is 1", NOW + WEEK)
    assert sender.send_due(ops, provider, gate, now=NOW + WEEK - timedelta(seconds=1))[
        "claimed"] == 0  # fmt: skip
    assert sender.send_due(ops, provider, gate, now=NOW + WEEK)["sent"] == 1
    provider.close()
    assert fates(ops)["C1", "win-back"][:2] == ("sent", None)
    assert len(smtp_server.inbox.to("c1@example.com")) == 2
    assert contacts(ops) == [("C1", "welcome:1:C1:1", NOW, "high"),
                             ("C1", "win-back:1:C1:1", NOW + WEEK, "low")]  # fmt: skip


def test_a_retry_is_not_held_by_its_own_count_and_a_failure_frees_its_place(
    sqlite_ops, smtp_server
):
    ops = sqlite_ops
    grant(ops, "C1", "C2")
    smtp_server.inbox.busy["c1@example.com"] = 1
    smtp_server.inbox.refuse["c2@example.com"] = 550
    enqueue(ops, "C1")
    enqueue(ops, "C2", "welcome")
    provider = smtp(smtp_server)
    first = sender.send_due(ops, provider, SendGate(RULES), now=NOW, rand=lambda: 1.0)
    assert (first["retrying"], first["failed"]) == (1, 1)
    # the busy message holds its place meanwhile; the refused one gave its place back
    assert contacts(ops) == [("C1", "win-back:1:C1:1", NOW, None)]
    minute = NOW + timedelta(minutes=1)
    del smtp_server.inbox.refuse["c2@example.com"]  # the mailbox is there again
    enqueue(ops, "C2", "win-back", at=minute)
    again = sender.send_due(ops, provider, SendGate(RULES), now=minute)
    provider.close()
    # the retry a minute later goes (its own first claim does not fill the cap), and
    # C2's second message too (the refused one never reached C2)
    assert (again["sent"], again["postponed"]) == (2, 0)
    assert contacts(ops) == [("C1", "win-back:1:C1:1", minute, None),
                             ("C2", "win-back:1:C2:1", minute, None)]  # fmt: skip


def test_quiet_hours_on_each_customers_own_clock_from_the_store(cli, store, tmp_path,
                                                                smtp_server):  # fmt: skip
    people = tmp_path / "customers.csv"
    people.write_text("customer_id,email,time_zone\n"
                      "Q1,q1@example.com,America/New_York\n"
                      "Q2,q2@example.com,\n"
                      "Q3,q3@example.com,Asia/Tokyo\n"
                      "Q4,q4@example.com,Mars/Olympus\n")  # fmt: skip
    assert cli("ingest", "customers", people, "--store", store).code == 0
    settings = load_settings(store=store)
    assert store_zones(settings)(["Q1", "Q2", "Q3", "Q9"]) == {
        "Q1": "America/New_York", "Q3": "Asia/Tokyo"}  # fmt: skip
    evening = datetime(2026, 3, 2, 21, 30, tzinfo=UTC)
    with Workspace.open(settings) as ws:
        grant(ws.ops, "Q1", "Q2", "Q3", "Q4")
        for who in ("Q1", "Q2", "Q3", "Q4"):
            enqueue(ws.ops, who, at=evening)
        gate = SendGate(RULES, zones=store_zones(settings))
        provider = smtp(smtp_server)
        done = sender.send_all(ws.ops, provider, gate, now=evening)
        assert (done["sent"], done["postponed"]) == (1, 3)
        got = fates(ws.ops)
        # 16:30 in New York: sent
        assert got["Q1", "win-back"][0] == "sent"
        # 06:30 on 3 March in Tokyo: until 08:00 JST, 23:00 UTC
        assert got["Q3", "win-back"] == ("pending", "quiet_hours: quiet hours in Asia/Tokyo, "
                                         "the recipient's zone",
                                         datetime(2026, 3, 2, 23, 0, tzinfo=UTC))  # fmt: skip
        # no zone, or not an IANA one: Berlin's 22:30, until 08:00 CET, 07:00 UTC
        fallback = ("pending", "quiet_hours: quiet hours in Europe/Berlin, the fallback zone "
                    "(recipient's unknown)", datetime(2026, 3, 3, 7, 0, tzinfo=UTC))  # fmt: skip
        assert got["Q2", "win-back"] == got["Q4", "win-back"] == fallback
        tokyo = sender.send_all(ws.ops, provider, gate, now=datetime(2026, 3, 2, 23, 0, tzinfo=UTC))
        assert tokyo["sent"] == 1
        berlin = sender.send_all(ws.ops, provider, gate, now=datetime(2026, 3, 3, 7, 0, tzinfo=UTC))
        assert berlin["sent"] == 2
        provider.close()
    assert [m["To"] for m in smtp_server.inbox.arrivals] == [
        "q1@example.com", "q3@example.com", "q2@example.com", "q4@example.com"]  # fmt: skip


def test_two_senders_at_once_send_one_message_per_customer_under_a_cap_of_one(ops, smtp_server):
    who = [f"C{i:02d}" for i in range(20)]
    grant(ops, *who)
    for campaign in ("welcome", "win-back"):
        for w in who:
            enqueue(ops, w, campaign)
    results = senders_at_once(ops, lambda: smtp(smtp_server), SendGate(RULES), NOW)
    assert sum(r["sent"] for r in results) == 20
    assert sum(r["postponed"] for r in results) == 20
    received = sorted(m["To"] for m in smtp_server.inbox.arrivals)
    assert received == sorted(f"{w.lower()}@example.com" for w in who)
    assert sorted(c[0] for c in contacts(ops)) == who


def test_a_message_that_expires_while_waiting_for_its_retry_gives_its_place_back(
    sqlite_ops, smtp_server
):
    ops = sqlite_ops
    grant(ops, "C1")
    smtp_server.inbox.busy["c1@example.com"] = 1
    with ops.engine.begin() as conn:
        outbox.enqueue(conn, campaign="flash-sale", step="1", customer_id="C1", occurrence="1",
                       channel="email", purpose="marketing", recipient="c1@example.com",
                       message=Rendered("t", "en", "Today only", "Come back."), now=NOW,
                       expires_at=NOW + timedelta(seconds=30))  # fmt: skip
    provider = smtp(smtp_server)
    assert sender.send_due(ops, provider, SendGate(RULES), now=NOW, rand=lambda: 1.0)[
        "retrying"] == 1  # fmt: skip
    assert [c[1] for c in contacts(ops)] == ["flash-sale:1:C1:1"]  # its place, held meanwhile
    later = sender.send_due(ops, provider, SendGate(RULES), now=NOW + timedelta(minutes=1))
    provider.close()
    assert later["expired"] == 1
    assert contacts(ops) == []  # never sent: the cap is free for the next message
    assert smtp_server.inbox.arrivals == []
