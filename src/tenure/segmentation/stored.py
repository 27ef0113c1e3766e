"""Segment sizes from the store's persisted customer summary in one DuckDB
query, without the engine.

``tenure segments`` on a local store answers from ``customer_activity``
(:mod:`tenure.store.summary`): the scores of :mod:`tenure.segmentation.rfm`
and :mod:`tenure.segmentation.business`, worked out by the Ibis engine
everywhere else, are written here once more as the SQL that the engine's
expressions compile to on DuckDB, so that the command does not pay for
importing Ibis and its SQL compilers (a third of a second, more than the
query itself at a million customers). Tests hold both to the same numbers.

Only the case the persisted summary answers goes this way: the store on
DuckDB, activity by purchase, the summary built in the context's time zone
and the as-of day on or after the last purchase, no customer filter.
:func:`stored_sizes` returns None for everything else, and the caller
computes through the engine.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from tenure.config import Settings, parse_date
from tenure.engine.definitions import (
    MAX_DAYS_AFTER_DATA,
    Definitions,
    describe,
    resolve_active_by,
)
from tenure.segmentation import business, rfm
from tenure.segmentation.business import Thresholds
from tenure.segmentation.rfm import SEGMENTS
from tenure.sqltext import lit

# the columns of the segment sizes, in order
SIZE_COLUMNS = ("segment", "customers", "share", "revenue", "revenue_share",
                "avg_recency_days", "avg_orders", "avg_revenue")  # fmt: skip

EPOCH = date(1970, 1, 1)
KINDS = ("rfm", "business")


def shares(found: dict[str, tuple[Any, ...]], order: tuple[str, ...]) -> list[dict[str, Any]]:
    """One dict per segment of ``order`` (those nobody is in too) with the
    :data:`SIZE_COLUMNS`, from ``found``: segment to (customers, revenue,
    average recency, average orders, average revenue) as the engine gave
    them. Shares are in percent (NaN when there are none); the averages
    of an empty segment are None."""
    empty = (0, None, None, None, None)
    got = [(name, *found.get(name, empty)) for name in order]
    total_c = sum(int(c) for _, c, *_ in got)
    total_r = math.fsum(float(r or 0.0) for _, _, r, *_ in got)
    out = []
    for name, customers, revenue, recency, orders, average in got:
        customers, revenue = int(customers), float(revenue or 0.0)
        out.append({
            "segment": name,
            "customers": customers,
            "share": customers / total_c * 100.0 if total_c else math.nan,
            "revenue": revenue,
            "revenue_share": revenue / total_r * 100.0 if total_r else math.nan,
            "avg_recency_days": None if recency is None else float(recency),
            "avg_orders": None if orders is None else float(orders),
            "avg_revenue": None if average is None else float(average),
        })  # fmt: skip
    return out


def column_of(kind: str) -> tuple[str, tuple[str, ...]]:
    """The scores' column that holds ``kind``'s segment, and the segments in order."""
    if kind == "rfm":
        return "segment", SEGMENTS
    return "value_segment", business.LABELS


# A percent rank counted per distinct value (rfm.counted_percent_rank): the
# rows before the value over the rows but one, or 0 for a single row.
_COUNTED_RANK = """
  SELECT _value, CASE WHEN _all > 1 THEN CAST(_before AS DOUBLE) / CAST(_all - 1 AS DOUBLE)
                      ELSE 0.0 END AS pr
  FROM (
    SELECT _value,
           sum(_n) OVER (ORDER BY _value {order} ROWS BETWEEN UNBOUNDED PRECEDING AND
                         CURRENT ROW) - _n AS _before,
           sum(_n) OVER () AS _all
    FROM (SELECT {column} AS _value, count(*) AS _n FROM s GROUP BY 1)
  )"""


def _rfm_segment() -> str:
    """SQL: the named RFM segment from ``r`` and ``fm``, by :data:`rfm.RULES`."""

    def holds(column: str, test: tuple[str, int] | None) -> str:
        return "true" if test is None else f"{column} {test[0]} {int(test[1])}"

    whens = " ".join(
        f"WHEN {holds('r', r)} AND {holds('fm', fm)} THEN {lit(name)}" for r, fm, name in rfm.RULES
    )
    return f"CASE {whens} ELSE {lit(rfm.OTHERWISE)} END"


# The segment column of business.business_segments.
_BUSINESS_SEGMENT = """CASE
    WHEN NOT active THEN 'lapsed'
    WHEN tenure_days < {new_days} THEN 'new'
    WHEN active AND recency_days >= {at_risk_days} THEN 'at risk'
    WHEN pr_m >= {cut!r} THEN 'high value'
    ELSE 'active' END"""


def sizes_sql(kind: str, as_of_day: int, window: int, thresholds: Thresholds) -> str:
    """The query of the segment sizes of ``kind`` from ``customer_activity``:
    one row per segment with customers, revenue and the averages of recency,
    orders and revenue. Every number in it is an integer or a float made
    here, never text a user gave."""
    return _segmented(kind, as_of_day, window, thresholds) + """
SELECT seg, count(*), sum(monetary_total), avg(recency_days), avg(orders), avg(monetary_total)
FROM segmented GROUP BY seg"""


def members_sql(kind: str, as_of_day: int, window: int, thresholds: Thresholds) -> str:
    """The query of each purchaser's segment of ``kind`` (customer_id, seg),
    the same segments :func:`sizes_sql` counts (a campaign's audience)."""
    return _segmented(kind, as_of_day, window, thresholds) + """
SELECT customer_id, seg FROM segmented"""


def _segmented(kind: str, as_of_day: int, window: int, thresholds: Thresholds) -> str:
    as_of_day, window = int(as_of_day), int(window)
    if kind == "rfm":
        segment = _rfm_segment()
    else:
        # as business_segments works it out, then written exactly (repr round-trips)
        cut = (1.0 - float(thresholds.high_value_top_percent) / 100.0) - 1e-12
        segment = _BUSINESS_SEGMENT.format(
            new_days=int(thresholds.new_days), at_risk_days=int(thresholds.at_risk_days), cut=cut
        )
    return f"""
WITH s AS (
  SELECT customer_id, coalesce(orders, 0) AS orders,
         {as_of_day} - last_day AS recency_days,
         CAST(total AS DOUBLE) AS monetary_total,
         {as_of_day} - first_day AS tenure_days,
         coalesce(last_day >= {as_of_day - (window - 1)}, false) AS active
  FROM customer_activity WHERE orders > 0
), pr_r AS ({_COUNTED_RANK.format(order="DESC", column="recency_days")}
), pr_f AS ({_COUNTED_RANK.format(order="ASC", column="orders")}
), scored AS (
  SELECT s.*,
         least(CAST(floor(pr_r.pr * 5) AS BIGINT) + 1, 5) AS r,
         least(CAST(floor(pr_f.pr * 5) AS BIGINT) + 1, 5) AS f,
         percent_rank() OVER (ORDER BY monetary_total) AS pr_m
  FROM s JOIN pr_r ON s.recency_days = pr_r._value JOIN pr_f ON s.orders = pr_f._value
), segmented AS (
  SELECT *, {segment} AS seg FROM (
    SELECT *, (f + least(CAST(floor(pr_m * 5) AS BIGINT) + 1, 5) + 1) // 2 AS fm FROM scored
  )
)"""


def stored_sizes(
    settings: Settings,
    kind: str,
    thresholds: Thresholds,
    *,
    as_of: date | str | None = None,
    activity_window: int | None = None,
    active_by: str | None = None,
    timezone: str | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]] | None:
    """The segment sizes of ``kind`` (:func:`shares`) and the definitions
    they were counted under, read from the store's persisted summary; None
    when the summary does not answer them (see the module docstring)."""
    import duckdb

    from tenure.store import analytics, summary

    if isinstance(as_of, str):
        as_of = parse_date(as_of, "as_of (--as-of)")
    elif isinstance(as_of, datetime):
        as_of = as_of.date()
    defs = Definitions.from_settings(
        settings, timezone=timezone, activity_window=activity_window, active_by=active_by,
        as_of=as_of,
    )  # fmt: skip
    con, currency = analytics.open_read_only(settings.analytics_path, settings.store)
    try:
        if summary.current(con) != defs.timezone:
            return None
        try:
            orders, subscriptions, last = con.execute(
                "SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM subscriptions), "
                f"(SELECT max(last_day) FROM {summary.TABLE})"
            ).fetchall()[0]
        except duckdb.CatalogException:  # a store without one of the tables
            return None
        described = f"the store {settings.store}"
        resolved = resolve_active_by(defs.active_by, orders > 0, subscriptions > 0, described)
        if resolved != "purchase" or last is None:
            return None
        end = EPOCH + timedelta(days=int(last))
        day = int(last) if defs.as_of is None else (defs.as_of - EPOCH).days
        if day < int(last) or day > int(last) + MAX_DAYS_AFTER_DATA:
            return None  # the order log answers it, or the engine says why not
        query = sizes_sql(kind, day, defs.activity_window, thresholds)
        found = {seg: rest for seg, *rest in con.execute(query).fetchall()}
    finally:
        con.close()
    as_of_date = defs.as_of or end
    definitions = describe(replace(defs, as_of=as_of_date), resolved, as_of_date, currency,
                           "duckdb")  # fmt: skip
    return shares(found, column_of(kind)[1]), definitions
