"""Read endpoints for the numbers of the CLI's reporting commands, each
the same JSON as the command's ``--json``:

=========================  ==========================================
``GET /api/v1/cohorts``    ``tenure cohorts --json``
``GET /api/v1/segments``   ``tenure segments --json``
``GET /api/v1/goals``      ``tenure goal list --json``
``GET /api/v1/status``     ``tenure status --json``
``GET /api/v1/runs``       ``tenure runs --json``
=========================  ==========================================
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from tenure.web.cache import kept_json
from tenure.web.json import json_response
from tenure.web.security import need

router = APIRouter(prefix="/api/v1", tags=["numbers"], dependencies=[Depends(need("read"))])

ActiveBy = Literal["auto", "purchase", "subscription", "either"]


@router.get("/cohorts")
async def cohorts(
    request: Request,
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
            period=period, value=value, by=by, as_of=as_of, settings=request.app.state.settings
        )
        return cohorts_document(frame, period, value, by)

    return await kept_json(request, ("cohorts", period, value, by, as_of), build)


@router.get("/segments")
async def segments(
    request: Request,
    kind: Literal["rfm", "business"] = "rfm",
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: date | None = None,
    as_of: date | None = None,
    activity_window: Annotated[int | None, Query(ge=1, le=3650)] = None,
    active_by: ActiveBy | None = None,
) -> Response:
    """Segment sizes and revenue shares, and with ``from`` the movements
    between two dates, as ``tenure segments --kind K --json``."""
    from tenure.analysis import segments as compute
    from tenure.analysis import segments_document, transitions
    from tenure.errors import ConfigError

    if to and not from_:
        raise ConfigError("to needs from.", hint="Give both: ?from=2026-04-30&to=2026-10-31.")
    common = dict(
        activity_window=activity_window, active_by=active_by, settings=request.app.state.settings
    )

    def build() -> dict:
        sizes = compute(kind=kind, as_of=to or as_of, **common)
        matrix = None
        if from_:
            end = to or sizes.attrs["definitions"]["as_of"]
            matrix = transitions(from_, end, kind=kind, **common)
        return segments_document(
            sizes, kind, matrix, from_.isoformat() if from_ else None,
            to.isoformat() if to else None,
        )  # fmt: skip

    what = ("segments", kind, from_, to, as_of, activity_window, active_by)
    return await kept_json(request, what, build)


@router.get("/goals")
def goals(request: Request) -> Response:
    """Every goal with its progress, as ``tenure goal list --json``."""
    from tenure.goals.tracking import list_goals

    with request.app.state.store_lock.read():
        found = list_goals(request.app.state.settings)
    return json_response({"goals": found})


@router.get("/status")
async def status(request: Request) -> Response:
    """The store's versions and table sizes, as ``tenure status --json``."""
    from tenure.store.workspace import status as store_status

    state = request.app.state
    return await kept_json(request, ("status",), lambda: store_status(state.settings, state.ops))


@router.get("/runs")
def runs(request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 20) -> Response:
    """The latest ingest runs, newest first, as ``tenure runs --json``."""
    return json_response(request.app.state.ops.runs(limit))
