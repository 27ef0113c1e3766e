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

from fastapi import APIRouter, Path
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
def status(ops: OpsDep, _: Reader, name: Name) -> Response:
    """A campaign's arms and every assigned customer's fate
    (``tenure campaign status --json``)."""
    from tenure.campaigns.launch_status import status as campaign_status

    return json_response(campaign_status(ops, name))


@router.post("/{name}/pause")
def pause(ops: OpsDep, _: Writer, name: Name) -> Response:
    """Stop queueing the campaign's messages and hold the queued ones
    (``tenure campaign pause``)."""
    from tenure.campaigns.launch import pause as pause_campaign

    return json_response(pause_campaign(ops, name))
