"""The dashboard's Campaigns pages, and a customer's messages and consents.

==========================================  ================================
``GET /campaigns``                          every campaign: state, arms,
                                            what became of every assigned
                                            customer, the lift on each
                                            metric with its intervals
``GET /campaigns/{name}``                   one campaign's report
``GET /customers/{id}/messages/{message}``  a message as it was rendered
==========================================  ================================

The numbers are :func:`tenure.campaigns.reports.campaign_report`'s, formatted
by :mod:`tenure.report.campaigns` as the HTML report formats them; the
measurement reads the stored assignments and the store's orders, and is
kept until either changes (:func:`tenure.web.cache.cached`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response

from tenure.report.formatting import Formatter
from tenure.web.cache import cached
from tenure.web.i18n import LOCALES, language, translations
from tenure.web.pages import fragment, render
from tenure.web.security import need

router = APIRouter(include_in_schema=False, dependencies=[Depends(need("read"))])
Name = Annotated[str, Path(min_length=1, max_length=100)]


def _fmt(request: Request) -> Formatter:
    return Formatter(LOCALES[language(request)], request.app.state.currency)


def report(request: Request, name: str) -> dict[str, Any]:
    """The campaign's report; its measurement kept until the assignments
    or the store's orders change."""
    from tenure.campaigns import launch_status, reports

    ops, settings = request.app.state.ops, request.app.state.settings
    doc = launch_status.status(ops, name)  # the fates change with every send: read each time
    doc.update(cached(request, ("campaign measure", *reports.cache_key(doc)),
                      lambda: reports.measurement(settings, ops, name)))  # fmt: skip
    return doc


def _sections(request: Request, docs: list[dict[str, Any]], fmt: Formatter) -> dict[str, Any]:
    """The campaigns' sections in the reader's language, rendered, with the
    hashes of their charts' scripts (the page's CSP lets those run)."""
    from tenure.report.build import chart_blocks
    from tenure.report.campaigns import campaign_section
    from tenure.web.headers import chart_script_hashes
    from tenure.web.wording import translate_body

    lang = language(request)
    body = {"sections": [campaign_section(d, fmt, chart_blocks) for d in docs]}
    body = translate_body(body, translations(lang).gettext)
    return {"sections": fragment("page_parts.html", lang, part="sections", body=body),
            "script_hashes": chart_script_hashes(body)}  # fmt: skip


def _summary(doc: dict[str, Any], fmt: Formatter, gettext: Any) -> dict[str, Any]:
    """A campaign's row on the Campaigns page: its conversion lift."""
    from tenure.report.campaigns import difference, interval

    c = doc["campaign"]
    row = {"name": c["name"], "state": gettext(c["state"]), "assigned": fmt.number(doc["assigned"]),
           "accounted": gettext("yes") if doc["accounted"] else gettext("no"),
           "lift": "—", "interval": "—", "verdict": gettext(doc.get("unmeasured") or "")}  # fmt: skip
    m = doc.get("measure")
    if m is not None and m["metrics"]["conversion"]:
        r = m["metrics"]["conversion"][0]
        row.update(lift=difference(fmt, "conversion", r["absolute"]["estimate"]),
                   interval=interval(fmt, "conversion", r["absolute"]["ci"]),
                   verdict=gettext(r["verdict"]))  # fmt: skip
    return row


@router.get("/campaigns")
def campaigns_page(request: Request) -> Response:
    from tenure.campaigns.reports import names

    fmt = _fmt(request)
    _ = translations(language(request)).gettext
    docs = [report(request, name) for name in names(request.app.state.ops)]
    parts = _sections(request, docs, fmt) if docs else {"sections": "", "script_hashes": []}
    rows = [_summary(d, fmt, _) for d in docs]
    return render(request, "campaigns.html", current="/campaigns", rows=rows, charts=bool(docs),
                  **parts)  # fmt: skip


@router.get("/campaigns/{name}")
def campaign_page(request: Request, name: Name) -> Response:
    fmt = _fmt(request)
    doc = report(request, name)  # an unknown name: 404, in the error page
    return render(request, "campaign.html", current="/campaigns", campaign_name=name, charts=True,
                  **_sections(request, [doc], fmt))  # fmt: skip


def customer_part(request: Request, customer_id: str, fmt: Formatter) -> dict[str, Any]:
    """A customer page's messages and consents, formatted."""
    import sqlalchemy as sa

    from tenure.campaigns import consent, messages

    _ = translations(language(request)).gettext
    ops = request.app.state.ops
    if not sa.inspect(ops.engine).has_table("campaign_messages"):
        return {"messages": [], "total": 0, "consents": []}

    def when(value: str | None) -> str:
        from datetime import datetime

        return fmt.datetime(datetime.fromisoformat(value)) if value else "—"

    # a message not rendered yet is previewed from the analytics store
    with request.app.state.store_lock.read(), ops.engine.connect() as conn:
        found = messages.for_customer(conn, customer_id, settings=request.app.state.settings)
    shown = [{**m, "state": _(m["state"]), "sent": when(m["sent_at"]),
              "queued": when(m["created_at"]), "reason": m["reason"] or ""}
             for m in found["messages"]]  # fmt: skip
    events = consent.history(ops, customer_id)["events"]
    consents = [{**e, "status": _(e["state"]), "when": when(e["at"])} for e in reversed(events)]
    return {"messages": shown, "total": found["total"], "consents": consents}


@router.get("/customers/{customer_id}/messages/{message_id}")
def message_page(request: Request, customer_id: str, message_id: int) -> Response:
    from datetime import datetime

    from tenure.campaigns.messages import rendered

    fmt = _fmt(request)
    with request.app.state.store_lock.read(), request.app.state.ops.engine.connect() as conn:
        m = rendered(conn, customer_id, message_id, settings=request.app.state.settings)
    sent = fmt.datetime(datetime.fromisoformat(m["sent_at"])) if m["sent_at"] else "—"
    return render(request, "message.html", current="/customers", m=m, sent=sent)
