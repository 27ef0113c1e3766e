"""Revision 0012 (campaigns and their assignments) on a store written
before it: down to 0011 and up again, on SQLite and PostgreSQL; the tables
of the schema module are the ones the revision makes."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from tenure.store.ops import OpsStore, _alembic_config, head_revision
from tenure.store.ops_schema import metadata
from tenure.store.registry import TABLES as REGISTERED

TABLES = ("campaigns", "campaign_assignments")


def test_a_store_at_0011_gains_the_campaign_tables_by_migrating(ops_url):
    OpsStore.open(ops_url).close()
    engine = sa.create_engine(ops_url)
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0011")
    with engine.connect() as conn:
        assert not any(sa.inspect(conn).has_table(t) for t in TABLES)
        assert sa.inspect(conn).has_table("campaign_messages")
    assert OpsStore.migrate(ops_url) == ("0011", head_revision())
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        for name in TABLES:  # the revision makes the columns the schema module declares
            made = {c["name"] for c in inspector.get_columns(name)}
            assert made == {c.name for c in metadata.tables[name].columns}, name
    engine.dispose()


def test_registered_with_their_customer_key():
    assert REGISTERED["campaign_assignments"].customer_key == "customer_id"
    assert REGISTERED["campaigns"].customer_key is None
