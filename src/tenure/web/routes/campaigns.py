"""Campaigns over REST: ``/api/v1/campaigns``, and ``/api/v1/global-control``.

Reads (the campaigns, one campaign's arms and every assigned customer's
fate, its audience, its measurement, the global control's measurement)
need the ``read`` scope; pausing needs ``write`` and is idempotent by
nature (a paused campaign paused again stays paused). The documents are
the library's, the same as ``tenure campaign list | status | audience |
pause | measure --json`` print. Creating and launching are in
:mod:`.campaigns_write`; a launch runs in the server's background, and the
campaign's status carries ``launch``, how the last launch asked of this
server went, while it runs and after.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from tenure.web.audit import export_detail, record
from tenure.web.deps import OpsDep, Reader, SettingsDep, Writer
from tenure.web.json import json_response
from tenure.web.routes import campaigns_write

reads = APIRouter(prefix="/api/v1/campaigns", tags=["campaigns"])
programme = APIRouter(prefix="/api/v1/global-control", tags=["campaigns"])

Name = Annotated[str, Path(min_length=1, max_length=100, description="The campaign's name.")]
Window = Annotated[int, Query(ge=1, le=3650, description="Days after assignment to measure.")]
Metric = Annotated[str, Query(max_length=20, description="conversion, revenue, orders, visits "
                              "or time_to_order: the metric the verdict is about.")]  # fmt: skip


@reads.get("")
def campaigns(ops: OpsDep, _: Reader) -> Response:
    """Every campaign (``tenure campaign list --json``)."""
    from tenure.campaigns.definitions import all_campaigns

    with ops.engine.connect() as conn:
        return json_response({"campaigns": [c.as_dict() for c in all_campaigns(conn)]})


@reads.get("/{name}")
def status(
    request: Request, ops: OpsDep, _: Reader, name: Name,
    measure: Annotated[bool, Query(description="Add the lift over the holdout "
                                   "(as --measure).")] = False,
    window: Window = 30, metric: Metric = "conversion",
) -> Response:  # fmt: skip
    """A campaign's arms and every assigned customer's fate
    (``tenure campaign status --json``); with ``measure=true``, its lift
    (``tenure campaign status --measure --json``); with ``launch`` when
    this server was asked to launch it: ``running``, ``started_at``,
    ``finished_at``, and the launch's ``result`` or ``error``."""
    from tenure.campaigns import launch_status

    doc = launch_status.status(ops, name)
    launches = campaigns_write.launches_of(request)
    last = None if launches is None else launches.of(name)
    if last is not None:
        doc["launch"] = last
    if measure:
        with request.app.state.store_lock.read():  # the measurement reads the orders
            doc["measure"] = launch_status.measure(request.app.state.settings, ops, name,
                                                   window=window, metric=metric)  # fmt: skip
    return json_response(doc)


@reads.get("/{name}/audience")
def audience(
    request: Request, settings: SettingsDep, ops: OpsDep, _: Reader, name: Name,
    sort: Annotated[str, Query(max_length=20, description="clv, churn_risk, expected_value "
                               "or customer_id; highest first.")] = "clv",
    limit: Annotated[int, Query(ge=0, le=1000, description="Rows on this page.")] = 20,
    offset: Annotated[int, Query(ge=0, le=10**9, description="Rows skipped before "
                                 "the page.")] = 0,
) -> Response:  # fmt: skip
    """The audience as it is now, a page at a time
    (``tenure campaign audience --json``); a page of customers is an export
    in the audit log, as the customer list's."""
    from tenure.campaigns import audiences, definitions

    with ops.engine.connect() as conn:
        campaign = definitions.get(conn, name)
    with request.app.state.store_lock.read():  # one committed version of the store
        doc = audiences.listing(settings, audiences.from_texts(campaign.audience), sort=sort,
                                limit=limit, offset=offset)  # fmt: skip
    record(request, "export", target=f"campaign {name} audience",
           detail=export_detail("json", q=None, sort=sort, limit=limit, offset=offset))  # fmt: skip
    return json_response({"campaign": name, **doc})


@reads.get("/{name}/measure")
def measure(
    request: Request, settings: SettingsDep, ops: OpsDep, _: Reader, name: Name, window: Window = 30,
    metric: Metric = "conversion",
) -> Response:  # fmt: skip
    """The treatment against the campaign's holdout
    (``tenure campaign status NAME --measure --json``'s ``measure``)."""
    from tenure.campaigns import launch_status

    with request.app.state.store_lock.read():
        doc = launch_status.measure(settings, ops, name, window=window, metric=metric)
    return json_response(doc)


@reads.post("/{name}/pause")
def pause(ops: OpsDep, _: Writer, name: Name) -> Response:
    """Stop queueing the campaign's messages and hold the queued ones
    (``tenure campaign pause``)."""
    from tenure.campaigns.launch import pause as pause_campaign

    return json_response(pause_campaign(ops, name))


@programme.get("")
def global_control(
    request: Request, settings: SettingsDep, ops: OpsDep, _: Reader, window: Window = 30,
    metric: Metric = "conversion",
    sequential: Annotated[bool, Query(description="Decide on the anytime-valid interval.")] = False,
) -> Response:  # fmt: skip
    """All campaigns against none: the global control against every other
    customer assigned, from each one's first assignment
    (``tenure campaign measure --global-control --json``)."""
    from tenure.campaigns.measure_global import measure_global

    with request.app.state.store_lock.read():
        doc = measure_global(settings, ops, window=window, metric=metric, sequential=sequential)
    return json_response(doc)


router = APIRouter()
router.include_router(campaigns_write.router)
router.include_router(reads)
router.include_router(programme)
