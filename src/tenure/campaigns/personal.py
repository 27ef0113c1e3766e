"""What a template knows about its customer, read from what tenure keeps.

:func:`context_for` gathers one customer's variables:

=====================  =====================================================
``customer_id``        the customer's id
``name``, ``first_name``  from the profile (``first_name``: its first word)
``email``, ``country``  from the profile
``locale``             the profile's locale (BCP 47, e.g. ``de-AT``), or None
``currency``           the store's reporting currency (for ``| money``)
``points``             ``{"balance", "available", "tier"}`` from the loyalty
                       ledger, or None for a customer who is not a member
``next_order``         ``{"date", "days"}``: the expected next order kept by
                       ``tenure predict``, and the days from ``as_of`` to it;
                       None before a prediction or for a customer it has none
``p_alive``, ``clv``   kept by ``tenure predict``, or None
``recommendations``    the list the caller passes (products), else empty
=====================  =====================================================

Every value is read as it is kept: the loyalty balance from the ledger, the
predictions from the store's scored table; nothing is computed again here,
so a message says what the dashboard says.

:func:`preview` renders a template for a customer without sending it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from tenure.campaigns.templates import Rendered, Template
from tenure.config import Settings
from tenure.errors import NotFoundError
from tenure.store.ops import OpsStore


def _value(row: pd.Series, column: str) -> Any:
    if column not in row.index:
        return None
    value = row[column]
    return None if value is None or pd.isna(value) else value


def _points(ops: OpsStore, settings: Settings, customer_id: str,
            as_of: datetime) -> dict[str, Any] | None:  # fmt: skip
    from tenure.loyalty import Policy, balance

    try:
        doc = balance(ops, customer_id, at=as_of, policy=Policy.from_settings(settings.loyalty))
    except NotFoundError:  # not a member
        return None
    return {"balance": doc["balance"], "available": doc["available"], "tier": doc["tier"]}


def _prediction(settings: Settings, customer_id: str, as_of: datetime) -> dict[str, Any]:
    from tenure.predictions.store import kept_rows

    kept = kept_rows(settings, customer_id, "customer_predictions")["customer_predictions"]
    if kept is None or kept.empty:
        return {"next_order": None, "p_alive": None, "clv": None}
    row = kept.iloc[0]
    nxt = _value(row, "next_purchase_date")
    next_order = None
    if nxt is not None:
        day = pd.Timestamp(nxt).date()
        next_order = {"date": day, "days": (day - as_of.date()).days}
    p_alive, clv = _value(row, "p_alive"), _value(row, "clv")
    return {"next_order": next_order, "p_alive": None if p_alive is None else float(p_alive),
            "clv": None if clv is None else float(clv)}  # fmt: skip


def context_for(
    settings: Settings,
    ops: OpsStore,
    customer_id: str,
    *,
    recommendations: Sequence[Any] = (),
    as_of: datetime | None = None,
) -> dict[str, Any]:
    """The variables a template has for ``customer_id`` (see the module's docstring)."""
    from tenure.engine import customers
    from tenure.engine.source import open_source

    as_of = as_of or datetime.now(UTC)
    with open_source(settings, engine=settings.engine) as source:
        profile = customers.profile(source, customer_id)
        currency = source.currency
    if profile.empty:
        raise NotFoundError(
            f"there is no customer {customer_id!r}.",
            hint="Check the id; a customer's profile comes from `tenure ingest customers`.",
            value=customer_id,
        )
    row = profile.iloc[0]
    name = _value(row, "name")
    return {
        "customer_id": customer_id,
        "name": name,
        "first_name": str(name).split()[0] if name else None,
        "email": _value(row, "email"),
        "country": _value(row, "country"),
        "locale": _value(row, "locale"),
        "currency": currency,
        "points": _points(ops, settings, customer_id, as_of),
        **_prediction(settings, customer_id, as_of),
        "recommendations": list(recommendations),
        "today": as_of.date(),
    }


def preview(
    settings: Settings,
    ops: OpsStore,
    template: Template,
    customer_id: str,
    *,
    locale: str | None = None,
    recommendations: Sequence[Any] = (),
    as_of: datetime | None = None,
) -> tuple[Rendered, dict[str, Any]]:
    """The message ``template`` makes for the customer, in their locale (or
    ``locale``), and the variables it was made from; nothing is sent."""
    context = context_for(settings, ops, customer_id, recommendations=recommendations,
                          as_of=as_of)  # fmt: skip
    return template.render(context, locale or context["locale"]), context
