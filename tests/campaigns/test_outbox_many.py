"""``outbox.enqueue_many``: the rows ``enqueue`` would write, in one
statement; ``outbox.enqueue_unrendered``: a launch's rows, for the sender to
render; a dedup key already there adds nothing."""

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


def test_unrendered_rows_carry_their_template_locale_and_priority(ops):
    def queue(conn, customers):
        return outbox.enqueue_unrendered(
            conn, campaign="win-back", step="1", occurrence="2026-03-01", channel="email",
            purpose="marketing", template="/shop/templates/win-back", priority="high",
            recipients=[(c, f"{c}@x.example", "de-DE") for c in customers], now=NOW)  # fmt: skip

    with ops.engine.begin() as conn:
        assert queue(conn, ["C1", "C2"]) == 2
    with ops.engine.begin() as conn:
        assert queue(conn, ["C2", "C3"]) == 1  # C2's key is there: the same decision
        assert outbox.enqueue(conn, **_message("C3"), now=NOW) is None
    m = campaign_messages
    with ops.engine.connect() as conn:
        rows = conn.execute(sa.select(m.c.dedup_key, m.c.template, m.c.locale, m.c.subject,
                                      m.c.rendered, m.c.priority, m.c.state, m.c.next_at)
                            .order_by(m.c.dedup_key)).all()  # fmt: skip
    assert [r.dedup_key for r in rows] == [f"win-back:1:C{i}:2026-03-01" for i in (1, 2, 3)]
    assert {(r.template, r.locale, r.subject, r.rendered, r.priority, r.state) for r in rows} == {
        ("/shop/templates/win-back", "de-DE", "", False, 2, "pending")}
    assert {utc(r.next_at) for r in rows} == {NOW}
