"""Revision 0015 (the outbox's priority, messages rendered when sent) on a
store written before it, on SQLite and PostgreSQL: a message queued before
it survives the upgrade whole, rendered, with its campaign's priority."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command

from tenure.store.ops import OpsStore, _alembic_config, head_revision
from tenure.store.ops_schema import metadata

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _row(key: str, campaign: str) -> dict:
    return dict(dedup_key=key, campaign=campaign, step="1", customer_id=key[-2:], occurrence="1",
                channel="email", purpose="marketing", recipient=f"{key[-2:]}@x.example",
                locale="en", template="win-back", subject="Hello", body_text="Hello there.",
                body_html=None, headers="{}", state="pending", attempts=0, next_at=NOW,
                created_at=NOW, test=False)  # fmt: skip


def test_an_outbox_row_queued_at_0012_survives_the_upgrade(ops_url):
    OpsStore.open(ops_url).close()
    engine = sa.create_engine(ops_url)
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0012")
    with engine.begin() as conn:
        assert "priority" not in {c["name"] for c in sa.inspect(conn).get_columns("campaign_messages")}
        conn.execute(sa.text(
            "INSERT INTO campaigns (name, channel, purpose, priority, template, audience, "
            "holdout, salt, state, created_at, updated_at) VALUES ('urgent', 'email', "
            "'marketing', 'high', 't', '[]', 0.1, 's', 'done', :at, :at)"), {"at": NOW})  # fmt: skip
        old = sa.Table("campaign_messages", sa.MetaData(), autoload_with=conn)
        conn.execute(old.insert(), [_row("urgent:1:C1", "urgent"), _row("journey:1:C2", "journey")])
    assert OpsStore.migrate(ops_url) == ("0012", head_revision())
    with engine.connect() as conn:
        made = {c["name"] for c in sa.inspect(conn).get_columns("campaign_messages")}
        assert made == {c.name for c in metadata.tables["campaign_messages"].columns}
        assert "ix_campaign_messages_claim" in {
            i["name"] for i in sa.inspect(conn).get_indexes("campaign_messages")}
        m = metadata.tables["campaign_messages"]
        rows = conn.execute(sa.select(m.c.dedup_key, m.c.subject, m.c.body_text, m.c.state,
                                      m.c.priority, m.c.rendered).order_by(m.c.dedup_key)).all()
    engine.dispose()
    # the campaign's 'high' is 2; a message of no campaign is normal (1)
    assert [tuple(r) for r in rows] == [
        ("journey:1:C2", "Hello", "Hello there.", "pending", 1, True),
        ("urgent:1:C1", "Hello", "Hello there.", "pending", 2, True),
    ]
