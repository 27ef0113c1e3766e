"""Definitions and the prepared tables every engine module starts from.

:class:`Definitions` holds what the numbers depend on (the time zone, the
active-customer definition, the as-of date); :class:`Context` resolves them
against a :class:`~tenure.engine.source.Source` once and prepares the
orders in local time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from functools import cached_property
from typing import Any

import ibis
import ibis.expr.types as ir

from tenure.engine import localtime, periods
from tenure.engine.definitions import (  # noqa: F401 - where the engine's users find them
    ACTIVE_BY,
    FAR_FUTURE,
    MAX_DAYS_AFTER_DATA,
    PURCHASE_STATUSES,
    Definitions,
    check_timezone,
    describe,
    resolve_active_by,
)
from tenure.engine.source import Source
from tenure.errors import ConfigError, InputError

# the columns of Context.purchasers
PURCHASER_COLUMNS = (
    "customer_id", "first_day", "last_day", "first_date", "purchase_days", "orders", "total",
    "first_day_amount", "first_day_orders", "first_order_at", "last_order_at",
)  # fmt: skip


class Context:
    """A source read under one set of definitions."""

    def __init__(
        self, source: Source, defs: Definitions | None = None, *, check_as_of: bool = True
    ) -> None:
        self.source = source
        self.defs = defs or Definitions()
        self.engine = source.engine
        self._cached: dict[str, ir.Table] = {}
        source._contexts.append(self)
        self.active_by = self._resolve_active_by()
        self.as_of: date = self.defs.as_of or self._data_end()
        if self.defs.as_of is not None and check_as_of:  # a filtered read keeps the data's
            self._check_as_of()
        self.as_of_day = periods.day_number(self.as_of)
        # the first day a reader asked to see (a filter's from date): the
        # engine counts every period as before; what is shown starts here
        self.shown_from: date | None = None

    # -- resolution ---------------------------------------------------------

    def _resolve_active_by(self) -> str:
        return resolve_active_by(
            self.defs.active_by,
            self.source.get("orders") is not None,
            self.source.get("subscriptions") is not None,
            self.source.description,
        )

    def _check_as_of(self) -> None:
        """An as-of date long after the data sees only empty periods, and
        costs one computation per period: refuse one more than a year on."""
        end = self._data_end()
        if self.as_of > end + timedelta(days=MAX_DAYS_AFTER_DATA):
            raise ConfigError(
                f"the as-of date {self.as_of} is more than a year after the last day of the "
                f"data, {end}; every period after it would be empty.",
                hint=f"Use a date up to {end + timedelta(days=MAX_DAYS_AFTER_DATA)}, or leave "
                "it out for the data's last day.",
                value=self.as_of.isoformat(),
            )

    def _data_end(self) -> date:
        ends = []
        if self.source.get("orders") is not None:
            if self._activity_in_zone is not None:
                last = self._activity_ends[0]
                ends.append(None if last is None else periods.from_day_number(last))
            else:
                o = self.all_orders
                purchases = o.filter(o.status.isin(PURCHASE_STATUSES))
                ends.append(self.source.value(purchases.local_date.max()))
        if self.active_by != "purchase":
            s = self.source.table("subscriptions")
            ends.append(self.source.value(self.local(s.started_at).max()))
            ends.append(self.source.value(self.local(s.ended_at).max()))
        # as dates: the summary's end is a date, the log's maxima timestamps
        ends = [as_date(e) for e in ends if e is not None and e == e]
        if not ends:
            raise InputError(
                f"there are no purchases in {self.source.description}.",
                hint="Ingest orders first: tenure ingest orders FILE.",
            )
        return as_date(max(ends))

    # -- the persisted summary ----------------------------------------------

    @cached_property
    def _activity_in_zone(self) -> ir.Table | None:
        """The source's persisted customer summary when it was built in this
        context's time zone (its local days are this context's)."""
        table = self.source.activity
        if table is None or self.source.activity_timezone != self.defs.timezone:
            return None
        return table

    @cached_property
    def _activity_ends(self) -> tuple[int | None, int | None]:
        """The last purchase day and the last order day (any status) of the
        persisted summary."""
        a = self._activity_in_zone
        row = self.source.rows(a.aggregate(last=a.last_day.max(), last_any=a.last_any_day.max()))
        return tuple(None if v is None else int(v) for v in row[0])  # type: ignore[return-value]

    @cached_property
    def stored_activity(self) -> ir.Table | None:
        """The store's persisted per-customer summary (:mod:`tenure.store.summary`)
        when it gives this context's numbers, else None (then the engine groups
        the order log): built in this time zone, and the as-of day on or after
        the last purchase, so that every purchase counts. A refund or
        cancellation after the as-of day is taken off its counts
        (:meth:`activity_counts`)."""
        a = self._activity_in_zone
        if a is None:
            return None
        last = self._activity_ends[0]
        if last is not None and self.as_of_day < last:
            return None
        return a

    def activity_counts(self) -> ir.Table:
        """The persisted summary (:attr:`stored_activity`, which must be there)
        with the order counts and refunds up to the as-of day: the orders of
        later days (not purchases, which end by the as-of day) are taken off,
        and customers with none before it left out."""
        a = self.stored_activity
        assert a is not None
        last_any = self._activity_ends[1]
        if last_any is None or last_any <= self.as_of_day:
            return a
        o = self.all_orders
        o = o.filter(o.day > self.as_of_day)
        zero = ibis.literal(0).cast(o.amount.type())
        late = o.group_by("customer_id").agg(
            late_all=o.count(),
            late_refunded=o.status.isin(["refunded", "partially_refunded"]).cast("int64").sum(),
            late_refunded_amount=ibis.ifelse(o.status == "refunded", o.amount, zero).sum(),
            late_cancelled=(o.status == "cancelled").cast("int64").sum(),
        )
        late = late.rename(late_customer="customer_id")
        t = a.left_join(late, a.customer_id == late.late_customer)
        t = t.mutate(
            all_orders=t.all_orders - t.late_all.fill_null(0),
            refunded_orders=t.refunded_orders - t.late_refunded.fill_null(0),
            refunded_amount=t.refunded_amount - t.late_refunded_amount.fill_null(0),
            cancelled_orders=t.cancelled_orders - t.late_cancelled.fill_null(0),
        )
        t = t.filter(t.all_orders > 0)
        return t.drop("late_customer", "late_all", "late_refunded", "late_refunded_amount",
                      "late_cancelled")  # fmt: skip

    # -- prepared tables ------------------------------------------------------

    def local(self, ts: ir.TimestampValue) -> ir.TimestampValue:
        return localtime.local(ts, self.defs.timezone, self.engine)

    @cached_property
    def all_orders(self) -> ir.Table:
        """Every order, with its local date and day number."""
        o = self.source.table(
            "orders", "the order metrics, cohorts, segments and the customer summary"
        )
        lt = self.local(o.placed_at)
        return o.select(
            "order_id",
            "customer_id",
            "placed_at",
            status=(
                o.status.fill_null("completed")
                if "status" in o.columns
                else ibis.literal("completed")
            ),
            amount=o.amount_reporting,
            local_date=lt.date(),
            day=localtime.day_number(lt),
        )

    @cached_property
    def orders(self) -> ir.Table:
        """Orders up to the as-of day."""
        return self.all_orders.filter(self.all_orders.day <= self.as_of_day)

    @cached_property
    def purchases(self) -> ir.Table:
        """Orders up to the as-of day that count as purchases."""
        o = self.orders
        return o.filter(o.status.isin(PURCHASE_STATUSES))

    @cached_property
    def purchase_days(self) -> ir.Table:
        """One row per customer and local day with a purchase: orders, amount,
        first and last timestamp. Computed once per context and kept in the
        engine; metrics, cohorts, spells and summaries all start from it."""
        p = self.purchases
        return self.cached(
            "purchase_days",
            lambda: p.group_by(["customer_id", "day"]).agg(
                local_date=p.local_date.min(),
                orders=p.count(),
                amount=p.amount.sum(),
                first_at=p.placed_at.min(),
                last_at=p.placed_at.max(),
            ),
        )

    @cached_property
    def purchasers(self) -> ir.Table:
        """One row per customer with a purchase: first and last purchase day,
        purchase days, orders, revenue, and the revenue and orders of the first
        purchase day (by ``argmin`` over days, which are unique per customer).
        Read from the persisted summary when it answers this context."""
        a = self.stored_activity
        if a is not None:
            return a.filter(a.purchase_days.notnull()).select(*PURCHASER_COLUMNS)
        d = self.purchase_days
        return self.cached(
            "purchasers",
            lambda: d.group_by("customer_id").agg(
                first_day=d.day.min(),
                last_day=d.day.max(),
                first_date=d.local_date.min(),
                purchase_days=d.count(),
                orders=d.orders.sum(),
                total=d.amount.sum(),
                first_day_amount=d.amount.argmin(d.day),
                first_day_orders=d.orders.argmin(d.day),
                first_order_at=d.first_at.min(),
                last_order_at=d.last_at.max(),
            ),
        )

    def cached(self, name: str, build: Callable[[], ir.Table]) -> ir.Table:
        """The table ``build()`` makes, computed once and kept in the engine
        while the context lives."""
        if name not in self._cached:
            self._cached[name] = build().cache()
        return self._cached[name]

    def kept(self, name: str) -> ir.Table | None:
        """The table :meth:`cached` keeps under ``name``, if it was computed."""
        return self._cached.get(name)

    def close(self) -> None:
        """Release what :meth:`cached` keeps in the engine."""
        for table in self._cached.values():
            try:
                table.release()
            except Exception:  # the connection may be closed already
                pass
        self._cached.clear()

    @cached_property
    def subscription_spans(self) -> ir.Table:
        """Subscriptions as the local days they are active at the end of:
        from the start day to the day before the end (open-ended: far future)."""
        s = self.source.table("subscriptions", "the subscription definition")
        start = self.local(s.started_at)
        end = self.local(s.ended_at)
        far = ibis.literal(FAR_FUTURE)
        return s.select(
            "subscription_id",
            "customer_id",
            mrr=s.mrr_reporting if "mrr_reporting" in s.columns else ibis.null("decimal(18, 4)"),
            start_date=start.date(),
            start_day=localtime.day_number(start),
            end_date=(end.date() - ibis.interval(days=1)).fill_null(far),
            end_day=(localtime.day_number(end) - 1).fill_null(periods.day_number(FAR_FUTURE)),
        )

    def describe(self) -> dict[str, Any]:
        """The definitions every output states."""
        return describe(self.defs, self.active_by, self.as_of, self.source.currency, self.engine)


def as_date(value: Any) -> date:
    """A date from a date, a datetime or a pandas/NumPy timestamp."""
    if hasattr(value, "date") and not isinstance(value, date):
        return value.date()
    if isinstance(value, date) and hasattr(value, "hour"):
        return value.date()  # a datetime
    return value
