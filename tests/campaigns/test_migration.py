"""Revision 0010 (consent and sending rules) on a store written before it:
down to 0009 and up again, on SQLite and PostgreSQL; the tables of the
schema module are the ones the revision makes."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from tenure.campaigns import consent
from tenure.store.ops import OpsStore, _alembic_config, head_revision

TABLES = ("consent_events", "consent_api_requests", "suppressions", "bounces", "contacts",
          "unsubscribe_uses")  # fmt: skip


def test_a_store_at_0009_gains_the_consent_tables_by_migrating(ops_url):
    ops = OpsStore.open(ops_url)
    ops.close()
    engine = sa.create_engine(ops_url)
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0009")
    with engine.connect() as conn:
        assert not any(sa.inspect(conn).has_table(t) for t in TABLES)
    assert OpsStore.migrate(ops_url) == ("0009", head_revision())
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        assert all(inspector.has_table(t) for t in TABLES)
        from tenure.store.ops_schema import metadata

        for name in TABLES:  # the revision makes the columns the schema module declares
            made = {c["name"] for c in inspector.get_columns(name)}
            assert made == {c.name for c in metadata.tables[name].columns}, name
    engine.dispose()
    ops = OpsStore.open(ops_url)
    try:
        consent.record(ops, "C1", "email", "marketing", True, source="cli")
        assert consent.state(ops, "C1")["consents"][0]["state"] == "granted"
    finally:
        ops.close()
