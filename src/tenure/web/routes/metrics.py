"""``/api/v1/metrics``: the document of ``tenure metrics --json``."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from tenure.web.cache import kept_json
from tenure.web.deps import FiltersDep, SettingsDep
from tenure.web.security import need

router = APIRouter(prefix="/api/v1", tags=["metrics"])


@router.get("/metrics", dependencies=[Depends(need("read"))])
async def metrics(
    request: Request,
    settings: SettingsDep,
    filters: FiltersDep,
    period: Literal["month", "quarter", "year"] = "month",
    activity_window: Annotated[int | None, Query(ge=1, le=3650)] = None,
    active_by: Literal["auto", "purchase", "subscription", "either"] | None = None,
    as_of: date | None = None,
    last: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """Retention, churn, revenue and survey metrics per complete period, as
    ``tenure metrics --period PERIOD --json`` prints them."""
    from tenure.analysis import metrics as compute_metrics
    from tenure.analysis import metrics_document

    def compute() -> dict:
        frame = compute_metrics(
            period=period, activity_window=activity_window, active_by=active_by, as_of=as_of,
            settings=settings, filters=filters,
        )  # fmt: skip
        return metrics_document(frame.tail(last) if last else frame, period)

    what = ("metrics", period, activity_window, active_by, as_of, last, filters)
    return await kept_json(request, what, compute)
