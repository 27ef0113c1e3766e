"""Where every computation of the library starts: a :class:`Context` over
data given directly or over the store (:func:`tenure.contexts.open_context`),
and the conversions of its results.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from tenure.config import parse_date
from tenure.contexts import open_context
from tenure.engine.context import Context
from tenure.errors import ConfigError

__all__ = ["finish", "open_context", "parse_date"]


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
