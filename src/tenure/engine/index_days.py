"""Each customer's purchase history as of several days at once, and whether
they bought in a window after each: what a matched comparison of a
program's members with non-members reads (:mod:`tenure.loyalty.effect`).

One query over the context's purchase days, crossed with the index days;
only one row per customer and index day (for customers who had bought
before it) leaves the engine.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from tenure.engine.context import Context


def history_at(ctx: Context, index_days: list[int], horizon_days: int) -> ir.Table:
    """One row per customer and index day ``d`` (a day number) for the
    customers with a purchase day before ``d``:

    =================  =====================================================
    customer_id        the customer
    index_day          ``d``
    frequency          purchase days before ``d``
    recency_days       ``d`` less the last purchase day before it
    tenure_days        ``d`` less the first purchase day
    monetary_avg       revenue before ``d`` per purchase day
    bought_after       a purchase day in (``d``, ``d`` + ``horizon_days``]
    =================  =====================================================

    Day ``d`` itself counts to neither side: a customer who joined a
    program at a checkout on ``d`` and one who did not are compared on
    what came before and what came after.
    """
    d = ctx.purchase_days
    idx = ibis.memtable({"index_day": [int(x) for x in index_days]}, schema={"index_day": "int64"})
    j = d.cross_join(idx)
    before = j.day < j.index_day
    after = (j.day > j.index_day) & (j.day <= j.index_day + horizon_days)
    g = j.group_by(["customer_id", "index_day"]).agg(
        frequency=before.cast("int64").sum(),
        last_day=j.day.max(where=before),
        first_day=j.day.min(where=before),
        revenue=j.amount.sum(where=before),
        bought_after=after.cast("int64").sum(),
    )
    g = g.filter(g.frequency > 0)
    return g.select(
        customer_id=g.customer_id.cast("string"),
        index_day=g.index_day.cast("int64"),
        frequency=g.frequency.cast("int64"),
        recency_days=(g.index_day - g.last_day).cast("int64"),
        tenure_days=(g.index_day - g.first_day).cast("int64"),
        monetary_avg=(g.revenue.cast("float64") / g.frequency.cast("float64")),
        bought_after=(g.bought_after > 0),
    )


def _bin(value: ir.IntegerValue, bounds: tuple[int, ...]) -> ir.IntegerValue:
    """0 for values up to ``bounds[0]``, 1 up to ``bounds[1]``, ...; len(bounds) beyond."""
    out = ibis.literal(len(bounds), "int64")
    for i, top in reversed(list(enumerate(bounds))):
        out = ibis.ifelse(value <= top, ibis.literal(i, "int64"), out)
    return out


def _rows(
    ctx: Context,
    joined: dict[str, int],
    horizon_days: int,
    frequency_bounds: tuple[int, ...],
    recency_bounds: tuple[int, ...],
) -> ir.Table:
    """:func:`history_at` on the members' joining days whose window has
    ended by the as-of day, each row with its ``role`` (``member``: joined
    on the index day; ``control``: had not joined by it) and its bins."""
    days = sorted({d for d in joined.values() if d + horizon_days <= ctx.as_of_day})
    if not days:
        days = [ctx.as_of_day + 1]  # no row comes back: nothing had its window end
    h = history_at(ctx, days, horizon_days)
    m = ibis.memtable(
        {"member_id": list(joined), "joined_day": [int(v) for v in joined.values()]},
        schema={"member_id": "string", "joined_day": "int64"},
    )
    t = h.left_join(m, h.customer_id == m.member_id)
    role = ibis.cases(
        (t.joined_day == t.index_day, "member"),
        (t.joined_day.isnull() | (t.joined_day > t.index_day), "control"),
        else_="after",
    )
    t = t.mutate(
        role=role,
        frequency_bin=_bin(t.frequency, frequency_bounds),
        recency_bin=_bin(t.recency_days, recency_bounds),
    )
    return t.filter(t.role != "after")


KEY = ["index_day", "frequency_bin", "recency_bin"]


def strata(
    ctx: Context,
    joined: dict[str, int],
    horizon_days: int,
    frequency_bounds: tuple[int, ...],
    recency_bounds: tuple[int, ...],
) -> ir.Table:
    """The counts a matched comparison needs, per stratum (index day,
    frequency bin, recency bin) and role: ``member`` (joined on the index
    day; ``joined`` maps members to their joining day) or ``control`` (had
    bought before the index day and not joined by it): ``n`` customers, of
    whom ``bought`` bought again within the horizon. The index days are the
    members' joining days whose window has ended by the as-of day."""
    t = _rows(ctx, joined, horizon_days, frequency_bounds, recency_bounds)
    return t.group_by([*KEY, "role"]).agg(
        n=t.count().cast("int64"), bought=t.bought_after.cast("int64").sum().cast("int64")
    )


def clustered_squares(
    ctx: Context,
    joined: dict[str, int],
    horizon_days: int,
    frequency_bounds: tuple[int, ...],
    recency_bounds: tuple[int, ...],
    weights: dict[str, list],
) -> ir.Scalar:
    """The sum over customers of the square of their summed influence on a
    linear estimate: the rows of :func:`strata`, each weighted by its
    stratum's ``member`` or ``control`` weight and centred on its
    stratum's ``centre`` (``weights``: columns index_day, frequency_bin,
    recency_bin, centre, member, control, and ``att``, taken off a
    member's outcome too). A customer counts once however
    many strata they are in, so the variance it gives allows for one
    customer's outcomes on nearby index days moving together."""
    t = _rows(ctx, joined, horizon_days, frequency_bounds, recency_bounds)
    w = ibis.memtable(weights, schema={
        "index_day": "int64", "frequency_bin": "int64", "recency_bin": "int64",
        "centre": "float64", "member": "float64", "control": "float64", "att": "float64",
    })  # fmt: skip
    j = t.join(w, KEY)
    y = j.bought_after.cast("float64")
    a = ibis.ifelse(
        j.role == "member", j.member * (y - j.centre - j.att), j.control * (y - j.centre)
    )
    per = j.mutate(a=a).group_by("customer_id").agg(u=lambda x: x.a.sum())
    return (per.u * per.u).sum()
