"""The liability and its breakage, worked by hand on a small ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tenure import loyalty
from tenure.loyalty.liability import breakage, liability

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)
POLICY = loyalty.Policy(expiry_days=100)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


@pytest.fixture
def ledger(ops):
    """A: 100 earned, 30 redeemed, the 70 left expire on day 100; 200 more
    on day 50 (expiring on day 150). B: 50 earned and all redeemed. C: 40
    earned, then an adjustment takes 60: the 40 are clawed back (neither
    redeemed nor expired) and 20 are owed."""
    loyalty.earn(ops, "A", 100, at=day(0), policy=POLICY)
    loyalty.redeem(ops, "A", 30, at=day(10), policy=POLICY)
    loyalty.earn(ops, "B", 50, at=day(0), policy=POLICY)
    loyalty.redeem(ops, "B", 50, at=day(5), policy=POLICY)
    loyalty.earn(ops, "C", 40, at=day(20), policy=POLICY)
    loyalty.adjust(ops, "C", -60, reason="goodwill given twice", at=day(30), policy=POLICY)
    loyalty.earn(ops, "A", 200, at=day(50), policy=POLICY)
    return ops


def test_liability_by_hand(ledger):
    # day 120: A's first lot has expired (not recorded yet), the 200 are live,
    # C owes 20: 200 - 20 = 180 outstanding. Closed lots with points spent or
    # expired: A's first (70 expired, 30 redeemed) and B's (50 redeemed):
    # breakage 70 / 150. C's lot closed by a clawback counts on neither side.
    found = liability(ledger, as_of=day(120), point_value=0.02, min_lots=2)
    assert found.outstanding_points == 180
    assert found.breakage.source == "history"
    assert found.breakage.closed_lots == 2
    assert (found.breakage.expired_points, found.breakage.redeemed_points) == (70, 80)
    assert found.breakage.rate == pytest.approx(70 / 150, abs=1e-6)
    assert found.gross_value == 3.60  # 180 × 0.02
    assert found.liability == round(3.60 * (1 - 70 / 150), 2) == 1.92
    assert found.members_with_points == 1


def test_recording_the_expiry_changes_nothing(ledger):
    before = liability(ledger, as_of=day(120), point_value=0.02, min_lots=2)
    done = loyalty.expire(ledger, as_of=day(120), policy=POLICY)
    assert done["expired_points"] == 70
    after = liability(ledger, as_of=day(120), point_value=0.02, min_lots=2)
    assert (after.outstanding_points, after.breakage, after.liability) == (
        before.outstanding_points, before.breakage, before.liability)  # fmt: skip
    # and the ledger's own totals agree on what is outstanding
    assert loyalty.ledger_totals(ledger).outstanding == 180


def test_as_of_an_earlier_day(ledger):
    # day 60: A holds 70 + 200, C owes 20; only B's lot has closed with a
    # redemption, and nothing of it expired
    found = liability(ledger, as_of=day(60), point_value=0.01, min_lots=1)
    assert found.outstanding_points == 250
    assert (found.breakage.closed_lots, found.breakage.rate) == (1, 0.0)
    # day 3: before any redemption, 150 earned and nothing closed
    early = liability(ledger, as_of=day(3), point_value=0.01, fallback=0.25, min_lots=1)
    assert early.outstanding_points == 150
    assert early.breakage.observed is None and early.breakage.source == "fallback"
    assert early.liability == round(1.50 * 0.75, 2)


def test_too_little_history_falls_back_to_the_settings(ledger):
    found = liability(ledger, as_of=day(120), point_value=0.02, fallback=0.1, min_lots=3)
    assert found.breakage.source == "fallback"
    assert found.breakage.rate == 0.1
    assert found.breakage.observed == pytest.approx(70 / 150, abs=1e-6)  # shown, not used
    assert found.liability == round(3.60 * 0.9, 2)
    assert breakage(ledger, as_of=day(120), min_lots=2).rate == pytest.approx(70 / 150, abs=1e-6)


def test_a_debt_paid_later_no_longer_counts(ledger):
    loyalty.earn(ledger, "C", 50, at=day(125), policy=POLICY)  # pays the 20 owed first
    found = liability(ledger, as_of=day(126), point_value=0.01, min_lots=2)
    assert found.outstanding_points == 200 + 30
    assert liability(ledger, as_of=day(124), point_value=0.01, min_lots=2).outstanding_points == 180


def test_the_settings_point_value_and_fallback(tmp_path, monkeypatch):
    from tenure.config import load_settings
    from tenure.errors import ConfigError

    config = tmp_path / "tenure.toml"
    monkeypatch.setenv("TENURE_CONFIG", str(config))
    config.write_text("[loyalty]\npoint_value = 0.005\nbreakage_fallback = 0.2\n"
                      "breakage_min_lots = 50\n")  # fmt: skip
    s = load_settings().loyalty
    assert (s.point_value, s.breakage_fallback, s.breakage_min_lots) == (0.005, 0.2, 50)
    for line, said in (("point_value = -1", "point_value"), ("breakage_fallback = 1.0", "below 1"),
                       ("breakage_fallback = 'a lot'", "breakage_fallback"),
                       ("breakage_min_lots = 2.5", "whole number")):  # fmt: skip
        config.write_text(f"[loyalty]\n{line}\n")
        with pytest.raises(ConfigError, match=said) as caught:
            load_settings()
        assert str(config) in str(caught.value)
