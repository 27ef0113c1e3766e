"""Scores kept up to date between fits: after an ingest, the customers it
touched are scored again with the parameters of the fits that made the
kept scores, without fitting again.

The touched customers are those whose row of the persisted summary the
ingest recomputed (its ``_ingest_id``, see :mod:`tenure.store.summary`);
their rows of ``customer_predictions`` are replaced, stamped with the same
fits and the new as-of date, the others kept. The churn classifier is not
kept in the store, so ``churn_predictions`` waits for the next
``tenure fit churn``; :func:`tenure.predictions.store.fit_age` says how much
data came after each fit.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import duckdb

from tenure.config import Settings
from tenure.store import analytics, summary


def _kept(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """How the kept scores were made (their first row's stamps), or None."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'customer_predictions'"
    ).fetchall()[0][0]
    if not exists:
        return None
    rows = con.execute(
        "SELECT model, purchase_fit_id, spend_fit_id, horizon_days, discount_rate, margin "
        "FROM customer_predictions LIMIT 1"
    ).fetchall()
    if not rows:
        return None
    keys = ("model", "purchase_fit_id", "spend_fit_id", "horizon_days", "discount_rate", "margin")
    return dict(zip(keys, rows[0], strict=True))


def _model(fit: dict[str, Any], cls: type) -> Any:
    """A model with a kept fit's parameters, as fitted."""
    model = cls()
    model.params_ = dict(fit["params"])
    model.time_unit_ = fit.get("time_unit") or "day"
    return model


def rescore_ingest(settings: Settings, ingest_id: int, *, moved: bool = True) -> int | None:
    """Score the customers the ingest ``ingest_id`` touched again with the
    kept fits; the number of customers scored, or None when there was
    nothing to refresh (no scores kept, or a store without the summary).

    ``moved``: whether the ingest may have moved an order to another
    customer (it updated rows), so that a customer it left without any
    order lost their row of the summary; their kept scores go too. An
    ingest that only inserted cannot, and the search for such customers
    among all the kept scores is skipped."""
    con = analytics.connect(settings.analytics_path, read_only=True)
    try:
        kept = _kept(con)
        if kept is None:  # the engine and the models are not needed, nor imported
            return None
        from tenure.predictions.store import load_fits

        fits = {int(f["fit_id"]): f for f in load_fits(con)}
    finally:
        con.close()
    if int(kept["purchase_fit_id"]) not in fits:
        return None
    from tenure.engine.context import Context, Definitions
    from tenure.engine.source import open_store
    from tenure.models.spend import GammaGamma
    from tenure.predictions import scoring
    from tenure.predictions.store import replace_scores_of

    purchase_fit = fits[int(kept["purchase_fit_id"])]
    purchase = _model(purchase_fit, scoring.purchase_models()[kept["model"]])
    spend_id = kept["spend_fit_id"]
    spend = _model(fits[int(spend_id)], GammaGamma) if spend_id is not None else None
    with open_store(settings) as src:
        if src.activity is None:
            return None
        ctx = Context(src, Definitions.from_settings(settings, active_by="purchase"))
        a = src.activity
        # the touched customers are the summary's rows stamped by the ingest:
        # scored from a context over those rows alone, as of the whole data's
        # day, one scan of the summary finds them (a join of the summary
        # against them cost more than scoring them)
        src.activity = a.filter(a._ingest_id == int(ingest_id))
        touched = Context(src, replace(ctx.defs, as_of=ctx.as_of), check_as_of=False)
        scores = scoring.score(
            touched,
            purchase,
            spend,
            horizon_days=int(kept["horizon_days"]),
            discount_rate=float(kept["discount_rate"]),
            margin=float(kept["margin"]),
            model=kept["model"],
        )
        ids = src.activity.select("customer_id").to_pyarrow()
    replace_scores_of(settings, scores, ids, customers=summary.TABLE if moved else None)
    return len(scores.customers)
