"""``/api/v1/me``: who the caller is and what they may do."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from tenure.web.security import Principal, principal

router = APIRouter(prefix="/api/v1", tags=["access"])


@router.get("/me")
def me(who: Principal = Depends(principal)) -> dict[str, Any]:
    return {"kind": who.kind, "name": who.name, "role": who.role, "scopes": sorted(who.scopes)}
