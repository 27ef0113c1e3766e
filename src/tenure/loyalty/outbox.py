"""The webhooks' outbox: events written in the ledger write's transaction.

A write that earns or redeems points, or changes a member's tier, appends
its event here before it commits, so that an event exists exactly when its
fact does: a write rolled back (a refused redemption, a crash) leaves no
event, and a committed one always has its event. Points about to expire
are found by :func:`expiring` (the delivery worker runs it on each pass).
Each event has a ``dedup`` key naming its fact (the entry, the tier change,
the lot), so the same fact never makes two events.

Old events go (:func:`purge`): an event whose every delivery is done
(delivered, or failed for good) is deleted with its deliveries once the
last of them is older than the retention period. An event still to
deliver, or waiting for an endpoint, stays whatever its age.

:mod:`tenure.loyalty.webhooks` delivers them, at least once, to every
endpoint.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from tenure.loyalty import clock, idempotency
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import (
    loyalty_allocations,
    loyalty_entries,
    loyalty_lots,
    loyalty_webhook_deliveries,
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
        loyalty_webhook_events.c.dedup == _lot_dedup(lots)))  # fmt: skip
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


PURGE_BATCH = 5000  # events deleted per transaction: a ledger write waits for one batch at most


def _lot_dedup(lots: sa.Table) -> sa.ColumnElement:
    return sa.literal("expiring:") + sa.cast(lots.c.id, sa.String)


def _purgeable(cutoff: datetime, now: datetime) -> sa.Select:
    """The ids of the events done before ``cutoff``: given to the endpoints,
    none of their deliveries pending, the last done before the cutoff."""
    d, ev, lots = loyalty_webhook_deliveries, loyalty_webhook_events, loyalty_lots
    done = (
        sa.select(d.c.event_id)
        .group_by(d.c.event_id)
        .having(sa.func.sum(sa.case((d.c.state == "pending", 1), else_=0)) == 0)
        .having(sa.func.max(d.c.done_at) < cutoff)
    )
    # an expiring lot's event stays until the lot expires: gone before,
    # the next pass of expiring() would make it again
    lot_ahead = sa.exists(
        sa.select(lots.c.id).where(_lot_dedup(lots) == ev.c.dedup, lots.c.expires_at > now)
    )
    return (
        sa.select(ev.c.id)
        .where(ev.c.fanned_out.is_(True), ev.c.id.in_(done), ~lot_ahead)
        .order_by(ev.c.id)
        .limit(PURGE_BATCH)
    )


def purge(ops: OpsStore, days: float, *, now: datetime | None = None) -> dict[str, Any]:
    """Delete the events whose every delivery was done more than ``days``
    ago, with their deliveries, a batch per transaction; what was deleted.
    Events still to deliver (or waiting for an endpoint) are kept."""
    if isinstance(days, bool) or not isinstance(days, int | float) or not 0 <= days < 10**6:
        raise ValueError(f"days must be a number of 0 or more; got {days!r}")
    now = clock.utc(now) if now is not None else clock.now()
    cutoff = now - timedelta(days=days)
    d, ev = loyalty_webhook_deliveries, loyalty_webhook_events
    events = deliveries = 0
    while True:
        with ops.engine.begin() as conn:
            ids = conn.execute(_purgeable(cutoff, now)).scalars().all()
            if not ids:
                break
            deliveries += conn.execute(d.delete().where(d.c.event_id.in_(ids))).rowcount
            events += conn.execute(ev.delete().where(ev.c.id.in_(ids))).rowcount
        if len(ids) < PURGE_BATCH:
            break
    return idempotency.as_json({"as_of": now, "older_than_days": days, "cutoff": cutoff,
                                "events": events, "deliveries": deliveries})  # fmt: skip
