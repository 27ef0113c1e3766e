"""A campaign's audience: the customers every one of its criteria holds for,
evaluated in the analytics store from what it already keeps.

Criteria, written ``KIND:VALUE`` (on the command line, ``--audience`` once
per criterion; in a campaign file, a list of the same strings):

=====================  ======================================================
``segment:rfm:NAME``   in the RFM segment NAME (``tenure segments``)
``segment:business:NAME``  in the business segment NAME (new, at risk, ...)
``lapsed:N``           last purchase N days or more before the as-of day
                       (win-back)
``first_order:N``      first purchase within the last N days, the as-of day
                       counting as the first (welcome, post-purchase)
``churn_risk:θ``       churn probability above θ (``tenure fit churn``)
``p_alive:θ``          probability alive below θ (``tenure predict``)
``overdue:K``          the expected next order (``tenure predict``) K days
                       or more before the as-of day
=====================  ======================================================

Days are the persisted summary's local days (:mod:`tenure.store.summary`),
and the as-of day is the summary's last purchase day, as ``tenure
segments`` counts them. Everything runs as one DuckDB query over
``customer_activity``, ``customer_predictions`` and ``churn_predictions``;
only the matching customers' ids and addresses cross into Python.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from tenure.errors import InputError
from tenure.sqltext import lit

EPOCH = date(1970, 1, 1)
KINDS = ("segment", "lapsed", "first_order", "churn_risk", "p_alive", "overdue")
EXAMPLES = ("lapsed:90", "first_order:30", "churn_risk:0.6", "p_alive:0.3", "overdue:14",
            "segment:rfm:at risk", "segment:business:at risk")  # fmt: skip
# what each criterion needs the store to hold, and the command that writes it
NEEDS = {
    "churn_risk": ("churn_predictions", "tenure fit churn"),
    "p_alive": ("customer_predictions", "tenure predict"),
    "overdue": ("customer_predictions", "tenure predict"),
}


@dataclass(frozen=True)
class Criterion:
    """One condition on a customer; ``text`` is how it is written."""

    kind: str
    value: float
    segment_kind: str | None = None
    segment: str | None = None

    @property
    def text(self) -> str:
        if self.kind == "segment":
            return f"segment:{self.segment_kind}:{self.segment}"
        number = int(self.value) if self.kind in ("lapsed", "first_order", "overdue") else self.value
        return f"{self.kind}:{number}"


def _bad(text: str, why: str, source: str | None) -> InputError:
    return InputError(
        f"the audience {text!r} {why}.", source=source, column="audience", value=text,
        hint=f"Write KIND:VALUE, e.g. {', '.join(EXAMPLES)}.", code="bad_audience",
    )  # fmt: skip


def parse(text: str, source: str | None = None) -> Criterion:
    """A criterion from its written form (see the module docstring)."""
    from tenure.segmentation import business, rfm

    kind, sep, rest = str(text).strip().partition(":")
    kind = kind.strip().lower()
    if not sep and kind in KINDS:
        raise _bad(text, f"has no value: write it as KIND:VALUE, e.g. {kind}:"
                   f"{ {'segment': 'rfm:at risk', 'churn_risk': '0.6', 'p_alive': '0.3'}.get(kind, 90)}",
                   source)  # fmt: skip
    if kind not in KINDS:
        raise _bad(text, f"is not one of the kinds ({', '.join(KINDS)})", source)
    if kind == "segment":
        which, sep, name = rest.partition(":")
        which, name = which.strip().lower(), name.strip()
        known = {"rfm": rfm.SEGMENTS, "business": business.LABELS}.get(which)
        if not sep or known is None:
            raise _bad(text, "does not say rfm or business", source)
        match = next((s for s in known if s.lower() == name.lower()), None)
        if match is None:
            raise InputError(
                f"there is no {which} segment {name!r}.", source=source, column="audience",
                value=text, hint=f"Use one of: {', '.join(known)}.", code="bad_audience",
            )  # fmt: skip
        return Criterion("segment", 0.0, which, match)
    try:
        value = float(rest)
    except ValueError:
        raise _bad(text, "has no number after the colon", source) from None
    if kind in ("churn_risk", "p_alive"):
        if not 0 <= value <= 1:
            raise _bad(text, "needs a probability between 0 and 1", source)
    elif value < 0 or value != int(value):
        raise _bad(text, "needs a whole number of days, 0 or more", source)
    return Criterion(kind, value)


def parse_all(texts: list[str] | tuple[str, ...], source: str | None = None) -> list[Criterion]:
    if not texts:
        raise InputError("a campaign needs an audience.", source=source, column="audience",
                         hint=f"Give one or more criteria, e.g. --audience {EXAMPLES[0]}.",
                         code="bad_audience")  # fmt: skip
    return [parse(t, source) for t in texts]


def to_json(criteria: list[Criterion]) -> str:
    return json.dumps([c.text for c in criteria])


def from_texts(texts: list[str]) -> list[Criterion]:
    """The criteria of a stored campaign (their written forms)."""
    return [parse(t) for t in texts]


def _condition(c: Criterion, as_of_day: int, window: int, thresholds: Any) -> str:
    """SQL: the customer ids the criterion holds for."""
    from tenure.segmentation.stored import members_sql

    if c.kind == "segment":
        members = members_sql(c.segment_kind or "rfm", as_of_day, window, thresholds)
        return f"SELECT customer_id FROM ({members}) WHERE seg = {lit(c.segment)}"
    if c.kind == "lapsed":
        return (f"SELECT customer_id FROM customer_activity WHERE orders > 0 "
                f"AND {as_of_day} - last_day >= {int(c.value)}")  # fmt: skip
    if c.kind == "first_order":
        return (f"SELECT customer_id FROM customer_activity WHERE orders > 0 "
                f"AND {as_of_day} - first_day BETWEEN 0 AND {int(c.value) - 1}")  # fmt: skip
    if c.kind == "churn_risk":
        return f"SELECT customer_id FROM churn_predictions WHERE churn_probability > {c.value!r}"
    if c.kind == "p_alive":
        return f"SELECT customer_id FROM customer_predictions WHERE p_alive < {c.value!r}"
    day = EPOCH + timedelta(days=as_of_day - int(c.value))
    return (f"SELECT customer_id FROM customer_predictions "
            f"WHERE next_purchase_date <= DATE {lit(day.isoformat())}")  # fmt: skip


def audience_sql(criteria: list[Criterion], as_of_day: int, window: int, thresholds: Any, *,
                 profile: bool = True) -> str:  # fmt: skip
    """The query of the audience in customer_id order: customer_id, and with
    ``profile`` email, name, locale, country."""
    parts = " INTERSECT ".join(f"({_condition(c, as_of_day, window, thresholds)})"
                               for c in criteria)  # fmt: skip
    if not profile:
        return f"SELECT customer_id FROM ({parts}) ORDER BY customer_id"
    return (f"SELECT a.customer_id, c.email, c.name, c.locale, c.country "
            f"FROM ({parts}) a LEFT JOIN customers c USING (customer_id) "
            f"ORDER BY a.customer_id")  # fmt: skip


@dataclass
class Audience:
    """The customers found, with their addresses, and the day they were
    evaluated as of."""

    as_of: date | None
    rows: list[tuple[Any, ...]]  # customer_id (, email, name, locale, country)
    criteria: list[Criterion]

    @property
    def size(self) -> int:
        return len(self.rows)


def _check(settings: Any, tables: set[str], criteria: list[Criterion]) -> None:
    from tenure.store import summary

    for c in criteria:
        table, command = NEEDS.get(c.kind, (summary.TABLE, "tenure ingest orders FILE"))
        if table not in tables:
            raise InputError(
                f"the audience {c.text!r} needs {table}, which the store "
                f"{settings.store} does not hold yet.", value=c.text, column="audience",
                hint=f"Run {command} first.", code="audience_needs_data",
            )  # fmt: skip


def _tables(con: Any) -> set[str]:
    return {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables")
            .fetchall()}  # fmt: skip


def evaluate(settings: Any, criteria: list[Criterion], *, profile: bool = False) -> Audience:
    """The customers every criterion holds for, read from the analytics store
    (their ids; with ``profile``, their addresses, names and locales too)."""
    from tenure.store import analytics, summary

    con, _currency = analytics.open_read_only(settings.analytics_path, settings.store)
    try:
        tables = _tables(con)
        _check(settings, tables, criteria)
        as_of_day, window, thresholds = _as_of(con, settings, tables, summary.TABLE)
        query = audience_sql(criteria, as_of_day, window, thresholds, profile=profile)
        rows = con.execute(query).fetchall()
    finally:
        con.close()
    as_of = EPOCH + timedelta(days=as_of_day) if summary.TABLE in tables else None
    return Audience(as_of, rows, criteria)


# how an audience list can be sorted: the column, highest first
SORTS = ("clv", "churn_risk", "expected_value", "customer_id")


def listing(settings: Any, criteria: list[Criterion], *, sort: str = "clv", limit: int | None = 50,
            export: str | None = None, offset: int = 0) -> dict[str, Any]:  # fmt: skip
    """The audience, one row per customer with their predicted CLV
    (``tenure predict``), churn risk (``tenure fit churn``) and the expected
    value of contacting them (uplift × value: empty until an uplift model
    is kept), sorted by ``sort`` (highest first, missing last); the first
    ``limit`` rows after the first ``offset`` (a page), and with ``export`` every row written to that CSV file
    by DuckDB."""
    from tenure.store import analytics, summary

    if sort not in SORTS:
        raise InputError(f"cannot sort an audience by {sort!r}.", value=sort, column="sort",
                         hint=f"Sort by one of: {', '.join(SORTS)}.", code="bad_sort")  # fmt: skip
    con, currency = analytics.open_read_only(settings.analytics_path, settings.store)
    try:
        tables = _tables(con)
        _check(settings, tables, criteria)
        as_of_day, window, thresholds = _as_of(con, settings, tables, summary.TABLE)
        parts = " INTERSECT ".join(f"({_condition(c, as_of_day, window, thresholds)})"
                                   for c in criteria)  # fmt: skip
        clv = "p.clv" if "customer_predictions" in tables else "CAST(NULL AS DOUBLE)"
        risk = "ch.churn_probability" if "churn_predictions" in tables else "CAST(NULL AS DOUBLE)"
        joins = (" LEFT JOIN customer_predictions p USING (customer_id)"
                 if "customer_predictions" in tables else "")
        joins += (" LEFT JOIN churn_predictions ch USING (customer_id)"
                  if "churn_predictions" in tables else "")  # fmt: skip
        order = "a.customer_id" if sort == "customer_id" else f"{sort} DESC NULLS LAST, a.customer_id"
        query = (f"SELECT a.customer_id, c.name, c.email, CAST({clv} AS DOUBLE) AS clv, "
                 f"CAST({risk} AS DOUBLE) AS churn_risk, CAST(NULL AS DOUBLE) AS expected_value "
                 f"FROM ({parts}) a LEFT JOIN customers c USING (customer_id){joins} "
                 f"ORDER BY {order}")  # fmt: skip
        total = con.execute(f"SELECT count(*) FROM ({parts})").fetchall()[0][0]
        page = query if limit is None else f"{query} LIMIT {int(limit)}"
        cursor = con.execute(f"{page} OFFSET {int(offset)}" if offset else page)
        columns = [d[0] for d in cursor.description]
        rows = [dict(zip(columns, r, strict=True)) for r in cursor.fetchall()]
        if export is not None:
            con.execute(f"COPY ({query}) TO {lit(str(export))} (HEADER, DELIMITER ',')")
    finally:
        con.close()
    return {"criteria": [c.text for c in criteria], "as_of": (EPOCH + timedelta(days=as_of_day))
            .isoformat(), "customers": int(total), "sort": sort, "offset": offset, "currency": currency,
            "expected_value": "needs an uplift model: not kept yet", "rows": rows,
            "exported": None if export is None else str(export)}  # fmt: skip


def _as_of(con: Any, settings: Any, tables: set[str], table: str) -> tuple[int, int, Any]:
    from tenure.engine.definitions import Definitions
    from tenure.segmentation.business import Thresholds

    last = None
    if table in tables:
        last = con.execute(f"SELECT max(last_day) FROM {table}").fetchall()[0][0]
    as_of_day = int(last) if last is not None else (date.today() - EPOCH).days
    return (as_of_day, Definitions.from_settings(settings).activity_window,
            Thresholds.from_settings(settings))
