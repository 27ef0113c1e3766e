"""The Python API of the engine: metrics, cohorts, segments and summaries as
pandas DataFrames (or Arrow tables with ``output="arrow"``).

Each function reads, in this order: ``data`` when given (a DataFrame, Arrow
or polars table, or a CSV/Parquet/JSON-lines path of orders; or a dict of
kind to data; or a :class:`~tenure.engine.source.Source`), else the store
(``store=`` or the settings). Data given directly is validated exactly like
``tenure ingest``, in a temporary store that is removed afterwards.

>>> import tenure
>>> tenure.metrics(store="tenure-data", period="quarter")        # doctest: +SKIP
>>> tenure.metrics(orders_df, period="month", activity_window=180)  # doctest: +SKIP
>>> tenure.cohorts(store="tenure-data", by="country")             # doctest: +SKIP

Every result states its definitions in ``result.attrs["definitions"]``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from typing import Any

import pandas as pd

from tenure.config import Settings, load_settings
from tenure.contexts import open_context
from tenure.engine.context import Context
from tenure.errors import ConfigError
from tenure.jsondoc import records


def _parse_date(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"{name} is {text!r}, which is not a date.", hint="Write it as YYYY-MM-DD."
        ) from None


def _finish(frame: pd.DataFrame, ctx: Context, output: str, **extra: Any):
    frame.attrs["definitions"] = ctx.describe()
    frame.attrs.update(extra)
    if output == "pandas":
        return frame
    if output == "arrow":
        import pyarrow as pa

        arrow_frame = frame.copy()
        if "missing" in arrow_frame:
            arrow_frame["missing"] = [json.dumps(m) for m in arrow_frame["missing"]]
        table = pa.Table.from_pandas(arrow_frame, preserve_index=False)
        meta = {b"tenure": json.dumps(frame.attrs, default=str).encode()}
        return table.replace_schema_metadata({**(table.schema.metadata or {}), **meta})
    raise ConfigError(f"output={output!r} is not known.", hint="Use 'pandas' or 'arrow'.")


def metrics(
    data: Any = None,
    *,
    period: str = "month",
    store: Any = None,
    activity_window: int | None = None,
    active_by: str | None = None,
    timezone: str | None = None,
    as_of: date | str | None = None,
    engine: str | None = None,
    master: str | None = None,
    output: str = "pandas",
    settings: Settings | None = None,
) -> Any:
    """Period metrics, one row per complete period (see ``docs/metrics.md``)."""
    from tenure.engine.metrics import period_metrics

    with open_context(
        data, store=store, settings=settings, engine=engine, master=master,
        activity_window=activity_window,
        active_by=active_by, timezone=timezone, as_of=as_of,
    ) as ctx:  # fmt: skip
        return _finish(period_metrics(ctx, period), ctx, output, period=period)


def metrics_document(frame: pd.DataFrame, period: str) -> dict[str, Any]:
    """The JSON of ``tenure metrics --json`` and of ``GET /api/v1/metrics``:
    the period, the definitions used and one record per period."""
    rows = records(frame.drop(columns=["period_start", "period_end"]))
    for row, start, end in zip(rows, frame["period_start"], frame["period_end"], strict=True):
        row["period_start"], row["period_end"] = start.isoformat(), end.isoformat()
    return {"period": period, "definitions": frame.attrs["definitions"], "metrics": rows}


def cohorts_document(frame: pd.DataFrame, period: str, value: str, by: str | None) -> dict:
    """The JSON of ``tenure cohorts --json`` and of ``GET /api/v1/cohorts``."""
    steps = [c for c in frame.columns if c not in ("cohort", "size")]
    rows = [
        {"cohort": r["cohort"], "size": r["size"], "values": [r[c] for c in steps]}
        for r in records(frame)
    ]
    return {
        "period": period, "value": value, "by": by,
        "definitions": frame.attrs["definitions"], "cohorts": rows,
    }  # fmt: skip


def segments_document(
    sizes: pd.DataFrame,
    kind: str,
    matrix: pd.DataFrame | None = None,
    from_: str | date | None = None,
    to: str | date | None = None,
) -> dict[str, Any]:
    """The JSON of ``tenure segments --json`` and of ``GET /api/v1/segments``."""
    result: dict[str, Any] = {
        "kind": kind,
        "definitions": sizes.attrs["definitions"],
        "thresholds": sizes.attrs["thresholds"] if kind == "business" else None,
        "segments": records(sizes),
    }
    if matrix is not None:
        result["transitions"] = {
            "from": str(from_),
            "to": str(to or sizes.attrs["definitions"]["as_of"]),
            "rows": list(matrix.index),
            "columns": list(matrix.columns),
            "customers": matrix.to_numpy().tolist(),
        }
    return result


def cohorts(
    data: Any = None,
    *,
    period: str = "month",
    value: str = "customers",
    by: str | None = None,
    store: Any = None,
    timezone: str | None = None,
    as_of: date | str | None = None,
    engine: str | None = None,
    master: str | None = None,
    output: str = "pandas",
    settings: Settings | None = None,
) -> Any:
    """A cohort matrix: one row per cohort (or ``by`` group), a column per
    period since acquisition (see ``docs/cohorts.md``)."""
    from tenure.engine.cohorts import cohort_matrix

    with open_context(
        data,
        store=store,
        settings=settings,
        engine=engine,
        master=master,
        timezone=timezone,
        as_of=as_of,
    ) as ctx:
        frame = cohort_matrix(ctx, period, value, by)
        frame.columns = [str(c) for c in frame.columns]
        return _finish(frame, ctx, output, period=period, value=value, by=by)


def customer_summary(
    data: Any = None,
    *,
    store: Any = None,
    time_unit: str = "day",
    cohort_period: str = "month",
    activity_window: int | None = None,
    active_by: str | None = None,
    timezone: str | None = None,
    as_of: date | str | None = None,
    engine: str | None = None,
    master: str | None = None,
    output: str = "pandas",
    settings: Settings | None = None,
) -> Any:
    """One row per customer: first and last order, x, t_x, T, RFM inputs..."""
    from tenure.engine.summaries import customer_summary as summary

    with open_context(
        data, store=store, settings=settings, engine=engine, master=master,
        activity_window=activity_window,
        active_by=active_by, timezone=timezone, as_of=as_of,
    ) as ctx:  # fmt: skip
        expr = summary(ctx, time_unit=time_unit, cohort_period=cohort_period)
        frame = expr.order_by("customer_id").to_pandas()
        return _finish(frame, ctx, output, time_unit=time_unit)


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
) -> Any:
    """Segment sizes and revenue shares (``kind="rfm"`` or ``"business"``), or
    every customer's scores and segments with ``per_customer=True``."""
    from tenure.segmentation.business import Thresholds
    from tenure.segmentation.sizes import KINDS, assign, column_of, segment_sizes

    if kind not in KINDS:
        raise ConfigError(f"the segment kind {kind!r} is not known.", hint="Use rfm or business.")
    settings = settings or load_settings(store=store)
    thresholds = Thresholds.from_settings(settings)
    with open_context(
        data, settings=settings, engine=engine, master=master, as_of=as_of,
        activity_window=activity_window, active_by=active_by, timezone=timezone,
    ) as ctx:  # fmt: skip
        table = assign(ctx, thresholds)
        if per_customer:
            frame = table.order_by("customer_id").to_pandas()
        else:
            column, order = column_of(kind)
            frame = segment_sizes(table, column, order)
        return _finish(frame, ctx, output, kind=kind, thresholds=thresholds.describe())


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

    start = _parse_date(start, "start") if isinstance(start, str) else start
    end = _parse_date(end, "end") if isinstance(end, str) else end
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
