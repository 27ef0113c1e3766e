"""The store's state: ``GET /api/v1/status`` (versions and table sizes, as
``tenure status --json``) and ``GET /api/v1/runs`` (the latest ingest
runs, as ``tenure runs --json``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from tenure.web.cache import kept_json
from tenure.web.deps import OpsDep, SettingsDep
from tenure.web.json import json_response
from tenure.web.security import need

router = APIRouter(prefix="/api/v1", tags=["store"], dependencies=[Depends(need("read"))])


@router.get("/status")
async def status(request: Request, settings: SettingsDep, ops: OpsDep) -> Response:
    """The store's versions and table sizes, as ``tenure status --json``."""
    from tenure.store.workspace import status as store_status

    return await kept_json(request, ("status",), lambda: store_status(settings, ops))


@router.get("/runs")
def runs(ops: OpsDep, limit: Annotated[int, Query(ge=1, le=1000)] = 20) -> Response:
    """The latest ingest runs, newest first, as ``tenure runs --json``."""
    return json_response(ops.runs(limit))
