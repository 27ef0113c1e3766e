"""Goals kept in the operational store (table ``goals``)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from tenure.errors import ConfigError
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import goals


def add(ops: OpsStore, **values: Any) -> int:
    values = dict(values)
    values["definitions"] = json.dumps(values.get("definitions") or {}, default=str)
    values["created_at"] = datetime.now(UTC)
    with ops.engine.begin() as conn:
        result = conn.execute(goals.insert().values(**values))
        return int(result.inserted_primary_key[0])


def active(ops: OpsStore) -> list[dict[str, Any]]:
    with ops.engine.connect() as conn:
        rows = conn.execute(
            sa.select(goals).where(goals.c.removed_at.is_(None)).order_by(goals.c.id)
        ).mappings()
        return [_row(r) for r in rows]


def remove(ops: OpsStore, goal_id: int) -> None:
    with ops.engine.begin() as conn:
        result = conn.execute(
            goals.update()
            .where((goals.c.id == goal_id) & goals.c.removed_at.is_(None))
            .values(removed_at=datetime.now(UTC))
        )
        if result.rowcount == 0:
            raise ConfigError(
                f"there is no goal {goal_id}.", hint="See the goals: tenure goal list"
            )


def _row(r: Any) -> dict[str, Any]:
    row = dict(r)
    row["definitions"] = json.loads(row["definitions"] or "{}")
    if isinstance(row["deadline"], datetime):
        row["deadline"] = row["deadline"].date()
    elif isinstance(row["deadline"], str):
        row["deadline"] = date.fromisoformat(row["deadline"])
    return row
