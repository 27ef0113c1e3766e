"""Creating and launching campaigns over REST: ``POST /api/v1/campaigns`` and
``POST /api/v1/campaigns/{name}/launch``.

Both need the ``write`` scope and take an ``Idempotency-Key`` header with
the loyalty API's semantics (:mod:`tenure.web.idempotency`: the same key and
body replay the first response, marked ``Idempotent-Replayed: true``; the
same key with another body is refused with 422; while the first is being
answered, 409). The stored response and the audit entry (``campaign_create``,
``campaign_launch``) are written in the write's own transaction.

A create takes the keys of a campaign's TOML file as a JSON object and
answers 201 with the campaign (``tenure campaign create --json``). Its
template must be a folder inside the workspace (a path relative to it, or
an absolute one within it): a request names no file of the server's
elsewhere.

A launch evaluates, assigns and queues a whole audience, longer than a
request should wait: it is accepted (202, with a ``Location`` of the
campaign's status) and runs in a thread of the server
(:mod:`tenure.campaigns.launch_background`); ``GET /api/v1/campaigns/{name}``
shows how far it got. A launch is safe to repeat: asking again (with the
same key or another) starts it again unless it is running here, and it
queues only what is left, never a message twice. ``{"plan": true}`` answers
the plan at once (200, ``tenure campaign launch --plan --json``) and writes
nothing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi import Path as PathParam
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from tenure.errors import InputError
from tenure.loyalty.ledger import Posting
from tenure.web import audit, idempotency
from tenure.web.deps import OpsDep, SettingsDep, Writer
from tenure.web.json import json_response

router = APIRouter(prefix="/api/v1/campaigns", tags=["campaigns"])

Name = Annotated[str, PathParam(min_length=1, max_length=100, description="The campaign's name.")]
KeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Send a retry with the same key and body: it writes nothing more and "
        "answers as the first time (marked Idempotent-Replayed: true). Kept 24 h or more.",
    ),
]


Criterion = Annotated[str, Field(min_length=1, max_length=200)]


class Create(BaseModel):
    """The keys of a campaign's TOML file."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, examples=["win-back"])
    template: str = Field(min_length=1, max_length=1000,
                          description="A folder inside the workspace, e.g. templates/win-back.")  # fmt: skip
    audience: Annotated[list[Criterion], Field(max_length=50)] | Criterion = Field(
        description="Criteria that must all hold.",
        examples=[["lapsed:120", "segment:rfm:at risk"]])  # fmt: skip
    channel: str = Field(default="email", max_length=40)
    purpose: str = Field(default="marketing", max_length=40)
    priority: str = Field(default="normal", max_length=10)
    holdout: float | Annotated[str, Field(max_length=20)] = Field(
        default=0.1, description="A share (0.1) or a percentage with its sign (\"10%\").")  # fmt: skip
    salt: str | None = Field(default=None, max_length=100)


class Launch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: bool = Field(default=False, description="Answer the plan now; write nothing.")
    baseline: float = Field(default=0.05, gt=0, lt=1,
                            description="The conversion rate assumed for the plan's power.")  # fmt: skip
    batch: int = Field(default=2000, ge=1, le=100_000, description="Messages per transaction.")


@dataclass(frozen=True)
class Accepted(Posting):
    """A launch's answer: accepted, to run in the background."""

    status: int = 202


_made = threading.Lock()


def _state(request: Request, settings: Any, ops: Any) -> tuple[idempotency.InFlight, Any]:
    """This server process's keys in flight (the loyalty API's: the stored
    keys are shared too) and its launches, made with the first write."""
    from tenure.campaigns.launch_background import Launches
    from tenure.web.routes.loyalty import _flights

    state = request.app.state
    with _made:
        if not hasattr(state, "campaign_launches"):
            state.campaign_launches = Launches(settings, ops)
    return _flights(request), state.campaign_launches


def launches_of(request: Request) -> Any:
    """The launches of this server process; None before the first."""
    return getattr(request.app.state, "campaign_launches", None)


def template_in(workspace: Path, template: str) -> Path:
    """The template folder, which must be inside the workspace."""
    root = workspace.resolve()
    given = Path(template)  # no ~ expanded: the server's home is not the workspace
    try:
        folder = (given if given.is_absolute() else root / given).resolve()
    except (OSError, ValueError):  # a NUL byte, a loop of links
        folder = None
    if folder is None or not folder.is_relative_to(root):
        raise InputError(
            f"the template {template!r} is outside the workspace.", column="template",
            value=template, code="template_outside_workspace",
            hint=f"Put the template's folder inside the workspace ({root}) and give its path "
            "relative to it, e.g. templates/win-back.",
        )  # fmt: skip
    return folder


def _answer(status: int, doc: dict[str, Any], replayed: bool, **headers: str) -> Response:
    response = json_response(doc, status_code=status)
    if replayed:
        response.headers[idempotency.REPLAYED] = "true"
    for name, value in headers.items():
        response.headers[name] = value
    return response


@router.post("", status_code=201)
def create(
    request: Request, settings: SettingsDep, ops: OpsDep, who: Writer, body: Create,
    idempotency_key: KeyHeader = None,
) -> Response:  # fmt: skip
    """Create a campaign, in draft (``tenure campaign create --file``)."""
    from tenure.campaigns import definitions
    from tenure.campaigns.consent import write_transaction

    flights, _ = _state(request, settings, ops)

    def call() -> Posting:
        source = "request body"
        values = definitions.spec(
            name=body.name, template=template_in(settings.store, body.template),
            audience=body.audience, channel=body.channel, purpose=body.purpose,
            priority=body.priority, holdout=body.holdout, salt=body.salt, source=source,
        )  # fmt: skip
        with write_transaction(ops) as conn:
            posting = Posting(definitions.create(conn, values).as_dict())
            idempotency.also_record(conn, posting)
        return posting

    name = body.name.strip()
    record = audit.campaign_write(who.actor(request), "create", name,
                                  idempotency.key_of(idempotency_key))  # fmt: skip
    status, doc, replayed = idempotency.posted(
        ops, flights, who, idempotency_key, name, request.method, request.url.path,
        body.model_dump(mode="json", exclude_unset=True), call, audit=record,
    )  # fmt: skip
    return _answer(status, doc, replayed, Location=f"/api/v1/campaigns/{doc['name']}")


@router.post("/{name}/launch", status_code=202)
def launch(
    request: Request, settings: SettingsDep, ops: OpsDep, who: Writer, name: Name,
    body: Launch | None = None, idempotency_key: KeyHeader = None,
) -> Response:  # fmt: skip
    """Launch the campaign in the background (202; ``tenure campaign launch``),
    or with ``{"plan": true}`` answer its plan (``--plan``)."""
    from tenure.campaigns import definitions
    from tenure.campaigns.consent import write_transaction
    from tenure.campaigns.launch import plan

    body = body or Launch()
    if body.plan:
        with request.app.state.store_lock.read():  # the audience, as it is committed now
            return json_response({"plan": plan(settings, ops, name, baseline=body.baseline)})
    flights, launches = _state(request, settings, ops)
    where = f"/api/v1/campaigns/{name}"

    def call() -> Posting:
        with write_transaction(ops) as conn:
            campaign = definitions.get(conn, name)  # 404 for a campaign not made
            posting = Accepted({"campaign": name, "state": campaign.state, "launch": "accepted",
                                "status": where})  # fmt: skip
            idempotency.also_record(conn, posting)
        return posting

    record = audit.campaign_write(who.actor(request), "launch", name,
                                  idempotency.key_of(idempotency_key))  # fmt: skip
    status, doc, replayed = idempotency.posted(
        ops, flights, who, idempotency_key, name, request.method, request.url.path,
        body.model_dump(mode="json", exclude_unset=True), call, audit=record,
    )  # fmt: skip
    # started again on a replay too: a launch stopped with its server resumes
    launches.start(name, batch=body.batch, baseline=body.baseline)
    return _answer(status, doc, replayed, Location=where)
