"""Consent and sending rules over REST: ``/api/v1/consent/...``.

Writes (a consent event, a suppression and its lifting, a bounce, a
complaint) need the ``write`` scope and take an ``Idempotency-Key`` header
(:mod:`tenure.campaigns.consent_requests`); reads (a customer's consents,
the suppression list, the gate's decision) need ``read``. The documents
are the library's, the same as the command line prints as JSON.

``POST /api/v1/consent/unsubscribe/{token}`` is the RFC 8058 one-click
unsubscribe: no login, limited in rate like the login form (the same
``login_rate`` and ``login_burst``, in a bucket of its own), the link's
signature checked in constant time; the withdrawal is committed before
the answer. ``GET`` on the same address only shows a page with a button
that posts, as RFC 8058 asks: a link opened by a mail scanner changes
nothing.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from tenure.web import idempotency
from tenure.web.deps import OpsDep, Reader, SettingsDep, Writer
from tenure.web.json import json_response

router = APIRouter(prefix="/api/v1/consent", tags=["consent"])

Customer = Annotated[
    str, Path(min_length=1, max_length=200, description="The customer's id, as ingested.")
]
Name = Annotated[str, Field(min_length=1, max_length=40)]
KeyHeader = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="A retry with the same key and body records "
           "nothing more and answers as the first time."),
]  # fmt: skip


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConsentEvent(_Body):
    channel: Name
    purpose: Name = "marketing"
    state: Literal["granted", "withdrawn"]
    source: Name = "api"
    at: datetime | None = Field(default=None, description="When the person said so; default now.")


class Suppress(_Body):
    channel: Name | None = Field(default=None, description="None: every channel.")
    address: str | None = Field(default=None, max_length=400)
    customer_id: str | None = Field(default=None, max_length=200)
    detail: str | None = Field(default=None, max_length=2000)


class Bounce(_Body):
    channel: Name = "email"
    address: str = Field(min_length=1, max_length=400)
    kind: Literal["hard", "soft"]
    customer_id: str | None = Field(default=None, max_length=200)
    detail: str | None = Field(default=None, max_length=2000)
    at: datetime | None = None


class Complaint(_Body):
    channel: Name = "email"
    address: str = Field(min_length=1, max_length=400)
    customer_id: str | None = Field(default=None, max_length=200)
    detail: str | None = Field(default=None, max_length=2000)
    at: datetime | None = None


def _write(request: Request, ops, who, header: str | None, customer_id: str | None,
           body: _Body | None, call) -> Response:  # fmt: skip
    from tenure.campaigns.consent_requests import once

    key = idempotency.key_of(header)
    if key is None:
        status, doc, replayed = *call(), False
    else:
        sent = {} if body is None else body.model_dump(mode="json", exclude_unset=True)
        digest = idempotency.fingerprint(request.method, request.url.path, sent)
        status, doc, replayed = once(ops, idempotency.owner(who), key, digest, customer_id, call)
    response = json_response(doc, status_code=status)
    if replayed:
        response.headers[idempotency.REPLAYED] = "true"
    return response


@router.post("/customers/{customer_id}", status_code=201)
def record(request: Request, ops: OpsDep, who: Writer, customer_id: Customer, body: ConsentEvent,
           idempotency_key: KeyHeader = None) -> Response:  # fmt: skip
    """Record a grant or a withdrawal (``tenure consent set``)."""
    from tenure.campaigns import consent

    def call():
        event, _ = consent.record(ops, customer_id, body.channel, body.purpose,
                                  body.state == "granted", source=body.source, at=body.at,
                                  reference=f"{who.kind}:{who.name}")  # fmt: skip
        return 201, {"event": event.doc()}

    return _write(request, ops, who, idempotency_key, customer_id, body, call)


@router.get("/customers/{customer_id}")
def state(
    ops: OpsDep, _: Reader, customer_id: Customer,
    history: Annotated[bool, Query(description="Every event, oldest first.")] = False,
) -> Response:  # fmt: skip
    """A customer's consents (``tenure consent show --json``)."""
    from tenure.campaigns import consent

    return json_response(consent.history(ops, customer_id) if history
                         else consent.state(ops, customer_id))  # fmt: skip


@router.get("/customers/{customer_id}/check")
def check(
    ops: OpsDep, settings: SettingsDep, _: Reader, customer_id: Customer,
    channel: Annotated[str, Query(min_length=1, max_length=40)],
    purpose: Annotated[str, Query(min_length=1, max_length=40)] = "marketing",
    address: Annotated[str | None, Query(max_length=400)] = None,
    timezone: Annotated[str | None, Query(max_length=100)] = None,
    priority: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:  # fmt: skip
    """The send-time gate's decision now (``tenure consent check --json``)."""
    from tenure.campaigns.consent import now
    from tenure.campaigns.consent_settings import SendingRules
    from tenure.campaigns.gate import may_contact

    rules = SendingRules.from_settings(settings)
    with ops.engine.connect() as conn:
        decision = may_contact(conn, customer_id, channel, purpose, now(), rules=rules,
                               address=address, timezone=timezone, priority=priority)  # fmt: skip
    return json_response({"customer_id": customer_id, "channel": channel, "purpose": purpose,
                          **decision.doc()})  # fmt: skip


@router.post("/suppressions", status_code=201)
def suppress(request: Request, ops: OpsDep, who: Writer, body: Suppress,
             idempotency_key: KeyHeader = None) -> Response:  # fmt: skip
    """Put an address or a customer on the suppression list."""
    from tenure.campaigns import suppression

    def call():
        doc = suppression.suppress(ops, body.channel, address=body.address,
                                   customer_id=body.customer_id, source="api", detail=body.detail)  # fmt: skip
        return (201 if doc["added"] else 200), doc

    return _write(request, ops, who, idempotency_key, body.customer_id, body, call)


@router.post("/suppressions/{suppression_id}/lift")
def lift(request: Request, ops: OpsDep, who: Writer,
         suppression_id: Annotated[int, Path(ge=1, le=2**62)], idempotency_key: KeyHeader = None) -> Response:  # fmt: skip
    """Lift a suppression; its row stays, marked lifted."""
    from tenure.campaigns import suppression

    return _write(request, ops, who, idempotency_key, None, None,
                  lambda: (200, suppression.lift(ops, suppression_id)))  # fmt: skip


@router.get("/suppressions")
def suppressions(ops: OpsDep, _: Reader,
                 lifted: Annotated[bool, Query(description="Also those lifted.")] = False) -> Response:  # fmt: skip
    """The suppression list (``tenure consent suppressions --json``)."""
    from tenure.campaigns import suppression

    return json_response(suppression.listing(ops, lifted=lifted))


@router.post("/bounces", status_code=201)
def bounce(request: Request, ops: OpsDep, settings: SettingsDep, who: Writer, body: Bounce,
           idempotency_key: KeyHeader = None) -> Response:  # fmt: skip
    """Record a bounce: a hard one suppresses the address, soft ones after
    ``soft_bounce_limit`` within ``soft_bounce_days``."""
    from tenure.campaigns import suppression
    from tenure.campaigns.consent_settings import SendingRules

    rules = SendingRules.from_settings(settings)

    def call():
        return 201, suppression.bounce(ops, body.channel, body.address, body.kind,
                                       customer_id=body.customer_id, source="api",
                                       detail=body.detail, at=body.at, rules=rules)  # fmt: skip

    return _write(request, ops, who, idempotency_key, body.customer_id, body, call)


@router.post("/complaints", status_code=201)
def complaint(request: Request, ops: OpsDep, who: Writer, body: Complaint,
              idempotency_key: KeyHeader = None) -> Response:  # fmt: skip
    """Record a complaint: the address suppressed and, for a known customer,
    their marketing consent on the channel withdrawn."""
    from tenure.campaigns import suppression

    def call():
        return 201, suppression.complaint(ops, body.channel, body.address,
                                          customer_id=body.customer_id, detail=body.detail,
                                          at=body.at)  # fmt: skip

    return _write(request, ops, who, idempotency_key, body.customer_id, body, call)


# the one-click unsubscribe: no login ------------------------------------

Token = Annotated[str, Path(min_length=3, max_length=1000)]


def _key(request: Request) -> bytes:
    from tenure.campaigns.consent_unsubscribe import workspace_secret

    return workspace_secret(request.app.state.settings)


# the two unsubscribe routes are left out of the API's schema: mail clients
# and people reach them from a message, never an API client (which every
# route of the schema expects to log in); docs/campaigns.md describes them
@router.post("/unsubscribe/{token}", include_in_schema=False)
async def unsubscribe(request: Request, token: Token) -> Response:
    """RFC 8058 one-click unsubscribe: the mail client posts
    ``List-Unsubscribe=One-Click``; no login. 200 when recorded (or already
    recorded by this link), 403 for a changed link, 410 for an expired one,
    429 beyond the rate."""
    from tenure.campaigns.consent_unsubscribe import unsubscribe as withdraw

    # the rate was checked before the body was read (tenure.web.limits)
    ops = request.app.state.ops
    doc = await run_in_threadpool(withdraw, ops, _key(request), token)
    if "text/html" in request.headers.get("accept", ""):  # the button of the page below
        return HTMLResponse(_PAGE.format(body="<p>You are unsubscribed.</p>"))
    return json_response(doc)


@router.get("/unsubscribe/{token}", response_class=HTMLResponse, include_in_schema=False)
async def unsubscribe_page(token: Token) -> Response:
    """A page with one button that posts the unsubscribe; opening the link
    changes nothing."""
    action = html.escape(f"/api/v1/consent/unsubscribe/{token}", quote=True)
    return HTMLResponse(_PAGE.format(
        body=f'<form method=post action="{action}"><input type=hidden name=List-Unsubscribe '
        "value=One-Click><p>Stop these messages?</p><button>Unsubscribe</button></form>"))  # fmt: skip


_PAGE = "<!doctype html><html lang=en><meta charset=utf-8><title>Unsubscribe</title>{body}</html>"
