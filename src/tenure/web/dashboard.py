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
from typing import Any

from tenure.config import Settings
from tenure.engine.context import Context, Definitions
from tenure.engine.source import open_source
from tenure.report import build, churn, predictions
from tenure.report.formatting import Formatter
from tenure.web.cache import cached

PAGES = ("overview", "retention", "segments", "predictions")


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
    """The models' numbers; the churn model is the one kept in the store
    when there is one (the scores on the customer pages are its scores, and
    fitting one on a large store takes minutes), else fitted here."""
    from tenure.predictions.store import load_churn
    from tenure.store import analytics

    con = analytics.connect(settings.analytics_path, read_only=True)
    try:
        kept = load_churn(con)
    finally:
        con.close()
    html = build.chart_blocks
    health = model_health(settings, fmt)
    # a churn model no better than recency is said before any of its numbers
    verdict = churn.baseline_verdict(kept.evaluation, fmt) if kept is not None else None
    if verdict:
        health["text"] = " ".join(t for t in (verdict, health.get("text")) if t)
    return {
        "sections": [
            health,
            build.guarded(
                "predictions", "Predictions", predictions.section, ctx, settings, fmt, html
            ),
            build.guarded(
                "churn", "Churn and survival", churn.section, ctx, settings, fmt, html, kept
            ),
        ]
    }


def model_health(settings: Settings, fmt: Formatter) -> dict[str, Any]:
    """The models kept in the store: when each was fitted, on what, whether
    it converged, and its holdout error when it had one. The scores the
    Customers pages show come from these fits."""
    from tenure.predictions.store import load_fits
    from tenure.store import analytics

    con = analytics.connect(settings.analytics_path, read_only=True)
    try:
        fits = load_fits(con)
    finally:
        con.close()
    latest: dict[str, dict[str, Any]] = {}
    for fit in fits:  # in fit order: the last of each model stays
        latest[fit["model"]] = fit
    rows = []
    for model, fit in sorted(latest.items()):
        validation = fit.get("validation") or {}
        error = (validation.get("metrics") or {}).get("total_error_pct")
        rows.append([
            model, fmt.number(fit["model_version"]), fmt.datetime(fit["fitted_at"].to_pydatetime()),
            fmt.date(fit["as_of"].date()), fmt.number(fit["n_customers"]),
            "yes" if fit["converged"] else "no", fmt.number(fit["log_likelihood"], 1),
            fmt.percent(error) if error is not None else "—",
        ])  # fmt: skip
    if not rows:
        return {
            "id": "models", "title": "Models in the store",
            "text": "No model is kept in the store yet: run tenure predict (or tenure fit MODEL).",
        }  # fmt: skip
    return {
        "id": "models",
        "title": "Models in the store",
        "tables": [{
            "title": "The latest fit of each model: the scores on the customer pages come from these",
            "header": ["model", "version", "fitted", "data as of", "customers", "converged",
                       "log-likelihood", "holdout error"],
            "rows": rows,
            "numeric": [1, 4, 6, 7],
        }],
    }  # fmt: skip


BUILDERS: dict[str, Callable[[Context, Settings, Formatter], dict[str, Any]]] = {
    "overview": _overview,
    "retention": _retention,
    "segments": _segments,
    "predictions": _predictions,
}


def page(request: Any, name: str, locale: str) -> dict[str, Any]:
    """The page's tiles and sections, kept (see :func:`cached`) while the
    store is unchanged."""
    settings = request.app.state.settings

    def compute() -> dict[str, Any]:
        source = open_source(settings, engine=settings.engine)
        with source:
            ctx = Context(source, Definitions.from_settings(settings))
            fmt = Formatter(locale, source.currency)
            body = BUILDERS[name](ctx, settings, fmt)
            body["definitions"] = ctx.describe()
            body["as_of"] = fmt.date(ctx.as_of)
        return body

    return cached(request, ("page", name, locale), compute)


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
    from datetime import date

    settings = request.app.state.settings
    snapshots = [
        (
            day,
            cached(request, ("segments_at", day), lambda d=day: profiles.segments_at(settings, d)),
        )
        for day in profiles.history_dates(date.fromisoformat(as_of))
    ]
    return profiles.segment_history(customer_id, snapshots)


def warm(request_like: Any, locale: str = "en") -> None:
    """Compute what the first visitors would wait for: the customer table,
    the segment snapshots and the Overview page."""
    import logging

    log = logging.getLogger("tenure.web")
    try:
        segment_history(request_like, "")
        page(request_like, "overview", locale)
        log.info("the dashboard's first pages are ready")
    except Exception:  # a store without orders yet, say: pages will say why when asked
        log.warning("could not prepare the dashboard's first pages", exc_info=True)
