"""The per-customer summary: one row per customer, from which RFM, the
buy-till-you-die models and the segments read.

Columns (all cast explicitly, so every engine gives the same types):

=====================  ========================================================
customer_id            the customer
first_order_at         first purchase (UTC)
last_order_at          last purchase (UTC)
orders                 purchases (orders not refunded or cancelled)
purchase_days          distinct local days with a purchase
x                      repeat purchase days: purchase_days - 1
t_x                    time from the first to the last purchase day
T                      time from the first purchase day to the as-of day
recency_days           days from the last purchase day to the as-of day
monetary_total         revenue of the purchases, reporting currency
monetary_avg           monetary_total / orders
monetary_avg_repeat    average value of the repeat purchase days: revenue after the
                       first purchase day / x (null when x = 0), as lifetimes'
                       monetary_value and the Gamma-Gamma model use it
tenure_days            days from the first purchase day to the as-of day
active                 active at the as-of day, under the context's definition
refunded_orders        orders refunded in full or in part
refunded_amount        amount of the orders refunded in full
cancelled_orders       cancelled orders
cohort                 acquisition period: 2024-03, 2024-Q1 or 2024
first_category         largest category by value in the first purchase day's orders
country, acquisition_channel, referred_by   from the customers table
=====================  ========================================================

t_x and T are in days, or in weeks (days / 7) with ``time_unit="week"``,
the convention of lifetimes' ``summary_data_from_transaction_data``.
Customers with no purchase have ``orders = 0`` and nulls for the rest.

When the context is the store's default one (as of the data's end or later,
in the time zone the store's summary was built in, no filter), the columns
come from the persisted summary (:mod:`tenure.store.summary`,
``Context.stored_activity``) instead of grouping the order log; both give
the same numbers.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from tenure.engine import periods
from tenure.engine.context import Context
from tenure.errors import ConfigError
from tenure.models import TIME_UNITS

CUSTOMER_COLUMNS = ("country", "acquisition_channel", "referred_by")


def period_label(d: ir.DateValue, period: str) -> ir.StringValue:
    year = d.year().cast("string")
    if period == "month":
        return year + "-" + d.month().cast("string").lpad(2, "0")
    if period == "quarter":
        return year + "-Q" + ((d.month() - 1) // 3 + 1).cast("string")
    return year


def first_categories(ctx: Context) -> ir.Table | None:
    """(customer_id, first_category): the category with the largest value
    among the orders of the customer's first purchase day (ties: alphabetical)."""
    items = ctx.source.get("order_items")
    if items is None or "category" not in items.columns:
        return None
    stored = ctx.stored_activity
    if stored is not None:
        stored = stored.filter(stored.first_category.notnull())
        return stored.select("customer_id", first_category=stored.first_category)
    c = ctx.purchasers.select("customer_id", "first_day")
    p = ctx.purchases
    firsts = p.join(c, (p.customer_id == c.customer_id) & (p.day == c.first_day))
    firsts = firsts.select("order_id", customer=firsts.customer_id)
    it = items.filter(items.category.notnull())
    it = it.mutate(
        value=it.unit_price.fill_null(0).cast("float64") * it.quantity.fill_null(1).cast("float64")
    )
    it = it.join(firsts, "order_id")
    per = it.group_by(["customer", "category"]).agg(value=it.value.sum())
    order = ibis.window(group_by="customer", order_by=[ibis.desc("value"), "category"])
    per = per.mutate(rn=ibis.row_number().over(order))
    return per.filter(per.rn == 0).select(customer_id=per.customer, first_category=per.category)


def customer_summary(
    ctx: Context, *, time_unit: str = "day", cohort_period: str = "month"
) -> ir.Table:
    """One row per customer; see the module docstring for the columns."""
    if time_unit not in TIME_UNITS:
        raise ConfigError(f"the time unit {time_unit!r} is not known.", hint="Use day or week.")
    periods.check(cohort_period)
    unit = TIME_UNITS[time_unit]
    customers = ctx.source.get("customers")
    extra = [c for c in CUSTOMER_COLUMNS if customers is not None and c in customers.columns]
    stored = ctx.stored_activity
    t = (
        _from_stored(ctx, customers, extra)
        if stored is not None
        else _from_log(ctx, customers, extra)
    )
    if ctx.active_by == "purchase":
        active = _active_by_purchase(ctx, t)
    else:
        from tenure.engine import activity

        subscribed = activity.active_subscribers(ctx).mutate(subscribed=ibis.literal(True))
        t = t.left_join(subscribed, "customer_id")
        active = t.subscribed.fill_null(False)
        if ctx.active_by == "either":
            active = active | _active_by_purchase(ctx, t)
    cats = first_categories(ctx)
    if cats is not None and stored is None:
        t = t.left_join(cats, "customer_id")
    cols = {
        **_purchaser_columns(ctx, t, unit, active),
        "refunded_orders": t.refunded_orders.fill_null(0).cast("int64"),
        "refunded_amount": t.refunded_amount.fill_null(0).cast("float64"),
        "cancelled_orders": t.cancelled_orders.fill_null(0).cast("int64"),
        "cohort": period_label(t.first_date, cohort_period),
        "first_category": (
            t.first_category.cast("string") if cats is not None else ibis.null("string")
        ),
    }
    for c in CUSTOMER_COLUMNS:
        cols[c] = t[c].cast("string") if c in extra else ibis.null("string")
    return t.select(**cols)


def _active_by_purchase(ctx: Context, t: ir.Table) -> ir.BooleanValue:
    """Active by purchase: the last purchase day is within the window."""
    window = int(ctx.defs.activity_window)
    return (t.last_day >= ctx.as_of_day - (window - 1)).fill_null(False)


def _purchaser_columns(
    ctx: Context, t: ir.Table, unit: float, active: ir.BooleanValue
) -> dict[str, ir.Value]:
    """The summary's columns from customer_id to active (see the module
    docstring), from a table with the columns of ``Context.purchasers``."""
    as_of = ctx.as_of_day
    return {
        "customer_id": t.customer_id.cast("string"),
        "first_order_at": t.first_order_at.cast("timestamp"),
        "last_order_at": t.last_order_at.cast("timestamp"),
        "orders": t.orders.fill_null(0).cast("int64"),
        "purchase_days": t.purchase_days.fill_null(0).cast("int64"),
        **purchase_columns(t, as_of, unit),
        "tenure_days": (as_of - t.first_day).cast("int64"),
        "active": active.cast("boolean"),
    }


# the columns of the customer summary that purchases alone decide
PURCHASER_COLUMNS = (
    "customer_id", "first_order_at", "last_order_at", "orders", "purchase_days", "x", "t_x",
    "T", "recency_days", "monetary_total", "monetary_avg", "monetary_avg_repeat", "tenure_days",
    "active",
)  # fmt: skip


def purchaser_summary(
    ctx: Context, columns: tuple[str, ...], *, time_unit: str = "day"
) -> ir.Table:
    """``columns`` of :func:`customer_summary` for the customers with a
    purchase (``orders > 0``).

    When the persisted summary answers the context, activity is by purchase
    and ``columns`` are among :data:`PURCHASER_COLUMNS`, they are read from
    the persisted summary alone: without the join to the customers table
    that :func:`customer_summary` makes for the customers' attributes and
    for the customers without a purchase. That join keeps every customer
    with a purchase, since every customer of a stored order is in the
    customers table (an ingest creates the customer or refuses the order);
    at a million customers it took a third of the segments' query."""
    if time_unit not in TIME_UNITS:
        raise ConfigError(f"the time unit {time_unit!r} is not known.", hint="Use day or week.")
    stored = ctx.stored_activity
    if stored is None or ctx.active_by != "purchase" or not set(columns) <= set(PURCHASER_COLUMNS):
        s = customer_summary(ctx, time_unit=time_unit)
        return s.filter(s.orders > 0).select(*columns)
    t = stored.filter(stored.orders > 0)
    cols = _purchaser_columns(ctx, t, TIME_UNITS[time_unit], _active_by_purchase(ctx, t))
    return t.select(**{c: cols[c] for c in columns})


def _from_log(ctx: Context, customers: ir.Table | None, extra: list[str]) -> ir.Table:
    """The customers with the purchasers' columns and the refund counts,
    grouped from the order log."""
    agg = ctx.purchasers
    o = ctx.orders
    refunds = o.group_by("customer_id").agg(
        refunded_orders=o.status.isin(["refunded", "partially_refunded"]).cast("int64").sum(),
        refunded_amount=ibis.ifelse(
            o.status == "refunded", o.amount, ibis.literal(0).cast(o.amount.type())
        ).sum(),
        cancelled_orders=(o.status == "cancelled").cast("int64").sum(),
    )
    if customers is not None:
        t = customers.select("customer_id", *extra).left_join(refunds, "customer_id")
    else:  # the customers are those with an order (and with a subscription, when they count)
        t = refunds
        if ctx.active_by != "purchase":
            subs = ctx.subscription_spans.select("customer_id").distinct()
            ids = o.select("customer_id").distinct().union(subs)
            t = ids.left_join(refunds, "customer_id")
    return t.left_join(agg, "customer_id")


def _from_stored(ctx: Context, customers: ir.Table | None, extra: list[str]) -> ir.Table:
    """The same as :func:`_from_log`, with first_category, read from the
    persisted summary."""
    a = ctx.activity_counts()
    if customers is not None:
        return customers.select("customer_id", *extra).left_join(a, "customer_id")
    if ctx.active_by != "purchase":
        subs = ctx.subscription_spans.select("customer_id").distinct()
        ids = a.select("customer_id").union(subs)
        return ids.left_join(a, "customer_id")
    return a


def customer_purchases(ctx: Context) -> ir.Table:
    """One row per customer with a purchase, with what the models read:
    customer_id, first_day, last_day, purchase_days, orders, total and
    first_day_amount (the revenue of the first purchase day).

    The purchases are grouped by customer and day and then by customer in
    one query, and only the customers are kept in the engine (while the
    context lives): the statistics of both fits and the scores read them,
    and none needs the per-day table that the metrics keep
    (``Context.purchase_days``). On 10M orders this takes two thirds of
    the time of keeping that table and ``Context.purchasers`` from it."""

    stored = ctx.stored_activity
    if stored is not None:  # a table of the store: nothing to keep in the engine
        return ctx.purchasers.select(
            "customer_id", "first_day", "last_day", "purchase_days", "orders", "total",
            "first_day_amount",
        )  # fmt: skip

    def build() -> ir.Table:
        p = ctx.purchases
        d = p.group_by(["customer_id", "day"]).agg(orders=p.count(), amount=p.amount.sum())
        return d.group_by("customer_id").agg(
            first_day=d.day.min(),
            last_day=d.day.max(),
            purchase_days=d.count(),
            orders=d.orders.sum(),
            total=d.amount.sum(),
            first_day_amount=d.amount.argmin(d.day),
        )

    return ctx.cached("customer_purchases", build)


def btyd_statistics(ctx: Context, *, time_unit: str = "day") -> ir.Table:
    """Distinct (x, t_x, T) of the customers with a purchase, with ``weight``
    the number of customers sharing them: what the buy-till-you-die models fit
    on, so that only these rows leave the engine."""
    if time_unit not in TIME_UNITS:
        raise ConfigError(f"the time unit {time_unit!r} is not known.", hint="Use day or week.")
    c = customer_purchases(ctx)
    cols = purchase_columns(c, ctx.as_of_day, TIME_UNITS[time_unit])
    t = c.select(x=cols["x"], t_x=cols["t_x"], T=cols["T"])
    return t.group_by(["x", "t_x", "T"]).agg(weight=t.count().cast("int64"))


def purchase_summary(ctx: Context, *, time_unit: str = "day") -> ir.Table:
    """The customer summary's purchase columns alone, for the customers with
    a purchase: customer_id, orders, x, t_x, T, recency_days, monetary_total,
    monetary_avg and monetary_avg_repeat. Read from
    :func:`customer_purchases`, without the joins of
    :func:`customer_summary`: what the models fit on and score."""
    if time_unit not in TIME_UNITS:
        raise ConfigError(f"the time unit {time_unit!r} is not known.", hint="Use day or week.")
    c = customer_purchases(ctx)
    return c.select(
        customer_id=c.customer_id.cast("string"),
        orders=c.orders.cast("int64"),
        **purchase_columns(c, ctx.as_of_day, TIME_UNITS[time_unit]),
    )


def purchase_columns(t: ir.Table, as_of_day: int, unit: float) -> dict[str, ir.Value]:
    """x, t_x, T, recency, total and the average of the repeat purchase days,
    from a table with the columns of :func:`customer_purchases` (which
    ``Context.purchasers`` has too)."""
    return {
        "x": (t.purchase_days - 1).cast("int64"),
        # to float before dividing: Spark divides integers as decimals and rounds
        "t_x": (t.last_day - t.first_day).cast("float64") / unit,
        "T": (as_of_day - t.first_day).cast("float64") / unit,
        "recency_days": (as_of_day - t.last_day).cast("int64"),
        "monetary_total": t.total.cast("float64"),
        "monetary_avg": t.total.cast("float64") / t.orders.cast("float64"),
        "monetary_avg_repeat": ibis.ifelse(
            t.purchase_days > 1,
            (t.total - t.first_day_amount).cast("float64") / (t.purchase_days - 1).cast("float64"),
            ibis.null("float64"),
        ),
    }
