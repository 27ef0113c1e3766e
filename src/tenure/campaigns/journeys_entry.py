"""Who enters a journey, and their arm, drawn at entry.

The **source** of entries is a function ``entries(settings, ops, journey,
*, at) -> pyarrow.Table`` with the columns ``customer_id`` (string),
``occurrence`` (string: what tells two entries of one customer apart, and
the last part of their messages' dedup keys) and ``occurred_at``
(timestamp). :func:`entries` is the default one:

- a journey whose ``entry`` is a list of audience criteria enters the
  customers of :func:`tenure.campaigns.audiences.evaluate`, the occurrence
  being the day of the run (``2026-03-01``);
- one whose ``entry`` is a trigger's text (``event:first_order``,
  ``date:birthday``, ``churn_risk_above:0.6``) enters the trigger's new
  entries up to the run's time (:func:`tenure.campaigns.triggers.evaluate`
  with ``as_of`` the run's time, keyed ``journey:NAME``), the occurrence
  being the trigger's own (the order's id, the birthday's year).

:func:`enter_due` evaluates a trigger inside the transaction that enters
its entries: the trigger's watermark moves in the same commit as the
enrolments, so a crash before the commit leaves both as they were (the
next run finds the same entries again) and one after it leaves both done:
each entry is entered exactly once, neither lost nor repeated. Were a
window ever read twice, the occurrence check below would still enter it
once.

Another source is passed to :func:`tenure.campaigns.journeys_runner.run`
as ``entries=``; ``tenure journey enter NAME --customers FILE`` enters a
file's customers with :func:`enter`.

:func:`enter` applies the **re-entry rule** (``never``: one entry per
customer; ``after 30d``: a new entry 30 days or more after the last one;
``every``: each new occurrence) and an occurrence already entered is never
entered twice (an occurrence is kept in at most 40 characters, a longer
one shortened with its hash by :func:`short_occurrence`; a ``:`` in it is
kept as ``-``, since ``:`` separates the parts of a dedup key). Then each entrant's **arm** is drawn by
:func:`tenure.campaigns.holdouts.assign` with the journey's salt, nested in
the workspace's global control, before consent, caps and suppression are
looked at (intent to treat): the held out are recorded with the state
``held_out`` and follow no step, the treated start at the first step,
due at once. The hash is stable: a customer is in the same arm at every
entry.
"""

from __future__ import annotations

import csv
import hashlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import sqlalchemy as sa

from tenure.campaigns import audiences, holdouts, triggers
from tenure.campaigns.consent import utc, write_transaction
from tenure.campaigns.journeys import Journey, get
from tenure.campaigns.journeys_spec import arrival
from tenure.errors import InputError
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import journey_members as members_t

COLUMNS = ("customer_id", "occurrence", "occurred_at")
SCHEMA = pa.schema([("customer_id", pa.string()), ("occurrence", pa.string()),
                    ("occurred_at", pa.timestamp("us", tz="UTC"))])  # fmt: skip
_INSERT_CHUNK = 5000
OCCURRENCE_MAX = 40  # the column's width


def trigger_key(name: str) -> str:
    """The journey's key in the trigger state (its watermark)."""
    return f"journey:{name}"


def entries(settings: Any, ops: OpsStore, journey: Journey, *, at: datetime,
            conn: sa.Connection | None = None) -> pa.Table:  # fmt: skip
    """The journey's entrants now, from its audience or its trigger (with
    ``conn``, the trigger's watermark moves in that transaction)."""
    entry = journey.definition.entry
    if isinstance(entry, list):
        found = audiences.evaluate(settings, audiences.from_texts(entry))
        ids = [r[0] for r in found.rows]
        day = utc(at).date().isoformat()
        return pa.table({"customer_id": ids, "occurrence": [day] * len(ids),
                         "occurred_at": [utc(at)] * len(ids)}, schema=SCHEMA)  # fmt: skip
    return triggers.evaluate(settings, ops, triggers.parse(entry), key=trigger_key(journey.name),
                             as_of=utc(at), conn=conn)  # fmt: skip


def enter_due(settings: Any, ops: OpsStore, journey: Journey, *, at: datetime,
              source: Any = None) -> dict[str, Any]:  # fmt: skip
    """Enter the journey's entrants as of ``at``, from ``source`` (default
    :func:`entries`); a trigger is evaluated in the enrolments' transaction
    (see the module docstring)."""
    if source is not None or isinstance(journey.definition.entry, list):
        return enter(ops, journey.name, (source or entries)(settings, ops, journey, at=at), at=at)
    with triggers.transaction(ops) as conn:
        found = entries(settings, ops, journey, at=at, conn=conn)
        return enter(ops, journey.name, found, at=at, conn=conn)


def read_customers(path: Path | str, *, at: datetime) -> pa.Table:
    """Entrants from a CSV file with a ``customer_id`` column (and an
    optional ``occurrence``; the day of ``at`` when absent)."""
    source = str(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except FileNotFoundError:
        raise InputError(f"there is no file {source!r}.", value=source, code="no_file",
                         hint="Give a CSV file with a customer_id column.") from None  # fmt: skip
    day = utc(at).date().isoformat()
    ids, occurrences = [], []
    for line, row in enumerate(rows, start=2):
        if "customer_id" not in row:
            raise InputError("the file has no customer_id column.", source=source,
                             column="customer_id", code="no_column",
                             hint=f"Found: {', '.join(row)}; name the customers' column "
                             "customer_id.")  # fmt: skip
        cid = (row["customer_id"] or "").strip()
        if not cid:
            raise InputError(f"line {line} has no customer_id.", source=source, row=line,
                             column="customer_id", code="bad_row",
                             hint="Give every line a customer id, or remove it.")  # fmt: skip
        occurrence = (row.get("occurrence") or "").strip() or day
        if ":" in occurrence:
            raise InputError(f"line {line}: the occurrence {occurrence!r} holds ':'.",
                             source=source, row=line, column="occurrence", value=occurrence,
                             code="bad_row", hint="Write it without ':', e.g. 2026-03-01.")  # fmt: skip
        ids.append(cid)
        occurrences.append(occurrence)
    return pa.table({"customer_id": ids, "occurrence": occurrences,
                     "occurred_at": [utc(at)] * len(ids)}, schema=SCHEMA)  # fmt: skip


def _checked(table: pa.Table) -> pa.Table:
    missing = [c for c in COLUMNS if c not in table.column_names]
    if missing:
        raise InputError(f"an entry source gave no {missing[0]!r} column.", column=missing[0],
                         code="bad_entries",
                         hint=f"An entry source returns the columns {', '.join(COLUMNS)}.")  # fmt: skip
    return table


def short_occurrence(occurrence: str) -> str:
    """``occurrence`` as kept: itself up to :data:`OCCURRENCE_MAX`
    characters; a longer one (an order's id of 60 characters) its first 23
    characters, ``~`` and 16 hex digits of its BLAKE2b hash, the same at
    every run, so that it is entered once and still recognisable."""
    if len(occurrence) <= OCCURRENCE_MAX:
        return occurrence
    digest = hashlib.blake2b(occurrence.encode("utf-8"), digest_size=8).hexdigest()
    return f"{occurrence[:OCCURRENCE_MAX - 17]}~{digest}"


def enter(ops: OpsStore, name: str, table: pa.Table, *, at: datetime,
          conn: sa.Connection | None = None) -> dict[str, Any]:  # fmt: skip
    """Enter ``table``'s customers (see the module docstring), in one
    transaction (``conn``'s, when given: the caller commits); who entered,
    in which arm, and who did not, why."""
    table = _checked(table).sort_by([("occurred_at", "ascending"), ("customer_id", "ascending")])
    at = utc(at)
    ids = [str(c) for c in table.column("customer_id").to_pylist()]
    # an occurrence is the last part of a dedup key, which ':' separates: a
    # time such as 2026-03-01T09:00 is kept as 2026-03-01T09-00
    occurrences = [short_occurrence(str(o).replace(":", "-"))
                   for o in table.column("occurrence").to_pylist()]  # fmt: skip
    if "" in occurrences:
        raise InputError("an entry has an empty occurrence.", column="occurrence", value="",
                         code="bad_entries",
                         hint="Give each entry an occurrence: its day, or an event's id.")
    if conn is not None:
        return _enter(conn, name, ids, occurrences, at)
    with write_transaction(ops) as own:
        return _enter(own, name, ids, occurrences, at)


def _enter(conn: sa.Connection, name: str, ids: list[str], occurrences: list[str],
           at: datetime) -> dict[str, Any]:  # fmt: skip
    m = members_t
    journey = get(conn, name)
    if journey.state != "active":
        return {"journey": name, "entered": 0, "arms": dict.fromkeys(holdouts.ARMS, 0),
                "not_entered": {"journey paused": len(ids)}}  # fmt: skip
    rule, days = journey.definition.reentry, journey.definition.reentry_days
    seen: dict[str, list[tuple[str, datetime]]] = {}
    unique = sorted(set(ids))
    for start in range(0, len(unique), _INSERT_CHUNK):
        for cid, occ, when in conn.execute(
            sa.select(m.c.customer_id, m.c.occurrence, m.c.entered_at).where(
                m.c.journey_id == journey.id,
                m.c.customer_id.in_(unique[start:start + _INSERT_CHUNK]))):  # fmt: skip
            seen.setdefault(cid, []).append((occ, utc(when)))
    new_ids: list[str] = []
    new_occ: list[str] = []
    skipped = {"entered already": 0, "re-entry rule": 0}
    for cid, occ in zip(ids, occurrences, strict=True):
        before = seen.get(cid, [])
        if any(o == occ for o, _ in before):
            skipped["entered already"] += 1
            continue
        if before and (rule == "never" or (days is not None and max(
                w for _, w in before) + timedelta(days=days) > at)):  # fmt: skip
            skipped["re-entry rule"] += 1
            continue
        seen.setdefault(cid, []).append((occ, at))
        new_ids.append(cid)
        new_occ.append(occ)
    control = holdouts.global_control(conn)
    arms = holdouts.assign(new_ids, salt=journey.definition.salt,
                           holdout=journey.definition.holdout, control=control)  # fmt: skip
    first = journey.definition.steps[0].id
    due = arrival(journey.definition.steps[0], at)
    rows = [{"journey_id": journey.id, "customer_id": c, "occurrence": o, "arm": str(a),
             "state": "active" if a == "treatment" else "held_out",
             "step": first if a == "treatment" else None,
             "due_at": due if a == "treatment" else None, "version": journey.version,
             "entered_at": at}
            for c, o, a in zip(new_ids, new_occ, arms, strict=True)]  # fmt: skip
    for start in range(0, len(rows), _INSERT_CHUNK):
        conn.execute(m.insert(), rows[start:start + _INSERT_CHUNK])
    counts = {arm: int(np.sum(arms == arm)) for arm in holdouts.ARMS}
    return {"journey": name, "entered": len(new_ids), "arms": counts,
            "not_entered": {k: v for k, v in skipped.items() if v}}  # fmt: skip
