"""Revision 0013 (trigger state and service-recovery tasks) on a store
written before it: down to 0012 and up again, on SQLite and PostgreSQL; the
tables of the schema module are the ones the revision makes."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from tenure.store.ops import OpsStore, _alembic_config, head_revision
from tenure.store.ops_schema import metadata
from tenure.store.registry import TABLES as REGISTERED

TABLES = ("trigger_state", "trigger_members", "service_recovery_tasks")


def test_a_store_at_0012_gains_the_trigger_tables_by_migrating(ops_url):
    OpsStore.open(ops_url).close()
    engine = sa.create_engine(ops_url)
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0012")
    with engine.connect() as conn:
        assert not any(sa.inspect(conn).has_table(t) for t in TABLES)
        assert sa.inspect(conn).has_table("campaigns")
    assert OpsStore.migrate(ops_url) == ("0012", head_revision())
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        for name in TABLES:
            made = {c["name"] for c in inspector.get_columns(name)}
            assert made == {c.name for c in metadata.tables[name].columns}, name
    engine.dispose()


def test_registered_with_their_customer_key():
    assert REGISTERED["trigger_members"].customer_key == "customer_id"
    assert REGISTERED["service_recovery_tasks"].customer_key == "customer_id"
    assert REGISTERED["trigger_state"].customer_key is None
