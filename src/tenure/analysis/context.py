"""Where every computation of the library starts: a :class:`Context` over
data given directly or over the store, and the conversions of its results.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from tenure.analysis.filters import Filters, filtered_source, matching_customers
from tenure.config import Settings, load_settings
from tenure.engine.context import Context, Definitions
from tenure.engine.source import Source, open_source
from tenure.errors import ConfigError


@contextmanager
def open_context(
    data: Any = None,
    *,
    store: Any = None,
    engine: str | None = None,
    master: str | None = None,
    settings: Settings | None = None,
    filters: Filters | dict[str, Any] | None = None,
    **definitions: Any,
) -> Iterator[Context]:
    """A :class:`Context` over ``data`` or the store, narrowed by ``filters``
    (see :mod:`tenure.analysis.filters`); closed on exit."""
    if settings is not None and store is not None:
        settings = replace(settings, store=Path(store))
    settings = settings or load_settings(store=store)
    engine = engine or settings.engine
    filters = Filters.of(filters)
    if filters.end is not None and definitions.get("as_of") is None:
        definitions["as_of"] = filters.end
    as_of = definitions.get("as_of")
    if isinstance(as_of, str):
        definitions["as_of"] = parse_date(as_of, "as_of (--as-of)")
    elif isinstance(as_of, datetime):
        definitions["as_of"] = as_of.date()
    defs = Definitions.from_settings(settings, **definitions)
    if isinstance(data, Source):
        with _narrowed(data, defs, filters, settings) as ctx:
            yield ctx
        return
    if data is None:
        source = open_source(settings, engine=engine, master=master)
    else:
        if engine != "duckdb":
            raise ConfigError(
                "data given directly is computed on DuckDB.",
                hint="Ingest it into a store to use --engine spark, or drop engine=.",
            )
        frames = data if isinstance(data, dict) else {"orders": data}
        if definitions.get("timezone"):  # also how timestamps without an offset are read
            settings = replace(settings, timezone=definitions["timezone"])
        source = Source.from_data(settings, **frames)
    with source, _narrowed(source, defs, filters, settings) as ctx:
        yield ctx


@contextmanager
def _narrowed(
    source: Source, defs: Definitions, filters: Filters, settings: Settings
) -> Iterator[Context]:
    """The context over ``source``, or, when ``filters`` pick customers, over
    its tables narrowed to them in the engine, at the same as-of date as the
    whole data's (a filter does not move the end of the data)."""
    ctx = Context(source, defs)
    try:
        if not filters.customers:
            yield ctx
            return
        from tenure.segmentation.business import Thresholds

        ids = matching_customers(ctx, filters, Thresholds.from_settings(settings))
        with filtered_source(source, ids) as narrowed:
            # the whole data's as-of date, even where the matching customers' data
            # ends long before it: their periods after are empty, not refused
            inner = Context(narrowed, replace(defs, as_of=ctx.as_of), check_as_of=False)
            try:
                yield inner
            finally:
                inner.close()
    finally:
        ctx.close()


def parse_date(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"{name} is {text!r}, which is not a date.", hint="Write it as YYYY-MM-DD."
        ) from None


def finish(
    frame: pd.DataFrame,
    ctx: Context,
    output: str,
    filters: Filters | dict[str, Any] | None = None,
    **extra: Any,
):
    frame.attrs["definitions"] = ctx.describe()
    if filters:  # what the numbers are of, beside how they were counted
        frame.attrs["definitions"]["filters"] = Filters.of(filters).describe()
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
