"""A member's lots of points and debts, and the order lots are drawn in.

What is left of a lot is never stored: it is the lot's points less the
allocations drawn from it. A debt is a clawback (a reversal, or a negative
adjustment) that found fewer points than it took; what is unpaid of it is
its points less the allocations later lots paid it with.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from tenure.faults import checkpoint
from tenure.loyalty.clock import utc
from tenure.store.ops_schema import loyalty_allocations, loyalty_entries, loyalty_lots

# entries that may leave a debt: a clawback takes points whether or not
# they are still there
DEBT_KINDS = ("reverse", "adjust")


@dataclass
class Lot:
    id: int
    points: int
    pending: bool  # made pending: usable once an approve entry names it
    approved: bool
    available_at: datetime
    expires_at: datetime | None
    used: int = 0  # drawn by allocations

    @property
    def remaining(self) -> int:
        return self.points - self.used

    @property
    def awaiting_approval(self) -> bool:
        return self.pending and not self.approved

    def usable(self, at: datetime) -> bool:
        return (
            not self.awaiting_approval
            and self.available_at <= at
            and (self.expires_at is None or at < self.expires_at)
            and self.remaining > 0
        )

    def doc(self) -> dict:
        return {
            "id": self.id,
            "points": self.points,
            "remaining": self.remaining,
            "status": "pending" if self.awaiting_approval else "active",
            "available_at": self.available_at,
            "expires_at": self.expires_at,
        }


@dataclass
class Member:
    customer_id: str
    lots: dict[int, Lot] = field(default_factory=dict)
    debts: dict[int, int] = field(default_factory=dict)  # debt entry id -> unpaid points

    @property
    def debt(self) -> int:
        return sum(self.debts.values())

    def usable(self, at: datetime) -> list[Lot]:
        """The lots a draw takes from, in order: the soonest expiry first (a
        lot that never expires last), so that what is spent is what would
        expire first; the oldest lot first among equals."""
        lots = [lot for lot in self.lots.values() if lot.usable(at)]
        return sorted(lots, key=lambda lot: (lot.expires_at is None, lot.expires_at or at, lot.id))

    def available(self, at: datetime) -> int:
        """What a redemption at ``at`` could spend: the usable lots, and the
        pending ones whose window has closed (the redemption approves them
        first), less the debt those approvals would pay."""
        due = sum(
            lot.remaining
            for lot in self.lots.values()
            if lot.awaiting_approval
            and lot.available_at <= at
            and (lot.expires_at is None or at < lot.expires_at)
        )
        return max(0, sum(lot.remaining for lot in self.usable(at)) + due - self.debt)


@functools.cache
def _load_statements() -> tuple[sa.Select, sa.Select, sa.Select, sa.Select]:
    """The queries of :func:`load`, built once: every write loads its member
    twice, and building them anew each time cost more than running them."""
    lots, alloc, entries = loyalty_lots, loyalty_allocations, loyalty_entries
    who = sa.bindparam("customer_id")
    approved = sa.select(entries.c.lot_id).where(
        entries.c.customer_id == who, entries.c.kind == "approve"
    )
    held = sa.select(lots).where(lots.c.customer_id == who).order_by(lots.c.id)
    drawn = (
        sa.select(alloc.c.lot_id, alloc.c.entry_id, alloc.c.points)
        .join(lots, lots.c.id == alloc.c.lot_id)
        .where(lots.c.customer_id == who)
    )
    debts = (
        sa.select(entries.c.id, entries.c.points)
        .where(entries.c.customer_id == who, entries.c.kind.in_(DEBT_KINDS), entries.c.points < 0)
        .order_by(entries.c.id)
    )
    return approved, held, drawn, debts


def load(conn: sa.Connection, customer_id: str) -> Member:
    member = Member(customer_id)
    approved_q, held_q, drawn_q, debts_q = _load_statements()
    params = {"customer_id": customer_id}
    approved = {row[0] for row in conn.execute(approved_q, params)}
    for row in conn.execute(held_q, params).mappings():
        member.lots[row["id"]] = Lot(
            id=row["id"],
            points=int(row["points"]),
            pending=bool(row["pending"]),
            approved=row["id"] in approved,
            available_at=utc(row["available_at"]),
            expires_at=None if row["expires_at"] is None else utc(row["expires_at"]),
        )
    paid: dict[int, int] = {}
    for lot_id, entry_id, points in conn.execute(drawn_q, params):
        member.lots[lot_id].used += int(points)
        paid[entry_id] = paid.get(entry_id, 0) + int(points)
    for entry_id, points in conn.execute(debts_q, params):
        unpaid = -int(points) - paid.get(entry_id, 0)
        if unpaid > 0:
            member.debts[entry_id] = unpaid
    return member


def allocate(
    conn: sa.Connection, member: Member, entry_id: int, parts: list[tuple[int, int]], made_by: int
) -> None:
    """Record that ``entry_id`` took ``points`` from each (lot, points) of ``parts``."""
    if not parts:
        return
    conn.execute(
        loyalty_allocations.insert(),
        [
            {"entry_id": entry_id, "lot_id": lot_id, "points": points, "made_by": made_by}
            for lot_id, points in parts
        ],
    )
    for lot_id, points in parts:
        member.lots[lot_id].used += points
    checkpoint("loyalty allocations written")


def draw(member: Member, points: int, at: datetime, first: int | None = None):
    """Which lots ``points`` come from: the lot ``first`` (a reversal takes
    the points of the lot it reverses), then the usable lots in order.
    Returns the (lot, points) parts and what they could not cover."""
    order = member.usable(at)
    if first is not None and first in member.lots:
        own = member.lots[first]
        order = ([own] if own.usable(at) else []) + [lot for lot in order if lot.id != first]
    parts: list[tuple[int, int]] = []
    left = points
    for lot in order:
        if left == 0:
            break
        take = min(left, lot.remaining)
        parts.append((lot.id, take))
        left -= take
    return parts, left


def pay_debts(conn: sa.Connection, member: Member, lot: Lot, made_by: int) -> int:
    """New usable points pay the member's debts first, oldest first; the
    points paid."""
    paid = 0
    for entry_id in sorted(member.debts):
        if lot.remaining == 0:
            break
        take = min(member.debts[entry_id], lot.remaining)
        allocate(conn, member, entry_id, [(lot.id, take)], made_by)
        member.debts[entry_id] -= take
        if member.debts[entry_id] == 0:
            del member.debts[entry_id]
        paid += take
    return paid
