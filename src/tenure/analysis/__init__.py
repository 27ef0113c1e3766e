"""The library layer: every number tenure shows is decided here, once, and
the CLI, the HTML report, the dashboard and the REST API only format it.

Metrics, cohorts, segments and summaries come back as pandas DataFrames (or
Arrow tables with ``output="arrow"``); fits and scores as typed results;
each command's JSON document from :mod:`tenure.analysis.documents`.

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

=================  ==========================================================
``context``        a Context over data or the store (``open_context``)
``metrics``        period metrics
``cohorts``        cohort matrices
``segments``       segment sizes, per-customer segments, transitions
``customers``      the per-customer summary
``fitting``        fit a model, score customers (``tenure fit``, ``predict``)
``predictions``    the fits and scores kept in the store, as the surfaces show them
``documents``      the JSON documents of the commands and the API
=================  ==========================================================
"""

from __future__ import annotations

from typing import Any

from tenure.analysis.cohorts import cohorts
from tenure.analysis.context import open_context, parse_date
from tenure.analysis.customers import customer_summary
from tenure.analysis.documents import (
    cohorts_document,
    metrics_document,
    segments_document,
)
from tenure.analysis.metrics import metrics
from tenure.analysis.segments import segments, transitions
from tenure.jsondoc import records

__all__ = [
    "FitResult",
    "StoredPredictions",
    "cohorts",
    "cohorts_document",
    "customer_summary",
    "fits_document",
    "fit",
    "kept_document",
    "metrics",
    "metrics_document",
    "open_context",
    "parse_date",
    "predict",
    "records",
    "segments",
    "segments_document",
    "scores_document",
    "stored_predictions",
    "transitions",
]

# the fitting half imports the models and the predictions package, which
# itself reads this package's context: imported on first use
_LAZY = {
    "fit": "tenure.analysis.fitting",
    "predict": "tenure.analysis.fitting",
    "FitResult": "tenure.analysis.fitting",
    "stored_predictions": "tenure.analysis.predictions",
    "StoredPredictions": "tenure.analysis.predictions",
    "scores_document": "tenure.analysis.predictions",
    "kept_document": "tenure.analysis.predictions",
    "fits_document": "tenure.analysis.predictions",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tenure.analysis' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
