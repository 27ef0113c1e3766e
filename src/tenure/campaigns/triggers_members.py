"""Segment and model-threshold triggers: who is in now, against who was in
at the trigger's last evaluation.

The set is computed in the analytics store (the audience criteria's SQL:
:mod:`tenure.campaigns.audiences`), the last one is ``trigger_members`` in
the operational store, and the two are compared as Arrow arrays, never
customer by customer in Python. A customer's row stays when they leave, so
``entries`` and ``exits`` number each crossing: the occurrence of the third
entry is ``enter-3``, the same however often an evaluation is retried
before it commits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from tenure.campaigns.audiences import Criterion
from tenure.campaigns.triggers_spec import Trigger
from tenure.store.ops_schema import trigger_members

CHUNK = 500


def criterion(t: Trigger) -> Criterion:
    """The audience criterion whose members the trigger watches."""
    if t.kind in ("segment_enter", "segment_leave"):
        return Criterion("segment", 0.0, t.segment_kind, t.name)
    kind = {"churn_risk_above": "churn_risk", "p_alive_below": "p_alive", "overdue": "overdue"}
    return Criterion(kind[t.kind], float(t.value or 0))


def previous(conn: sa.Connection, key: str) -> pa.Table:
    m = trigger_members.c
    rows = conn.execute(sa.select(m.customer_id, m.member, m.entries, m.exits)
                        .where(m.key == key)).fetchall()  # fmt: skip
    cols = list(zip(*rows, strict=True)) if rows else [[], [], [], []]
    return pa.table({"customer_id": pa.array(cols[0], pa.string()),
                     "member": pa.array(cols[1], pa.bool_()),
                     "entries": pa.array(cols[2], pa.int64()),
                     "exits": pa.array(cols[3], pa.int64())})  # fmt: skip


def diff(conn: sa.Connection, key: str, t: Trigger, current: pa.Array, as_of: datetime, *,
         baseline: bool) -> pa.Table:  # fmt: skip
    """Record ``current`` as the members and give the entries (or, for
    ``segment_leave``, the exits) since the last evaluation; with
    ``baseline`` (a first evaluation) only record."""
    prev = previous(conn, key)
    was = prev.filter(prev["member"])["customer_id"]
    entered = pc.filter(current, pc.invert(pc.is_in(current, value_set=was)))
    left = pc.filter(was, pc.invert(pc.is_in(was, value_set=current)))
    counts = prev.select(["customer_id", "entries", "exits"])
    ins = pa.table({"customer_id": entered}).join(counts, "customer_id", join_type="left outer")
    outs = pa.table({"customer_id": left}).join(counts, "customer_id", join_type="left outer")
    bump = 0 if baseline else 1
    n_in = pc.add(pc.fill_null(ins["entries"], 0), bump)
    n_out = pc.add(pc.fill_null(outs["exits"], 0), bump)
    _write(conn, key, as_of, ins["customer_id"], True, n_in, pc.fill_null(ins["exits"], 0),
           known=prev.num_rows > 0)
    _write(conn, key, as_of, outs["customer_id"], False, pc.fill_null(outs["entries"], 0), n_out)
    if baseline:
        return _empty()
    if t.kind == "segment_leave":
        ids, prefix, number = outs["customer_id"], "leave-", n_out
    else:
        ids, prefix, number = ins["customer_id"], "enter-", n_in
    n = len(ids)
    when = pa.array([as_of] * n, pa.timestamp("us", tz="UTC")) if n else _empty()["occurred_at"]
    return pa.table({
        "customer_id": ids.cast(pa.string()),
        "occurrence": pc.binary_join_element_wise(prefix, number.cast(pa.string()), ""),
        "occurred_at": when,
        "context": pa.array([t.text] * n, pa.string()),
    })  # fmt: skip


def _write(conn: sa.Connection, key: str, at: datetime, ids: Any, member: bool, entries: Any,
           exits: Any, known: bool = True) -> None:  # fmt: skip
    """Replace the rows of ``ids``: one DELETE and one executemany per chunk."""
    ids, entries, exits = ids.to_pylist(), entries.to_pylist(), exits.to_pylist()
    m = trigger_members.c
    for i in range(0, len(ids), CHUNK):
        part = ids[i:i + CHUNK]
        if known:  # a first sighting has no row to replace: a baseline only inserts
            conn.execute(sa.delete(trigger_members).where(m.key == key, m.customer_id.in_(part)))
        conn.execute(sa.insert(trigger_members), [
            {"key": key, "customer_id": c, "member": member, "entries": int(e), "exits": int(x),
             "changed_at": at}
            for c, e, x in zip(part, entries[i:i + CHUNK], exits[i:i + CHUNK], strict=True)
        ])  # fmt: skip


def _empty() -> pa.Table:
    from tenure.campaigns.triggers_state import SCHEMA

    return SCHEMA.empty_table()
