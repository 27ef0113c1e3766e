"""The loyalty ledger over REST: ``/api/v1/loyalty/...``.

Writes (``POST .../members/{customer_id}/earn | redeem | reverse | adjust``)
need the ``write`` scope (an analyst or admin, or an API key made with
``--scope write``) and take an ``Idempotency-Key`` header
(:mod:`tenure.web.idempotency`); reads (the balance, the history, the
lots, the tiers) need ``read``. Each route calls :mod:`tenure.loyalty`
and answers with its document as it is: the numbers are the library's,
the same as the ``tenure loyalty`` commands print with ``--json``. A refused write (a redemption
beyond the points available: 409) changes nothing.

Each write that posts an entry is in the audit log (``loyalty_earn``,
``loyalty_redeem``, ``loyalty_reverse``, ``loyalty_adjust``), written in the
ledger write's transaction: a write rolled back leaves no entry, and a
replayed response (the same key and body) adds none.
"""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from tenure.loyalty import Policy
from tenure.web import audit, idempotency
from tenure.web.deps import OpsDep, Reader, SettingsDep, Writer
from tenure.web.json import json_response

router = APIRouter(prefix="/api/v1/loyalty", tags=["loyalty"])

Customer = Annotated[
    str, Path(min_length=1, max_length=200, description="The customer's id, as ingested.")
]
KeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Send a retry with the same key and body: it posts nothing more and "
        "answers as the first time (marked Idempotent-Replayed: true). Kept 24 h or more.",
    ),
]
Points = Annotated[int, Field(ge=1, le=10**12, description="Whole points, 1 or more.")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Earn(_Body):
    points: Points
    reason: str | None = Field(default=None, max_length=1000)
    pending: bool = Field(default=False, description="Held until the return window closes.")
    amount: float | None = Field(default=None, description="What the points were earned for.")
    order_line: str | None = Field(
        default=None, max_length=200, description="Earned once per order line and rule."
    )
    rule: str | None = Field(default=None, max_length=100)


class Redeem(_Body):
    points: Points
    reward: str | None = Field(default=None, max_length=200)


class Reverse(_Body):
    entry_id: int = Field(ge=1, description="The earning or redemption to undo (see history).")
    points: Points | None = Field(default=None, description="Default: all that is left.")
    reason: str | None = Field(default=None, max_length=1000)


class Adjust(_Body):
    points: int = Field(ge=-(10**12), le=10**12, description="Above 0 adds, below 0 takes.")
    reason: str = Field(min_length=1, max_length=1000)


async def policy(settings: SettingsDep) -> Policy:
    """The program's settings: the [loyalty] table of the served store's tenure.toml."""
    return Policy.from_settings(settings.loyalty)


PolicyDep = Annotated[Policy, Depends(policy)]


_made = threading.Lock()


def _flights(request: Request) -> idempotency.InFlight:
    """The keys in flight in this server process (made with the first write)."""
    state = request.app.state
    with _made:
        if not hasattr(state, "loyalty_in_flight"):
            state.loyalty_in_flight = idempotency.InFlight()
    return state.loyalty_in_flight


def _write(request: Request, ops, who, header, customer_id: str, body: _Body, call) -> Response:
    operation = request.url.path.rsplit("/", 1)[-1]  # earn, redeem, reverse, adjust
    record = audit.loyalty_write(who.actor(request), operation, customer_id,
                                 idempotency.key_of(header))  # fmt: skip
    status, doc, replayed = idempotency.posted(
        ops, _flights(request), who, header, customer_id, request.method, request.url.path,
        body.model_dump(mode="json", exclude_unset=True), call, audit=record,
    )  # fmt: skip
    response = json_response(doc, status_code=status)
    if replayed:
        response.headers[idempotency.REPLAYED] = "true"
    return response


@router.post("/members/{customer_id}/earn", status_code=201)
def earn(
    request: Request, ops: OpsDep, who: Writer, policy: PolicyDep, customer_id: Customer,
    body: Earn, idempotency_key: KeyHeader = None,
) -> Response:  # fmt: skip
    """Give points (``tenure loyalty earn``); the customer becomes a member."""
    from tenure import loyalty

    def call():
        return loyalty.earn(ops, customer_id, body.points, reason=body.reason,
                            pending=body.pending, amount=body.amount,
                            order_line=body.order_line, rule=body.rule, policy=policy)  # fmt: skip

    return _write(request, ops, who, idempotency_key, customer_id, body, call)


@router.post("/members/{customer_id}/redeem", status_code=201)
def redeem(
    request: Request, ops: OpsDep, who: Writer, policy: PolicyDep, customer_id: Customer,
    body: Redeem, idempotency_key: KeyHeader = None,
) -> Response:  # fmt: skip
    """Spend points (``tenure loyalty redeem``); beyond what is available: 409,
    nothing redeemed."""
    from tenure import loyalty

    def call():
        return loyalty.redeem(ops, customer_id, body.points, reward=body.reward, policy=policy)

    return _write(request, ops, who, idempotency_key, customer_id, body, call)


@router.post("/members/{customer_id}/reverse", status_code=201)
def reverse(
    request: Request, ops: OpsDep, who: Writer, policy: PolicyDep, customer_id: Customer,
    body: Reverse, idempotency_key: KeyHeader = None,
) -> Response:  # fmt: skip
    """Undo an earning or a redemption (``tenure loyalty reverse``)."""
    from tenure import loyalty

    def call():
        return loyalty.reverse(ops, customer_id, body.entry_id, points=body.points,
                               reason=body.reason, policy=policy)  # fmt: skip

    return _write(request, ops, who, idempotency_key, customer_id, body, call)


@router.post("/members/{customer_id}/adjust", status_code=201)
def adjust(
    request: Request, ops: OpsDep, who: Writer, policy: PolicyDep, customer_id: Customer,
    body: Adjust, idempotency_key: KeyHeader = None,
) -> Response:  # fmt: skip
    """Add or take points by hand, with a reason (``tenure loyalty adjust``)."""
    from tenure import loyalty

    def call():
        return loyalty.adjust(ops, customer_id, body.points, reason=body.reason, policy=policy)

    return _write(request, ops, who, idempotency_key, customer_id, body, call)


@router.get("/members/{customer_id}")
def member(ops: OpsDep, _: Reader, policy: PolicyDep, customer_id: Customer) -> Response:
    """The balance (``tenure loyalty balance --json``): balance, pending, debt,
    available, tier and its progress, the next expiry and the lots."""
    from tenure import loyalty

    return json_response(loyalty.balance(ops, customer_id, policy=policy))


@router.get("/members/{customer_id}/lots")
def lots(ops: OpsDep, _: Reader, policy: PolicyDep, customer_id: Customer) -> Response:
    """The lots that still hold points, soonest expiry first."""
    from tenure import loyalty

    doc = loyalty.balance(ops, customer_id, policy=policy)
    return json_response({k: doc[k] for k in ("customer_id", "lots", "as_of")})


@router.get("/members/{customer_id}/history")
def history(
    ops: OpsDep, _: Reader, customer_id: Customer,
    limit: Annotated[int | None, Query(ge=0, le=100_000, description="Only the newest N.")] = None,
) -> Response:  # fmt: skip
    """The entries, oldest first, with the balance after each, and the tier
    changes (``tenure loyalty history --json``)."""
    from tenure import loyalty

    return json_response(loyalty.history(ops, customer_id, limit=limit))


@router.get("/tiers")
def tiers(ops: OpsDep, _: Reader, policy: PolicyDep) -> Response:
    """The declared tiers and how many members hold each (``tenure loyalty tiers --json``)."""
    from tenure import loyalty

    return json_response(loyalty.tier_table(ops, policy=policy))
