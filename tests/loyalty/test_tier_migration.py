"""Revision 0006 on a ledger that has entries: down to 0005 and up again,
the entries are kept (with no amount) and tiers work on them."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command

from tenure.loyalty import Policy, Tier, TierProgram, balance, earn, history
from tenure.store.ops import OpsStore, _alembic_config


def test_a_ledger_at_0005_gains_amounts_and_tier_changes_by_migrating(ops_url):
    at = datetime(2026, 1, 10, tzinfo=UTC)
    ops = OpsStore.open(ops_url)
    earn(ops, "C1", 300, at=at, amount=30.0)
    ops.close()
    engine = sa.create_engine(ops_url)
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0005")
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        assert not inspector.has_table("loyalty_tier_changes")
        assert "amount" not in {c["name"] for c in inspector.get_columns("loyalty_entries")}
    engine.dispose()
    before, head = OpsStore.migrate(ops_url)  # the head is whatever revision is newest
    assert before == "0005" and head != "0005"
    ops = OpsStore.open(ops_url)
    # the earning is kept, its amount lost with the column: 300 points, no spend
    [entry] = history(ops, "C1")["entries"]
    assert (entry["points"], entry["amount"]) == (300, None)
    policy = Policy(tiers=TierProgram((Tier("Silver", 500),)))
    # 300 + 250 = 550: Silver at the next write
    assert earn(ops, "C1", 250, at=at, policy=policy).doc["tier"] == "Silver"
    assert balance(ops, "C1", at=at, policy=policy)["tier"] == "Silver"
    ops.close()
