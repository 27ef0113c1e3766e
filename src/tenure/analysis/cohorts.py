"""Cohort matrices by acquisition period (or any customer attribute)."""

from __future__ import annotations

from datetime import date
from typing import Any

from tenure.analysis.context import finish, open_context
from tenure.analysis.filters import Filters
from tenure.config import Settings


def cohorts(
    data: Any = None,
    *,
    period: str = "month",
    value: str = "customers",
    by: str | None = None,
    store: Any = None,
    timezone: str | None = None,
    as_of: date | str | None = None,
    engine: str | None = None,
    master: str | None = None,
    output: str = "pandas",
    settings: Settings | None = None,
    filters: Filters | dict[str, Any] | None = None,
) -> Any:
    """A cohort matrix: one row per cohort (or ``by`` group), a column per
    period since acquisition (see ``docs/cohorts.md``); with ``filters``, of
    the customers who match, and the cohorts acquired from ``start`` on."""
    from tenure.engine.cohorts import cohort_matrix

    filters = Filters.of(filters)
    with open_context(
        data,
        store=store,
        settings=settings,
        engine=engine,
        master=master,
        timezone=timezone,
        as_of=as_of,
        filters=filters,
    ) as ctx:
        frame = cohort_matrix(ctx, period, value, by)
        frame.columns = [str(c) for c in frame.columns]
        if filters.start is not None and by is None:
            first = _label(filters.start, period)
            frame = frame[frame.cohort.astype(str) >= first].reset_index(drop=True)
        return finish(frame, ctx, output, filters, period=period, value=value, by=by)


def _label(day: date, period: str) -> str:
    """The cohort label of ``day``: 2026-03, or 2026-Q1 (labels sort as dates)."""
    if period == "quarter":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    return f"{day.year}-{day.month:02d}"


# the attributes cohorts are also split by, with the name the surfaces give them
COHORT_ATTRIBUTES = (
    ("country", "country"),
    ("acquisition_channel", "acquisition channel"),
    ("first_category", "first product category"),
)


def cohort_matrices(ctx: Any, monthly_cohorts: int = 24) -> dict[str, Any]:
    """The cohort tables the report and the dashboard draw, on an open
    context: ``retention`` (the last ``monthly_cohorts`` monthly cohorts, %
    of each purchasing by months since acquisition, periods with no value
    left out), ``revenue`` and ``cumulative_revenue`` (quarterly cohorts),
    and ``by``: for each attribute the store has (and that splits the
    customers), its quarterly cohorts' % purchasing, keyed by its name."""
    from tenure.engine.cohorts import cohort_cells, matrix
    from tenure.engine.metrics import period_range

    _, last_m = period_range(ctx, "month")
    _, last_q = period_range(ctx, "quarter")
    cells_m = cohort_cells(ctx, "month")
    cells_q = cohort_cells(ctx, "quarter")
    retention = matrix(cells_m, "month", "customers", None, last_m).tail(monthly_cohorts)
    retention = retention[
        ["cohort", "size", *[c for c in retention.columns[2:] if retention[c].notna().any()]]
    ]
    by = {}
    for column, name in COHORT_ATTRIBUTES:
        try:
            cells = cohort_cells(ctx, "quarter", column)
        except Exception:  # the attribute is absent from this store
            continue
        m = matrix(cells, "quarter", "customers", column, last_q)
        if m["cohort"].nunique() > 1 or m["cohort"].iat[0] != "(none)":
            by[name] = m
    return {
        "retention": retention,
        "revenue": matrix(cells_q, "quarter", "revenue", None, last_q),
        "cumulative_revenue": matrix(cells_q, "quarter", "cumulative_revenue", None, last_q),
        "by": by,
    }
