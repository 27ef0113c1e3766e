"""Segment sizes, revenue shares, and movement between two dates."""

from __future__ import annotations

from datetime import date

import ibis.expr.types as ir
import pandas as pd

from tenure.engine.context import Context, Definitions
from tenure.engine.summaries import customer_summary
from tenure.segmentation import business
from tenure.segmentation.business import Thresholds, business_segments
from tenure.segmentation.rfm import SEGMENTS, rfm_scores

NOT_YET = "(not yet a customer)"
KINDS = ("rfm", "business")


# What the RFM scores and the business segments read of the customer summary.
SCORED = ("customer_id", "orders", "recency_days", "monetary_total", "tenure_days", "active")


def scores(ctx: Context, thresholds: Thresholds) -> ir.Table:
    """Per purchaser: the summary's columns in :data:`SCORED`, r, f, m, fm,
    rfm, segment and the business flags and label.

    The percent ranks sort every purchaser: ranking these few columns, not the
    two dozen of the summary, is what keeps segments fast (at 1M customers the
    sort of the whole summary took most of the time). Not kept in the engine:
    segment sizes read it once."""
    s = customer_summary(ctx).select(*SCORED)
    return business_segments(rfm_scores(s), thresholds)


def kept_scores(ctx: Context, thresholds: Thresholds) -> ir.Table:
    """:func:`scores`, computed once per context and thresholds and kept in
    the engine: for what reads them more than once (a segment filter's
    customers, the report's section)."""
    return ctx.cached(f"scores-{thresholds}", lambda: scores(ctx, thresholds))


def _scores_of(ctx: Context, thresholds: Thresholds) -> ir.Table:
    """The kept scores of ``ctx`` when they were computed, else :func:`scores`."""
    kept = ctx.kept(f"scores-{thresholds}")
    return kept if kept is not None else scores(ctx, thresholds)


def assign(ctx: Context, thresholds: Thresholds) -> ir.Table:
    """Per purchaser: summary columns, r, f, m, rfm, segment and the business
    flags (computed once per context and thresholds)."""
    return ctx.cached(f"segments-{thresholds}", lambda: widen(ctx, scores(ctx, thresholds)))


def widen(ctx: Context, scored: ir.Table) -> ir.Table:
    """The rows of ``scored`` (rows of :func:`scores`) with every column of the
    customer summary beside the scores, in the columns' order of :func:`assign`."""
    summary = customer_summary(ctx)
    added = [c for c in scored.columns if c not in SCORED]
    scored = scored.select(*added, scored_id=scored.customer_id)
    wide = summary.join(scored, summary.customer_id == scored.scored_id)
    return wide.select(*summary.columns, *added)


def segment_sizes(table: ir.Table, column: str, order: tuple[str, ...]) -> pd.DataFrame:
    agg = table.group_by(seg=table[column]).agg(
        customers=table.count(),
        revenue=table.monetary_total.sum(),
        avg_recency_days=table.recency_days.mean(),
        avg_orders=table.orders.mean(),
        avg_revenue=table.monetary_total.mean(),
    )
    frame = agg.to_pandas().rename(columns={"seg": "segment"})
    frame = frame.set_index("segment").reindex(list(order)).reset_index()
    frame["customers"] = frame["customers"].fillna(0).astype("int64")
    frame["revenue"] = frame["revenue"].astype("float64").fillna(0.0)
    total_c, total_r = frame["customers"].sum(), frame["revenue"].sum()
    frame.insert(2, "share", frame["customers"] / total_c * 100.0 if total_c else float("nan"))
    frame.insert(
        4, "revenue_share", frame["revenue"] / total_r * 100.0 if total_r else float("nan")
    )
    return frame


def column_of(kind: str) -> tuple[str, tuple[str, ...]]:
    if kind == "rfm":
        return "segment", SEGMENTS
    return "value_segment", business.LABELS


def transition_matrix(
    source,
    defs: Definitions,
    thresholds: Thresholds,
    start: date,
    end: date,
    kind: str = "rfm",
    end_context: Context | None = None,
) -> pd.DataFrame:
    """Customers by segment at ``start`` (rows) and at ``end`` (columns).

    Customers acquired after ``start`` come from "(not yet a customer)".
    ``end_context``, a context already as of ``end``, saves computing it again.
    """
    from dataclasses import replace

    column, order = column_of(kind)
    a = scores(Context(source, replace(defs, as_of=start)), thresholds)
    if end_context is None or end_context.as_of != end:
        end_context = Context(source, replace(defs, as_of=end))
    b = _scores_of(end_context, thresholds)
    a = a.select("customer_id", before=a[column])
    b = b.select("customer_id", after=b[column])
    j = b.left_join(a, "customer_id")
    j = j.mutate(before=j.before.fill_null(NOT_YET))
    counts = j.group_by(["before", "after"]).agg(customers=j.count()).to_pandas()
    rows = [*order, NOT_YET]
    matrix = counts.pivot_table(
        index="before", columns="after", values="customers", aggfunc="sum", fill_value=0
    )
    matrix = matrix.reindex(index=rows, columns=list(order), fill_value=0).astype("int64")
    matrix.index.name = "from"
    matrix.columns.name = "to"
    return matrix
