"""Revision 0007 (the points of ingested order lines) on a ledger that has
entries: down to 0006 and up again, the entries are kept."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command

from tenure.loyalty import balance, earn
from tenure.store.ops import OpsStore, _alembic_config, head_revision

TABLES = ("loyalty_order_points", "loyalty_order_reversals")


def test_a_ledger_at_0006_gains_the_order_points_tables_by_migrating(ops_url):
    at = datetime(2026, 1, 10, tzinfo=UTC)
    ops = OpsStore.open(ops_url)
    earn(ops, "C1", 300, at=at)
    ops.close()
    engine = sa.create_engine(ops_url)
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0006")
    with engine.connect() as conn:
        assert not any(sa.inspect(conn).has_table(t) for t in TABLES)
    assert OpsStore.migrate(ops_url) == ("0006", head_revision())
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        assert all(inspector.has_table(t) for t in TABLES)
        unique = {u["name"] for u in inspector.get_unique_constraints("loyalty_order_points")}
        assert "ux_loyalty_order_points_line" in unique
    engine.dispose()
    ops = OpsStore.open(ops_url)
    assert balance(ops, "C1", at=at)["balance"] == 300
    ops.close()
