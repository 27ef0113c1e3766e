"""Customers: ``GET /api/v1/customers`` (search, filter, sort, pages),
``GET /api/v1/customers.csv`` (every match, for a campaign) and
``GET /api/v1/customers/{id}`` (the customer's page)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from tenure.analysis.segments import RFM_SEGMENTS
from tenure.csvexport import write_csv
from tenure.profiles import LISTED, SORTS, customer_list, customer_page
from tenure.web.audit import export_detail, record
from tenure.web.cache import kept_json
from tenure.web.dashboard import customer_table, segment_history
from tenure.web.security import need

router = APIRouter(prefix="/api/v1", tags=["customers"], dependencies=[Depends(need("read"))])

Sort = Literal[tuple(SORTS)]  # type: ignore[valid-type]
Segment = Literal["new", "at risk", "high value", "active", "lapsed"]
# an RFM segment: checked before it forms a key of the caches (or of the
# table's kept masks), so distinct values cannot grow the server
Rfm = Literal[tuple(RFM_SEGMENTS)]  # type: ignore[valid-type]
Search = Annotated[
    str | None, Query(max_length=200, description="Part of an id, email or name, any case.")
]


@router.get("/customers")
async def customers(
    request: Request,
    q: Search = None,
    segment: Segment | None = None,
    rfm: Annotated[Rfm | None, Query(description="An RFM segment.")] = None,
    sort: Sort = "revenue",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """A page of customers with their summary, segment, P(alive), CLV and
    churn risk; ``total`` counts every match."""

    def compute() -> dict:
        return customer_list(
            request.app.state.settings, q=q, segment=segment, rfm=rfm, sort=sort,
            limit=limit, offset=offset, table=customer_table(request),
        )  # fmt: skip

    q = q.strip().lower() or None if q else None  # the search ignores case
    what = ("customers", q, segment, rfm, sort, limit, offset)
    detail = export_detail("json", q=q, segment=segment, rfm=rfm, limit=limit, offset=offset)
    return await kept_json(request, what, compute, audit=("export", "customers", detail))


@router.get("/customers.csv")
def customers_csv(
    request: Request,
    q: Search = None,
    segment: Segment | None = None,
    rfm: Annotated[Rfm | None, Query(description="An RFM segment.")] = None,
    sort: Sort = "revenue",
) -> Response:
    """Every matching customer as CSV (UTF-8, a header row), for a campaign
    tool; text that a spreadsheet would run as a formula is quoted
    (:mod:`tenure.csvexport`)."""
    import pandas as pd

    page = customer_list(
        request.app.state.settings, q=q, segment=segment, rfm=rfm, sort=sort,
        limit=10**9, offset=0, table=customer_table(request),
    )  # fmt: skip
    columns = [c if c != "monetary_total" else "revenue" for c in LISTED]
    text = write_csv(pd.DataFrame(page["customers"], columns=columns))
    name = "customers" + (f"-{segment.replace(' ', '-')}" if segment else "") + ".csv"
    detail = export_detail("csv", q=q, segment=segment, rfm=rfm, rows=len(page["customers"]))
    record(request, "export", target=name, detail=detail)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/customers/{customer_id}")
async def customer(request: Request, customer_id: str) -> Response:
    """One customer's profile, summary and segment, predictions, churn risk
    with its drivers, and timeline (newest first)."""

    def compute() -> dict:
        table = customer_table(request)
        with request.app.state.store_lock.read():
            page = customer_page(request.app.state.settings, customer_id, table=table)
        # outside the read above: segment_history takes the store's read lock itself
        return {**page, "segment_history": segment_history(request, customer_id)}

    return await kept_json(request, ("customer", customer_id), compute)
