"""Bonus points for a referral or a challenge: the one place they are paid.

A bonus is an earning through :func:`tenure.loyalty.ledger.earn` whose
order line and rule name its source (``referral:12`` and
``referral:advocate``): the ledger's unique (order line, rule) makes it
earned once whatever retries or settlements follow, and the idempotency
key (``referral:12:advocate``) answers a retry within the key's 24 h. A
row of ``loyalty_awards`` (unique per source and role) then records it for
the program's listings; a settlement stopped between the two records the
row at its next run, from the earning the ledger answers with.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tenure.loyalty.ledger import earn
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


def award_bonus(
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
    posting = earn(ops, customer_id, points, reason=reason, key=f"{source}:{source_id}:{role}",
                   order_line=f"{source}:{source_id}", rule=f"{source}:{role}", at=at,
                   policy=policy)  # fmt: skip
    with ops.engine.begin() as conn:
        insert_ignoring(conn, loyalty_awards, {
            "source": source, "source_id": source_id, "role": role, "customer_id": customer_id,
            "points": points, "entry_id": posting.entry_id, "at": at,
        }, ["source", "source_id", "role"])  # fmt: skip
    return posting.entry_id
