"""Segment sizes, every customer's segments, and movements between two dates."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING, Any

from tenure.analysis.context import (
    Records,
    check_output,
    described,
    finish,
    open_context,
    parse_date,
)
from tenure.analysis.filters import Filters
from tenure.config import Settings, load_settings
from tenure.errors import ConfigError
from tenure.jsondoc import plain
from tenure.segmentation import business, rfm

if TYPE_CHECKING:
    import pandas as pd

# the segment names a filter, a page or a request may name
RFM_SEGMENTS: tuple[str, ...] = tuple(rfm.SEGMENTS)
BUSINESS_LABELS = business.LABELS


def segments(
    data: Any = None,
    *,
    kind: str = "rfm",
    per_customer: bool = False,
    store: Any = None,
    as_of: date | str | None = None,
    activity_window: int | None = None,
    active_by: str | None = None,
    timezone: str | None = None,
    engine: str | None = None,
    master: str | None = None,
    output: str = "pandas",
    settings: Settings | None = None,
    filters: Filters | dict[str, Any] | None = None,
) -> Any:
    """Segment sizes and revenue shares (``kind="rfm"`` or ``"business"``), or
    every customer's scores and segments with ``per_customer=True``.

    With ``filters``, of the customers who match; their RFM scores stay
    those among every customer (a filter picks customers, it does not
    re-rank them), and ``end`` is the as-of date.

    The segment sizes with ``output="records"`` are made without pandas:
    what ``tenure segments`` prints, without the cost of importing it."""
    from tenure.segmentation.business import Thresholds
    from tenure.segmentation.stored import KINDS, column_of, stored_sizes

    if kind not in KINDS:
        raise ConfigError(f"the segment kind {kind!r} is not known.", hint="Use rfm or business.")
    check_output(output)
    settings = settings or load_settings(store=store)
    thresholds = Thresholds.from_settings(settings)
    filters = Filters.of(filters)
    extra = {"kind": kind, "thresholds": thresholds.describe()}
    if (
        data is None
        and not per_customer
        and not filters.customers
        and ((engine or settings.engine) == "duckdb")
    ):
        # the store's persisted summary answers the sizes in one query of
        # its own, without importing the engine (the numbers are the same)
        stored = stored_sizes(
            settings, kind, thresholds, as_of=as_of or filters.end,
            activity_window=activity_window, active_by=active_by, timezone=timezone,
        )  # fmt: skip
        if stored is not None:
            sizes, definitions = stored
            return _sized(sizes, definitions, output, filters, extra)
    from tenure.analysis.filters import matching_customers
    from tenure.segmentation.sizes import assign, kept_scores, scores, size_rows

    with open_context(
        data, settings=settings, engine=engine, master=master,
        as_of=as_of or filters.end,
        activity_window=activity_window, active_by=active_by, timezone=timezone,
    ) as ctx:  # fmt: skip
        # the sizes need the scores alone, not every summary column beside them;
        # a segment filter has computed and kept them already
        if per_customer:
            table = assign(ctx, thresholds)
        elif filters.segment:
            table = kept_scores(ctx, thresholds)
        else:
            table = scores(ctx, thresholds)
        if filters.customers:
            ids = matching_customers(ctx, filters, thresholds)
            table = table.filter(table.customer_id.isin(ids.customer_id))
        if per_customer:
            frame = table.order_by("customer_id").to_pandas()
            return finish(frame, ctx, output, filters, **extra)
        return _sized(size_rows(table, *column_of(kind)), ctx, output, filters, extra)


def _sized(sizes: list[dict[str, Any]], ctx: Any, output: str, filters: Filters,
           extra: dict[str, Any]) -> Any:  # fmt: skip
    """Rows of :func:`~tenure.segmentation.stored.shares` as ``output``;
    ``ctx`` is the context or the definitions they were counted under."""
    if output == "records":
        rows = ({k: plain(v) for k, v in row.items()} for row in sizes)
        return Records(rows, described(ctx, filters, **extra))
    from tenure.segmentation.sizes import sizes_frame

    return finish(sizes_frame(sizes), ctx, output, filters, **extra)


def transitions(
    start: date | str,
    end: date | str,
    data: Any = None,
    *,
    kind: str = "rfm",
    store: Any = None,
    activity_window: int | None = None,
    active_by: str | None = None,
    timezone: str | None = None,
    engine: str | None = None,
    master: str | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Customers by segment at ``start`` (rows) and ``end`` (columns)."""
    from tenure.segmentation.business import Thresholds
    from tenure.segmentation.sizes import transition_matrix

    start = parse_date(start, "start") if isinstance(start, str) else start
    end = parse_date(end, "end") if isinstance(end, str) else end
    if end <= start:
        raise ConfigError(
            f"the transition runs from {start} to {end}, backwards.",
            hint="Give the earlier date first: --from 2026-01-31 --to 2026-06-30.",
        )
    settings = settings or load_settings(store=store)
    with open_context(
        data, settings=settings, engine=engine, master=master, as_of=end,
        activity_window=activity_window, active_by=active_by, timezone=timezone,
    ) as ctx:  # fmt: skip
        matrix = transition_matrix(
            ctx.source, replace(ctx.defs, as_of=None), Thresholds.from_settings(settings),
            start, end, kind, end_context=ctx,
        )  # fmt: skip
        matrix.attrs["definitions"] = ctx.describe()
        return matrix


def segment_tables(ctx: Any, settings: Settings, months: int = 6, top: int = 25) -> dict[str, Any]:
    """What the report's and the dashboard's segment section shows, on an
    open context: ``rfm`` and ``business`` (segment sizes), ``start`` (the
    end of the month ``months`` before the as-of date) and ``moved`` (how
    customers moved between RFM segments since then; None when nobody had
    purchased by then), ``at_risk`` (the ``top`` high-value customers at
    risk, highest revenue first), ``at_risk_count`` (all of them) and
    ``thresholds`` (the thresholds used, described)."""
    from tenure.engine import periods
    from tenure.errors import TenureError
    from tenure.segmentation.business import Thresholds
    from tenure.segmentation.sizes import (
        column_of,
        kept_scores,
        segment_sizes,
        transition_matrix,
        widen,
    )

    thresholds = Thresholds.from_settings(settings)
    # the sizes and counts read the scores, kept once; the whole summary's
    # columns are joined to the few customers listed
    table = kept_scores(ctx, thresholds)
    start = periods.end_of(periods.index_of(ctx.as_of, "month") - months, "month")
    try:
        moved = transition_matrix(
            ctx.source, replace(ctx.defs, as_of=None), thresholds, start, ctx.as_of,
            end_context=ctx,
        )  # fmt: skip
    except TenureError:  # no purchases yet at the start date: no movement to show
        moved = None
    risky = table.filter(table.is_high_value & table.is_at_risk)
    listed = risky.order_by([risky.monetary_total.desc(), risky.customer_id]).limit(top)
    wide = widen(ctx, listed)
    return {
        "rfm": segment_sizes(table, *column_of("rfm")),
        "business": segment_sizes(table, *column_of("business")),
        "start": start,
        "moved": moved,
        "at_risk": wide.order_by([wide.monetary_total.desc(), wide.customer_id]).to_pandas(),
        "at_risk_count": int(risky.count().execute()),
        "thresholds": thresholds.describe(),
    }
