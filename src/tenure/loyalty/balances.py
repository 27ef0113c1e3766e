"""The ledger's reads: a member's balance with their lots, and their history.

Reads write nothing: a lot whose expiry has passed keeps its points here
until the next write for the member, or the next ``tenure loyalty expire``,
records the expiry; its ``status`` says ``expired`` meanwhile.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tenure.errors import NotFoundError
from tenure.loyalty import clock, idempotency, tiers
from tenure.loyalty.entries import entry_doc, member_totals
from tenure.loyalty.lots import load
from tenure.loyalty.policy import DEFAULT, Policy, checked_customer
from tenure.loyalty.serial import is_member
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import loyalty_allocations, loyalty_entries


def _not_member(customer_id: str) -> NotFoundError:
    return NotFoundError(
        f"customer {customer_id!r} is not a loyalty member: no points were ever earned.",
        hint=f"Check the customer id, or earn points first: tenure loyalty earn {customer_id} "
        "POINTS",
        value=customer_id,
    )


def balance(
    ops: OpsStore, customer_id: str, *, at: datetime | None = None, policy: Policy = DEFAULT
) -> dict[str, Any]:
    """The document of ``tenure loyalty balance --json``: the balance (the sum
    of the member's entries; below zero while a clawback is owed), pending
    points, the debt, the tier (``None``: no tier, or a program without
    tiers) with its progress (``tier_progress``: see
    :func:`tenure.loyalty.tiers.progress`) and the lots that still hold
    points, soonest expiry first."""
    customer_id = checked_customer(customer_id)
    at = clock.utc(at) if at is not None else clock.now()
    with ops.engine.connect() as conn:
        if not is_member(conn, customer_id):
            raise _not_member(customer_id)
        member = load(conn, customer_id)
        points, pending = member_totals(conn, customer_id)
        progress = None
        if policy.tiers is not None:
            progress = tiers.progress(conn, policy.tiers, customer_id, at)
    lots = sorted(
        (lot for lot in member.lots.values() if lot.remaining > 0),
        key=lambda lot: (lot.expires_at is None, lot.expires_at or at, lot.id),
    )
    docs = []
    for lot in lots:
        doc = lot.doc()
        if lot.expires_at is not None and lot.expires_at <= at:
            doc["status"] = "expired"  # recorded by the next write or expiry run
        docs.append(doc)
    usable = [lot for lot in lots if lot.usable(at)]
    soonest = next((lot for lot in usable if lot.expires_at is not None), None)
    return idempotency.as_json({
        "customer_id": customer_id,
        "balance": points,
        "pending": pending,
        "debt": member.debt,
        "available": member.available(at),
        "tier": None if progress is None else progress["tier"],
        "tier_progress": progress,
        "next_expiry": None if soonest is None else {
            "points": soonest.remaining, "expires_at": soonest.expires_at},
        "lots": docs,
        "as_of": at,
    })  # fmt: skip


def history(ops: OpsStore, customer_id: str, *, limit: int | None = None) -> dict[str, Any]:
    """The document of ``tenure loyalty history --json``: the member's entries,
    oldest first, each with the balance and pending points after it and
    the lots it drew from (``limit``: only the newest so many)."""
    customer_id = checked_customer(customer_id)
    e, alloc = loyalty_entries, loyalty_allocations
    with ops.engine.connect() as conn:
        if not is_member(conn, customer_id):
            raise _not_member(customer_id)
        rows = conn.execute(
            sa.select(e).where(e.c.customer_id == customer_id).order_by(e.c.id)
        ).mappings().all()  # fmt: skip
        drawn: dict[int, list[dict[str, int]]] = {}
        for entry_id, lot_id, points in conn.execute(
            sa.select(alloc.c.entry_id, alloc.c.lot_id, alloc.c.points)
            .join(e, e.c.id == alloc.c.entry_id)
            .where(e.c.customer_id == customer_id)
            .order_by(alloc.c.id)
        ):
            drawn.setdefault(entry_id, []).append({"lot_id": lot_id, "points": int(points)})
        changes = tiers.history(conn, customer_id)
    entries, points, pending = [], 0, 0
    for row in rows:
        doc = entry_doc(row)
        points += doc["points"]
        pending += doc["pending"]
        doc.update(balance_after=points, pending_after=pending, from_lots=drawn.get(doc["id"], []))
        entries.append(doc)
    if limit is not None:
        entries = entries[-limit:] if limit > 0 else []
    return idempotency.as_json({"customer_id": customer_id, "entries": entries,
                                "balance": points, "pending": pending,
                                "tier_changes": changes})  # fmt: skip
