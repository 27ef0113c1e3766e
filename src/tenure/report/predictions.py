"""The report's predictions section: the kept fits with their intervals,
the holdout validation kept with a fit, P(alive) against recency and
frequency, predicted CLV, and the high-value customers the model thinks
are leaving.

Every number is read from the store (:func:`tenure.analysis.stored_predictions`):
the scores of the user's last ``tenure predict``, with its model, horizon,
discount rate and margin. Nothing is fitted here; with nothing kept the
section says which command keeps it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tenure.analysis.context import Context
from tenure.analysis.predictions import (
    MODEL_NAMES,
    Z95,
    StoredPredictions,
    alive_headline,
    at_risk,
    stale_note,
    stored_predictions,
)
from tenure.config import Settings
from tenure.messages import Message
from tenure.report import charts
from tenure.report.formatting import Formatter

AT_RISK_LIST = 20
RECENCY_BINS = [0, 30, 90, 180, 365, 730, np.inf]
RECENCY_LABELS = ["0–29", "30–89", "90–179", "180–364", "365–729", "730+"]
FREQUENCY_BINS = [0, 1, 2, 3, 5, 10, np.inf]
FREQUENCY_LABELS = ["0", "1", "2", "3–4", "5–9", "10+"]


def section(
    ctx: Context,
    settings: Settings,
    fmt: Formatter,
    html: Any,
    kept: StoredPredictions | None = None,
) -> dict[str, Any]:
    """``html(figs, prefix)`` turns figures into the page's chart blocks;
    ``kept`` is what the store keeps (read here when not given)."""
    kept = kept or stored_predictions(settings)
    scores = kept.scores
    if scores is None:
        return {"id": "predictions", "title": "Predictions", "text": kept.missing}
    sep = fmt.separators
    c = scores.customers
    purchase, spend = kept.purchase_fit, kept.spend_fit
    tables = []
    if purchase:
        name = MODEL_NAMES.get(scores.model, scores.model)
        tables.append(_params(f"{name} purchases (t in {scores.time_unit}s)", purchase, fmt))
    if spend:
        tables.append(_params("Gamma-Gamma spend per purchase", spend, fmt))
    figs = []
    notes = []
    if scores.as_of < ctx.as_of:  # kept scores are not refreshed behind the user's back
        notes.append(Message(
            "These scores are those of {then}; the data now runs to {now}: tenure predict scores "
            "every customer again", then=fmt.date(scores.as_of), now=fmt.date(ctx.as_of),
        ))  # fmt: skip
    if note := stale_note(purchase, "tenure predict", fmt):
        notes.append(note)
    checked = kept.validated(scores.model)
    if checked is None:
        notes.append(Message(
            "No holdout validation is kept for {name}: tenure fit {model} --calibration-end DATE "
            "fits it on the orders up to DATE, checks it on the rest and keeps the check",
            name=MODEL_NAMES.get(scores.model, scores.model), model=scores.model,
        ))  # fmt: skip
    else:
        v = checked["validation"]
        cal_end = pd.Timestamp(v["calibration_end"]).date()
        holdout_end = pd.Timestamp(v["holdout_end"]).date()
        if v.get("tracking"):
            figs.append(charts.tracking(
                pd.DataFrame(v["tracking"]).assign(date=lambda f: pd.to_datetime(f["date"])),
                cal_end.isoformat(),
                f"Holdout: repeat purchases, actual and predicted (fitted up to {fmt.date(cal_end)})", sep,
            ))  # fmt: skip
        if v.get("by_frequency"):
            figs.append(charts.by_frequency(
                pd.DataFrame(v["by_frequency"]), "Holdout: mean purchases by calibration frequency", sep
            ))  # fmt: skip
        which = (
            Message("the fit these scores came from")
            if purchase and checked["fit_id"] == purchase["fit_id"]
            else Message("version {version} of the model", version=checked["model_version"])
        )
        notes.append(Message(
            "Holdout {start} – {end} ({which}): {actual} repeat purchase days, the model predicted "
            "{predicted} ({error}); per customer MAE {mae}, RMSE {rmse}, correlation {correlation}",
            start=fmt.date(cal_end), end=fmt.date(holdout_end), which=which,
            actual=fmt.number(v["actual_purchases"]), predicted=fmt.number(v["predicted_purchases"]),
            error=_signed(v["total_error_pct"], fmt), mae=fmt.number(v["mae"], 3),
            rmse=fmt.number(v["rmse"], 3),
            correlation=fmt.number(v["correlation"], 3) if v.get("correlation") is not None else "—",
        ))  # fmt: skip

    matrix = _alive_matrix(c)
    figs.append(charts.alive_map(matrix, "P(alive) by frequency and recency", sep))
    figs.append(charts.histogram(
        c["clv"].clip(upper=c["clv"].quantile(0.99)),
        f"Predicted CLV over {scores.horizon_days} days ({fmt.currency}; top 1 % capped)",
        f"CLV ({fmt.currency})", sep,
    ))  # fmt: skip

    found = at_risk(scores, settings.high_value_top_percent, int(ctx.defs.activity_window))
    risky, lapsed, window = found.leaving, found.lapsed, found.window_days
    rows = [
        [r.customer_id, fmt.money(r.monetary_total), fmt.number(r.orders), fmt.number(r.recency_days),
         fmt.percent(100 * r.p_alive), fmt.number(r.expected_purchases, 2), fmt.money(r.clv)]
        for r in risky.head(AT_RISK_LIST).itertuples()
    ]  # fmt: skip
    tables.append({
        "title": Message(
            "High-value customers the model thinks are leaving: {n} (top {percent} % by revenue, "
            "P(alive) under 50 %, a purchase in the last {days} days; the top {top} by revenue). "
            "Another {lapsed} such customers have lapsed already: a win-back campaign's audience",
            n=fmt.number(len(risky)), percent=settings.high_value_top_percent,
            days=fmt.number(window), top=len(rows), lapsed=fmt.number(lapsed),
        ),
        "header": ["customer", "revenue", "orders", "days since", "P(alive)", "purchases ahead", "CLV"],
        "rows": rows,
        "numeric": [1, 2, 3, 4, 5, 6],
        "ids": 0,
    })  # fmt: skip
    summary = scores.summary()
    fitted = pd.Timestamp(scores.extra["fitted_at"]).to_pydatetime()
    # the one-time buyers' headline first: what the page leads with
    text = Message.join(". ", [alive_headline(summary, fmt.number), Message(
        "Scored by tenure predict ({name} and Gamma-Gamma, fitted {fitted}) on {customers} "
        "customers as of {date}; over the next {days} days they should make {purchases} "
        "purchases, worth {clv} (discounted at {rate} a year, margin {margin}).",
        name=MODEL_NAMES.get(scores.model, scores.model), fitted=fmt.datetime(fitted),
        customers=fmt.number(summary["customers"]), date=fmt.date(scores.as_of),
        days=scores.horizon_days, purchases=fmt.number(summary["expected_purchases"]),
        clv=fmt.money(summary["predicted_clv"], 0), rate=fmt.percent(100 * scores.discount_rate, 0),
        margin=fmt.percent(100 * scores.margin, 0),
    )])  # fmt: skip
    return {
        "id": "predictions",
        "title": "Predictions",
        "text": text,
        "charts": html(figs, "predict"),
        "tables": tables,
        "notes": notes,
    }


def _signed(value: float | None, fmt: Formatter) -> str:
    if value is None:
        return "—"
    return ("+" if value > 0 else "") + fmt.percent(value, 1)


def _params(title: str, fit: dict[str, Any], fmt: Formatter) -> dict[str, Any]:
    rows = []
    for name, est in fit["params"].items():
        se = fit["std_errors"].get(name)
        interval = (
            f"{fmt.number(est - Z95 * se, 4)} – {fmt.number(est + Z95 * se, 4)}"
            if se is not None
            else "—"
        )
        rows.append([name, fmt.number(est, 4), fmt.number(se, 4), interval])
    rows.append(["log-likelihood", fmt.number(fit["log_likelihood"], 1), "", ""])
    return {
        "title": title,
        "header": ["parameter", "estimate", "std. error", "95 % interval"],
        "rows": rows,
        "numeric": [1, 2],
    }


def _alive_matrix(c: pd.DataFrame) -> pd.DataFrame:
    rec = pd.cut(c["recency_days"], RECENCY_BINS, right=False, labels=RECENCY_LABELS)
    freq = pd.cut(c["x"], FREQUENCY_BINS, right=False, labels=FREQUENCY_LABELS)
    table = c.assign(recency=rec, frequency=freq).pivot_table(
        index="frequency", columns="recency", values="p_alive", aggfunc="mean", observed=False
    )
    return table.reindex(index=FREQUENCY_LABELS, columns=RECENCY_LABELS)
