"""Cohort matrices by acquisition period (or any customer attribute)."""

from __future__ import annotations

from datetime import date
from typing import Any

from tenure.analysis.context import finish, open_context
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
) -> Any:
    """A cohort matrix: one row per cohort (or ``by`` group), a column per
    period since acquisition (see ``docs/cohorts.md``)."""
    from tenure.engine.cohorts import cohort_matrix

    with open_context(
        data,
        store=store,
        settings=settings,
        engine=engine,
        master=master,
        timezone=timezone,
        as_of=as_of,
    ) as ctx:
        frame = cohort_matrix(ctx, period, value, by)
        frame.columns = [str(c) for c in frame.columns]
        return finish(frame, ctx, output, period=period, value=value, by=by)
