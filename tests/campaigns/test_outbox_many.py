"""``outbox.enqueue_many``: the rows ``enqueue`` would write, in one
statement; a dedup key already there adds nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from tenure.campaigns import outbox
from tenure.campaigns.consent import utc
from tenure.campaigns.templates import Rendered
from tenure.store.ops_schema import campaign_messages

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _message(customer: str) -> dict:
    return dict(campaign="win-back", step="1", customer_id=customer, occurrence="2026-03-01",
                channel="email", purpose="marketing", recipient=f"{customer}@x.example",
                message=Rendered("win-back", "en", f"Hi {customer}", "Body"))  # fmt: skip


def test_many_then_again_adds_nothing(ops):
    with ops.engine.begin() as conn:
        assert outbox.enqueue_many(conn, [_message(f"C{i}") for i in range(5)], now=NOW) == 5
    with ops.engine.begin() as conn:
        # two of five already there: three added; enqueue sees the key too
        assert outbox.enqueue_many(conn, [_message(f"C{i}") for i in range(3, 8)], now=NOW) == 3
        assert outbox.enqueue(conn, **_message("C0"), now=NOW) is None
        assert outbox.enqueue_many(conn, []) == 0
    with ops.engine.connect() as conn:
        rows = conn.execute(sa.select(campaign_messages.c.dedup_key, campaign_messages.c.state,
                                      campaign_messages.c.subject)
                            .order_by(campaign_messages.c.dedup_key)).all()  # fmt: skip
    assert [r.dedup_key for r in rows] == [f"win-back:1:C{i}:2026-03-01" for i in range(8)]
    assert {r.state for r in rows} == {"pending"} and rows[7].subject == "Hi C7"
    with ops.engine.connect() as conn:
        # stored as SQLAlchemy stores them: read back as the same moments, and
        # the due query the sender makes finds them
        due = conn.execute(sa.select(campaign_messages.c.created_at, campaign_messages.c.test)
                           .where(campaign_messages.c.next_at <= NOW)).all()  # fmt: skip
    assert len(due) == 8 and {utc(r.created_at) for r in due} == {NOW}
    assert {r.test for r in due} == {False}
