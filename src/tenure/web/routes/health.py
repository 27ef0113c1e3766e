"""``/healthz``: for load balancers and probes; needs no login."""

from __future__ import annotations

from fastapi import APIRouter, Request

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(request: Request) -> dict[str, object]:
    """200 while the server runs and its operational store answers."""
    ops = request.app.state.ops
    return {"status": "ok", "ops_revision": ops.revision(), "demo": request.app.state.demo}
