"""Campaigns over REST: ``/api/v1/campaigns``.

Reads (the campaigns, one campaign's arms and every assigned customer's
fate) need the ``read`` scope; pausing needs ``write`` and is idempotent by
nature (a paused campaign paused again stays paused). The documents are
the library's, the same as ``tenure campaign list | status | pause --json``
print. A launch evaluates, assigns and queues a whole audience, longer
than a request should wait: it is the command line's
(``tenure campaign launch``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from tenure.web.deps import OpsDep, Reader, Writer
from tenure.web.json import json_response

router = APIRouter(prefix="/api/v1/campaigns", tags=["campaigns"])

Name = Annotated[str, Path(min_length=1, max_length=100, description="The campaign's name.")]


@router.get("")
def campaigns(ops: OpsDep, _: Reader) -> Response:
    """Every campaign (``tenure campaign list --json``)."""
    from tenure.campaigns.definitions import all_campaigns

    with ops.engine.connect() as conn:
        return json_response({"campaigns": [c.as_dict() for c in all_campaigns(conn)]})


@router.get("/{name}")
def status(
    request: Request, ops: OpsDep, _: Reader, name: Name,
    measure: Annotated[bool, Query(description="Add the lift over the holdout "
                                   "(as --measure).")] = False,
    window: Annotated[int, Query(ge=1, le=3650, description="Days after assignment.")] = 30,
    metric: Annotated[str, Query(description="conversion, revenue, orders, visits or "
                                 "time_to_order.")] = "conversion",
) -> Response:  # fmt: skip
    """A campaign's arms and every assigned customer's fate
    (``tenure campaign status --json``); with ``measure=true``, its lift
    (``tenure campaign status --measure --json``)."""
    from tenure.campaigns import launch_status

    doc = launch_status.status(ops, name)
    if measure:
        with request.app.state.store_lock.read():  # the measurement reads the orders
            doc["measure"] = launch_status.measure(request.app.state.settings, ops, name,
                                                   window=window, metric=metric)  # fmt: skip
    return json_response(doc)


@router.post("/{name}/pause")
def pause(ops: OpsDep, _: Writer, name: Name) -> Response:
    """Stop queueing the campaign's messages (``tenure campaign pause``)."""
    from tenure.campaigns.launch import pause as pause_campaign

    return json_response(pause_campaign(ops, name))
