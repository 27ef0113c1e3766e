"""The dashboard's pages (HTML): Overview, Retention, Segments,
Predictions, Customers (the list and each customer's page) and Data.
A person without a session is sent to the login form."""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from tenure.analysis.filters import Filters
from tenure.profiles import SORTS, customer_list, customer_page
from tenure.report.formatting import Formatter
from tenure.web import dashboard
from tenure.web.cache import kept
from tenure.web.deps import FiltersDep
from tenure.web.headers import chart_script_hashes
from tenure.web.i18n import LOCALES, language, translations
from tenure.web.pages import fragment, render
from tenure.web.security import need
from tenure.web.wording import translate_body

router = APIRouter(include_in_schema=False, dependencies=[Depends(need("read"))])
SEGMENTS = ("new", "at risk", "high value", "active", "lapsed")
PAGE_SIZE = 50
# the Customers page's sort options, by the words a reader sees
SORT_LABELS = {
    "revenue": "revenue", "orders": "orders", "recency": "days since the last order",
    "last_order": "last order", "clv": "predicted CLV", "p_alive": "P(alive), lowest first",
    "churn": "churn risk", "customer_id": "customer id",
}  # fmt: skip


def _named(name: Any, gettext: Any) -> Any:
    """A segment's name in the reader's language; a missing one as it is
    (gettext("") is the catalog's header)."""
    return gettext(name) if isinstance(name, str) and name else name


def _fmt(request: Request) -> Formatter:
    return Formatter(LOCALES[language(request)], request.app.state.currency)


async def _page(
    request: Request,
    name: str,
    path: str,
    template: str = "page.html",
    filters: Filters | None = None,
    **extra: Any,
):
    """The page ``name``, of the customers ``filters`` pick: its numbers and
    their rendered tiles and sections are kept until the store changes, so a
    repeated view only renders the frame around them (the reader's login,
    the navigation)."""
    lang = language(request)
    filters = filters or Filters()

    def compute() -> dict[str, Any]:
        body = dashboard.page(request, name, LOCALES[lang], filters)  # under the store's lock
        body = translate_body(body, translations(lang).gettext)
        return {
            "body": body,
            "tiles": fragment("page_parts.html", lang, part="tiles", body=body),
            "sections": fragment("page_parts.html", lang, part="sections", body=body),
            "script_hashes": chart_script_hashes(body),  # the page's CSP lets these run
        }

    parts = await kept(request, ("page html", name, lang, filters), compute)
    headings = {"overview": "Overview", "retention": "Retention", "segments": "Segments",
                "predictions": "Predictions"}  # fmt: skip
    heading = translations(lang).gettext(headings[name])
    return render(
        request, template, heading=heading, current=path, charts=True, filters=filters,
        **parts, **extra,
    )  # fmt: skip


@router.get("/")
async def overview(request: Request, filters: FiltersDep) -> Response:
    return await _page(request, "overview", "/", filters=filters)


@router.get("/retention")
async def retention(request: Request, filters: FiltersDep) -> Response:
    return await _page(request, "retention", "/retention", filters=filters)


@router.get("/segments")
async def segments(request: Request) -> Response:
    from tenure.analysis import segments as sizes

    fmt = _fmt(request)
    _ = translations(language(request)).gettext
    settings = request.app.state.settings
    table = await kept(
        request, ("segment sizes", "business"), lambda: sizes(kind="business", settings=settings)
    )
    lists = [
        {"segment": r.segment, "name": _named(r.segment, _), "customers": fmt.number(r.customers)}
        for r in table.itertuples()
    ]
    return await _page(request, "segments", "/segments", "segments.html", lists=lists)


@router.get("/predictions")
async def predictions(request: Request) -> Response:
    return await _page(request, "predictions", "/predictions")


@router.get("/customers")
def customers(
    request: Request,
    q: str | None = None,
    segment: str | None = None,
    sort: str = "revenue",
    page: int = 1,
) -> Response:
    fmt = _fmt(request)
    _ = translations(language(request)).gettext
    segment = segment if segment in SEGMENTS else None
    sort = sort if sort in SORTS else "revenue"
    page = max(page, 1)
    found = customer_list(
        request.app.state.settings, q=q or None, segment=segment, sort=sort,
        limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, table=dashboard.customer_table(request),
    )  # fmt: skip
    pages = max(1, -(-found["total"] // PAGE_SIZE))
    rows = [
        {
            **c,
            "orders": fmt.number(c["orders"]),
            "revenue": fmt.money(c["revenue"]),
            "recency": fmt.number(c["recency_days"]),
            "p_alive": fmt.percent(None if c["p_alive"] is None else 100 * c["p_alive"]),
            "clv": fmt.money(c["clv"]),
            "value_segment": _named(c["value_segment"], _),
            "segment": _named(c["segment"], _),
        }
        for c in found["customers"]
    ]
    params = {k: v for k, v in {"q": q, "segment": segment, "sort": sort}.items() if v}

    def link(n: int) -> str:
        return "/customers?" + urlencode({**params, "page": n})

    return render(
        request, "customers.html", current="/customers", page=found, rows=rows, q=q,
        segment=segment, sort=sort, segments=[(s, _(s)) for s in SEGMENTS],
        sorts=[(s, _(SORT_LABELS[s])) for s in SORTS],
        query=urlencode({k: v for k, v in params.items()}), page_number=page, pages=pages,
        prev_url=link(page - 1) if page > 1 else None,
        next_url=link(page + 1) if page < pages else None,
    )  # fmt: skip


@router.get("/customers/{customer_id}")
def customer(request: Request, customer_id: str) -> Response:
    fmt = _fmt(request)
    _ = translations(language(request)).gettext
    table = dashboard.customer_table(request)
    with request.app.state.store_lock.read():
        c = customer_page(request.app.state.settings, customer_id, table=table)
    p, s = c["profile"], c["summary"]
    pred, churn = c["predictions"] or {}, c["churn"] or {}
    profile = [
        (_("Email"), p.get("email") or "—"),
        (_("Country"), p.get("country") or "—"),
        (_("Customer since"), fmt.date(_day(p.get("created_at")))),
        (_("Acquired through"), p.get("acquisition_channel") or "—"),
        (_("Email consent"), _("yes") if p.get("consent_email") else _("no")),
    ]
    outlook = [
        (_("Orders"), fmt.number(s.get("orders"))),
        (_("Revenue"), fmt.money(s.get("monetary_total"))),
        (_("Last order"), fmt.date(_day(s.get("last_order_at")))),
        (_("Segment"), _named(s.get("value_segment"), _) or "—"),
        (_("RFM segment"), _named(s.get("segment"), _) or "—"),
        ("P(alive)", fmt.percent(None if pred.get("p_alive") is None else 100 * pred["p_alive"])),
        (_("Predicted CLV"), fmt.money(pred.get("clv"))),
        (_("Expected purchases"), fmt.number(pred.get("expected_purchases"), 2)),
        (_("Churn risk"), fmt.percent(
            None if churn.get("churn_probability") is None else 100 * churn["churn_probability"]
        )),
    ]  # fmt: skip
    from tenure.report.churn import describe_driver

    drivers = []
    k = 1
    while churn.get(f"driver_{k}"):
        drivers.append(describe_driver(
            churn[f"driver_{k}"], churn[f"driver_{k}_value"], churn[f"driver_{k}_contribution"], fmt,
        ).say(_))  # fmt: skip
        k += 1
    timeline = [{**e, "when": fmt.date(_day(e["happened_at"]))} for e in c["timeline"]]
    history = [
        {
            **h,
            "when": fmt.date(_day(h["date"])),
            "segment": _named(h.get("segment"), _),
            "rfm": _named(h.get("rfm"), _),
        }
        for h in dashboard.segment_history(request, customer_id)
    ]
    from tenure.web.routes.campaign_pages import customer_part
    from tenure.web.routes.loyalty_program import member_part

    return render(
        request, "customer.html", current="/customers", c=c, profile=profile, outlook=outlook,
        drivers=drivers, timeline=timeline, history=history,
        loyalty=member_part(request, customer_id, fmt),
        campaigns=customer_part(request, customer_id, fmt),
    )  # fmt: skip


@router.get("/data")
def data(request: Request) -> Response:
    from tenure.store.workspace import status as store_status

    fmt = _fmt(request)
    with request.app.state.store_lock.read():
        status = store_status(request.app.state.settings, request.app.state.ops)
    runs = [
        {**r, "started": fmt.datetime(r["started_at"]) if r.get("started_at") else "",
         **{k: fmt.number(r[k]) for k in ("read", "accepted", "rejected", "duplicates")},
         "quarantine": r.get("quarantine_path")}
        for r in request.app.state.ops.runs(50)
    ]  # fmt: skip
    tables = [(k, fmt.number(v)) for k, v in status["tables"].items()]
    return render(
        request, "data.html", current="/data", store_status=status, runs=runs, tables=tables
    )


def _day(value: Any):
    from datetime import date, datetime

    if value is None:
        return None
    if isinstance(value, str):
        return datetime.fromisoformat(value).date()
    return (
        value.date() if isinstance(value, datetime) else value if isinstance(value, date) else None
    )


@lru_cache(maxsize=1)
def plotly_js() -> str:
    import plotly.offline

    return plotly.offline.get_plotlyjs()


static = APIRouter(include_in_schema=False)


@static.get("/static/dashboard.js")
def dashboard_js() -> Response:
    """The pages' own script: charts drawn before the page's layout was
    final are fitted to it once everything has loaded."""
    return Response(
        'window.addEventListener("load", function () {'
        ' window.dispatchEvent(new Event("resize")); });\n',
        media_type="application/javascript", headers={"Cache-Control": "public, max-age=86400"},
    )  # fmt: skip


@static.get("/static/plotly.min.js")
def plotly(request: Request) -> Response:
    """The chart library, from the plotly package: no CDN, works offline."""
    return Response(
        plotly_js(), media_type="application/javascript",
        headers={"Cache-Control": "public, max-age=86400"},
    )  # fmt: skip
