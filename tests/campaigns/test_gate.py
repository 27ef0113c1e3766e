"""The send-time gate's decisions, asserted exactly, on worked examples.

The rules of every example (as a tenure.toml would give them)::

    [campaigns.sending]
    default_timezone = "Europe/Berlin"
    [campaigns.caps]
    email = {messages = 2, days = 7}
    [campaigns.budget]
    messages = 4
    days = 7
    priorities = {high = 4, normal = 3, low = 2}
    [campaigns.quiet_hours]
    start = "21:00"
    end = "08:00"
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tenure.campaigns import consent, suppression
from tenure.campaigns.caps import record_contact
from tenure.campaigns.consent_settings import read
from tenure.campaigns.gate import Decision, may_contact

RULES = read(
    {
        "sending": {"default_timezone": "Europe/Berlin"},
        "caps": {"email": {"messages": 2, "days": 7}},
        "budget": {"messages": 4, "days": 7, "priorities": {"high": 4, "normal": 3, "low": 2}},
        "quiet_hours": {"start": "21:00", "end": "08:00"},
    },
    "tenure.toml",
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def gate(ops, when, channel="email", purpose="marketing", **kw) -> Decision:
    with ops.engine.connect() as conn:
        return may_contact(conn, "C1", channel, purpose, at(when), rules=RULES, **kw)


def sent(ops, when, channel="email", purpose="marketing", ref=None):
    with ops.engine.begin() as conn:
        return record_contact(conn, "C1", channel, purpose, at(when), reference=ref)


@pytest.fixture
def granted(ops):
    for channel in ("email", "sms"):
        consent.record(ops, "C1", channel, "marketing", True, source="cli",
                       at=at("2026-03-01 09:00"))  # fmt: skip
    return ops


def test_no_consent_and_withdrawn_consent_are_final_refusals(ops):
    assert gate(ops, "2026-03-05 12:00") == Decision(
        False, "consent_missing", "no marketing consent for email was ever given"
    )
    consent.record(ops, "C1", "email", "marketing", False, source="api",
                   at=at("2026-03-02 10:00"))  # fmt: skip
    decision = gate(ops, "2026-03-05 12:00")
    assert decision == Decision(
        False, "consent_withdrawn",
        "marketing consent for email withdrawn at 2026-03-02T10:00:00+00:00 (source: api)",
    )  # fmt: skip
    assert decision.final
    # a transactional message needs no opt-in (implied_consent) ...
    assert gate(ops, "2026-03-05 12:00", purpose="transactional") == Decision(True)
    # ... but an explicit withdrawal of it stops it
    consent.record(ops, "C1", "email", "transactional", False, source="api",
                   at=at("2026-03-03 10:00"))  # fmt: skip
    assert gate(ops, "2026-03-05 12:00", purpose="transactional").reason == "consent_withdrawn"


def test_caps_and_budget_worked_by_hand(granted):
    ops = granted
    # email at 2 Mar 10:00 and 4 Mar 10:00: the email cap (2 in 7 days) is full
    sent(ops, "2026-03-02 10:00")
    sent(ops, "2026-03-04 10:00")
    assert gate(ops, "2026-03-05 12:00") == Decision(
        False, "frequency_cap", "2 email message(s) in the last 7 days; the cap is 2",
        at("2026-03-09 10:00"),  # the older of the two leaves the window
    )  # fmt: skip
    # sms has no cap; the budget holds 2 (both emails): low's ceiling is 2
    assert gate(ops, "2026-03-05 12:00", "sms", priority="low") == Decision(
        False, "contact_budget",
        "2 message(s) over all channels in the last 7 days; low may fill the budget of 4 up to 2",
        at("2026-03-09 10:00"),
    )  # fmt: skip
    assert gate(ops, "2026-03-05 12:00", "sms", priority="normal") == Decision(True)
    sent(ops, "2026-03-05 12:00", "sms")
    # 3 sent: normal (the default priority) yields to high, which may send the 4th
    assert gate(ops, "2026-03-05 12:30", "sms").reason == "contact_budget"
    assert gate(ops, "2026-03-05 12:30", "sms", priority="high") == Decision(True)
    sent(ops, "2026-03-05 12:30", "sms", ref="m-4")
    over = gate(ops, "2026-03-05 13:00", "sms", priority="high")
    # the 4th newest (2 Mar 10:00) leaves first
    assert (over.reason, over.retry_at) == ("contact_budget", at("2026-03-09 10:00"))
    # once 2 Mar 10:00 is over 7 days old, 3 remain: normal still waits, high may send
    assert gate(ops, "2026-03-09 10:00", "sms", priority="high") == Decision(True)
    assert gate(ops, "2026-03-09 10:00", "sms").retry_at == at("2026-03-11 10:00")
    # transactional messages neither count nor wait
    assert gate(ops, "2026-03-05 13:00", purpose="transactional") == Decision(True)
    assert sent(ops, "2026-03-05 12:30", "sms", ref="m-4") is False  # counted once per message


@pytest.mark.parametrize(
    ("now", "zone", "expected"),
    [
        # a plain winter night in Berlin: 22:30 CET, quiet until 08:00 CET
        ("2026-03-05 21:30", "Europe/Berlin", ("2026-03-06 07:00", "Europe/Berlin, the recipient's")),
        # the night clocks go forward (29 Mar 02:00 CET -> 03:00 CEST): 22:30 CET,
        # quiet until 08:00 CEST = 06:00 UTC, ten hours after 21:00 CET
        ("2026-03-28 21:30", "Europe/Berlin", ("2026-03-29 06:00", "Europe/Berlin, the recipient's")),
        # the night they go back (25 Oct 03:00 CEST -> 02:00 CET): 22:00 CEST,
        # quiet until 08:00 CET = 07:00 UTC
        ("2026-10-24 20:00", "Europe/Berlin", ("2026-10-25 07:00", "Europe/Berlin, the recipient's")),
        # 21:00 sharp is quiet, 08:00 sharp is not
        ("2026-03-05 20:00", "Europe/Berlin", ("2026-03-06 07:00", "Europe/Berlin, the recipient's")),
        ("2026-03-06 07:00", "Europe/Berlin", None),
        # New York at 07:00 EST: quiet until 08:00 EST = 13:00 UTC
        ("2026-03-05 12:00", "America/New_York", ("2026-03-05 13:00", "America/New_York, the recipient's")),
        # unknown zones fall back to default_timezone (Berlin: 07:30 CET, until 07:00 UTC)
        ("2026-03-05 06:30", None, ("2026-03-05 07:00", "Europe/Berlin, the fallback")),
        ("2026-03-05 06:30", "Nowhere/Land", ("2026-03-05 07:00", "Europe/Berlin, the fallback")),
        ("2026-03-05 12:00", None, None),
    ],
)  # fmt: skip
def test_quiet_hours_in_the_recipients_zone(sqlite_ops, now, zone, expected):
    consent.record(sqlite_ops, "C1", "email", "marketing", True, source="cli",
                   at=at("2026-03-01 09:00"))  # fmt: skip
    decision = gate(sqlite_ops, now, timezone=zone)
    if expected is None:
        assert decision == Decision(True)
        return
    until, words = expected
    zone_name, whose = words.split(", ")
    detail = (f"quiet hours in {zone_name}, the recipient's zone" if whose == "the recipient's"
              else f"quiet hours in {zone_name}, the fallback zone (recipient's unknown)")  # fmt: skip
    assert decision == Decision(False, "quiet_hours", detail, at(until))
    # transactional messages are sent in quiet hours
    assert gate(sqlite_ops, now, purpose="transactional", timezone=zone) == Decision(True)


def test_suppression_refuses_after_consent_and_before_caps(granted):
    ops = granted
    suppression.bounce(ops, "email", "Ann@Example.com ", "hard", source="api",
                       at=at("2026-03-03 08:00"))  # fmt: skip
    decision = gate(ops, "2026-03-05 12:00", address="ann@example.com")
    assert decision == Decision(
        False, "suppressed",
        "ann@example.com suppressed (hard_bounce) since 2026-03-03T08:00:00+00:00",
    )  # fmt: skip
    # on another channel, or at another address, the suppression does not apply
    assert gate(ops, "2026-03-05 12:00", "sms", address="+4915112345") == Decision(True)
    # a customer suppressed on every channel
    suppression.suppress(ops, None, customer_id="C1", at=at("2026-03-04 08:00"))
    assert gate(ops, "2026-03-05 12:00", "sms").reason == "suppressed"
    assert gate(ops, "2026-03-05 12:00", "sms", purpose="transactional").reason == "suppressed"


SENDERS = 8


def _sender(url: str, start, results, i: int) -> None:
    """One sender process: claims a message to C1 if the gate allows it,
    recording it in the same transaction."""
    from tenure.campaigns.consent import write_transaction
    from tenure.store.ops import OpsStore

    ops = OpsStore.open(url, create=False)
    start.wait()
    try:
        with write_transaction(ops) as conn:
            decision = may_contact(conn, "C1", "email", "marketing", at("2026-03-05 12:00"),
                                   rules=RULES, timezone="Europe/Berlin")  # fmt: skip
            if decision.allowed:
                record_contact(conn, "C1", "email", "marketing", at("2026-03-05 12:00"),
                               reference=f"m-{i}")  # fmt: skip
        results.put(decision.reason or "sent")
    except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on it
        results.put(repr(exc))
    finally:
        ops.close()


def test_concurrent_senders_never_pass_the_cap(granted):
    """Eight processes claim a message to one customer at the same moment:
    the email cap (2 in 7 days) lets exactly two through."""
    import multiprocessing

    ops = granted
    ops.engine.dispose()
    ctx = multiprocessing.get_context("fork")
    start, results = ctx.Barrier(SENDERS), ctx.Queue()
    workers = [ctx.Process(target=_sender, args=(ops.url, start, results, i))
               for i in range(SENDERS)]  # fmt: skip
    for w in workers:
        w.start()
    got = sorted(results.get(timeout=300) for _ in workers)
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
    assert got == ["frequency_cap"] * (SENDERS - 2) + ["sent", "sent"]
