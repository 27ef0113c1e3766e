"""The webhooks' outbox: events written in the ledger write's transaction.

A write that earns or redeems points, or changes a member's tier, appends
its event here before it commits, so that an event exists exactly when its
fact does: a write rolled back (a refused redemption, a crash) leaves no
event, and a committed one always has its event. Points about to expire
are found by :func:`expiring` (the delivery worker runs it on each pass).
Each event has a ``dedup`` key naming its fact (the entry, the tier change,
the lot), so the same fact never makes two events.

:mod:`tenure.loyalty.webhooks` delivers them, at least once, to every
endpoint.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from tenure.loyalty import clock, idempotency
from tenure.store.ops_schema import (
    loyalty_allocations,
    loyalty_entries,
    loyalty_lots,
    loyalty_webhook_events,
)

EARNED = "loyalty.points.earned"
REDEEMED = "loyalty.points.redeemed"
EXPIRING = "loyalty.points.expiring"
TIER_CHANGED = "loyalty.tier.changed"
TYPES = (EARNED, REDEEMED, TIER_CHANGED, EXPIRING)


def _add(conn: sa.Connection, type_: str, customer_id: str, dedup: str, data: dict,
         at: datetime) -> None:  # fmt: skip
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    conn.execute(
        insert(loyalty_webhook_events)
        .values(type=type_, customer_id=customer_id, dedup=dedup, created_at=at,
                data=json.dumps(idempotency.as_json(data)), fanned_out=False)
        .on_conflict_do_nothing(index_elements=["dedup"])
    )  # fmt: skip


def posted(conn: sa.Connection, doc: dict[str, Any]) -> None:
    """The event of a write's response document, if its entry is one that
    webhooks tell of (an earning, pending or not, and a redemption)."""
    entry = doc["entry"]
    kind = entry["kind"]
    if kind not in ("earn", "pending", "redeem"):
        return
    type_ = REDEEMED if kind == "redeem" else EARNED
    _add(conn, type_, doc["customer_id"], f"entry:{entry['id']}", doc, clock.now())


def tier_changed(conn: sa.Connection, change_id: int, customer_id: str, due: dict) -> None:
    """The event of a recorded tier change that moved the member (a renewal
    keeps the tier: no event)."""
    if due["tier"] == due["previous"]:
        return
    data = {"customer_id": customer_id, "change_id": change_id, **due}
    _add(conn, TIER_CHANGED, customer_id, f"tier:{change_id}", data, clock.now())


def expiring(conn: sa.Connection, now: datetime, days: int) -> int:
    """An event for each lot whose points (some still left) expire within
    ``days`` of ``now``; once per lot. How many were added."""
    if days <= 0:
        return 0
    lots = loyalty_lots
    drawn = (
        sa.select(sa.func.coalesce(sa.func.sum(loyalty_allocations.c.points), 0))
        .where(loyalty_allocations.c.lot_id == lots.c.id)
        .scalar_subquery()
    )
    approved = sa.exists(sa.select(loyalty_entries.c.id).where(
        loyalty_entries.c.lot_id == lots.c.id, loyalty_entries.c.kind == "approve"))  # fmt: skip
    seen = sa.exists(sa.select(loyalty_webhook_events.c.id).where(
        loyalty_webhook_events.c.dedup == sa.literal("expiring:") + sa.cast(lots.c.id, sa.String)
    ))  # fmt: skip
    rows = conn.execute(
        sa.select(lots.c.id, lots.c.customer_id, lots.c.expires_at, (lots.c.points - drawn))
        .where(lots.c.expires_at > now, lots.c.expires_at <= now + timedelta(days=days),
               lots.c.points > drawn, sa.or_(lots.c.pending.is_(False), approved), ~seen)
        .order_by(lots.c.id)
    ).all()  # fmt: skip
    for lot_id, customer_id, expires_at, left in rows:
        data = {"customer_id": customer_id, "lot_id": lot_id, "points": int(left),
                "expires_at": clock.utc(expires_at)}  # fmt: skip
        _add(conn, EXPIRING, customer_id, f"expiring:{lot_id}", data, now)
    return len(rows)
