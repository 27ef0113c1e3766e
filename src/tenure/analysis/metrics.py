"""Period metrics: retention, churn, revenue, CLV and survey scores per period."""

from __future__ import annotations

from datetime import date
from typing import Any

from tenure.analysis.context import finish, open_context
from tenure.analysis.filters import Filters
from tenure.config import Settings


def metrics(
    data: Any = None,
    *,
    period: str = "month",
    store: Any = None,
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
    """Period metrics, one row per complete period (see ``docs/metrics.md``);
    with ``filters`` (:class:`~tenure.analysis.filters.Filters` or a dict),
    of the customers who match, and from ``start`` on."""
    from tenure.engine.metrics import period_metrics

    filters = Filters.of(filters)
    with open_context(
        data, store=store, settings=settings, engine=engine, master=master,
        activity_window=activity_window, filters=filters,
        active_by=active_by, timezone=timezone, as_of=as_of,
    ) as ctx:  # fmt: skip
        frame = period_metrics(ctx, period)
        if filters.start is not None:
            frame = frame[frame.period_start >= filters.start].reset_index(drop=True)
        return finish(frame, ctx, output, filters, period=period)
