"""Period metrics: retention, churn, revenue, CLV and survey scores per period."""

from __future__ import annotations

from datetime import date
from typing import Any

from tenure.analysis.context import finish, open_context
from tenure.analysis.filters import Filters
from tenure.config import Settings

__all__ = ["frames", "metrics", "monthly_metrics"]


def __getattr__(name: str) -> Any:
    # a monthly rate in other terms, for the surfaces that set two churns side
    # by side: from the engine, which imports pandas, on first use only (this
    # module is imported with the package by commands that need neither)
    if name in ("DAYS_PER_MONTH", "rate_over"):
        from tenure.engine import metrics

        return getattr(metrics, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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


def frames(ctx: Any, periods: tuple[str, ...] = ("month", "quarter")) -> dict[str, Any]:
    """The metrics of each period in ``periods`` on an open context (the
    report's tiles, trends and goals share them)."""
    from tenure.engine.metrics import period_metrics
    from tenure.errors import InputError

    found = {p: period_metrics(ctx, p) for p in periods}
    start = getattr(ctx, "shown_from", None)
    if start is None:
        return found
    # a from date keeps the periods that start on or after it, as metrics() does
    found = {p: f[f.period_start >= start].reset_index(drop=True) for p, f in found.items()}
    if any(f.empty for f in found.values()):
        raise InputError(
            f"no complete {' or '.join(periods)} starts on or after {start.isoformat()}.",
            hint="Choose an earlier from date, or leave it out.",
        )
    return found


def monthly_metrics(ctx: Any) -> Any:
    """The monthly metrics on an open context; an empty frame when no month
    is complete yet (there is then no monthly rate to compare with)."""
    import pandas as pd

    from tenure.engine.metrics import period_metrics
    from tenure.errors import InputError

    try:
        return period_metrics(ctx, "month")
    except InputError:
        return pd.DataFrame()
