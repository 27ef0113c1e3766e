"""The suppression list: hard bounces at once, soft bounces after N within
the window, complaints with their consent withdrawal, lifting."""

from __future__ import annotations

from datetime import UTC, datetime

from tenure.campaigns import consent, suppression
from tenure.campaigns.consent_settings import read

RULES = read({"sending": {"soft_bounce_limit": 3, "soft_bounce_days": 30}}, "tenure.toml")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def active(ops, address):
    with ops.engine.connect() as conn:
        return suppression.active(conn, "email", address=address)


def test_soft_bounces_suppress_at_the_third_within_30_days(ops):
    a = "bob@example.com"
    # 1 Jan, 20 Jan: two; 5 Feb is 35 days after 1 Jan, so 20 Jan and 5 Feb count: two
    for day in ("2026-01-01", "2026-01-20", "2026-02-05"):
        doc = suppression.bounce(ops, "email", a, "soft", at=at(f"{day} 10:00"), rules=RULES)
        assert doc["added"] is False
    assert doc["soft_bounces"] == 2 and active(ops, a) is None
    # 10 Feb: 20 Jan, 5 Feb, 10 Feb within 30 days: three, suppressed
    doc = suppression.bounce(ops, "email", a, "soft", at=at("2026-02-10 10:00"), rules=RULES)
    assert (doc["soft_bounces"], doc["added"]) == (3, True)
    row = active(ops, "BOB@example.com")
    assert (row["reason"], row["detail"]) == ("soft_bounces", "3 soft bounces in 30 days")


def test_a_hard_bounce_suppresses_at_once_and_once(ops):
    first = suppression.bounce(ops, "email", "x@example.com", "hard", at=at("2026-01-01 10:00"))
    again = suppression.bounce(ops, "email", "x@example.com", "hard", at=at("2026-01-02 10:00"))
    assert (first["added"], again["added"]) == (True, False)
    assert again["suppression"]["id"] == first["suppression"]["id"]
    lifted = suppression.lift(ops, first["suppression"]["id"], at=at("2026-01-03 10:00"))
    assert lifted["suppression"]["lifted_at"] == "2026-01-03T10:00:00+00:00"
    assert active(ops, "x@example.com") is None
    assert suppression.listing(ops)["count"] == 0
    assert suppression.listing(ops, lifted=True)["count"] == 1


def test_a_complaint_suppresses_and_withdraws_marketing_consent(ops):
    consent.record(ops, "C1", "email", "marketing", True, source="api", at=at("2026-01-01 10:00"))
    doc = suppression.complaint(ops, "email", "c1@example.com", customer_id="C1",
                                at=at("2026-01-05 10:00"))  # fmt: skip
    assert (doc["suppression"]["reason"], doc["consent"]["state"]) == ("complaint", "withdrawn")
    with ops.engine.connect() as conn:
        latest = consent.current(conn, "C1", "email", "marketing")
    assert (latest.granted, latest.source, latest.reference) == (
        False,
        "complaint",
        "c1@example.com",
    )
