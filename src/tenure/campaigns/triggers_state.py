"""Each trigger owner's watermark (``trigger_state``) and the shape of the
entries every trigger returns."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import sqlalchemy as sa

from tenure.store.ops_schema import trigger_state

# what an evaluation returns: one row per new entry
SCHEMA = pa.schema([
    ("customer_id", pa.string()),
    ("occurrence", pa.string()),  # stable key of this happening: never enters twice
    ("occurred_at", pa.timestamp("us", tz="UTC")),
    ("context", pa.string()),  # what it was: an amount, a score, a segment
])  # fmt: skip


def as_table(found: list) -> pa.Table:
    """Rows (customer_id, occurrence, occurred_at, context) as :data:`SCHEMA`."""
    cols = list(zip(*found, strict=True)) if found else [[], [], [], []]
    when = [None if w is None else _utc(w) for w in cols[2]]
    return pa.table([pa.array(cols[0], pa.string()), pa.array(cols[1], pa.string()),
                     pa.array(when, SCHEMA.field("occurred_at").type),
                     pa.array(cols[3], pa.string())], schema=SCHEMA)  # fmt: skip


def arrow(con, sql: str) -> pa.Table:
    """A DuckDB query's result as an Arrow table, straight from the relation
    (the method's name changed in DuckDB 2.0)."""
    rel = con.sql(sql)
    fetch = getattr(rel, "to_arrow_table", None) or rel.arrow
    return fetch()


def conform(table: pa.Table) -> pa.Table:
    """An Arrow result of DuckDB (naive UTC timestamps) as :data:`SCHEMA`."""
    when = table["occurred_at"].cast(pa.timestamp("us")).cast(SCHEMA.field("occurred_at").type)
    return pa.table([table["customer_id"].cast(pa.string()), table["occurrence"].cast(pa.string()),
                     when, table["context"].cast(pa.string())], schema=SCHEMA)  # fmt: skip


def _utc(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def watermark(conn: sa.Connection, key: str) -> datetime | None:
    """``key``'s watermark, its row locked on PostgreSQL until the
    transaction ends (SQLite's BEGIN IMMEDIATE already serialises)."""
    found = conn.execute(sa.select(trigger_state.c.watermark)
                         .where(trigger_state.c.key == key).with_for_update()).scalar()  # fmt: skip
    return None if found is None else _utc(found)


def advance(conn: sa.Connection, key: str, spec: str, to: datetime, now: datetime) -> None:
    """Move ``key``'s watermark to ``to`` (never back), in the caller's
    transaction: the entries and the watermark commit together."""
    s = trigger_state.c
    row = conn.execute(sa.select(s.watermark, s.evaluations).where(s.key == key)).first()
    if row is None:
        conn.execute(sa.insert(trigger_state).values(key=key, spec=spec, watermark=to,
                                                     evaluations=1, updated_at=now))  # fmt: skip
        return
    conn.execute(sa.update(trigger_state).where(s.key == key).values(
        spec=spec, watermark=max(_utc(row[0]), to), evaluations=row[1] + 1, updated_at=now))


def states(conn: sa.Connection) -> list[dict]:
    s = trigger_state.c
    return [{"key": r[0], "spec": r[1], "watermark": _utc(r[2]).isoformat(),
             "evaluations": r[3]}
            for r in conn.execute(sa.select(s.key, s.spec, s.watermark, s.evaluations)
                                  .order_by(s.key))]  # fmt: skip
