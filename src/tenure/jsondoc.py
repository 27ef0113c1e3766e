"""The JSON every interface writes: the CLI's ``--json`` and the REST API
give the same documents, byte for byte apart from indentation.

A number that is not finite (a standard error where the likelihood is
flat, an infinite remaining lifetime) is written as null: NaN and Infinity
are not JSON. Dates and other values JSON lacks are written as strings.
"""

from __future__ import annotations

import json
import math
from typing import Any


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
