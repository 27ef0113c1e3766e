"""Who is active when: active spells, and the counts S, E, N, L, R per period.

A customer is active on a day under the context's definition: a purchase in
the ``activity_window`` days up to it, an active subscription at its end, or
either. Each purchase day d makes its customer active from d to
d + window - 1; each subscription from its start day to the day before its
end. Overlapping or touching intervals of a customer merge into *spells*
(gaps and islands, with window functions that run on every engine).

A spell is active at the end of period p when it covers p's last day, that
is for p from ``period(start)`` to ``period(end + 1) - 1``. So per period:

* E (active at the end) = spells whose range holds p;
* S (active at the start) = E of the period before;
* L (lost) = of S, customers not active at the end of p;
* N (new) = customers first active in p and active at its end;
* R (reactivated) = customers active at the end of p, inactive at its start,
  and first active before p.

Of the E customers, S - L were active at the start too; the others entered
in p, each either new or back after a lapse: S - L + N + R = E in every
period. A customer first active in p and gone again by its end is in none
of them (they may still be among the period's ordering customers).

Only a few numbers per period leave the engine.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from tenure.engine import periods
from tenure.engine.context import Context


def intervals(ctx: Context) -> ir.Table:
    """(customer_id, start_day, end_day, start_date, end_date) per activity source."""
    parts = []
    if ctx.active_by in ("purchase", "either"):
        w = int(ctx.defs.activity_window)
        days = ctx.purchase_days
        parts.append(
            days.select(
                "customer_id",
                start_day=days.day,
                end_day=days.day + (w - 1),
                start_date=days.local_date,
                end_date=days.local_date + ibis.interval(days=w - 1),
            )
        )
    if ctx.active_by in ("subscription", "either"):
        s = ctx.subscription_spans
        s = s.filter((s.start_day <= s.end_day) & (s.start_day <= ctx.as_of_day))
        parts.append(s.select("customer_id", "start_day", "end_day", "start_date", "end_date"))
    return parts[0] if len(parts) == 1 else parts[0].union(parts[1], distinct=False)


def spells(ctx: Context) -> ir.Table:
    """Merged intervals: one row per spell of continuous activity (computed
    once per context)."""
    return ctx.cached("spells", lambda: _merge(ctx))


def _merge(ctx: Context) -> ir.Table:
    if ctx.active_by == "purchase":
        return _merge_purchase_days(ctx)
    # identical intervals (two subscriptions over the same days) would tie in
    # the window order and could be split across spells: keep one of each
    iv = intervals(ctx).distinct()
    order = ["start_day", "end_day"]
    running = ibis.cumulative_window(group_by="customer_id", order_by=order)
    ordered = ibis.window(group_by="customer_id", order_by=order)
    iv = iv.mutate(reach=iv.end_day.max().over(running))
    iv = iv.mutate(prev_reach=iv.reach.lag().over(ordered))
    iv = iv.mutate(
        new=ibis.ifelse(iv.prev_reach.isnull() | (iv.start_day > iv.prev_reach + 1), 1, 0)
    )
    iv = iv.mutate(spell=iv.new.sum().over(running))
    merged = iv.group_by(["customer_id", "spell"]).agg(
        start_day=iv.start_day.min(),
        end_day=iv.end_day.max(),
        start_date=iv.start_date.min(),
        end_date=iv.end_date.max(),
    )
    return merged


def _merge_purchase_days(ctx: Context) -> ir.Table:
    """The spells of purchase days alone, where every interval is a window
    long (d to d + window - 1) and days are unique per customer: a spell
    starts on a day more than a window after the customer's previous one,
    and ends a window after its last day, the one whose next day is more
    than a window away. One pass of lag and lead over the days marks those
    edges; a second, over the few edges, pairs each start with its end.
    The same spells as the merge of intervals below, without its running
    sum and grouping over every purchase day."""
    w = int(ctx.defs.activity_window)
    d = ctx.purchase_days
    by_day = ibis.window(group_by="customer_id", order_by="day")
    d = d.select(
        "customer_id", "day", "local_date",
        prev_day=d.day.lag().over(by_day), next_day=d.day.lead().over(by_day),
    )  # fmt: skip
    starts = d.prev_day.isnull() | (d.day > d.prev_day + w)
    ends = d.next_day.isnull() | (d.next_day > d.day + w)
    edges = d.filter(starts | ends).select(
        "customer_id", "day", "local_date", is_start=starts, is_end=ends
    )
    # between a start and its end there is no other edge: the end is the
    # start itself or the next edge
    by_day = ibis.window(group_by="customer_id", order_by="day")
    edges = edges.mutate(
        next_edge=edges.day.lead().over(by_day), next_date=edges.local_date.lead().over(by_day)
    )
    s = edges.filter(edges.is_start)
    return s.select(
        "customer_id",
        start_day=s.day,
        end_day=ibis.ifelse(s.is_end, s.day, s.next_edge) + (w - 1),
        start_date=s.local_date,
        end_date=ibis.ifelse(s.is_end, s.local_date, s.next_date) + ibis.interval(days=w - 1),
    )


def spell_ranges(ctx: Context, period: str) -> ir.Table:
    """Each spell with the range [a, b] of periods it is active at the end of
    (empty when b < a), ``first`` (the day the customer was first active) and
    ``lost_at``: the period the customer is lost in after this spell, or null
    when their next spell that covers a period end starts right at b + 1."""
    s = spells(ctx)
    s = s.mutate(
        a=periods.index_expr(s.start_date, period),
        b=periods.index_expr(s.end_date + ibis.interval(days=1), period) - 1,
        first=s.start_date.min().over(ibis.window(group_by="customer_id")),
    )
    # spells that cover no period end (short ones inside one period) cannot
    # carry a customer over a boundary: look past them for the next one
    full = s.filter(s.a <= s.b)
    w = ibis.window(group_by="customer_id", order_by="start_day")
    full = full.mutate(next_a=full.a.lead().over(w))
    continued = full.next_a.notnull() & (full.next_a == full.b + 1)
    full = full.mutate(lost_at=ibis.ifelse(continued, ibis.null("int64"), full.b + 1))
    short = s.filter(s.a > s.b).mutate(next_a=ibis.null("int64"), lost_at=ibis.null("int64"))
    return full.union(short.select(full.columns), distinct=False)


def counts(ctx: Context, period: str, first: int, last: int) -> pd.DataFrame:
    """S, N, E, L, R for periods ``first``..``last`` (indexes), as a DataFrame."""
    # kept while the counts read it (the columns they read): four queries
    # over the ranges, whose windows would otherwise run again for each
    s = ctx.cached(
        f"spell_ranges_{period}",
        lambda: spell_ranges(ctx, period).select(
            "customer_id", "start_day", "a", "b", "first", "lost_at"
        ),
    )
    full = s.filter(s.a <= s.b)
    starts = full.group_by(p=full.a).agg(n=full.count()).to_pandas()
    ends = full.group_by(p=full.b + 1).agg(n=full.count()).to_pandas()
    lost = full.filter(full.lost_at.notnull())
    lost = lost.group_by(p=lost.lost_at).agg(n=lost.count()).to_pandas()
    # a spell enters its customer into E at a unless it continues one that
    # covered the end of a - 1 (the mirror of lost_at): new when the
    # customer's first day falls in a, reactivated when it came before
    w = ibis.window(group_by="customer_id", order_by="start_day")
    full = full.mutate(prev_b=full.b.lag().over(w))
    entered = full.filter(full.prev_b.isnull() | (full.prev_b != full.a - 1))
    is_new = periods.index_expr(entered.first, period) == entered.a
    entered = entered.group_by(p=entered.a).agg(
        new=is_new.cast("int64").sum(), back=(~is_new).cast("int64").sum()
    )
    entered = entered.to_pandas()
    new = entered.rename(columns={"new": "n"})[["p", "n"]]
    back = entered.rename(columns={"back": "n"})[["p", "n"]]

    index = np.arange(first - 1, last + 1)

    def at(frame: pd.DataFrame) -> np.ndarray:
        if not len(frame):
            return np.zeros(len(index), dtype="int64")
        series = frame.set_index("p")["n"].astype("int64")
        return series.reindex(index, fill_value=0).to_numpy()

    def before(frame: pd.DataFrame, upto: int) -> int:
        return int(frame.loc[frame["p"] <= upto, "n"].sum()) if len(frame) else 0

    # E at p = spells started by p - spells ended by p (a "started" count at
    # p means a <= p; an "ended" count at p means b + 1 <= p)
    e0 = before(starts, first - 1) - before(ends, first - 1)
    delta = at(starts) - at(ends)
    delta[0] = e0
    e = np.cumsum(delta)
    return pd.DataFrame(
        {
            "index": index[1:],
            "customers_start": e[:-1],
            "new_customers": at(new)[1:],
            "customers_end": e[1:],
            "lost_customers": at(lost)[1:],
            "reactivated_customers": at(back)[1:],
        }
    )


def active_subscribers(ctx: Context, day: int | None = None) -> ir.Table:
    """(customer_id) of the customers with a subscription active at the end of ``day``."""
    day = ctx.as_of_day if day is None else day
    s = ctx.subscription_spans
    return s.filter((s.start_day <= day) & (s.end_day >= day)).select("customer_id").distinct()


def window_counts(ctx: Context, start_day: int, end_day: int) -> dict[str, int]:
    """S, N, E, L, R between two days: active at the end of ``start_day`` (S)
    and of ``end_day`` (E), lost of S (L), and of the E customers not in S,
    those first active in between (N) and those back after a lapse (R)."""
    s = spells(ctx)
    s = s.mutate(first=s.start_day.min().over(ibis.window(group_by="customer_id")))
    at_start = s.filter((s.start_day <= start_day) & (s.end_day >= start_day))
    at_end = s.filter((s.start_day <= end_day) & (s.end_day >= end_day))
    start_ids = at_start.select("customer_id").distinct().mutate(was=ibis.literal(1))
    end_ids = at_end.select("customer_id", "first").distinct()
    lost = start_ids.left_join(end_ids.mutate(kept=ibis.literal(1)), "customer_id")
    entered = end_ids.left_join(start_ids, "customer_id")
    entered = entered.filter(entered.was.isnull())
    is_new = entered.first > start_day
    # a sum over no rows is null: coalesce to 0
    row = entered.aggregate(
        new=is_new.cast("int64").sum().coalesce(0), back=(~is_new).cast("int64").sum().coalesce(0)
    ).execute()
    return {
        "customers_start": int(start_ids.count().execute()),
        "new_customers": int(row["new"].iat[0]),
        "customers_end": int(end_ids.count().execute()),
        "lost_customers": int(lost.filter(lost.kept.isnull()).count().execute()),
        "reactivated_customers": int(row["back"].iat[0]),
    }
