"""RFM scores (quintiles) and the named RFM segments.

Each customer with a purchase gets three scores from 1 to 5:

* R from recency (days since the last purchase; more recent scores higher),
* F from the number of orders, M from revenue (more scores higher),

as ``min(5, floor(5 x percent_rank) + 1)``. Percent rank gives tied
customers the same score on every engine (quintiles by ``ntile`` would
split ties arbitrarily), so the many one-order customers all get F = 1.

The named segment comes from R and FM = round((F + M) / 2), half up:

====  =================  ===================  ===================
R     FM 1               FM 2-3               FM 4-5
====  =================  ===================  ===================
5     new                potential loyalists  champions
4     promising          potential loyalists  champions
3     about to sleep     FM 2: about to sleep loyal
                         FM 3: need attention
2     hibernating        FM 2: hibernating    at risk
                         FM 3: at risk
1     lost               FM 2: lost           can't lose them
                         FM 3: at risk
====  =================  ===================  ===================
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the engine is imported where its expressions are built
    import ibis.expr.types as ir

SEGMENTS = (
    "champions",
    "loyal",
    "potential loyalists",
    "new",
    "promising",
    "need attention",
    "about to sleep",
    "at risk",
    "can't lose them",
    "hibernating",
    "lost",
)

# The named segments from R and FM, the first rule that holds: (R's
# comparison, FM's comparison, segment); None holds for any score. The Ibis
# engine (rfm_scores) and the SQL of the stored summary
# (tenure.segmentation.stored) both build their CASE from this table.
RULES: tuple[tuple[tuple[str, int] | None, tuple[str, int] | None, str], ...] = (
    ((">=", 4), (">=", 4), "champions"),
    (("=", 5), ("=", 1), "new"),
    (("=", 4), ("=", 1), "promising"),
    ((">=", 4), None, "potential loyalists"),
    (("=", 3), (">=", 4), "loyal"),
    (("=", 3), ("=", 3), "need attention"),
    (("=", 3), None, "about to sleep"),
    (("=", 1), (">=", 4), "can't lose them"),
    (None, (">=", 3), "at risk"),
    (("=", 2), None, "hibernating"),
)
OTHERWISE = "lost"


def _score(pr: ir.FloatingValue) -> ir.IntegerValue:
    import ibis

    return ibis.least((pr * 5).floor().cast("int64") + 1, 5)


def counted_percent_rank(t: ir.Table, column: str, *, descending: bool = False) -> ir.Table:
    """``t`` with ``pr_<column>``: the percent rank of ``column`` (not null),
    (rows before the row's value) / (rows - 1), or 0 for a single row.

    The same number as ``percent_rank()`` over the whole table, counted per
    distinct value: recency in days and the number of orders take a few
    thousand values among a million customers, so counting them and joining
    the counts back is much cheaper than sorting every customer."""
    import ibis

    counts = t.group_by(_value=t[column]).agg(_n=t.count())
    order = ibis.desc(counts._value) if descending else counts._value
    upto = counts._n.sum().over(ibis.window(order_by=order, preceding=None, following=0))
    counts = counts.mutate(_before=upto - counts._n, _all=counts._n.sum().over())
    pr = ibis.ifelse(
        counts._all > 1,
        counts._before.cast("float64") / (counts._all - 1).cast("float64"),
        ibis.literal(0.0),
    )
    counts = counts.select("_value", **{f"pr_{column}": pr})
    joined = t.join(counts, t[column] == counts._value)
    return joined.select(*t.columns, f"pr_{column}")


def rfm_scores(summary: ir.Table) -> ir.Table:
    """The summary's purchasers with r, f, m, fm, rfm ("545") and segment."""
    import ibis

    s = summary.filter(summary.orders > 0)
    s = counted_percent_rank(s, "recency_days", descending=True)
    s = counted_percent_rank(s, "orders")
    m = ibis.percent_rank().over(ibis.window(order_by=s.monetary_total))
    s = s.mutate(r=_score(s.pr_recency_days), f=_score(s.pr_orders), m=_score(m))
    s = s.drop("pr_recency_days", "pr_orders")
    s = s.mutate(fm=((s.f + s.m + 1) // 2).cast("int64"))
    s = s.mutate(rfm=s.r.cast("string") + s.f.cast("string") + s.m.cast("string"))

    def holds(value: ir.IntegerValue, test: tuple[str, int] | None) -> ir.BooleanValue:
        if test is None:
            return ibis.literal(True)
        op, n = test
        return value >= n if op == ">=" else value == n

    segment = ibis.cases(
        *((holds(s.r, r) & holds(s.fm, fm), name) for r, fm, name in RULES),
        else_=OTHERWISE,
    )
    return s.mutate(segment=segment)
