"""Customers one at a time: the searchable list and a customer's page
(profile, what they bought and when, their segment, predictions and churn
risk), for the dashboard, the REST API and the Python API.

The profile and the timeline come from the engine
(:mod:`tenure.engine.customers`, on DuckDB or Spark as the settings say),
the kept predictions and churn scores from the store's scored tables.

>>> customer_list(settings, q="ann", segment="at risk", limit=20)  # doctest: +SKIP
>>> customer_page(settings, "C000042")                             # doctest: +SKIP
"""

from __future__ import annotations

import json
import weakref
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from tenure.config import Settings
from tenure.errors import InputError, NotFoundError
from tenure.jsondoc import records

SORTS = {
    "revenue": ("monetary_total", False),
    "orders": ("orders", False),
    "recency": ("recency_days", True),
    "last_order": ("last_order_at", False),
    "clv": ("clv", False),
    "p_alive": ("p_alive", True),
    "churn": ("churn_probability", False),
    "customer_id": ("customer_id", True),
}
LISTED = [
    "customer_id", "email", "name", "country", "orders", "monetary_total", "first_order_at",
    "last_order_at", "recency_days", "active", "segment", "value_segment", "is_new",
    "is_at_risk", "is_high_value", "p_alive", "expected_purchases", "clv", "churn_probability",
]  # fmt: skip
TIMELINE_LIMIT = 200


def _source(settings: Settings):
    from tenure.engine.source import open_source

    return open_source(settings, engine=settings.engine)


def customer_table(settings: Settings) -> pd.DataFrame:
    """Every customer with their summary, business and RFM segment, and the
    stored predictions and churn scores when there are any."""
    from tenure.analysis import segments
    from tenure.engine.customers import contacts
    from tenure.predictions.store import kept_scores

    per = segments(kind="business", per_customer=True, settings=settings)
    definitions = per.attrs.get("definitions", {})
    with _source(settings) as source:
        people = contacts(source).rename(columns={"country": "profile_country"})
    kept = kept_scores(settings, "customer_predictions", "churn_predictions")
    scores, churn = kept["customer_predictions"], kept["churn_predictions"]
    table = people.merge(per, on="customer_id", how="left")
    table["country"] = table["country"].fillna(table.pop("profile_country"))
    if scores is not None:
        table = table.merge(
            scores[["customer_id", "p_alive", "expected_purchases", "clv"]], on="customer_id",
            how="left",
        )  # fmt: skip
    if churn is not None and "churn_probability" in churn:
        table = table.merge(
            churn[["customer_id", "churn_probability"]], on="customer_id", how="left"
        )
    for column in LISTED:
        if column not in table:
            table[column] = None
    for column in ("orders", "recency_days", "purchase_days", "x", "tenure_days"):
        if column in table:  # whole numbers, empty for customers without an order
            table[column] = table[column].astype("Int64")
    table.attrs["definitions"] = definitions
    return table


_DERIVED: dict[int, tuple[Any, dict[Any, Any]]] = {}


def _derived(table: pd.DataFrame, key: Any, build: Any) -> Any:
    """``build()`` made once per frame and kept beside it (not in its
    ``attrs``, which pandas copies into every frame derived from it) while
    the frame lives: hash indexes, sort orders, lower-case search text."""
    entry = _DERIVED.get(id(table))
    if entry is None or entry[0]() is not table:
        ref = weakref.ref(table, lambda _r, k=id(table): _DERIVED.pop(k, None))
        entry = (ref, {})
        _DERIVED[id(table)] = entry
    made = entry[1]
    if key not in made:
        made[key] = build()
    return made[key]


def rows_of(table: pd.DataFrame, customer_id: str) -> pd.DataFrame:
    """The rows of ``customer_id``, through a hash index of the frame's
    ids, so a lookup in a million customers costs microseconds."""
    index = _derived(table, "by_id", lambda: pd.Index(table["customer_id"]))
    try:
        where = index.get_loc(customer_id)
    except KeyError:
        return table.iloc[0:0]
    return table.iloc[[where]] if isinstance(where, int | np.integer) else table.iloc[where]


def _order(table: pd.DataFrame, sort: str) -> np.ndarray:
    """The row positions in ``sort`` order (ties by id, missing values last)."""
    column, ascending = SORTS[sort]
    keys = list(dict.fromkeys([column, "customer_id"]))  # ties by id
    ordered = (
        table[keys]
        .reset_index(drop=True)
        .sort_values(keys, ascending=[ascending, True][: len(keys)], na_position="last")
    )
    return ordered.index.to_numpy()


def _search_text(table: pd.DataFrame) -> pd.Series:
    """Id, email and name in lower case, one string per customer."""
    return (
        table["customer_id"].fillna("") + "\x1f" + table["email"].fillna("") + "\x1f"
        + table["name"].fillna("")
    ).str.lower().reset_index(drop=True)  # fmt: skip


def customer_list(
    settings: Settings,
    *,
    q: str | None = None,
    segment: str | None = None,
    rfm: str | None = None,
    sort: str = "revenue",
    limit: int = 50,
    offset: int = 0,
    table: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """A page of customers: ``q`` finds an id, email or name (any part, any
    case); ``segment`` is a business segment (new, at risk, high value,
    active, lapsed), ``rfm`` an RFM one; sorted by ``sort``.

    The sort orders and the search text are made once per table, so a page
    of a kept table costs a filter over precomputed arrays, and a search
    one pass over the text."""
    from tenure.segmentation.business import LABELS
    from tenure.segmentation.rfm import SEGMENTS

    if sort not in SORTS:
        raise InputError(f"cannot sort by {sort!r}.", hint=f"Use one of: {', '.join(SORTS)}.")
    # each value picks a mask kept beside the table: only known ones, or
    # distinct unknown values would add masks without end
    for name, value, known in (("segment", segment, LABELS), ("rfm", rfm, SEGMENTS)):
        if value is not None and value not in known:
            raise InputError(
                f"{value!r} is not a{'n RFM' if name == 'rfm' else ''} segment.",
                hint=f"Use one of: {', '.join(known)}.", column=name, value=value,
            )  # fmt: skip
    t = customer_table(settings) if table is None else table

    def filtered() -> np.ndarray:
        positions = _derived(t, ("order", sort), lambda: _order(t, sort))
        keep = None
        for column, value in (("value_segment", segment), ("segment", rfm)):
            if value:
                match = _derived(
                    t, (column, value), lambda c=column, v=value: (t[c] == v).to_numpy()
                )
                keep = match if keep is None else keep & match
        return positions if keep is None else positions[keep[positions]]

    # a segment's list in one order is kept too: its next pages are slices
    positions = _derived(t, ("list", sort, segment, rfm), filtered)
    if q:
        needle = q.strip().lower()
        text = _derived(t, "search", lambda: _search_text(t))
        positions = positions[text.str.contains(needle, regex=False).to_numpy()[positions]]
    listed = _derived(t, "listed", lambda: t[LISTED].reset_index(drop=True))
    page = listed.iloc[positions[offset : offset + limit]]
    return {
        "total": int(len(positions)),
        "limit": limit,
        "offset": offset,
        "sort": sort,
        "definitions": t.attrs.get("definitions", {}),
        "customers": records(page.rename(columns={"monetary_total": "revenue"})),
    }


def customer_page(
    settings: Settings, customer_id: str, *, table: pd.DataFrame | None = None
) -> dict[str, Any]:
    """Everything about one customer: profile, summary and segment,
    predictions, churn risk with its drivers, and a timeline of orders,
    subscriptions, tickets and survey answers (newest first)."""
    from tenure.engine import customers
    from tenure.predictions.store import kept_rows

    with _source(settings) as source:
        profile = customers.profile(source, customer_id)
        if profile.empty:
            raise NotFoundError(
                f"there is no customer {customer_id!r}.",
                hint="Search for them: GET /api/v1/customers?q=PART_OF_ID_EMAIL_OR_NAME",
                value=customer_id,
            )
        timeline = records(customers.timeline(source, customer_id, limit=TIMELINE_LIMIT))
    kept = kept_rows(settings, customer_id, "customer_predictions", "churn_predictions")
    prediction, churn = (
        records(kept[t])[0] if kept[t] is not None and len(kept[t]) else None
        for t in ("customer_predictions", "churn_predictions")
    )
    row = {k: v for k, v in records(profile)[0].items() if not k.startswith("_")}
    if isinstance(row.get("attributes"), str):
        row["attributes"] = json.loads(row["attributes"])
    table = customer_table(settings) if table is None else table
    mine = rows_of(table, customer_id)
    summary = records(mine.drop(columns=["email", "name"]))[0] if len(mine) else {}
    return {
        "customer_id": customer_id,
        "profile": row,
        "summary": summary,
        "predictions": prediction,
        "churn": churn,
        "timeline": timeline,
        "definitions": table.attrs.get("definitions", {}),
    }


HISTORY_MONTHS = 6


def history_dates(as_of: date, months: int = HISTORY_MONTHS) -> list[date]:
    """The ends of the ``months`` complete months before ``as_of``, oldest first."""
    from tenure.engine import periods

    last = periods.last_complete(as_of, "month")
    return [periods.end_of(i, "month") for i in range(last - months + 1, last + 1)]


def segments_at(settings: Settings, day: date) -> pd.DataFrame:
    """Every customer's RFM and business segment as of ``day``."""
    from tenure.analysis import segments

    table = segments(kind="business", per_customer=True, as_of=day, settings=settings)
    return table[["customer_id", "segment", "value_segment"]]


def segment_history(
    customer_id: str, snapshots: list[tuple[date, pd.DataFrame]]
) -> list[dict[str, Any]]:
    """The customer's segments at each snapshot's date (None before their
    first purchase), oldest first."""
    out = []
    for day, table in snapshots:
        mine = rows_of(table, customer_id)
        row = mine.iloc[0] if len(mine) else None
        out.append({
            "date": day.isoformat(),
            "segment": None if row is None else _text(row["value_segment"]),
            "rfm": None if row is None else _text(row["segment"]),
        })  # fmt: skip
    return out


def _text(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and value != value) else str(value)
