"""The dashboard's pages: the report's sections, grouped the way a team
looks for them, computed by the same functions (so a page and the report
and ``tenure metrics`` agree), and kept until the store changes.

=============  ====================================================
Overview       KPI tiles, goals, the industry benchmark
Retention      trends, customer feedback, cohorts
Segments       segment sizes and shares, movements, the lists
Predictions    purchase and spend models, holdout, churn, survival
=============  ====================================================
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tenure.config import Settings
from tenure.engine.context import Context, Definitions
from tenure.engine.source import open_source
from tenure.report import build, churn, predictions
from tenure.report.formatting import Formatter

PAGES = ("overview", "retention", "segments", "predictions")


def data_version(settings: Settings) -> tuple[int, ...]:
    """Changes whenever the analytics store is written (an ingest, a fit):
    the modification times of its file and write-ahead log."""
    path = Path(settings.analytics_path)
    out = []
    for p in (path, path.with_name(path.name + ".wal")):
        try:
            out.append(p.stat().st_mtime_ns)
        except FileNotFoundError:
            out.append(0)
    return tuple(out)


def _overview(ctx: Context, settings: Settings, fmt: Formatter) -> dict[str, Any]:
    top = build.overview(ctx, settings, fmt, build.metric_frames(ctx))
    return {"tiles": top["tiles"], "sections": top["sections"]}


def _retention(ctx: Context, settings: Settings, fmt: Formatter) -> dict[str, Any]:
    sections = build.trend_sections(build.metric_frames(ctx), fmt)
    sections.append(build.guarded("cohorts", "Cohorts", build.cohort_section, ctx, settings, fmt))
    return {"sections": sections}


def _segments(ctx: Context, settings: Settings, fmt: Formatter) -> dict[str, Any]:
    return {
        "sections": [
            build.guarded("segments", "Segments", build.segment_section, ctx, settings, fmt)
        ]
    }


def _predictions(ctx: Context, settings: Settings, fmt: Formatter) -> dict[str, Any]:
    html = build.chart_blocks
    return {
        "sections": [
            build.guarded(
                "predictions", "Predictions", predictions.section, ctx, settings, fmt, html
            ),
            build.guarded("churn", "Churn and survival", churn.section, ctx, settings, fmt, html),
        ]
    }


BUILDERS: dict[str, Callable[[Context, Settings, Formatter], dict[str, Any]]] = {
    "overview": _overview,
    "retention": _retention,
    "segments": _segments,
    "predictions": _predictions,
}


class PageCache:
    """Pages already computed, by (page, locale, store version); the oldest
    go first beyond ``size``. A page being computed is computed once: other
    requests for it wait for it."""

    def __init__(self, size: int = 32) -> None:
        self._pages: OrderedDict[tuple, dict[str, Any]] = OrderedDict()
        self._locks: dict[tuple, threading.Lock] = {}
        self._guard = threading.Lock()
        self.size = size

    def get(self, key: tuple, compute: Callable[[], Any]) -> Any:
        with self._guard:
            if key in self._pages:
                self._pages.move_to_end(key)
                return self._pages[key]
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            with self._guard:
                if key in self._pages:
                    return self._pages[key]
            page = compute()
            with self._guard:
                self._pages[key] = page
                while len(self._pages) > self.size:
                    self._pages.popitem(last=False)
                self._locks.pop(key, None)
            return page


def page(settings: Settings, name: str, locale: str, cache: PageCache) -> dict[str, Any]:
    """The page's tiles and sections, from the cache while the store is unchanged."""

    def compute() -> dict[str, Any]:
        source = open_source(settings, engine=settings.engine)
        with source:
            ctx = Context(source, Definitions.from_settings(settings))
            fmt = Formatter(locale, source.currency)
            body = BUILDERS[name](ctx, settings, fmt)
            body["definitions"] = ctx.describe()
            body["as_of"] = fmt.date(ctx.as_of)
        return body

    return cache.get((name, locale, data_version(settings)), compute)


def cached(request: Any, what: tuple, compute: Callable[[], Any]) -> Any:
    """``compute()``, kept in the app's cache under ``what`` until the store
    changes: numbers only change when the store does, so a repeated request
    is answered from memory. The computation reads the store under the
    server's read lock."""
    state = request.app.state
    key = (*what, data_version(state.settings))

    def under_lock() -> Any:
        with state.store_lock.read():
            return compute()

    return state.cache.get(key, under_lock)


def customer_table(request: Any):
    """Every customer's row of :func:`tenure.profiles.customer_table`, cached."""
    from tenure.profiles import customer_table as build_table

    return cached(request, ("customer_table",), lambda: build_table(request.app.state.settings))
