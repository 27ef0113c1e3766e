"""``GET /api/v1/segments``: segment sizes and movements, the document of
``tenure segments --json``."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from tenure.web.cache import kept_json
from tenure.web.deps import CustomerFilters, SettingsDep
from tenure.web.security import need

router = APIRouter(prefix="/api/v1", tags=["segments"], dependencies=[Depends(need("read"))])

ActiveBy = Literal["auto", "purchase", "subscription", "either"]


@router.get("/segments")
async def segments(
    request: Request,
    settings: SettingsDep,
    filters: CustomerFilters,
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
    common = dict(activity_window=activity_window, active_by=active_by, settings=settings)

    def build() -> dict:
        sizes = compute(kind=kind, as_of=to or as_of, filters=filters, **common)
        matrix = None
        if from_:
            end = to or sizes.attrs["definitions"]["as_of"]
            matrix = transitions(from_, end, kind=kind, **common)
        return segments_document(
            sizes, kind, matrix, from_.isoformat() if from_ else None,
            to.isoformat() if to else None,
        )  # fmt: skip

    what = ("segments", kind, from_, to, as_of, activity_window, active_by, filters)
    return await kept_json(request, what, build)
