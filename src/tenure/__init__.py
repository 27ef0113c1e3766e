"""tenure: a customer-retention engine.

>>> import tenure
>>> ws = tenure.Workspace.open(store="tenure-data")          # doctest: +SKIP
>>> tenure.ingest("orders", "orders.csv", workspace=ws)      # doctest: +SKIP
>>> scores = tenure.predict(store="tenure-data")             # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tenure._version import __version__

__all__ = [
    "__version__",
    "Settings",
    "load_settings",
    "Workspace",
    "ingest",
    "IngestResult",
    "generate_demo",
    "metrics",
    "cohorts",
    "segments",
    "customer_summary",
    "fit",
    "predict",
    "TenureError",
    "InputError",
    "ConfigError",
]

# Names are imported on first use so that `import tenure` and `tenure --help` stay fast.
_LAZY = {
    "Settings": "tenure.config",
    "load_settings": "tenure.config",
    "Workspace": "tenure.store.workspace",
    "ingest": "tenure.loyalty.on_ingest",
    "IngestResult": "tenure.ingestion.pipeline",
    "generate_demo": "tenure.datasets.demo",
    "metrics": "tenure.analysis",
    "cohorts": "tenure.analysis",
    "segments": "tenure.analysis",
    "customer_summary": "tenure.analysis",
    "fit": "tenure.analysis.fitting",
    "predict": "tenure.analysis.fitting",
    "TenureError": "tenure.errors",
    "InputError": "tenure.errors",
    "ConfigError": "tenure.errors",
}

if TYPE_CHECKING:  # pragma: no cover
    from tenure.analysis import cohorts, customer_summary, metrics, segments
    from tenure.analysis.fitting import fit, predict
    from tenure.config import Settings, load_settings
    from tenure.datasets.demo import generate_demo
    from tenure.errors import ConfigError, InputError, TenureError
    from tenure.ingestion.pipeline import IngestResult
    from tenure.loyalty.on_ingest import ingest
    from tenure.store.workspace import Workspace


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tenure' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
