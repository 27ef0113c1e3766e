"""The demo business's loyalty program: a history the ledger takes whole
(no redemption beyond what a member holds), checked against a replay
written here, and its settings written as a tenure.toml."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

import numpy as np
import pytest

from tenure import loyalty
from tenure.datasets import generate_demo
from tenure.datasets._demo_loyalty import in_hand
from tenure.loyalty.history_import import import_history, read_events
from tenure.store.ops import OpsStore


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The files `tenure demo` makes by default (5,000 customers, seed 42)."""
    return generate_demo(tmp_path_factory.mktemp("demo"))


def _a_year_later(moment: datetime) -> datetime:
    if (moment.month, moment.day) == (2, 29):
        return moment.replace(year=moment.year + 1, day=28)
    return moment.replace(year=moment.year + 1)


def _beyond(events) -> int:
    """Redemptions a member's unexpired points (12 months) do not cover,
    spending the oldest points first: a replay independent of the ledger."""
    lots: dict[str, list[list]] = defaultdict(list)
    beyond = 0
    for e in events:  # by member, in time order
        mine = lots[e.customer_id] = [lot for lot in lots[e.customer_id] if lot[0] > e.at]
        if e.kind == "earn":
            mine.append([_a_year_later(e.at), e.points])
            continue
        if sum(p for _, p in mine) < e.points:
            beyond += 1
            continue
        need = e.points
        for lot in mine:
            take = min(need, lot[1])
            lot[1], need = lot[1] - take, need - take
    return beyond


def test_the_demo_history_redeems_only_what_members_hold(demo, tmp_path):
    events = read_events(demo.loyalty_ledger)
    redeems = [e for e in events if e.kind == "redeem"]
    assert len(redeems) == demo.params["loyalty"]["ledger_events"]["redeem"] > 100
    assert _beyond(events) == 0
    ops = OpsStore.open(f"sqlite:///{tmp_path / 'ops.sqlite'}")
    try:
        tiers = loyalty.TierProgram(tuple(
            loyalty.Tier(t["name"], t["threshold"]) for t in demo.params["loyalty"]["tiers"]))  # fmt: skip
        done = import_history(ops, events, policy=loyalty.Policy(expiry_months=12, tiers=tiers))
        assert (done.refused, done.left_out) == (0, ())
        assert done.entries == len(events)
    finally:
        ops.close()


def _seconds(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def test_a_voucher_waits_for_points_in_hand():
    # two members, both joined 2025-01-01 10:00 (100 welcome points, lapsing
    # 2026-01-01 10:00), each with a purchase of 150 points that passes 200
    # points earned. Member 0 buys on 2025-06-01: 250 in hand, the voucher
    # is redeemed. Member 1 buys on 2026-01-10: the welcome points lapsed,
    # 150 in hand, no voucher
    joined = np.array([_seconds("2025-01-01 10:00")] * 2)
    who = np.array([0, 1])
    at = np.array([_seconds("2025-06-01 12:00"), _seconds("2026-01-10 12:00")])
    points = np.array([150, 150])
    wanted = np.array([True, True])
    assert in_hand(joined, who, at, points, wanted).tolist() == [True, False]


def test_a_second_voucher_counts_what_the_first_spent():
    # 100 welcome + 150 (2025-03-01) = 250 in hand: a voucher leaves 50;
    # + 160 (2025-04-01): 50 + 160 = 210 in hand, a second voucher leaves
    # 10; + 200 (2025-05-01): 10 + 200 = 210 in hand, a third
    joined = np.array([_seconds("2025-01-01 10:00")])
    who = np.zeros(3, np.int64)
    at = np.array([_seconds(d) for d in ("2025-03-01 12:00", "2025-04-01 12:00",
                                         "2025-05-01 12:00")])  # fmt: skip
    points = np.array([150, 160, 200])
    assert in_hand(joined, who, at, points, np.array([True, True, True])).tolist() == [True] * 3
    # the same purchases a year and a day after joining, the welcome
    # points lapsed: 150 in hand, no voucher; + 160 = 310, a voucher leaves
    # 110; + 200 = 310, a voucher
    late = np.array([_seconds(d) for d in ("2026-01-02 12:00", "2026-01-03 12:00",
                                           "2026-01-04 12:00")])  # fmt: skip
    assert in_hand(joined, who, late, points, np.array([True, True, True])).tolist() == [
        False, True, True]  # fmt: skip


def test_the_demo_declares_its_program_in_a_tenure_toml(demo):
    from tenure.config import loyalty_settings_of

    declared = loyalty_settings_of(demo.settings)
    truth = demo.params["loyalty"]
    assert declared.tiers == tuple((t["name"], t["threshold"]) for t in truth["tiers"])
    assert (declared.expiry_months, declared.tier_basis, declared.tier_window) == (
        12, "points", "rolling_12_months")  # fmt: skip
    # the voucher the history redeems: 200 points for 2 EUR, a point worth 0.01 EUR
    (voucher,) = declared.rewards
    assert (voucher.kind, voucher.points, voucher.value, voucher.name) == (
        "discount", 200, 2.0, "2 EUR voucher")  # fmt: skip
    assert declared.point_value * voucher.points == pytest.approx(voucher.value)
    redeemed = {e.reward for e in read_events(demo.loyalty_ledger) if e.kind == "redeem"}
    assert redeemed == {voucher.name}
    # no earning rules: an ingest or tenure loyalty post would enrol every customer
    assert declared.earning is None and not declared.acts_on_ingest
