"""Bonus points for a referral or a challenge, and the record of them.

The points are a bonus event granted through
:func:`tenure.loyalty.bonus.award_bonus` (event ``referral`` or
``challenge``, key ``SOURCE:ID:ROLE``, e.g. ``referral:12:advocate``): the
ledger's unique (order line, rule) makes it earned once whatever retries
or settlements follow. A row of ``loyalty_awards`` (unique per source and
role) then records it for the program's listings; a settlement stopped
between the two records the row at its next run, from the earning the
ledger answers with.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tenure.loyalty.bonus import award_bonus
from tenure.loyalty.policy import DEFAULT, Policy
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import loyalty_awards


def insert_ignoring(conn: sa.Connection, table: sa.Table, values: dict[str, Any],
                    unique: list[str]) -> None:  # fmt: skip
    """Insert a row unless one with the same ``unique`` columns exists."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    conn.execute(insert(table).values(**values).on_conflict_do_nothing(index_elements=unique))


def pay_award(
    ops: OpsStore,
    customer_id: str,
    points: int,
    *,
    source: str,
    source_id: int,
    role: str,
    reason: str,
    at: datetime,
    policy: Policy = DEFAULT,
) -> int:
    """Give ``points`` for ``source`` ``source_id`` to ``customer_id`` in
    ``role``, once; the id of the earning entry."""
    event = "referral" if source == "referral" else "challenge"
    posting = award_bonus(ops, customer_id, event, key=f"{source}:{source_id}:{role}",
                          points=points, reason=reason, at=at, policy=policy)  # fmt: skip
    if posting is None:  # only when no points are given, and callers give some
        raise ValueError(f"an award of {points} points for {source} {source_id}")
    with ops.engine.begin() as conn:
        insert_ignoring(conn, loyalty_awards, {
            "source": source, "source_id": source_id, "role": role, "customer_id": customer_id,
            "points": points, "entry_id": posting.entry_id, "at": at,
        }, ["source", "source_id", "role"])  # fmt: skip
    return posting.entry_id
