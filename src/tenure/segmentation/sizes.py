"""Segment sizes, revenue shares, and movement between two dates."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import ibis.expr.types as ir

from tenure.engine.context import Context, Definitions
from tenure.engine.source import rows
from tenure.engine.summaries import customer_summary, purchaser_summary
from tenure.segmentation.business import Thresholds, business_segments
from tenure.segmentation.rfm import rfm_scores
from tenure.segmentation.stored import KINDS, SIZE_COLUMNS, column_of, shares  # noqa: F401

if TYPE_CHECKING:
    import pandas as pd

NOT_YET = "(not yet a customer)"


# What the RFM scores and the business segments read of the customer summary.
SCORED = ("customer_id", "orders", "recency_days", "monetary_total", "tenure_days", "active")


def scores(ctx: Context, thresholds: Thresholds) -> ir.Table:
    """Per purchaser: the summary's columns in :data:`SCORED`, r, f, m, fm,
    rfm, segment and the business flags and label.

    The percent ranks sort every purchaser: ranking these few columns, not the
    two dozen of the summary, is what keeps segments fast (at 1M customers the
    sort of the whole summary took most of the time). Not kept in the engine:
    segment sizes read it once."""
    s = purchaser_summary(ctx, SCORED)
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


def size_rows(table: ir.Table, column: str, order: tuple[str, ...]) -> list[dict[str, Any]]:
    """One dict per segment of ``order`` (those nobody is in too) with the
    :data:`SIZE_COLUMNS`: customers and revenue, their shares in percent
    (NaN when there are none), and the segment's averages (None when it is
    empty).

    The shares are worked out here, in Python, from the engine's few rows:
    :func:`segment_sizes` (pandas) and every output of
    :func:`tenure.analysis.segments` are made of these dicts, so every
    surface shows the same numbers."""
    agg = table.group_by(seg=table[column]).agg(
        customers=table.count(),
        revenue=table.monetary_total.sum(),
        avg_recency_days=table.recency_days.mean(),
        avg_orders=table.orders.mean(),
        avg_revenue=table.monetary_total.mean(),
    )
    return shares({seg: rest for seg, *rest in rows(agg)}, order)


def segment_sizes(table: ir.Table, column: str, order: tuple[str, ...]) -> pd.DataFrame:
    """:func:`size_rows` as a pandas DataFrame (missing values as NaN)."""
    return sizes_frame(size_rows(table, column, order))


def sizes_frame(sizes: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows of :func:`size_rows` as a pandas DataFrame (missing values as NaN)."""
    import pandas as pd

    frame = pd.DataFrame(sizes, columns=list(SIZE_COLUMNS))
    floats = [c for c in SIZE_COLUMNS if c not in ("segment", "customers")]
    return frame.astype({"customers": "int64", **dict.fromkeys(floats, "float64")})


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
