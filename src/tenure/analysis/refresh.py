"""What follows an ingest once it has committed: see :mod:`tenure.refresh`,
which lives outside this package so that ``tenure ingest`` does without the
engine that importing this package brings."""

from __future__ import annotations

from tenure.refresh import Refreshed, after_ingest, ingest

__all__ = ["Refreshed", "after_ingest", "ingest"]
