"""Reversing the points of refunded and cancelled order lines.

A refunded or cancelled order takes back all of its lines' points; a
partially refunded one the share its ``refunded_amount`` is of its amount,
of each line (``round(points x share)``); a line no longer in its order
all of them. What a line has had reversed so far is kept
(``loyalty_order_reversals.reversed_to``, under a unique key), so the same
refund ingested again reverses nothing more, and a larger refund later
reverses only the difference.

The points come back as a ledger ``reverse`` does (docs/loyalty.md): from
the line's own pending lot while its return window is open; once approved,
from its lot and then the member's other lots, and what was already spent
is a debt that the member's next points pay first. Points of the line that
expired are not taken again.

Each reversal runs inside the posting's batch transaction, member by
member (it must read the member's lots to know which to draw from): the
bulk path is for earning, which is far more common than refunding.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from tenure.loyalty.entries import get, post
from tenure.loyalty.expiry import settle
from tenure.loyalty.ledger import _expired_from
from tenure.loyalty.lots import Member, allocate, draw, load
from tenure.loyalty.policy import Policy
from tenure.store.ops_schema import loyalty_entries, loyalty_order_reversals


@dataclass(frozen=True)
class Reversal:
    """A line's points to reverse up to ``target`` (of the points it earned),
    ``done`` of them being reversed already."""

    customer_id: str
    order_id: str
    line: str
    rule: str
    entry_id: int | None  # the line's earning; None: it credited nothing
    done: int
    target: int
    why: str


def reverse_lines(
    conn: sa.Connection, todo: list[Reversal], at: datetime, policy: Policy
) -> tuple[int, int]:
    """Post the reversals of ``todo`` in the caller's transaction (which
    holds the members' locks); (lines reversed, points taken back)."""
    lines = points = 0
    members: dict[str, Member] = {}
    for r in sorted(todo, key=lambda r: (r.customer_id, r.order_id, r.line)):
        member = members.get(r.customer_id)
        if member is None:
            member = members[r.customer_id] = load(conn, r.customer_id)
            settle(conn, member, at)  # as every write does first
        entry = _reverse(conn, member, r, at) if r.entry_id is not None else (None, 0)
        conn.execute(loyalty_order_reversals.insert().values(
            order_id=r.order_id, line=r.line, rule=r.rule, reversed_to=r.target,
            entry_id=entry[0], posted_at=at))  # fmt: skip
        lines += 1
        points += entry[1]
    return lines, points


def _reverse(
    conn: sa.Connection, member: Member, r: Reversal, at: datetime
) -> tuple[int | None, int]:
    original = get(conn, r.entry_id)
    credited = int(original["points"]) + int(original["pending"])
    e = loyalty_entries
    undone = -int(conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(e.c.points + e.c.pending), 0))
        .where(e.c.reverses == r.entry_id)
    ).scalar_one())  # fmt: skip
    left = credited - undone - _expired_from(conn, original["lot_id"])
    want = min(r.target - r.done, left)
    if want <= 0:
        return None, 0
    if r.why == "refund":
        reason = f"refund of order {r.order_id}"
    elif r.line:
        reason = f"order line {r.order_id}:{r.line} no longer in its order"
    else:  # its items were ingested after it: its lines earn instead
        reason = f"order {r.order_id} earns on its lines instead of its amount"
    fields: dict = {"reverses": r.entry_id, "reason": reason}
    if original["amount"] is not None:
        fields["amount"] = -round(float(original["amount"]) * want / credited, 4)
    own = member.lots.get(original["lot_id"])
    if own is not None and own.awaiting_approval:
        entry = post(conn, member.customer_id, "reverse", at, pending=-want, lot_id=own.id,
                     **fields)  # fmt: skip
        allocate(conn, member, entry, [(own.id, want)], entry)
        return entry, want
    parts, owed = draw(member, want, at, first=original["lot_id"])
    entry = post(conn, member.customer_id, "reverse", at, points=-want, **fields)
    allocate(conn, member, entry, parts, entry)
    if owed:
        member.debts[entry] = owed
    return entry, want
