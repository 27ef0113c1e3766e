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

from collections.abc import Callable
from datetime import date
from typing import Any

import pandas as pd

from tenure.analysis import open_context
from tenure.analysis.context import Context
from tenure.analysis.filters import Filters
from tenure.analysis.predictions import StoredPredictions, stored_predictions
from tenure.config import Settings
from tenure.errors import TenureError
from tenure.messages import Message
from tenure.report import build, churn, predictions
from tenure.report.formatting import Formatter
from tenure.web.cache import cached

PAGES = ("overview", "retention", "segments", "predictions")


def _overview(ctx: Context, settings: Settings, fmt: Formatter) -> dict[str, Any]:
    top = build.overview(ctx, settings, fmt, build.metric_frames(ctx))
    return {"tiles": top["tiles"], "sections": top["sections"]}


def _retention(ctx: Context, settings: Settings, fmt: Formatter) -> dict[str, Any]:
    frames = build.metric_frames(ctx)
    sections = build.trend_sections(frames, fmt)
    sections.append(build.guarded("cohorts", "Cohorts", build.cohort_section, ctx, settings, fmt))
    # what the numbers above mean: the report's definitions and formulas
    sections.append(build.definitions_section(frames["month"], ctx.describe(), settings))
    return {"sections": sections}


def _segments(ctx: Context, settings: Settings, fmt: Formatter) -> dict[str, Any]:
    return {
        "sections": [
            build.guarded("segments", "Segments", build.segment_section, ctx, settings, fmt)
        ]
    }


def _predictions(ctx: Context, settings: Settings, fmt: Formatter) -> dict[str, Any]:
    """The kept models' numbers, read from the store as the report reads
    them: the scores of the user's last tenure predict and the churn model
    of tenure fit churn (the customer pages show the same scores)."""
    kept = stored_predictions(settings)
    html = build.chart_blocks
    health = model_health(kept, fmt)
    # a churn model no better than recency is said before any of its numbers
    verdict = churn.baseline_verdict(kept.churn.evaluation, fmt) if kept.churn else None
    if verdict:
        health["text"] = Message.join(" ", [verdict, health.get("text")])
    shown = (ctx, settings, fmt, html)
    return {
        "sections": [
            health,
            build.guarded(
                "predictions", "Predictions", predictions.section, ctx, settings, fmt, html, kept
            ),
            build.guarded("churn", "Churn and survival", churn.section, *shown, kept),
        ]
    }


def model_health(kept: StoredPredictions, fmt: Formatter) -> dict[str, Any]:
    """Every fit kept in the store, newest first: when it was fitted, on
    what, whether it converged, and its holdout check when it had one (a
    later fit does not hide an earlier one's check)."""
    rows = []
    for fit in reversed(kept.fits):
        v = fit.get("validation") or {}
        error, mae = v.get("total_error_pct"), v.get("mae")
        rows.append([
            fit["model"], fmt.number(fit["model_version"]),
            fmt.datetime(pd.Timestamp(fit["fitted_at"]).to_pydatetime()),
            fmt.date(_day(fit["as_of"])),
            fmt.date(_day(fit.get("calibration_end"))) if fit.get("calibration_end") else "—",
            fmt.number(fit["n_customers"]), Message("yes" if fit["converged"] else "no"),
            fmt.number(fit["log_likelihood"], 1),
            fmt.percent(error) if error is not None else "—",
            fmt.number(mae, 3) if mae is not None else "—",
        ])  # fmt: skip
    if not rows:
        return {
            "id": "models", "title": "Models in the store",
            "text": Message("No model is kept in the store yet: run tenure predict (or tenure fit MODEL)."),
        }  # fmt: skip
    return {
        "id": "models",
        "title": "Models in the store",
        "tables": [{
            "title": "Every fit kept in the store, the latest first, with its holdout check: "
                     "the scores on the customer pages come from the latest tenure predict",
            "header": ["model", "version", "fitted", "data as of", "calibration end",
                       "customers", "converged", "log-likelihood", "holdout error",
                       "holdout MAE"],
            "rows": rows,
            "numeric": [1, 5, 7, 8, 9],
        }],
    }  # fmt: skip


def _day(value: Any) -> date | None:
    return None if value is None else date.fromisoformat(str(value)[:10])


BUILDERS: dict[str, Callable[[Context, Settings, Formatter], dict[str, Any]]] = {
    "overview": _overview,
    "retention": _retention,
    "segments": _segments,
    "predictions": _predictions,
}


def page(request: Any, name: str, locale: str, filters: Filters | None = None) -> dict[str, Any]:
    """The page's tiles and sections, of the customers ``filters`` pick
    (computed in the engine by the library, as ``tenure metrics --country``
    would), kept (see :func:`cached`) while the store is unchanged."""
    settings = request.app.state.settings
    filters = filters or Filters()

    def compute() -> dict[str, Any]:
        with open_context(settings=settings, filters=filters) as ctx:
            fmt = Formatter(locale, ctx.source.currency)
            body = BUILDERS[name](ctx, settings, fmt)
            body["definitions"] = ctx.describe()
            if filters:
                body["definitions"]["filters"] = filters.describe()
            body["as_of"] = fmt.date(ctx.as_of)
        return body

    return cached(request, ("page", name, locale, filters), compute)


def customer_table(request: Any):
    """Every customer's row of :func:`tenure.profiles.customer_table`, cached."""
    from tenure.profiles import customer_table as build_table

    return cached(request, ("customer_table",), lambda: build_table(request.app.state.settings))


def segment_history(request: Any, customer_id: str) -> list[dict[str, Any]]:
    """The customer's segments at the last six month ends; the segments of
    everyone at each date are computed once and kept until the store changes."""
    from tenure import profiles

    table = customer_table(request)
    as_of = table.attrs.get("definitions", {}).get("as_of")
    if not as_of:
        return []
    settings = request.app.state.settings
    snapshots = [
        (
            day,
            cached(request, ("segments_at", day), lambda d=day: profiles.segments_at(settings, d)),
        )
        for day in profiles.history_dates(date.fromisoformat(as_of))
    ]
    return profiles.segment_history(customer_id, snapshots)


def warm(request_like: Any, locale: str = "en", then: Callable[[], None] | None = None) -> None:
    """Compute what the first visitors would wait for: the customer table,
    the segment snapshots and the Overview page; then call ``then`` (before
    the log line that says the pages are ready)."""
    import logging

    log = logging.getLogger("tenure.web")
    try:
        segment_history(request_like, "")
        page(request_like, "overview", locale)
    except TenureError as exc:  # a store without orders yet, say: pages say why when asked
        log.warning("the dashboard's first pages are not prepared: %s", str(exc).splitlines()[0])
        return
    except Exception:
        log.warning("could not prepare the dashboard's first pages", exc_info=True)
        return
    finally:
        if then is not None:
            then()
    log.info("the dashboard's first pages are ready")
