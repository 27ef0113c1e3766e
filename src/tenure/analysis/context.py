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
    **definitions: Any,
) -> Iterator[Context]:
    """A :class:`Context` over ``data`` or the store; closed on exit."""
    if settings is not None and store is not None:
        settings = replace(settings, store=Path(store))
    settings = settings or load_settings(store=store)
    engine = engine or settings.engine
    as_of = definitions.get("as_of")
    if isinstance(as_of, str):
        definitions["as_of"] = parse_date(as_of, "as_of (--as-of)")
    elif isinstance(as_of, datetime):
        definitions["as_of"] = as_of.date()
    defs = Definitions.from_settings(settings, **definitions)
    if isinstance(data, Source):
        ctx = Context(data, defs)
        try:
            yield ctx
        finally:
            ctx.close()
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
    with source:
        ctx = Context(source, defs)
        try:
            yield ctx
        finally:
            ctx.close()


def parse_date(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"{name} is {text!r}, which is not a date.", hint="Write it as YYYY-MM-DD."
        ) from None


def finish(frame: pd.DataFrame, ctx: Context, output: str, **extra: Any):
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
