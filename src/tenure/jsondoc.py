"""The JSON every interface writes: the CLI's ``--json`` and the REST API
give the same documents, byte for byte apart from indentation.

A number that is not finite (a standard error where the likelihood is
flat, an infinite remaining lifetime) is written as null: NaN and Infinity
are not JSON. Dates and other values JSON lacks are written as strings; a
missing date (pandas' NaT) is null, never the text "NaT".
"""

from __future__ import annotations

import json
import math
import sys
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


def finite(value: Any) -> Any:
    """``value`` with every non-finite float (and NumPy scalar) made JSON-safe."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    if hasattr(value, "dtype") and getattr(value, "ndim", 1) == 0:  # a NumPy scalar
        return finite(value.item())
    return value


def dumps(data: Any, *, indent: int | None = 2) -> str:
    return json.dumps(finite(data), indent=indent, default=str, ensure_ascii=False, allow_nan=False)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts: NaN and NaT to None, dates to ISO strings."""
    return [{str(k): plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def plain(value: Any) -> Any:
    """One value of a frame as JSON has it (see :func:`records`)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    # a document built without pandas (from Arrow or the engine's rows) holds
    # no pandas value: pandas is not imported for it
    pd = sys.modules.get("pandas")
    if value is None or (pd is not None and value is pd.NaT):
        return None  # NaT is a datetime whose isoformat() is "NaT"
    if isinstance(value, (datetime, date)):  # pandas' Timestamp is a datetime
        return value.isoformat()
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if pd is not None:
        try:
            if pd.isna(value):
                return None
        except (TypeError, ValueError):
            pass
    return value
