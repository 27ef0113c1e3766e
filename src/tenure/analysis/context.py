"""Where every computation of the library starts: a :class:`Context` over
data given directly or over the store (:func:`tenure.contexts.open_context`),
and the conversions of its results.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tenure.analysis.filters import Filters
from tenure.config import Settings, load_settings, parse_date
from tenure.errors import ConfigError, InputError

if TYPE_CHECKING:  # the engine is imported when a context is opened
    import pandas as pd

    from tenure.engine.context import Context

__all__ = ["finish", "open_context", "parse_date"]


@contextmanager
def open_context(
    data: Any = None,
    *,
    store: Any = None,
    settings: Settings | None = None,
    filters: Filters | dict[str, Any] | None = None,
    **options: Any,
) -> Iterator[Context]:
    """A :class:`Context` over ``data`` or the store
    (:func:`tenure.contexts.open_context`, which takes ``engine``,
    ``master`` and the definitions), narrowed by ``filters`` (see
    :mod:`tenure.analysis.filters`); closed on exit."""
    from tenure.analysis.filters import filtered_source, matching_customers
    from tenure.contexts import open_context as open_unfiltered
    from tenure.engine.context import Context

    if settings is not None and store is not None:
        settings = replace(settings, store=Path(store))
    settings = settings or load_settings(store=store)
    filters = Filters.of(filters)
    if filters.end is not None and options.get("as_of") is None:
        options["as_of"] = filters.end
    with open_unfiltered(data, settings=settings, **options) as ctx:
        ctx.shown_from = filters.start
        if not filters.customers:
            yield ctx
            return
        from tenure.segmentation.business import Thresholds

        ids = matching_customers(ctx, filters, Thresholds.from_settings(settings))
        if int(ids.count().execute()) == 0:
            said = ", ".join(f"{k}={v}" for k, v in filters.describe().items() if k not in
                             ("start", "end"))  # fmt: skip
            raise InputError(
                f"no customer in {ctx.source.description} matches {said}.",
                hint="Check the spelling against the data (tenure cohorts --by country, or "
                "--by acquisition_channel, lists the values), or drop the filter.",
            )
        with filtered_source(ctx.source, ids) as narrowed:
            # the whole data's as-of date, even where the matching customers' data
            # ends long before it: their periods after are empty, not refused
            inner = Context(narrowed, replace(ctx.defs, as_of=ctx.as_of), check_as_of=False)
            inner.shown_from = filters.start
            try:
                yield inner
            finally:
                inner.close()


def described(
    ctx: Context | dict[str, Any],
    filters: Filters | dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """What every result carries beside its rows (a frame's ``attrs``, an
    Arrow table's ``tenure`` metadata): the definitions (of the context, or
    as given), the filters, and ``extra``."""
    definitions = dict(ctx) if isinstance(ctx, dict) else ctx.describe()
    attrs: dict[str, Any] = {"definitions": definitions}
    if filters:  # what the numbers are of, beside how they were counted
        attrs["definitions"]["filters"] = Filters.of(filters).describe()
    attrs.update(extra)
    return attrs


OUTPUTS = ("pandas", "arrow", "records")


def check_output(output: str) -> str:
    if output not in OUTPUTS:
        raise ConfigError(
            f"output={output!r} is not known.", hint="Use 'pandas', 'arrow' or 'records'."
        )
    return output


class Records(list):
    """``output="records"``: the rows as dicts of the values a JSON document
    holds (missing values as None, dates as ISO text), with the result's
    ``attrs`` as a DataFrame has them."""

    def __init__(self, rows: Any, attrs: dict[str, Any]) -> None:
        super().__init__(rows)
        self.attrs = attrs


def finish(
    frame: pd.DataFrame,
    ctx: Context | dict[str, Any],
    output: str,
    filters: Filters | dict[str, Any] | None = None,
    **extra: Any,
):
    check_output(output)
    frame.attrs.update(described(ctx, filters, **extra))
    if output == "pandas":
        return frame
    if output == "records":
        from tenure.jsondoc import records

        return Records(records(frame), frame.attrs)
    import pyarrow as pa

    arrow_frame = frame.copy()
    if "missing" in arrow_frame:
        arrow_frame["missing"] = [json.dumps(m) for m in arrow_frame["missing"]]
    table = pa.Table.from_pandas(arrow_frame, preserve_index=False)
    meta = {b"tenure": json.dumps(frame.attrs, default=str).encode()}
    return table.replace_schema_metadata({**(table.schema.metadata or {}), **meta})


def __getattr__(name: str) -> Any:
    # the engine's Context, imported on first use: what reads the store's
    # persisted summary in plain SQL never needs it
    if name == "Context":
        from tenure.engine.context import Context

        return Context
    raise AttributeError(f"module 'tenure.analysis.context' has no attribute {name!r}")
