"""Where computations read from: a :class:`Context` over the store (on
DuckDB or Spark) or over data given directly.

Data given directly (DataFrames, Arrow tables or files, by kind) goes
through the one input path: each kind is ingested into a temporary
workspace by :func:`tenure.ingestion.pipeline.ingest`, read, mapped and
checked exactly like ``tenure ingest``, and the engine reads that workspace.
This module sits above both the engine and ingestion, so that neither
reaches into the other: the engine reads stores, ingestion writes them.

>>> with open_context(store="tenure-data", as_of="2025-06-30") as ctx:  # doctest: +SKIP
...     ctx.as_of
>>> source = open_given(orders="orders.csv")                   # doctest: +SKIP
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from tenure.config import Settings, load_settings, parse_date
from tenure.datamodel import KINDS
from tenure.engine.context import Context, Definitions
from tenure.engine.source import RejectedRowsWarning, Source, open_source, open_store
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


# fx rates and customers first: orders are converted and linked on the way in
_FIRST = {"fx_rates": 0, "customers": 1, "orders": 2}


def open_given(settings: Settings | None = None, **data: Any) -> Source:
    """Ingest DataFrames, Arrow tables or files (by kind) into a temporary
    workspace, validated like ``tenure ingest``, and read from there. Rows
    that were rejected are counted in ``source.rejected`` and said in a
    :class:`RejectedRowsWarning`; the workspace goes when the source closes.
    """
    from tenure.ingestion import quarantine
    from tenure.ingestion.pipeline import ingest
    from tenure.store.workspace import Workspace

    if "orders" not in data or data["orders"] is None:
        raise ConfigError("no orders were given.", hint="Pass orders=DataFrame or a file path.")
    unknown = set(data) - set(KINDS)
    if unknown:
        raise ConfigError(
            f"unknown kinds of data: {', '.join(sorted(unknown))}.",
            hint=f"Use the kinds of the data model: {', '.join(KINDS)}.",
        )
    order = sorted((k for k in KINDS if data.get(k) is not None), key=lambda k: _FIRST.get(k, 3))
    tmp = tempfile.TemporaryDirectory(prefix="tenure-")
    base = settings or load_settings()
    settings = replace(base, store=Path(tmp.name) / "store", ops_url=None)
    rejected: dict[str, tuple[int, str]] = {}
    try:
        with Workspace.open(settings) as ws:
            for kind in order:
                result = ingest(kind, data[kind], workspace=ws)
                if result.rejected:
                    reasons = "; ".join(
                        quarantine.describe(result.source, e) for e in result.errors[:3]
                    )
                    rejected[kind] = (result.rejected, reasons)
            settings = ws.settings
        source = open_store(settings, description="the data given", on_close=tmp.cleanup)
    except BaseException:
        tmp.cleanup()
        raise
    source.rejected = {k: v[0] for k, v in rejected.items()}
    for kind, (count, reasons) in rejected.items():
        # nothing is lost silently: say what was left out and why
        warnings.warn(
            f"{count:,} {kind} rows were rejected and left out of the numbers: {reasons}. "
            f"Ingest them with `tenure ingest {kind}` to get the quarantine file.",
            RejectedRowsWarning,
            stacklevel=3,
        )
    return source
