"""Triggers: what starts a customer's entry into a campaign or a journey.

A trigger is written ``KIND[:ARG[:ARG]]``:

===============================  ==============================================
``event:sign_up``                the customer was created (customers.created_at)
``event:first_order``            their first purchase (the activity summary)
``event:order``                  any order (one entry per order)
``event:cart_abandoned:2h``      an ``add_to_cart`` event followed, for the
                                 time given (``30m``, ``2h``, ``1d``), by
                                 neither an order nor another add-to-cart
``event:ticket_closed``          a support ticket was resolved
``event:survey_answered[:KIND]`` a survey was answered (of KIND: nps, csat, ces)
``event:NAME``                   a behaviour event of that name (events log)
``segment_enter:rfm:NAME``       entered an RFM segment (also ``business``)
``segment_leave:business:NAME``  left a segment
``date:birthday``                the birthday, from local midnight in the
                                 customer's own zone; 29 Feb on 28 Feb in
                                 other years
``date:anniversary``             the sign-up's anniversary (the first
                                 purchase's when no sign-up time is known)
``churn_risk_above:θ``           churn probability crossed above θ
``p_alive_below:θ``              P(alive) crossed below θ
``overdue:K``                    the expected next order became K days overdue
``nps_detractor``                an NPS answer of 0 to 6; opens a
                                 service-recovery task too
``tier_changed[:TIER]``          the loyalty tier changed (to TIER)
``points_expiring:N``            a lot's points will expire within N days
===============================  ==============================================

Use from other code::

    from tenure.campaigns import triggers

    trigger = triggers.parse("event:first_order")          # InputError if bad
    new = triggers.evaluate(settings, ops, trigger, key="journey:welcome")

    with triggers.transaction(ops) as conn:   # enrol in the same transaction
        new = triggers.evaluate(settings, ops, trigger, key="journey:welcome", conn=conn)
        ...                                   # write what the entries start

:func:`evaluate` returns a :mod:`pyarrow` table of the new entries,
``customer_id, occurrence, occurred_at, context`` (``occurred_at`` a UTC
timestamp; ``occurrence`` a key of that happening, the same on every
evaluation, so ``(key, customer_id, occurrence)`` is a dedup key), and
advances ``key``'s watermark in the same transaction of the operational
store. The fault point ``trigger watermark`` (:mod:`tenure.faults`) lies
between the two: a crash there leaves the watermark where it was, and the
next evaluation gives the same entries again, which the dedup key absorbs.

The window is ``(watermark, as_of]`` on each happening's own time. A first
evaluation of a key records a baseline and returns nothing: the watermark
becomes ``as_of`` and the segment and threshold triggers note who is in,
so a new journey does not fire for every customer the store already holds.
``backfill=True`` instead returns everything up to ``as_of`` (every member,
for a segment or threshold; the last day's birthdays). Events ingested
later with a time before the watermark are not replayed.

Where things are read: events, dates, NPS answers and model scores from the
analytics store (set-based DuckDB queries; the first purchase and the
segments from the ``customer_activity`` summary); loyalty from the ledger
in the operational store. Segment and threshold triggers keep the members
they saw last in ``trigger_members`` (operational store), and fire on the
difference: a customer enters when they cross θ, not on every evaluation
while above it.

Zones: a customer's ``time_zone`` when it is an IANA zone, else
``default_timezone`` of ``[campaigns.sending]``, else the workspace's
``timezone`` (UTC unless set), as quiet hours do.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from tenure import faults
from tenure.campaigns.triggers_spec import KINDS, MEMBERSHIP, Trigger, parse
from tenure.errors import InputError

__all__ = ["KINDS", "Trigger", "parse", "evaluate", "check", "transaction", "FAULT_POINT"]

FAULT_POINT = "trigger watermark"
# what each trigger needs the analytics store to hold, and what writes it
NEEDS = {
    "churn_risk_above": ("churn_predictions", "tenure fit churn"),
    "p_alive_below": ("customer_predictions", "tenure predict"),
    "overdue": ("customer_predictions", "tenure predict"),
    "segment_enter": ("customer_activity", "tenure ingest orders FILE"),
    "segment_leave": ("customer_activity", "tenure ingest orders FILE"),
}
LOYALTY = ("tier_changed", "points_expiring")


def _utc(when: datetime | None) -> datetime:
    if when is None:
        return datetime.now(UTC)
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def transaction(ops: Any) -> AbstractContextManager[sa.Connection]:
    """One write transaction; on SQLite taking the write lock first, so two
    evaluations of one key queue instead of both reading the old watermark."""
    from tenure.campaigns.consent import write_transaction

    return write_transaction(ops, "the trigger state")


def evaluate(settings: Any, ops: Any, trigger: Trigger | str, *, key: str,
             as_of: datetime | None = None, backfill: bool = False,
             conn: sa.Connection | None = None) -> pa.Table:  # fmt: skip
    """The entries new since ``key``'s last evaluation, up to ``as_of``
    (default now), and ``key``'s watermark moved to ``as_of`` with them.

    With ``conn`` (a connection of ``ops`` inside a transaction) the
    evaluation joins that transaction and the caller commits: what it does
    with the entries (a journey's enrolments) and the watermark then commit
    together."""
    trigger = parse(trigger) if isinstance(trigger, str) else trigger
    if not key or len(key) > 200:
        raise InputError(f"a trigger's key must be 1 to 200 characters; got {key!r}.",
                         column="key", value=key, hint='Name its owner, e.g. "journey:welcome".',
                         code="bad_trigger_key")  # fmt: skip
    as_of = _utc(as_of)
    if conn is not None:
        return _evaluate(settings, conn, trigger, key, as_of, backfill)
    with transaction(ops) as own:
        return _evaluate(settings, own, trigger, key, as_of, backfill)


def _evaluate(settings: Any, conn: sa.Connection, trigger: Trigger, key: str, as_of: datetime,
              backfill: bool) -> pa.Table:  # fmt: skip
    from tenure.campaigns.triggers_state import advance, watermark

    mark = watermark(conn, key)
    first = mark is None
    since = mark if not first else (None if backfill else as_of)
    found = _entries(settings, conn, trigger, key, since, as_of, baseline=first and not backfill)
    faults.checkpoint(FAULT_POINT)
    advance(conn, key, trigger.text, as_of, datetime.now(UTC))
    return found


def check(settings: Any, ops: Any, trigger: Trigger | str, *, key: str | None = None,
          days: float = 1.0, as_of: datetime | None = None) -> dict[str, Any]:  # fmt: skip
    """What an evaluation would return now, committing nothing: since
    ``key``'s watermark when it has one, else over the last ``days`` (every
    current member, for a segment or threshold)."""
    from tenure.campaigns.triggers_state import watermark

    trigger = parse(trigger) if isinstance(trigger, str) else trigger
    as_of = _utc(as_of)
    with ops.engine.connect() as conn:
        outer = conn.begin()
        try:
            mark = watermark(conn, key) if key else None
            since = mark if mark is not None else as_of - timedelta(days=days)
            found = _entries(settings, conn, trigger, key or "check:" + trigger.text, since, as_of,
                             baseline=False)  # fmt: skip
        finally:
            outer.rollback()  # a check opens no task and records no members
    rows = found.slice(0, 20).to_pylist()
    for r in rows:
        r["occurred_at"] = r["occurred_at"].isoformat() if r["occurred_at"] else None
    return {"trigger": trigger.text, "key": key, "since": since.isoformat(),
            "as_of": as_of.isoformat(), "entries": found.num_rows, "first": rows}  # fmt: skip


def _entries(settings: Any, conn: sa.Connection, t: Trigger, key: str, since: datetime | None,
             as_of: datetime, *, baseline: bool) -> pa.Table:  # fmt: skip
    from tenure.campaigns import triggers_loyalty
    from tenure.campaigns.triggers_state import SCHEMA

    if t.kind in LOYALTY:
        return triggers_loyalty.table(triggers_loyalty.rows(conn, t, since, as_of))
    if since is not None and since >= as_of and t.kind not in MEMBERSHIP:
        return SCHEMA.empty_table()  # a baseline: nothing to read
    return _from_analytics(settings, conn, t, key, since, as_of, baseline=baseline)


def _from_analytics(settings: Any, conn: sa.Connection, t: Trigger, key: str,
                    since: datetime | None, as_of: datetime, *, baseline: bool) -> pa.Table:  # fmt: skip
    from tenure.campaigns import audiences, triggers_events, triggers_members
    from tenure.campaigns.triggers_state import arrow, conform
    from tenure.store import analytics, summary

    con, _ = analytics.open_read_only(settings.analytics_path, settings.store)
    try:
        tables = audiences._tables(con)
        _check_needs(settings, t, tables)
        if t.kind in MEMBERSHIP:
            as_of_day, window, thresholds = audiences._as_of(con, settings, tables, summary.TABLE)
            cond = audiences._condition(triggers_members.criterion(t), as_of_day, window, thresholds)
            current = arrow(con, (f"SELECT DISTINCT customer_id FROM ({cond}) "
                                        f"ORDER BY customer_id"))["customer_id"]  # fmt: skip
            return triggers_members.diff(conn, key, t, current.combine_chunks(), as_of,
                                         baseline=baseline)  # fmt: skip
        if t.kind == "date":
            zones = triggers_events.zones_sql(_known_zones(con), _fallback_zone(settings))
            sql = triggers_events.date_sql(t, since or as_of - timedelta(days=1), as_of, zones)
        elif t.kind == "nps_detractor":
            return _detractors(con, conn, since, as_of)
        else:
            sql = triggers_events.event_sql(t, since, as_of)
        found = arrow(con, (f"SELECT * FROM ({sql}) ORDER BY occurred_at, customer_id, "
                                  f"occurrence"))  # fmt: skip
    finally:
        con.close()
    return conform(found)


def _detractors(con: Any, conn: sa.Connection, since: datetime | None, as_of: datetime) -> pa.Table:
    from tenure.campaigns import service_tasks
    from tenure.campaigns.triggers_events import _window
    from tenure.campaigns.triggers_state import as_table

    rows = con.execute(
        f"SELECT customer_id, response_id, answered_at, score, comment FROM survey_responses "
        f"WHERE kind = 'nps' AND score <= 6 AND {_window('answered_at', since, as_of)} "
        f"ORDER BY answered_at, customer_id, response_id").fetchall()  # fmt: skip
    service_tasks.open_for(conn, [
        {"response_id": r[1], "customer_id": r[0], "score": float(r[3]), "comment": r[4],
         "answered_at": _utc(r[2])} for r in rows], datetime.now(UTC))  # fmt: skip
    return as_table([(r[0], r[1], r[2], f"nps:{r[3]:g}") for r in rows])


def _check_needs(settings: Any, t: Trigger, tables: set[str]) -> None:
    table, command = NEEDS.get(t.kind, (None, None))
    if t.kind == "event" and t.name == "first_order":
        table, command = "customer_activity", "tenure ingest orders FILE"
    if table is not None and table not in tables:
        raise InputError(
            f"the trigger {t.text!r} needs {table}, which the store {settings.store} does not "
            "hold yet.", value=t.text, column="trigger", hint=f"Run {command} first.",
            code="trigger_needs_data",
        )  # fmt: skip


def _known_zones(con: Any) -> list[str]:
    from zoneinfo import available_timezones

    # the zones both Python and DuckDB's ICU know: one unknown to ICU would
    # fail the whole query, so it takes the fallback like a wrong name
    found = [r[0] for r in con.execute(
        "SELECT DISTINCT time_zone FROM customers WHERE time_zone IS NOT NULL "
        "AND time_zone IN (SELECT name FROM pg_timezone_names())").fetchall()]  # fmt: skip
    return sorted(set(found) & available_timezones())


def _fallback_zone(settings: Any) -> str:
    from tenure.campaigns import consent_settings

    workspace = getattr(settings, "timezone", None) or "UTC"
    raw = dict(getattr(settings.campaigns, "values", ()) or ())
    origin = getattr(settings.campaigns, "origin", None) or "tenure.toml"
    return consent_settings.read(raw, origin, workspace).default_timezone
