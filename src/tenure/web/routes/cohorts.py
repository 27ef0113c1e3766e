"""``GET /api/v1/cohorts``: cohort matrices, the document of ``tenure cohorts --json``."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from tenure.web.cache import kept_json
from tenure.web.deps import FiltersDep, SettingsDep
from tenure.web.security import need

router = APIRouter(prefix="/api/v1", tags=["cohorts"], dependencies=[Depends(need("read"))])


@router.get("/cohorts")
async def cohorts(
    request: Request,
    settings: SettingsDep,
    filters: FiltersDep,
    period: Literal["month", "quarter"] = "month",
    value: Literal["customers", "revenue", "cumulative_revenue"] = "customers",
    by: Annotated[str | None, Query(max_length=60)] = None,
    as_of: date | None = None,
) -> Response:
    """Cohort matrices, as ``tenure cohorts --period P --value V --json``."""
    from tenure.analysis import cohorts as compute
    from tenure.analysis import cohorts_document

    def build() -> dict:
        frame = compute(
            period=period, value=value, by=by, as_of=as_of, settings=settings, filters=filters
        )
        return cohorts_document(frame, period, value, by)

    return await kept_json(request, ("cohorts", period, value, by, as_of, filters), build)
