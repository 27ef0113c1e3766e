"""``GET /api/v1/goals``: every goal with its progress, as ``tenure goal list --json``."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from tenure.web.deps import SettingsDep, StoreLockDep
from tenure.web.json import json_response
from tenure.web.security import need

router = APIRouter(prefix="/api/v1", tags=["goals"], dependencies=[Depends(need("read"))])


@router.get("/goals")
def goals(settings: SettingsDep, lock: StoreLockDep) -> Response:
    """Every goal with its progress, as ``tenure goal list --json``."""
    from tenure.goals.tracking import list_goals

    with lock.read():
        found = list_goals(settings)
    return json_response({"goals": found})
