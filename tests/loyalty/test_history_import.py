"""A program's history posted in bulk leaves the ledger exactly as the
same events posted one write each would: the same entries, lots, draws,
expiries and tier changes."""

from __future__ import annotations

import sqlalchemy as sa

from tenure import loyalty
from tenure.errors import InsufficientPointsError
from tenure.loyalty.history_import import import_history, read_events
from tenure.store.ops import OpsStore

POLICY = loyalty.Policy(
    expiry_months=12,
    tiers=loyalty.TierProgram((loyalty.Tier("Silver", 150), loyalty.Tier("Gold", 400))),
)


def _one_by_one(ops, events) -> int:
    refused = 0
    for e in events:
        if e.kind == "earn":
            loyalty.earn(ops, e.customer_id, e.points, reason=e.reason, amount=e.amount, at=e.at,
                         policy=POLICY)  # fmt: skip
        else:
            try:
                loyalty.redeem(ops, e.customer_id, e.points, reward=e.reward, at=e.at,
                               policy=POLICY)  # fmt: skip
            except InsufficientPointsError:
                refused += 1
    return refused


def _tables(ops) -> dict[str, list]:
    queries = {
        "entries": "SELECT customer_id, kind, points, pending, at, lot_id, reverses, reason, "
        "reward, amount FROM loyalty_entries ORDER BY id",
        "lots": "SELECT customer_id, points, pending, available_at, expires_at FROM loyalty_lots "
        "ORDER BY id",
        "allocations": "SELECT entry_id, lot_id, points, made_by FROM loyalty_allocations "
        "ORDER BY id",
        "tiers": "SELECT customer_id, kind, tier, previous, value, at, kept_until, entry_id "
        "FROM loyalty_tier_changes ORDER BY id",
    }
    with ops.engine.connect() as conn:
        return {k: [tuple(r) for r in conn.execute(sa.text(q))] for k, q in queries.items()}


def test_bulk_equals_one_write_each(tmp_path):
    from tenure.datasets.demo import generate_demo

    files = generate_demo(tmp_path / "files", customers=600, seed=3)
    events = read_events(files.loyalty_ledger)
    bulk = OpsStore.open(f"sqlite:///{tmp_path / 'bulk.sqlite'}")
    single = OpsStore.open(f"sqlite:///{tmp_path / 'single.sqlite'}")
    done = import_history(bulk, events, policy=POLICY)
    refused = _one_by_one(single, events)
    assert done.members > 50 and done.refused == refused
    a, b = _tables(bulk), _tables(single)
    assert len(a["tiers"]) > 20 and {t[2] for t in a["tiers"]} >= {"Silver", "Gold"}
    assert any(e[1] == "expire" for e in a["entries"])  # lots expired between events
    for table in a:
        assert a[table] == b[table], table
    loyalty.check_invariant(bulk)
    # importing the same history again posts nothing
    again = import_history(bulk, events, policy=POLICY)
    assert (again.members, again.entries, again.skipped) == (0, 0, done.members)
    assert _tables(bulk) == a
    bulk.close()
    single.close()


def test_a_redemption_beyond_the_balance_is_left_out_with_its_reason(tmp_path):
    from datetime import UTC, datetime

    from tenure.loyalty.history_import import Event, LeftOut

    def at(day: int) -> datetime:
        return datetime(2026, 1, day, 10, tzinfo=UTC)

    # 100 earned, 60 redeemed: 40 left, so a redemption of 50 is refused
    # and kept with what was available; the one of 40 after it is posted
    events = [Event("C1", at(1), "earn", 100), Event("C1", at(2), "redeem", 60),
              Event("C1", at(3), "redeem", 50), Event("C1", at(4), "redeem", 40)]  # fmt: skip
    ops = OpsStore.open(f"sqlite:///{tmp_path / 'ops.sqlite'}")
    try:
        done = import_history(ops, events, policy=POLICY)
        assert (done.entries, done.refused) == (3, 1)
        assert done.left_out == (LeftOut("C1", at(3), "redeem", 50,
                                         "a redemption beyond the balance: 40 points available"),)  # fmt: skip
        assert loyalty.balance(ops, "C1", at=at(5), policy=POLICY)["balance"] == 0
    finally:
        ops.close()
