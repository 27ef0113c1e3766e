"""Reversing a redemption gives its points back as a fresh lot; a tier's
multiplier applies to the points of an order line. Worked by hand."""

from __future__ import annotations

from datetime import UTC, datetime

from tenure import loyalty
from tenure.config import load_settings
from tenure.loyalty import Policy, Tier, TierProgram
from tenure.loyalty.posting import post_orders
from tenure.loyalty.rules import EarningRules
from tenure.store.ops import OpsStore

from ..conftest import write


def test_reversing_a_redemption_re_credits_its_points_as_a_fresh_lot(ops):
    """Earn 100 on 1 Jan 2026 (lot 1, expiring 1 Jan 2027 by the default 365
    days); redeem 60 on 1 Feb, from lot 1 (40 left); reverse the redemption
    on 1 Mar: a new lot of 60, usable at once, expiring 365 days after the
    reversal (1 Mar 2027). Lot 1 still holds 40; balance 100; redeemed 0."""
    jan, feb, mar = (datetime(2026, m, 1, tzinfo=UTC) for m in (1, 2, 3))
    first = loyalty.earn(ops, "C1", 100, at=jan)
    spent = loyalty.redeem(ops, "C1", 60, at=feb)
    back = loyalty.reverse(ops, "C1", spent.entry_id, at=mar)
    lot = back.doc["lot"]
    assert back.doc["entry"]["points"] == 60
    assert lot["id"] != first.doc["lot"]["id"]
    assert (lot["points"], lot["remaining"], lot["status"]) == (60, 60, "active")
    assert lot["available_at"] == "2026-03-01T00:00:00+00:00"
    assert lot["expires_at"] == "2027-03-01T00:00:00+00:00"
    doc = loyalty.balance(ops, "C1", at=mar)
    assert doc["balance"] == 100
    assert {(x["points"], x["remaining"]) for x in doc["lots"]} == {(100, 40), (60, 60)}
    totals = loyalty.check_invariant(ops)
    assert (totals.issued, totals.redeemed, totals.outstanding) == (100, 0, 100)


ORDERS = """order_id,customer_id,placed_at,amount,currency,status
O1,C1,2026-10-01 10:00:00,400.00,EUR,completed
O2,C1,2026-10-02 10:00:00,100.00,EUR,completed
"""


def test_the_tier_multiplier_applies_to_the_points_of_a_line(cli, store, tmp_path):
    """With Silver at 500 points and a Silver multiplier of 1.5: O1 (400 EUR)
    earns 400 and lifts nobody; posted together, O2 (100 EUR) earns 100 as
    well (the tier is the one held when the batch is posted, none); the
    500 reach Silver with that batch. A third order, posted later, earns
    1.5 a EUR: 30 EUR -> 45."""
    orders = write(tmp_path / "o.csv", ORDERS)
    assert cli("ingest", "orders", orders, "--store", store).code == 0
    settings = load_settings(store=store)
    policy = Policy(tiers=TierProgram((Tier("Silver", 500),)))
    rules = EarningRules(1.0, tier_multipliers={"Silver": 1.5})
    ops = OpsStore.open(settings.ops_database_url)
    try:
        at = datetime(2026, 10, 3, tzinfo=UTC)
        first = post_orders(ops, settings.analytics_path, rules, policy=policy, at=at)
        assert first.points == 500
        assert loyalty.balance(ops, "C1", at=at, policy=policy)["tier"] == "Silver"
        write(orders, ORDERS + "O3,C1,2026-10-03 10:00:00,30.00,EUR,completed\n")
        assert cli("ingest", "orders", orders, "--store", store).code == 0
        later = post_orders(ops, settings.analytics_path, rules, policy=policy, at=at)
        assert (later.posted, later.points) == (1, 45)
        loyalty.check_invariant(ops)
    finally:
        ops.close()


CUSTOMERS = """customer_id,birthday,time_zone
C1,1990-03-15,Pacific/Auckland
C2,1990-03-15,America/Los_Angeles
C3,1992-02-29,
C4,1990-03-15,Pacific/Auckland
"""


def test_birthday_bonuses_in_the_members_time_zone_once_a_year(cli, store, tmp_path):
    """At 12:00 UTC on 14 March 2026 it is 01:00 on 15 March in Auckland
    (UTC+13) and 05:00 on 14 March in Los Angeles: C1's birthday, not C2's.
    C4 has the same birthday but is no member. C3, born on 29 February,
    has theirs on 28 February 2026 (no 29th that year), in the business's
    time zone (UTC) as the customer has none."""
    from tenure.loyalty.bonus import birthday_bonuses

    assert cli("ingest", "customers", write(tmp_path / "c.csv", CUSTOMERS),
               "--store", store).code == 0  # fmt: skip
    settings = load_settings(store=store)
    rules = EarningRules(bonuses={"birthday": 200})
    ops = OpsStore.open(settings.ops_database_url)
    try:
        for c in ("C1", "C2", "C3"):
            loyalty.earn(ops, c, 1, at=datetime(2026, 1, 1, tzinfo=UTC))
        at = datetime(2026, 3, 14, 12, tzinfo=UTC)
        assert birthday_bonuses(ops, settings.analytics_path, rules, at=at) == 1
        assert birthday_bonuses(ops, settings.analytics_path, rules, at=at) == 0
        assert loyalty.balance(ops, "C1", at=at)["balance"] == 201
        assert loyalty.balance(ops, "C2", at=at)["balance"] == 1
        feb = datetime(2026, 2, 28, 12, tzinfo=UTC)
        assert birthday_bonuses(ops, settings.analytics_path, rules, at=feb) == 1
        assert loyalty.balance(ops, "C3", at=feb)["balance"] == 201
    finally:
        ops.close()
