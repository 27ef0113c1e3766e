"""One customer at a time: their profile, and what happened to them
(orders, subscriptions starting and ending, tickets, survey answers).

Ibis expressions like the rest of the engine, so a customer page reads the
same on DuckDB and on Spark. What crosses into Python is one customer's
rows (at most ``limit`` of each kind), or the contact columns of the
customer list.

>>> timeline(source, "C000042", limit=200)          # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from tenure.engine.source import Source

CONTACT = ("customer_id", "email", "name", "country")
# the columns of each kind a timeline entry is made of
_EVENTS = {
    "orders": ("placed_at", "order_id", "status", "amount", "currency", "amount_reporting"),
    "subscriptions": (
        "started_at", "ended_at", "subscription_id", "plan", "cancel_reason", "mrr_reporting",
    ),
    "support_tickets": ("opened_at", "ticket_id", "category", "resolved_at", "satisfaction"),
    "survey_responses": ("answered_at", "response_id", "kind", "score", "comment"),
}  # fmt: skip
_WHEN = {
    "orders": "placed_at",
    "subscriptions": "started_at",
    "support_tickets": "opened_at",
    "survey_responses": "answered_at",
}


def contacts(source: Source) -> pd.DataFrame:
    """Every customer's id, email, name and country (empty without customers)."""
    table = source.get("customers")
    if table is None:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in CONTACT})
    have = [c for c in CONTACT if c in table.columns]
    return table.select(*have).to_pandas().reindex(columns=list(CONTACT))


def profile(source: Source, customer_id: str) -> pd.DataFrame:
    """The customer's row of the customers table (no row when unknown)."""
    table = source.get("customers")
    if table is None:
        return pd.DataFrame()
    return table.filter(table.customer_id == customer_id).to_pandas()


def _rows(source: Source, kind: str, customer_id: str, limit: int) -> list[dict[str, Any]]:
    table = source.get(kind)
    if table is None:
        return []
    have = [c for c in _EVENTS[kind] if c in table.columns]
    mine = table.filter(table.customer_id == customer_id)
    # the newest first; a subscription's end can be newer than its start,
    # but the newest `limit` starts hold the newest `limit` ends too
    mine = mine.order_by(mine[_WHEN[kind]].desc()).limit(limit)
    return mine.select(*have).to_pandas().to_dict("records")


def _text(value: Any) -> str:
    return (
        ""
        if value is None or value is pd.NaT or (isinstance(value, float) and value != value)
        else str(value)
    )


def _number(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    try:
        return None if pd.isna(value) else float(value)
    except (TypeError, ValueError):
        return None


def timeline(source: Source, customer_id: str, *, limit: int = 200) -> pd.DataFrame:
    """What happened to the customer, newest first (ties by kind, then id):
    ``happened_at``, ``kind`` (order, subscription started, subscription
    ended, ticket, survey answer), ``id``, ``what`` (a line of text) and
    ``value`` (the order's amount in the reporting currency, the
    subscription's MRR, the ticket's satisfaction or the answer's score)."""
    events: list[dict[str, Any]] = []
    for r in _rows(source, "orders", customer_id, limit):
        amount = _number(r.get("amount"))
        shown = "" if amount is None else f"{amount:.2f}"
        events.append({
            "happened_at": r["placed_at"], "kind": "order", "id": r["order_id"],
            "what": f"{_text(r.get('status'))} · {shown} {_text(r.get('currency'))}",
            "value": _number(r.get("amount_reporting")),
        })  # fmt: skip
    for r in _rows(source, "subscriptions", customer_id, limit):
        events.append({
            "happened_at": r["started_at"], "kind": "subscription started",
            "id": r["subscription_id"], "what": _text(r.get("plan")),
            "value": _number(r.get("mrr_reporting")),
        })  # fmt: skip
        if r.get("ended_at") is not None and not pd.isna(r["ended_at"]):
            events.append({
                "happened_at": r["ended_at"], "kind": "subscription ended",
                "id": r["subscription_id"], "what": _text(r.get("cancel_reason")), "value": None,
            })  # fmt: skip
    for r in _rows(source, "support_tickets", customer_id, limit):
        state = "open" if r.get("resolved_at") is None or pd.isna(r["resolved_at"]) else "resolved"
        events.append({
            "happened_at": r["opened_at"], "kind": "ticket", "id": r["ticket_id"],
            "what": f"{_text(r.get('category'))} · {state}",
            "value": _number(r.get("satisfaction")),
        })  # fmt: skip
    for r in _rows(source, "survey_responses", customer_id, limit):
        score = _number(r.get("score"))
        comment = _text(r.get("comment"))
        events.append({
            "happened_at": r["answered_at"], "kind": "survey answer", "id": r["response_id"],
            "what": f"{_text(r.get('kind'))} {'' if score is None else f'{score:g}'}"
            + (f" · {comment}" if comment else ""),
            "value": score,
        })  # fmt: skip
    frame = pd.DataFrame(events, columns=["happened_at", "kind", "id", "what", "value"])
    if frame.empty:
        return frame
    frame["happened_at"] = pd.to_datetime(frame["happened_at"])
    frame = frame.sort_values(["happened_at", "kind", "id"], ascending=[False, True, True])
    return frame.head(limit).reset_index(drop=True)
