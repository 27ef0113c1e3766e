"""The fits and scores kept in the store, as every surface shows them.

``tenure fit`` and ``tenure predict`` fit with the user's model, horizon,
discount rate and margin and keep the result (see
:mod:`tenure.predictions.store`). The report, the dashboard and the API
read it back from here and never fit on their own: a predicted CLV is the
one the user asked for, the same on every surface. Where nothing is kept,
:attr:`StoredPredictions.missing` says which command keeps it.

>>> from tenure.analysis import stored_predictions
>>> kept = stored_predictions(settings)              # doctest: +SKIP
>>> kept.scores.summary()["predicted_clv"]           # doctest: +SKIP
>>> [f["validation"] for f in kept.fits]             # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from tenure.config import Settings
from tenure.errors import NotFoundError
from tenure.jsondoc import plain, records
from tenure.messages import Message
from tenure.models import Z95
from tenure.predictions.scoring import MODEL_NAMES, Scores, alive_headline
from tenure.store.missing import no_store_error

# what the surfaces say beside the kept numbers: the models' names, the
# one-time buyers' headline and the 95 % quantile of the fits' intervals
__all__ = [
    "MODEL_NAMES", "PREDICT_COMMAND", "SCORE_COLUMNS", "Z95", "AtRisk", "StoredPredictions",
    "alive_headline", "at_risk", "customer_scores", "fits_document", "kept_document",
    "scores_document", "stale_note", "stored_predictions",
]  # fmt: skip

# what ``tenure predict`` does, for the places that find nothing kept
PREDICT_COMMAND = "tenure predict"
# the columns of a customer's scores, in the order the surfaces list them
SCORE_COLUMNS = [
    "customer_id", "orders", "recency_days", "p_alive", "expected_purchases",
    "expected_spend", "clv", "next_purchase_date",
]  # fmt: skip
# the columns of ``customer_predictions`` that say how the scores were made
_STAMPS = (
    "horizon_days", "discount_rate", "margin", "currency", "model", "model_version",
    "purchase_fit_id", "spend_fit_id", "fitted_at", "as_of",
)  # fmt: skip


@dataclass
class StoredPredictions:
    """What the store keeps: every fit (oldest first), the latest scores of
    ``tenure predict`` and the churn model of ``tenure fit churn``.

    ``fits`` are the rows of ``model_fits`` as dicts: ``params``,
    ``std_errors``, ``definitions``, ``validation`` (the holdout check of
    ``tenure fit MODEL --calibration-end DATE``; None for a fit without
    one) and ``details`` decoded from JSON."""

    fits: list[dict[str, Any]]
    scores: Scores | None
    churn: Any = None  # a tenure.predictions.churn.ChurnResult, without its classifier

    def fit(self, fit_id: Any) -> dict[str, Any] | None:
        return next((f for f in self.fits if f["fit_id"] == fit_id), None)

    @property
    def purchase_fit(self) -> dict[str, Any] | None:
        """The purchase model's fit that the scores came from."""
        return self.fit(self.scores.extra.get("purchase_fit_id")) if self.scores else None

    @property
    def spend_fit(self) -> dict[str, Any] | None:
        """The spend model's fit that the scores came from."""
        return self.fit(self.scores.extra.get("spend_fit_id")) if self.scores else None

    def validated(self, model: str) -> dict[str, Any] | None:
        """The latest fit of ``model`` that kept a holdout validation."""
        found = [f for f in self.fits if f["model"] == model and f.get("validation")]
        return found[-1] if found else None

    @property
    def missing(self) -> str | None:
        """Why there are no scores to show, and the command that makes them."""
        if self.scores is not None:
            return None
        return Message(
            "No predictions are kept in the store yet: run tenure predict (with your "
            "--model, --horizon, --discount-rate and --margin) to fit the models and keep "
            "every customer's scores."
        )


def stored_predictions(settings: Settings) -> StoredPredictions:
    """Read the kept fits, scores and churn model (read-only)."""
    from tenure.predictions.store import fit_age, load_churn, load_fits, load_scores
    from tenure.store import analytics

    if not settings.analytics_path.exists():
        raise no_store_error(settings.store)
    con = analytics.connect(settings.analytics_path, read_only=True)
    try:
        fits = load_fits(con)
        for f in fits:  # how much older than the data each fit is
            f["staleness"] = fit_age(con, f)
        frame = load_scores(con)
        churn = load_churn(con)
    finally:
        con.close()
    fits = [_fit_row(f) for f in fits]
    return StoredPredictions(fits, _scores(frame, fits), churn)


def stale_note(
    fit: dict[str, Any] | None, command: str, fmt: Any, *, sentence: bool = False
) -> Message | None:
    """What a surface says beside a kept fit that data came after (its
    ``staleness``: days since it was fitted, rows ingested since), numbers
    formatted by ``fmt``, as a sentence (with its full stop) or a note;
    None for a fit as new as the data."""
    since = (fit or {}).get("staleness") or {}
    if not since.get("stale"):
        return None
    # both written out: the catalogs of translations are checked against the code's strings
    template = (
        "The fit is {days} days old, and {rows} rows were ingested after it; {command} fits it "
        "again."
        if sentence
        else "The fit is {days} days old, and {rows} rows were ingested after it; {command} fits "
        "it again"
    )
    return Message(
        template,
        days=fmt.number(since["age_days"], 1),
        rows=fmt.number(since["rows_ingested"]),
        command=command,
    )


def _fit_row(row: dict[str, Any]) -> dict[str, Any]:
    row = {k: plain(v) if k != "staleness" else v for k, v in row.items()}
    for key in ("fit_id", "model_version", "n_customers"):
        if row.get(key) is not None:
            row[key] = int(row[key])
    if row.get("as_of"):  # a DATE column comes back as a timestamp
        row["as_of"] = str(row["as_of"])[:10]
    if row.get("calibration_end"):
        row["calibration_end"] = str(row["calibration_end"])[:10]
    return row


def _scores(frame: pd.DataFrame | None, fits: list[dict[str, Any]]) -> Scores | None:
    """The kept scores as the :class:`Scores` that ``tenure predict`` made
    (without the model objects: their parameters are in the fits)."""
    if frame is None or frame.empty:
        return None
    first = frame.iloc[0]
    purchase_id = int(first["purchase_fit_id"])
    spend_id = None if pd.isna(first["spend_fit_id"]) else int(first["spend_fit_id"])
    purchase = next((f for f in fits if f["fit_id"] == purchase_id), {})
    customers = frame.drop(columns=[c for c in _STAMPS if c in frame])
    customers["next_purchase_date"] = pd.to_datetime(customers["next_purchase_date"])
    return Scores(
        customers=customers.reset_index(drop=True),  # in tenure predict's order: same sums
        purchase_model=None,  # type: ignore[arg-type]
        spend_model=None,
        as_of=pd.Timestamp(first["as_of"]).date(),
        time_unit=purchase.get("time_unit") or "day",
        horizon_days=int(first["horizon_days"]),
        discount_rate=float(first["discount_rate"]),
        margin=float(first["margin"]),
        currency=str(first["currency"]),
        model=str(first["model"]),
        extra={
            "purchase_fit_id": purchase_id,
            "spend_fit_id": spend_id,
            "model_version": int(first["model_version"]),
            "fitted_at": pd.Timestamp(first["fitted_at"]).isoformat(),
        },
    )


def scores_document(scores: Scores, fits: list[dict[str, Any]], top: int = 10) -> dict[str, Any]:
    """The JSON of ``tenure predict --json`` and of ``GET /api/v1/predictions``:
    how the scores were made, their totals, the fits and the ``top``
    customers by predicted CLV."""
    head = scores.top(top)[SCORE_COLUMNS]
    head = head.assign(next_purchase_date=pd.to_datetime(head.next_purchase_date).dt.date)
    return {
        "model": scores.model,
        "model_choice": scores.extra.get("model_choice"),
        "as_of": scores.as_of.isoformat(),
        "horizon_days": scores.horizon_days,
        "discount_rate": scores.discount_rate,
        "margin": scores.margin,
        "currency": scores.currency,
        "time_unit": scores.time_unit,
        **scores.summary(),
        "fits": [{k: plain(v) for k, v in f.items()} for f in fits],
        "top_customers": records(head),
    }


def kept_document(kept: StoredPredictions, top: int = 10) -> dict[str, Any]:
    """``GET /api/v1/predictions``: the kept scores' document, or a
    :class:`NotFoundError` naming the command that makes them."""
    if kept.scores is None:
        raise NotFoundError(kept.missing or "", hint=f"Run {PREDICT_COMMAND}.")
    fits = [f for f in (kept.purchase_fit, kept.spend_fit) if f]
    return scores_document(kept.scores, fits, top) | {"fitted_at": kept.scores.extra["fitted_at"]}


def fits_document(kept: StoredPredictions) -> dict[str, Any]:
    """``GET /api/v1/predictions/fits``: every kept fit, oldest first, each
    with its holdout validation (null for a fit made without one)."""
    return {"fits": kept.fits}


def customer_scores(kept: StoredPredictions, customer_id: str) -> dict[str, Any] | None:
    """One customer's kept scores, JSON-ready; None when not scored."""
    if kept.scores is None:
        return None
    c = kept.scores.customers
    found = c[c.customer_id == str(customer_id)]
    if found.empty:
        return None
    row = found.iloc[0][SCORE_COLUMNS]
    return {k: plain(v) for k, v in row.items()} | {
        "next_purchase_date": None
        if pd.isna(row["next_purchase_date"])
        else pd.Timestamp(row["next_purchase_date"]).date().isoformat()
    }


@dataclass
class AtRisk:
    """The high-value customers the purchase model thinks are leaving.

    ``leaving``: the top ``top_percent`` % by revenue with P(alive) under
    ``ALIVE_BELOW`` who bought within the activity window (where an outreach
    can still keep them), highest revenue first; ``lapsed``: how many such
    customers bought last longer ago than that (a win-back's audience)."""

    leaving: pd.DataFrame
    lapsed: int
    top_percent: float
    window_days: int


# P(alive) under this: the model thinks the customer more likely gone than not
ALIVE_BELOW = 0.5


def at_risk(scores: Scores, top_percent: float, window_days: int) -> AtRisk:
    """The high-value customers at risk among the kept scores' customers:
    revenue in the top ``top_percent`` % (at or above that quantile), P(alive)
    under one half, and a purchase in the last ``window_days`` days (the
    store's activity window); those past the window are only counted."""
    c = scores.customers
    high = c["monetary_total"] >= c["monetary_total"].quantile(1 - top_percent / 100)
    slipping = high & (c["p_alive"] < ALIVE_BELOW)
    leaving = c[slipping & (c["recency_days"] < window_days)].sort_values(
        ["monetary_total", "customer_id"], ascending=[False, True], ignore_index=True
    )
    lapsed = int((slipping & (c["recency_days"] >= window_days)).sum())
    return AtRisk(leaving, lapsed, top_percent, int(window_days))
