"""Per-customer features and churn labels for the churn classifier.

:func:`churn_features` describes every customer as of ``ctx.as_of`` and
reads nothing after the end of that day: orders, subscriptions, tickets,
survey answers and events are all cut at the as-of day (local time), and a
subscription or ticket that ends after it counts as still open.
:func:`churn_labels` says which of the customers active at the as-of day
churned in the ``horizon_days`` after it; it is the only function here that
reads past the as-of day.

Feature columns (all cast explicitly, so every engine gives the same types).
"Last n days" means the n local days up to and including the as-of day.
Each group of columns is there when the source has its table.

Always: ``customer_id`` and ``tenure_days``, the days from the first
purchase day, or the first subscription start when earlier, to the as-of day.

Purchases (orders):

=========================  ===================================================
recency_days               days from the last purchase day to the as-of day
                           (null without a purchase)
frequency                  purchase days (distinct local days with a purchase)
orders                     purchases (orders not refunded or cancelled)
monetary_total             revenue of the purchases, reporting currency
monetary_avg               monetary_total / orders (null without a purchase)
mean_days_between          (last - first purchase day) / (frequency - 1);
                           null below two purchase days
purchase_days_30/90/180    purchase days in the last 30, 90 and 180 days
revenue_30/90/180          revenue in the last 30, 90 and 180 days
purchase_days_trend        (a - b) / (a + b) with a the purchase days in the
                           last 90 days and b in the 90 days before; in
                           [-1, 1], +1 for a customer new to buying, 0 when
                           both are 0
revenue_trend              the same for revenue
refunded_orders            orders refunded in full or in part
cancelled_orders           cancelled orders
=========================  ===================================================

Subscriptions: ``active_subscriptions`` at the end of the as-of day, their
``mrr``, ``subscribed_days`` (days of subscription up to the as-of day,
summed over subscriptions) and ``subscription_cancellations``
(subscriptions ended by the as-of day).

Support tickets: ``tickets_90`` opened in the last 90 days, ``open_tickets``
not resolved by the end of the as-of day, ``mean_resolution_hours`` over
the tickets resolved by then (null if none).

Survey answers: ``last_nps`` (the latest NPS score) and ``mean_csat`` (mean
CSAT score, 1-5); null without an answer.

Events: ``events_30`` in the last 30 days and ``events_prev_30`` in the 30
days before.

The customers are those with a purchase up to the as-of day and those with
a subscription started by then.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from tenure.engine import activity, localtime
from tenure.engine.context import PURCHASE_STATUSES, Context
from tenure.errors import ConfigError

WINDOWS = (30, 90, 180)

PURCHASE_FEATURES = (
    "recency_days",
    "frequency",
    "orders",
    "monetary_total",
    "monetary_avg",
    "mean_days_between",
    *(f"purchase_days_{n}" for n in WINDOWS),
    *(f"revenue_{n}" for n in WINDOWS),
    "purchase_days_trend",
    "revenue_trend",
    "refunded_orders",
    "cancelled_orders",
)
SUBSCRIPTION_FEATURES = (
    "active_subscriptions",
    "mrr",
    "subscribed_days",
    "subscription_cancellations",
)
TICKET_FEATURES = ("tickets_90", "open_tickets", "mean_resolution_hours")
SURVEY_FEATURES = ("last_nps", "mean_csat")
EVENT_FEATURES = ("events_30", "events_prev_30")


def churn_features(ctx: Context) -> ir.Table:
    """One row per customer, as of ``ctx.as_of``; see the module docstring."""
    a = ctx.as_of_day
    has_orders = ctx.source.get("orders") is not None
    subs = _subscriptions(ctx) if ctx.source.get("subscriptions") is not None else None

    parts = []
    if has_orders:
        parts.append(ctx.purchasers.select("customer_id"))
    if subs is not None:
        parts.append(subs.select("customer_id"))
    t = parts[0] if len(parts) == 1 else parts[0].union(parts[1], distinct=True)
    groups: list[tuple[str, ...]] = []
    for table, names in (
        (_purchases(ctx) if has_orders else None, PURCHASE_FEATURES),
        (_returns(ctx) if has_orders else None, ()),
        (subs, SUBSCRIPTION_FEATURES),
        (_tickets(ctx), TICKET_FEATURES),
        (_surveys(ctx), SURVEY_FEATURES),
        (_events(ctx), EVENT_FEATURES),
    ):
        if table is not None:
            t = t.left_join(table, "customer_id")
            groups.append(names)

    def count(col: ir.IntegerValue) -> ir.IntegerValue:
        return col.fill_null(0).cast("int64")

    def money(col: ir.NumericValue) -> ir.FloatingValue:
        return col.cast("float64").fill_null(0.0)

    # first seen: the first purchase day or subscription start, whichever is earlier
    if has_orders and subs is not None:
        first = ibis.least(
            t.first_day.fill_null(t.first_start), t.first_start.fill_null(t.first_day)
        )
    else:
        first = t.first_day if has_orders else t.first_start
    cols: dict[str, ir.Value] = {
        "customer_id": t.customer_id.cast("string"),
        "tenure_days": (a - first).cast("int64"),
    }
    if has_orders:
        cols["recency_days"] = (a - t.last_day).cast("int64")
        cols["frequency"] = count(t.purchase_days)
        cols["orders"] = count(t.orders)
        cols["monetary_total"] = money(t.total)
        # to float before dividing: Spark divides integers as decimals and rounds
        cols["monetary_avg"] = t.total.cast("float64") / t.orders.cast("float64")
        cols["mean_days_between"] = ibis.ifelse(
            t.purchase_days > 1,
            (t.last_day - t.first_day).cast("float64") / (t.purchase_days - 1).cast("float64"),
            ibis.null("float64"),
        )
        for n in WINDOWS:
            cols[f"purchase_days_{n}"] = count(t[f"days_{n}"])
        for n in WINDOWS:
            cols[f"revenue_{n}"] = money(t[f"revenue_{n}"])
        cols["purchase_days_trend"] = _trend(count(t.days_90), count(t.days_prev_90))
        cols["revenue_trend"] = _trend(money(t.revenue_90), money(t.revenue_prev_90))
        cols["refunded_orders"] = count(t.refunded_orders)
        cols["cancelled_orders"] = count(t.cancelled_orders)
    if subs is not None:
        cols["active_subscriptions"] = count(t.active_subscriptions)
        cols["mrr"] = money(t.mrr)
        cols["subscribed_days"] = count(t.subscribed_days)
        cols["subscription_cancellations"] = count(t.subscription_cancellations)
    if TICKET_FEATURES in groups:
        cols["tickets_90"] = count(t.tickets_90)
        cols["open_tickets"] = count(t.open_tickets)
        cols["mean_resolution_hours"] = t.mean_resolution_hours.cast("float64")
    if SURVEY_FEATURES in groups:
        cols["last_nps"] = t.last_nps.cast("float64")
        cols["mean_csat"] = t.mean_csat.cast("float64")
    if EVENT_FEATURES in groups:
        cols["events_30"] = count(t.events_30)
        cols["events_prev_30"] = count(t.events_prev_30)
    return t.select(**cols)


def active_customers(ctx: Context) -> ir.Table:
    """(customer_id) of the customers active at the end of the as-of day,
    under the context's definition (see :mod:`tenure.engine.activity`)."""
    parts = []
    if ctx.active_by in ("purchase", "either"):
        p = ctx.purchasers
        window = int(ctx.defs.activity_window)
        parts.append(p.filter(p.last_day >= ctx.as_of_day - (window - 1)).select("customer_id"))
    if ctx.active_by in ("subscription", "either"):
        parts.append(activity.active_subscribers(ctx))
    if len(parts) == 1:
        return parts[0]
    return parts[0].union(parts[1], distinct=True)


def churn_labels(ctx: Context, horizon_days: int) -> ir.Table:
    """(customer_id, churned) for the customers active at ``ctx.as_of``.

    A customer churned when, over the ``horizon_days`` after the as-of day:

    * ``purchase`` definition: they made no purchase in (as_of, as_of + horizon];
    * ``subscription``: they have no active subscription at the end of
      as_of + horizon;
    * ``either``: neither of the two (no purchase and no subscription).

    Labels look past the as-of day on purpose, so they read the unrestricted
    orders (``ctx.all_orders``) and subscriptions, never ``ctx.orders``. They
    are only meaningful when the data run to as_of + horizon at least.
    """
    if isinstance(horizon_days, bool) or not isinstance(horizon_days, int) or horizon_days < 1:
        raise ConfigError(
            f"the churn horizon is {horizon_days!r} days.",
            hint="Use a whole number of days, 1 or more (90 is common).",
        )
    a = ctx.as_of_day
    end = a + horizon_days
    kept = []
    if ctx.active_by in ("purchase", "either"):
        # deliberately all orders: the label is what happened after the as-of day
        o = ctx.all_orders
        after = o.filter(o.status.isin(PURCHASE_STATUSES) & (o.day > a) & (o.day <= end))
        kept.append(after.select("customer_id").distinct())
    if ctx.active_by in ("subscription", "either"):
        # subscription_spans is not cut at the as-of day either
        kept.append(activity.active_subscribers(ctx, end))
    stayed = kept[0] if len(kept) == 1 else kept[0].union(kept[1], distinct=True)
    stayed = stayed.mutate(stayed=ibis.literal(True))
    t = active_customers(ctx).left_join(stayed, "customer_id")
    return t.select(
        customer_id=t.customer_id.cast("string"),
        churned=t.stayed.isnull().cast("boolean"),
    )


# -- the groups ----------------------------------------------------------------


def _trend(recent: ir.NumericValue, before: ir.NumericValue) -> ir.FloatingValue:
    total = (recent + before).cast("float64")
    return ibis.ifelse(
        total > 0, (recent - before).cast("float64") / total, ibis.literal(0.0)
    ).cast("float64")


def _purchases(ctx: Context) -> ir.Table:
    d = ctx.purchase_days
    a = ctx.as_of_day
    zero = ibis.literal(0).cast(d.amount.type())

    def within(last: int, skip: int = 0) -> ir.BooleanValue:
        return (d.day > a - skip - last) & (d.day <= a - skip)

    aggs: dict[str, ir.Value] = {
        "first_day": d.day.min(),
        "last_day": d.day.max(),
        "purchase_days": d.count(),
        "orders": d.orders.sum(),
        "total": d.amount.sum(),
    }
    for n in WINDOWS:
        aggs[f"days_{n}"] = within(n).cast("int64").sum()
        aggs[f"revenue_{n}"] = ibis.ifelse(within(n), d.amount, zero).sum()
    aggs["days_prev_90"] = within(90, 90).cast("int64").sum()
    aggs["revenue_prev_90"] = ibis.ifelse(within(90, 90), d.amount, zero).sum()
    return d.group_by("customer_id").agg(**aggs)


def _returns(ctx: Context) -> ir.Table:
    o = ctx.orders  # every status, up to the as-of day
    return o.group_by("customer_id").agg(
        refunded_orders=o.status.isin(["refunded", "partially_refunded"]).cast("int64").sum(),
        cancelled_orders=(o.status == "cancelled").cast("int64").sum(),
    )


def _subscriptions(ctx: Context) -> ir.Table:
    a = ctx.as_of_day
    s = ctx.subscription_spans
    s = s.filter(s.start_day <= a)
    active = s.end_day >= a  # an end after the as-of day is not known yet
    days = ibis.greatest(ibis.least(s.end_day, a) - s.start_day + 1, 0)
    return s.group_by("customer_id").agg(
        first_start=s.start_day.min(),
        active_subscriptions=active.cast("int64").sum(),
        mrr=ibis.ifelse(active, s.mrr.cast("float64").fill_null(0.0), 0.0).sum(),
        subscribed_days=days.cast("int64").sum(),
        subscription_cancellations=(~active).cast("int64").sum(),
    )


def _day(ctx: Context, ts: ir.TimestampValue) -> ir.IntegerValue:
    return localtime.day_number(ctx.local(ts))


def _tickets(ctx: Context) -> ir.Table | None:
    t = ctx.source.get("support_tickets")
    if t is None:
        return None
    a = ctx.as_of_day
    t = t.mutate(opened_day=_day(ctx, t.opened_at), resolved_day=_day(ctx, t.resolved_at))
    t = t.filter(t.opened_day <= a)
    resolved = t.resolved_day.notnull() & (t.resolved_day <= a)
    hours = (t.resolved_at.epoch_seconds() - t.opened_at.epoch_seconds()).cast("float64") / 3600.0
    return t.group_by("customer_id").agg(
        tickets_90=(t.opened_day > a - 90).cast("int64").sum(),
        open_tickets=(~resolved).cast("int64").sum(),
        mean_resolution_hours=ibis.ifelse(resolved, hours, ibis.null("float64")).mean(),
    )


def _surveys(ctx: Context) -> ir.Table | None:
    s = ctx.source.get("survey_responses")
    if s is None:
        return None
    s = s.mutate(answer_day=_day(ctx, s.answered_at), score=s.score.cast("float64"))
    s = s.filter(s.answer_day <= ctx.as_of_day)
    nps = s.filter(s.kind == "nps")
    # the latest answer; among answers at the same instant, the highest score,
    # so that every engine picks the same one
    latest = ibis.window(
        group_by="customer_id", order_by=[ibis.desc("answered_at"), ibis.desc("score")]
    )
    nps = nps.mutate(rn=ibis.row_number().over(latest))
    nps = nps.filter(nps.rn == 0).select("customer_id", last_nps=nps.score)
    csat = s.filter(s.kind == "csat")
    csat = csat.group_by("customer_id").agg(mean_csat=csat.score.mean())
    ids = s.select("customer_id").distinct()
    t = ids.left_join(nps, "customer_id").left_join(csat, "customer_id")
    return t.select(ids.customer_id, "last_nps", "mean_csat")


def _events(ctx: Context) -> ir.Table | None:
    e = ctx.source.get("events")
    if e is None:
        return None
    a = ctx.as_of_day
    e = e.mutate(event_day=_day(ctx, e.occurred_at))
    e = e.filter((e.event_day <= a) & (e.event_day > a - 60))
    return e.group_by("customer_id").agg(
        events_30=(e.event_day > a - 30).cast("int64").sum(),
        events_prev_30=(e.event_day <= a - 30).cast("int64").sum(),
    )
