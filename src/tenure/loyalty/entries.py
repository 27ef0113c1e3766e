"""Appending entries, and a member's totals read from them."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tenure.faults import checkpoint
from tenure.loyalty.lots import Lot, Member
from tenure.store.ops_schema import loyalty_entries, loyalty_lots

KINDS = ("earn", "pending", "approve", "redeem", "expire", "reverse", "adjust")


_INSERT_ENTRY = loyalty_entries.insert()
_INSERT_LOT = loyalty_lots.insert()


def post(
    conn: sa.Connection,
    customer_id: str,
    kind: str,
    at: datetime,
    *,
    points: int = 0,
    pending: int = 0,
    **fields: Any,
) -> int:
    """Append one entry; its id. ``points`` changes the balance, ``pending``
    the points waiting for their return window to close."""
    assert kind in KINDS, kind
    # one statement for every entry, its values as parameters: built once
    result = conn.execute(_INSERT_ENTRY, {"customer_id": customer_id, "kind": kind,
                                          "points": points, "pending": pending, "at": at,
                                          **fields})  # fmt: skip
    checkpoint("loyalty entry written")
    return int(result.inserted_primary_key[0])


def new_lot(
    conn: sa.Connection,
    member: Member,
    points: int,
    *,
    pending: bool,
    available_at: datetime,
    expires_at: datetime | None,
    at: datetime,
) -> Lot:
    result = conn.execute(_INSERT_LOT, {"customer_id": member.customer_id, "points": points,
                                        "pending": pending, "available_at": available_at,
                                        "expires_at": expires_at, "created_at": at})  # fmt: skip
    lot = Lot(
        id=int(result.inserted_primary_key[0]),
        points=points,
        pending=pending,
        approved=False,
        available_at=available_at,
        expires_at=expires_at,
    )
    member.lots[lot.id] = lot
    return lot


@functools.cache
def _totals_statement() -> sa.Select:
    e = loyalty_entries
    return sa.select(sa.func.coalesce(sa.func.sum(e.c.points), 0),
                     sa.func.coalesce(sa.func.sum(e.c.pending), 0)
                     ).where(e.c.customer_id == sa.bindparam("customer_id"))  # fmt: skip


def member_totals(conn: sa.Connection, customer_id: str) -> tuple[int, int]:
    """(balance, pending): the sums of the member's entries."""
    row = conn.execute(_totals_statement(), {"customer_id": customer_id}).one()
    return int(row[0]), int(row[1])


def entry_doc(row: Any) -> dict[str, Any]:
    return {
        "id": int(row["id"]),
        "kind": row["kind"],
        "points": int(row["points"]),
        "pending": int(row["pending"]),
        "at": row["at"],
        "lot_id": row["lot_id"],
        "reverses": row["reverses"],
        "reason": row["reason"],
        "reward": row["reward"],
        "order_line": row["order_line"],
        "rule": row["rule"],
        "amount": row["amount"],
    }


_GET = sa.select(loyalty_entries).where(loyalty_entries.c.id == sa.bindparam("entry_id"))


def get(conn: sa.Connection, entry_id: int) -> Any:
    return conn.execute(_GET, {"entry_id": entry_id}).mappings().first()
