"""Pending points approved once their return window closes, and lots
expired once their expiry passes.

Every write settles its member first (in its own transaction), so that a
redemption never draws on a lot that has expired and a debt is paid by
pending points the moment they are approved. ``tenure loyalty expire``
settles every member with something due.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tenure.faults import checkpoint
from tenure.loyalty import clock, idempotency
from tenure.loyalty.entries import post
from tenure.loyalty.invariant import check_invariant
from tenure.loyalty.lots import Member, allocate, load, pay_debts
from tenure.loyalty.policy import DEFAULT, Policy
from tenure.loyalty.serial import member_transaction
from tenure.loyalty.tier_program import review_all
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import loyalty_allocations, loyalty_entries, loyalty_lots


def settle(conn: sa.Connection, member: Member, at: datetime) -> dict[str, list[int]]:
    """Approve the member's pending lots whose window closed by ``at``, then
    expire what is left of the lots whose expiry passed; the points of each
    lot approved and expired."""
    done: dict[str, list[int]] = {"approved": [], "expired": []}
    for lot in list(member.lots.values()):
        if lot.awaiting_approval and lot.remaining > 0 and lot.available_at <= at:
            points = lot.remaining
            entry = post(conn, member.customer_id, "approve", at, points=points,
                         pending=-points, lot_id=lot.id)  # fmt: skip
            lot.approved = True
            pay_debts(conn, member, lot, entry)
            done["approved"].append(points)
    for lot in list(member.lots.values()):
        due = lot.expires_at is not None and lot.expires_at <= at
        if due and not lot.awaiting_approval and lot.remaining > 0:
            points = lot.remaining
            entry = post(conn, member.customer_id, "expire", at, points=-points, lot_id=lot.id,
                         reason=f"expired at {lot.expires_at.isoformat()}")  # fmt: skip
            allocate(conn, member, entry, [(lot.id, points)], entry)
            done["expired"].append(points)
    return done


def expire(
    ops: OpsStore, *, as_of: datetime | None = None, policy: Policy = DEFAULT
) -> dict[str, Any]:
    """Settle every member with a lot due by ``as_of`` (default: now), each
    in its own transaction, record the tier reviews due by then (a
    downgrade after its grace days, the end of a manual tier), and remove
    idempotency keys older than the policy keeps them. The document of ``tenure loyalty expire --json``."""
    at = clock.utc(as_of) if as_of is not None else clock.now()
    lots, entries = loyalty_lots, loyalty_entries

    def settled_by(kind: str):
        return sa.exists(
            sa.select(entries.c.id).where(entries.c.lot_id == lots.c.id, entries.c.kind == kind)
        )

    drawn = sa.select(sa.func.coalesce(sa.func.sum(loyalty_allocations.c.points), 0)).where(
        loyalty_allocations.c.lot_id == lots.c.id
    )
    due = (
        sa.select(lots.c.customer_id)
        .where(
            lots.c.points > drawn.scalar_subquery(),  # something is left of the lot
            sa.or_(
                sa.and_(lots.c.pending.is_(True), lots.c.available_at <= at,
                        ~settled_by("approve")),
                sa.and_(lots.c.expires_at <= at, ~settled_by("expire")),
            )
        )
        .distinct()
        .order_by(lots.c.customer_id)
    )  # fmt: skip
    with ops.engine.connect() as conn:
        customers = [row[0] for row in conn.execute(due)]
    summary = {"as_of": at, "members": 0, "expired_lots": 0, "expired_points": 0,
               "approved_lots": 0, "approved_points": 0}  # fmt: skip
    for customer_id in customers:
        with member_transaction(ops, customer_id, join_at=None) as conn:
            checkpoint("loyalty locked")
            done = settle(conn, load(conn, customer_id), at)
            check_invariant(conn, customer_id)
            checkpoint("loyalty before commit")
        checkpoint("loyalty after commit")
        if done["approved"] or done["expired"]:
            summary["members"] += 1
        summary["expired_lots"] += len(done["expired"])
        summary["expired_points"] += sum(done["expired"])
        summary["approved_lots"] += len(done["approved"])
        summary["approved_points"] += sum(done["approved"])
    summary["tier_changes"] = review_all(ops, at, policy)
    with ops.engine.begin() as conn:
        summary["keys_removed"] = idempotency.purge(conn, clock.now(), policy.key_hours)
    return idempotency.as_json(summary)
