"""One row per customer: the summary that segments and models start from."""

from __future__ import annotations

from datetime import date
from typing import Any

from tenure.analysis.context import finish, open_context
from tenure.analysis.filters import Filters
from tenure.config import Settings


def customer_summary(
    data: Any = None,
    *,
    store: Any = None,
    time_unit: str = "day",
    cohort_period: str = "month",
    activity_window: int | None = None,
    active_by: str | None = None,
    timezone: str | None = None,
    as_of: date | str | None = None,
    engine: str | None = None,
    master: str | None = None,
    output: str = "pandas",
    settings: Settings | None = None,
    filters: Filters | dict[str, Any] | None = None,
) -> Any:
    """One row per customer: first and last order, x, t_x, T, RFM inputs..."""
    from tenure.engine.summaries import customer_summary as summary

    with open_context(
        data, store=store, settings=settings, engine=engine, master=master,
        activity_window=activity_window, filters=filters,
        active_by=active_by, timezone=timezone, as_of=as_of,
    ) as ctx:  # fmt: skip
        expr = summary(ctx, time_unit=time_unit, cohort_period=cohort_period)
        frame = expr.order_by("customer_id").to_pandas()
        return finish(frame, ctx, output, filters, time_unit=time_unit)
