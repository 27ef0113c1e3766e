"""How long each subscription has lasted: the input of the sBG model and the
survival curves (:mod:`tenure.models.survival`).

One row per subscription started by the as-of day:

===============  ===============================================================
customer_id      the subscriber
subscription_id  the subscription
started_at       local date of the start
duration_days    days from the start to the end, or to the as-of day while
                 the subscription is active (right-censored)
periods          whole periods completed in that time: calendar months (or
                 years), counted as renewals are, so a subscription started
                 on 31 January completes a month on 29 February
lifetime         the input of the sBG model: for a churned subscription, the
                 period it ended in (n when it ends after the (n-1)-th
                 renewal date, up to and including the n-th: an end on a
                 renewal date means it was not renewed); for an active one,
                 the renewals it has survived (``periods``)
churned          True when it ended by the as-of day (local date of the end
                 on or before it); an end after the as-of day is not known
                 yet, so that subscription counts as active
plan             the subscription's plan, when the source has plans
mrr              its monthly recurring revenue (reporting currency), when known
country          the subscriber's country, when the customers table has it
===============  ===============================================================

A subscription that started on the as-of day has ``duration_days = 0``.
For the sBG model, ``t = lifetime`` and ``churned``: a subscription that
ended before its first renewal date cancelled in period 1, one that ended
on its n-th renewal date in period n.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from tenure.engine import localtime
from tenure.engine.context import Context
from tenure.errors import ConfigError

PERIODS = ("month", "year")


def subscription_durations(ctx: Context, period: str = "month") -> ir.Table:
    """One row per subscription; see the module docstring."""
    if period not in PERIODS:
        raise ConfigError(
            f"the subscription period {period!r} is not one tenure knows.",
            hint="Use month or year: the length of one renewal.",
        )
    s = ctx.source.table("subscriptions", "the subscription durations")
    start_ts = ctx.local(s.started_at)
    end_ts = ctx.local(s.ended_at)
    s = s.mutate(
        _start=start_ts.date(),
        _start_day=localtime.day_number(start_ts),
        _end=end_ts.date(),
        _end_day=localtime.day_number(end_ts),
    )
    a = ctx.as_of_day
    s = s.filter(s._start_day <= a)
    churned = s._end_day.notnull() & (s._end_day <= a)
    stop = ibis.ifelse(churned, s._end, ibis.literal(ctx.as_of))
    stop_day = ibis.ifelse(churned, s._end_day, a)
    cols: dict[str, ir.Value] = {
        "customer_id": s.customer_id.cast("string"),
        "subscription_id": s.subscription_id.cast("string"),
        "started_at": s._start.cast("date"),
        "duration_days": (stop_day - s._start_day).cast("int64"),
        "periods": _whole_periods(s._start, stop, period).cast("int64"),
        "lifetime": ibis.ifelse(
            churned,
            # renewal dates strictly before the end, plus the period it ended in
            ibis.greatest(_whole_periods(s._start, s._end - ibis.interval(days=1), period), 0) + 1,
            _whole_periods(s._start, stop, period),
        ).cast("int64"),
        "churned": churned.cast("boolean"),
    }
    if "plan" in s.columns:
        cols["plan"] = s.plan.cast("string")
    if "mrr_reporting" in s.columns:
        cols["mrr"] = s.mrr_reporting.cast("float64")
    t = s.select(**cols)
    customers = ctx.source.get("customers")
    if customers is not None and "country" in customers.columns:
        c = customers.select("customer_id", country=customers.country.cast("string"))
        t = t.left_join(c, "customer_id")
        t = t.select(*cols, "country")
    return t


def _whole_periods(start: ir.DateValue, stop: ir.DateValue, period: str) -> ir.IntegerValue:
    """Renewal dates passed from ``start`` to ``stop``: the n-th falls n months
    (years) after the start, on the last day of the month when that month is
    shorter. Computed from year, month and day, never with ``delta``, which
    counts months differently on DuckDB and Spark."""
    # stop is the last day of its month: every renewal due that month has passed
    month_end = (stop + ibis.interval(days=1)).day() == 1
    short = (stop.day() < start.day()) & ~month_end
    if period == "month":
        months = (stop.year() * 12 + stop.month()) - (start.year() * 12 + start.month())
        return months - ibis.ifelse(short, 1, 0)
    before = (stop.month() < start.month()) | ((stop.month() == start.month()) & short)
    return (stop.year() - start.year()) - ibis.ifelse(before, 1, 0)
