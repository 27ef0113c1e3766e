"""The JSON documents of the commands, shared by ``--json`` and the REST API:
the CLI and the web server print the same document for the same question.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from tenure.jsondoc import records

if TYPE_CHECKING:
    import pandas as pd


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
    sizes: Any,
    kind: str,
    matrix: pd.DataFrame | None = None,
    from_: str | date | None = None,
    to: str | date | None = None,
) -> dict[str, Any]:
    """The JSON of ``tenure segments --json`` and of ``GET /api/v1/segments``,
    from the segment sizes of :func:`tenure.analysis.segments` as a pandas
    DataFrame or as records (``output="records"``)."""
    attrs = sizes.attrs
    rows = list(sizes) if isinstance(sizes, list) else records(sizes)
    result: dict[str, Any] = {
        "kind": kind,
        "definitions": attrs["definitions"],
        "thresholds": attrs["thresholds"] if kind == "business" else None,
        "segments": rows,
    }
    if matrix is not None:
        result["transitions"] = {
            "from": str(from_),
            "to": str(to or attrs["definitions"]["as_of"]),
            "rows": list(matrix.index),
            "columns": list(matrix.columns),
            "customers": matrix.to_numpy().tolist(),
        }
    return result
