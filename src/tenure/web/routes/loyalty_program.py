"""The loyalty program's reports: the dashboard's Loyalty page and its JSON
twins, every number from :mod:`tenure.loyalty` (nothing computed here).

===================================================  ==========================
``GET /loyalty``                                     the program page (HTML)
``GET /api/v1/loyalty/program``                      members, tiers,
                                                     redemptions, liability and
                                                     the effect estimate
``GET /api/v1/loyalty/program/liability``            as ``tenure loyalty
                                                     liability --json``
``GET /api/v1/loyalty/program/effect``               as ``tenure loyalty
                                                     effect --json``
===================================================  ==========================
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from tenure.errors import NotFoundError
from tenure.report.formatting import Formatter
from tenure.web.i18n import LOCALES, language
from tenure.web.pages import render
from tenure.web.security import need

router = APIRouter(tags=["loyalty program"], dependencies=[Depends(need("read"))])
API = "/api/v1/loyalty/program"


def _ops(request: Request) -> Any:
    return request.app.state.ops


def _program(request: Request) -> dict[str, Any]:
    from tenure.loyalty import program

    with request.app.state.store_lock.read():  # the effect reads the analytics store
        return program.report(_ops(request), request.app.state.settings)


def _need_members(request: Request) -> None:
    from tenure.loyalty.program import has_program

    if not has_program(_ops(request)):
        raise NotFoundError(
            "the loyalty program has no members yet.",
            hint="Earn points for a customer first: tenure loyalty earn CUSTOMER POINTS.",
        )


@router.get(API)
def program_document(request: Request) -> Response:
    """The program at a glance, as the Loyalty page shows it."""
    _need_members(request)
    return JSONResponse(_program(request))


@router.get(API + "/liability")
def liability_document(request: Request) -> Response:
    """Outstanding points × point value × (1 − expected breakage), now."""
    from tenure.loyalty import liability

    _need_members(request)
    doc = liability.from_settings(_ops(request), request.app.state.settings).doc()
    return JSONResponse(doc)


@router.get(API + "/effect")
def effect_document(request: Request) -> Response:
    """Members against matched non-members, and the naive comparison."""
    from tenure.loyalty import effect

    _need_members(request)
    with request.app.state.store_lock.read():
        doc = effect.estimate(_ops(request), request.app.state.settings).doc()
    return JSONResponse(doc)


def _share(fmt: Formatter, value: float | None, sign: bool = False) -> str:
    if value is None:
        return fmt.MISSING
    text = fmt.percent(100 * value)
    return ("+" + text) if sign and value > 0 else text


@router.get("/loyalty", include_in_schema=False)
def loyalty_page(request: Request) -> Response:
    from tenure.loyalty.program import has_program

    fmt = Formatter(LOCALES[language(request)], request.app.state.currency)
    if not has_program(_ops(request)):
        return render(request, "loyalty.html", current="/loyalty", doc=None)
    doc = _program(request)
    liab, b = doc["liability"], doc["liability"]["breakage"]
    shown = {
        "members": fmt.number(doc["members"]),
        "joined": fmt.number(doc["joined_last_365_days"]),
        "no_tier": fmt.number(doc["no_tier"]),
        "tiers": [
            {
                "name": t["name"],
                "members": fmt.number(t["members"]),
                "threshold": fmt.number(t["threshold"]),
            }
            for t in doc["tiers"]
        ],  # fmt: skip
        "redemptions": {k: fmt.number(v) for k, v in doc["redemptions"].items() if k != "rewards"},
        "rewards": [
            {**r, "count": fmt.number(r["count"]), "points": fmt.number(r["points"])}
            for r in doc["redemptions"]["rewards"]
        ],  # fmt: skip
        "outstanding": fmt.number(liab["outstanding_points"]),
        "point_value": fmt.money(liab["point_value"], 4),
        "gross": fmt.money(liab["gross_value"]),
        "liability": fmt.money(liab["liability"]),
        "breakage": _share(fmt, b["rate"]),
        "breakage_source": b["source"],
        "closed_lots": fmt.number(b["closed_lots"]),
        "min_lots": fmt.number(b["min_lots"]),
    }
    e = doc["effect"]
    if e is not None:
        est, naive = e["estimate"], e["naive"]
        shown["effect"] = {
            "horizon": e["horizon_days"],
            "data_end": fmt.date(e["data_end"]),
            "estimate": _share(fmt, est["difference"], sign=True),
            "low": _share(fmt, est["ci_low"], sign=True),
            "high": _share(fmt, est["ci_high"], sign=True),
            "members_rate": _share(fmt, est["member_rate"]),
            "controls_rate": _share(fmt, est["control_rate"]),
            "matched": fmt.number(e["matched"]),
            "unmatched": fmt.number(e["unmatched"]),
            "naive": _share(fmt, naive["difference"], sign=True),
            "naive_low": _share(fmt, naive["ci_low"], sign=True),
            "naive_high": _share(fmt, naive["ci_high"], sign=True),
            "naive_members": _share(fmt, naive["member_rate"]),
            "naive_controls": _share(fmt, naive["control_rate"]),
            "notes": e["notes"],
        }
    return render(request, "loyalty.html", current="/loyalty", doc=doc, shown=shown,
                  effect_unavailable=doc["effect_unavailable"])  # fmt: skip


def member_part(request: Request, customer_id: str, fmt: Formatter) -> dict[str, Any] | None:
    """The loyalty section of a customer's page, formatted; None for a
    customer who is not a member."""
    from tenure.loyalty import Policy, program

    policy = Policy.from_settings(request.app.state.settings.loyalty)
    doc = program.member(_ops(request), customer_id, policy)
    if doc is None:
        return None

    def when(value: Any) -> str:
        return fmt.date(str(value)[:10]) if value else fmt.MISSING

    progress = doc["tier_progress"] or {}
    nxt = progress.get("next_tier")
    return {
        "balance": fmt.number(doc["balance"]),
        "pending": fmt.number(doc["pending"]),
        "available": fmt.number(doc["available"]),
        "debt": fmt.number(doc["debt"]),
        "tier": doc["tier"] or doc["recorded_tier"] or "—",
        "qualifying": fmt.number(progress.get("qualifying")) if progress else None,
        "kept_until": when(progress.get("kept_until")) if progress else None,
        "next_tier": None
        if not nxt
        else {"name": nxt["name"], "needed": fmt.number(nxt["needed"])},
        "lots": [
            {
                "id": lot["id"],
                "points": fmt.number(lot["points"]),
                "remaining": fmt.number(lot["remaining"]),
                "status": lot["status"],
                "expires": when(lot["expires_at"]),
            }
            for lot in doc["lots"]
        ],  # fmt: skip
        "recent": [
            {
                "id": e["id"],
                "when": when(e["at"]),
                "kind": e["kind"],
                "points": fmt.number(e["points"] + e["pending"]),
                "balance": fmt.number(e["balance_after"]),
                "detail": e["reason"] or e["reward"] or "",
            }
            for e in doc["recent"]
        ],  # fmt: skip
    }
