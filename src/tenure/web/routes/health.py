"""``/healthz``: for load balancers and probes; needs no login."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from tenure.web.json import json_response

router = APIRouter(tags=["health"])

# probes come every few seconds from each balancer: the operational store is
# asked at most once per second, the answers between are the last one's
CHECK_EVERY = 1.0


@router.get("/healthz")
async def healthz(request: Request) -> Response:
    """200 while the server runs and its operational store answers (asked at
    most once a second)."""
    state = request.app.state
    last = getattr(state, "health", None)
    if last is None or time.monotonic() - last[0] >= CHECK_EVERY:
        revision = await run_in_threadpool(state.ops.revision)
        last = (time.monotonic(), {"status": "ok", "ops_revision": revision, "demo": state.demo})
        state.health = last
    return json_response(last[1])
