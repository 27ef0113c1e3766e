"""Points earned from ingested orders: after a real `tenure ingest`, by
`tenure loyalty post`, once per order line, and reversed by refunds.
Every expected number is worked by hand in the test."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from tenure import loyalty
from tenure.config import load_settings
from tenure.loyalty.bonus import award_bonus
from tenure.loyalty.posting import post_orders
from tenure.loyalty.rules import EarningRules
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import loyalty_entries, loyalty_order_points

from ..conftest import write

RULES = """
[loyalty]
return_window_days = 30
[loyalty.earning]
points_per_unit = 1
categories = {books = 2}
"""

ORDERS = """order_id,customer_id,placed_at,amount,currency,status
O1,C1,2026-10-01 10:00:00,45.90,EUR,completed
O2,C1,2026-10-02 10:00:00,100.00,EUR,completed
O3,C2,2026-10-03 10:00:00,20.00,EUR,cancelled
"""


def _count(store: Path, table: sa.Table) -> int:
    ops = OpsStore.open(load_settings(store=store).ops_database_url)
    try:
        with ops.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
    finally:
        ops.close()


def _points(store: Path, customer: str) -> int:
    """The member's points, usable and pending (a reversal approves those whose
    window closed, moving them from one to the other)."""
    ops = OpsStore.open(load_settings(store=store).ops_database_url)
    try:
        loyalty.check_invariant(ops)
        doc = loyalty.balance(ops, customer)
        return doc["balance"] + doc["pending"]
    finally:
        ops.close()


def test_an_ingest_posts_the_points_of_its_orders_once(cli, store, tmp_path):
    Path("tenure.toml").write_text(RULES, encoding="utf-8")
    orders = write(tmp_path / "orders.csv", ORDERS)
    r = cli("ingest", "orders", orders, "--store", store, "--json")
    assert r.code == 0, r.err
    # 45.90 -> 45, 100.00 -> 100; the cancelled order earns nothing
    assert r.json()["refreshed"]["loyalty_posted"]["points"] == 145
    assert _points(store, "C1") == 145
    entries = _count(store, loyalty_entries)
    # the same file again, and a backfill: nothing more
    assert cli("ingest", "orders", orders, "--store", store).code == 0
    r = cli("loyalty", "post", "--store", store, "--json")
    assert r.code == 0 and r.json()["posted"] == 0 and r.json()["already"] == 3
    assert _count(store, loyalty_entries) == entries
    assert _points(store, "C1") == 145
    # a refund of O1 reverses its 45 pending points, once
    write(orders, ORDERS.replace("45.90,EUR,completed", "45.90,EUR,refunded"))
    r = cli("ingest", "orders", orders, "--store", store, "--json")
    assert r.json()["refreshed"]["loyalty_posted"]["reversed_points"] == 45
    assert _points(store, "C1") == 100
    entries = _count(store, loyalty_entries)
    assert cli("ingest", "orders", orders, "--store", store).code == 0
    assert cli("loyalty", "post", "--store", store).code == 0
    assert _count(store, loyalty_entries) == entries


def test_items_earn_at_their_category_rate_and_replace_the_order_amount(cli, store, tmp_path):
    Path("tenure.toml").write_text(RULES, encoding="utf-8")
    cli("ingest", "orders", write(tmp_path / "o.csv", ORDERS), "--store", store)
    items = (
        "order_id,product_id,category,quantity,unit_price\nO2,A,books,2,30.00\nO2,B,toys,1,40.00\n"
    )
    r = cli("ingest", "order_items", write(tmp_path / "i.csv", items), "--store", store, "--json")
    posted = r.json()["refreshed"]["loyalty_posted"]
    # A: 2 x 30 = 60 EUR of books at 2 a EUR = 120; B: 40 at 1 = 40; the 100
    # O2 earned on its amount before its items were known are reversed
    assert (posted["posted"], posted["points"]) == (2, 160)
    assert (posted["reversed_lines"], posted["reversed_points"]) == (1, 100)
    assert _points(store, "C1") == 45 + 160


def test_the_cli_without_rules_says_how_to_declare_them(cli, store):
    r = cli("loyalty", "post", "--store", store)
    assert r.code == 1 and "[loyalty.earning]" in r.err and "Traceback" not in r.err


def test_an_ingest_without_rules_posts_nothing(cli, store, tmp_path):
    r = cli("ingest", "orders", write(tmp_path / "o.csv", ORDERS), "--store", store, "--json")
    assert "loyalty_posted" not in r.json()["refreshed"]
    assert _count(store, loyalty_entries) == 0


WORKED = """order_id,customer_id,placed_at,amount,currency,status,refunded_amount
O1,C1,2026-10-01 10:00:00,200.00,EUR,{status},{refunded}
"""
ITEMS = "order_id,product_id,category,quantity,unit_price\nO1,A,books,1,100\nO1,B,toys,1,100\n"


def test_partial_refund_of_order_lines_after_part_of_their_points_were_spent(cli, store, tmp_path):
    """Worked by hand.

    O1 (1 Oct 2026, 200 EUR): line A, a book at 100 EUR, earns 100 x 2 =
    200 points; line B, a toy at 100 EUR, 100 x 1 = 100. Both are pending
    for the 30-day return window, to 31 Oct; both lots expire 1 Oct 2027.

    5 Nov: the member redeems 250. The window has closed: both lots are
    approved (300), and the redemption takes the soonest expiry first, the
    older lot first among equals: 200 from A's lot, 50 from B's. Left:
    A 0, B 50; balance 50.

    10 Nov: O1 is partially refunded, 50 of its 200 EUR (a quarter): A
    gives back round(200 / 4) = 50 points, B round(100 / 4) = 25. A's own
    lot is empty, so its 50 come from B's lot (the member's other usable
    lot), which then holds 0; B's 25 find nothing and are a debt of 25.
    Balance 50 - 75 = -25, debt 25. The invariant: issued 300 =
    outstanding -25 + redeemed 250 + expired 0 + clawed back 75.

    The same refund ingested again reverses nothing more.
    """
    orders = tmp_path / "o.csv"
    write(orders, WORKED.format(status="completed", refunded=""))
    assert cli("ingest", "orders", orders, "--store", store).code == 0
    assert (
        cli("ingest", "order_items", write(tmp_path / "i.csv", ITEMS), "--store", store).code == 0
    )
    settings = load_settings(store=store)
    rules = EarningRules(1.0, {"books": 2.0})
    ops = OpsStore.open(settings.ops_database_url)
    try:
        first = post_orders(ops, settings.analytics_path, rules,
                            at=datetime(2026, 10, 1, 11, tzinfo=UTC))  # fmt: skip
        assert (first.posted, first.points) == (2, 300)
        loyalty.redeem(ops, "C1", 250, at=datetime(2026, 11, 5, tzinfo=UTC))
        assert loyalty.balance(ops, "C1", at=datetime(2026, 11, 5, 1, tzinfo=UTC))["balance"] == 50

        write(orders, WORKED.format(status="partially_refunded", refunded="50.00"))
        assert cli("ingest", "orders", orders, "--store", store).code == 0
        refund = post_orders(ops, settings.analytics_path, rules,
                             at=datetime(2026, 11, 10, tzinfo=UTC))  # fmt: skip
        assert (refund.reversed_lines, refund.reversed_points) == (2, 75)
        doc = loyalty.balance(ops, "C1", at=datetime(2026, 11, 10, 1, tzinfo=UTC))
        assert (doc["balance"], doc["debt"], doc["pending"]) == (-25, 25, 0)
        totals = loyalty.check_invariant(ops)
        assert (totals.issued, totals.outstanding, totals.redeemed, totals.clawed_back) == (
            300, -25, 250, 75)  # fmt: skip

        assert cli("ingest", "orders", orders, "--store", store).code == 0
        again = post_orders(ops, settings.analytics_path, rules,
                            at=datetime(2026, 11, 11, tzinfo=UTC))  # fmt: skip
        assert (again.posted, again.reversed_lines) == (0, 0)
        assert loyalty.check_invariant(ops).clawed_back == 75
    finally:
        ops.close()


def test_the_store_refuses_a_second_row_for_one_order_line(sqlite_ops):
    """Once per line and rule is held by the database, not only by Python."""
    row = {"order_id": "O1", "line": "", "rule": "purchase", "customer_id": "C1", "points": 10,
           "refunded": 0, "posted_at": datetime(2026, 1, 1, tzinfo=UTC)}  # fmt: skip
    with sqlite_ops.engine.begin() as conn:
        conn.execute(loyalty_order_points.insert().values(**row))
    with pytest.raises(sa.exc.IntegrityError), sqlite_ops.engine.begin() as conn:
        conn.execute(loyalty_order_points.insert().values(**row))


def test_award_bonus_grants_once_per_key(ops):
    rules = EarningRules(bonuses={"birthday": 200, "review": 0})
    at = datetime(2026, 5, 1, tzinfo=UTC)
    first = award_bonus(ops, "C1", "birthday", key="2026", rules=rules, at=at)
    again = award_bonus(ops, "C1", "birthday", key="2026", rules=rules, at=at)
    assert not first.replayed and again.replayed and again.entry_id == first.entry_id
    award_bonus(ops, "C1", "birthday", key="2027", rules=rules, at=at)
    assert award_bonus(ops, "C1", "review", key="r1", rules=rules, at=at) is None
    award_bonus(ops, "C1", "referral", key="friend-C2", points=500, at=at)
    assert loyalty.balance(ops, "C1", at=at)["balance"] == 200 + 200 + 500
    assert loyalty.check_invariant(ops).issued == 900


BOTH = """order_id,customer_id,placed_at,amount,currency,status,refunded_amount
O1,C1,2026-10-01 10:00:00,45.90,EUR,{o1},
O2,C1,2026-10-02 10:00:00,100.00,EUR,{o2},{r2}
O3,C2,2026-10-03 10:00:00,20.00,EUR,completed,
"""


def test_bulk_posting_and_refunds_on_both_stores(ops, cli, store, tmp_path):
    """O1 45.90 -> 45, O2 100 -> 100, O3 20 -> 20, with batches of one
    customer each (batch=1). Then O1 cancelled (45 back) and O2 refunded 30
    of 100 (30 back): C1 keeps 70 of 145, C2 its 20; the same again: nothing."""
    orders = tmp_path / "o.csv"
    write(orders, BOTH.format(o1="completed", o2="completed", r2=""))
    assert cli("ingest", "orders", orders, "--store", store).code == 0
    path = load_settings(store=store).analytics_path
    rules = EarningRules()
    at = datetime(2026, 10, 4, tzinfo=UTC)
    first = post_orders(ops, path, rules, batch=1, at=at)
    assert (first.posted, first.points, first.members) == (3, 165, 2)
    write(orders, BOTH.format(o1="cancelled", o2="partially_refunded", r2="30.00"))
    assert cli("ingest", "orders", orders, "--store", store).code == 0
    refund = post_orders(ops, path, rules, batch=1, at=at)
    assert (refund.posted, refund.reversed_lines, refund.reversed_points) == (0, 2, 75)
    again = post_orders(ops, path, rules, at=at)
    assert (again.posted, again.reversed_lines) == (0, 0)
    assert loyalty.balance(ops, "C1", at=at)["pending"] == 70
    assert loyalty.balance(ops, "C2", at=at)["pending"] == 20
    totals = loyalty.check_invariant(ops)
    assert (totals.issued, totals.clawed_back, totals.outstanding) == (165, 75, 90)


def test_the_first_order_bonus_is_granted_once_with_the_first_order(
    sqlite_ops, cli, store, tmp_path
):
    """First order bonus 50: C1's O1 (45 points) brings it, pending with O1;
    C2's only order is cancelled and earned nothing: no bonus. Posting
    again, or granting it through award_bonus, adds nothing."""
    assert cli("ingest", "orders", write(tmp_path / "o.csv", ORDERS), "--store", store).code == 0
    path = load_settings(store=store).analytics_path
    rules = EarningRules(bonuses={"first_order": 50})
    at = datetime(2026, 10, 4, tzinfo=UTC)
    first = post_orders(sqlite_ops, path, rules, at=at)
    assert (first.points, first.bonuses) == (145, 1)
    assert post_orders(sqlite_ops, path, rules, at=at).bonuses == 0
    again = award_bonus(sqlite_ops, "C1", "first_order", rules=rules, at=at)
    assert again.replayed and again.doc["entry"]["pending"] == 50
    assert again.doc["entry"]["reason"] == "first order bonus (order O1)"
    assert loyalty.balance(sqlite_ops, "C1", at=at)["pending"] == 145 + 50
    assert loyalty.check_invariant(sqlite_ops).issued == 195
