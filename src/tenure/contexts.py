"""Where computations read from: a :class:`Context` over the store (on
DuckDB or Spark) or over data given directly.

Data given directly (DataFrames, Arrow tables or files, by kind) goes
through the one input path of :mod:`tenure.given`: ingested into a
temporary workspace exactly like ``tenure ingest``.

>>> with open_context(store="tenure-data", as_of="2025-06-30") as ctx:  # doctest: +SKIP
...     ctx.as_of
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from tenure.config import Settings, load_settings, parse_date
from tenure.engine.context import Context, Definitions
from tenure.engine.source import Source, open_source
from tenure.errors import ConfigError
from tenure.given import open_given


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
    """A :class:`Context` over ``data`` (a :class:`Source`, or data given
    directly: see :func:`open_given`) or the store; closed on exit."""
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
        source = open_given(settings, **frames)
    with source:
        ctx = Context(source, defs)
        try:
            yield ctx
        finally:
            ctx.close()
