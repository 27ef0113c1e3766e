"""The report's predictions section: the fitted models with their
intervals, the holdout validation, P(alive) against recency and frequency,
predicted CLV, and the high-value customers the model thinks are leaving."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from tenure.config import Settings
from tenure.engine.context import Context
from tenure.errors import TenureError
from tenure.models import Z95, LikelihoodModel
from tenure.predictions import scoring
from tenure.predictions.validation import data_range, holdout
from tenure.report import charts
from tenure.report.formatting import Formatter

AT_RISK_LIST = 20
RECENCY_BINS = [0, 30, 90, 180, 365, 730, np.inf]
RECENCY_LABELS = ["0–29", "30–89", "90–179", "180–364", "365–729", "730+"]
FREQUENCY_BINS = [0, 1, 2, 3, 5, 10, np.inf]
FREQUENCY_LABELS = ["0", "1", "2", "3–4", "5–9", "10+"]


def section(ctx: Context, settings: Settings, fmt: Formatter, html: Any) -> dict[str, Any]:
    """``html(figs, prefix)`` turns figures into the page's chart blocks."""
    sep = fmt.separators
    time_unit = settings.time_unit
    purchase = scoring.fit_purchase_model(ctx, "bgnbd", time_unit=time_unit)
    spend = scoring.fit_spend_model(ctx)
    scores = scoring.score(
        ctx, purchase, spend, horizon_days=settings.clv_horizon_days,
        discount_rate=settings.discount_rate, margin=settings.margin,
    )  # fmt: skip
    c = scores.customers
    tables = [
        _params("BG/NBD purchases (t in " + time_unit + "s)", purchase, fmt),
        _params("Gamma-Gamma spend per purchase", spend, fmt),
    ]
    figs = []
    notes = []
    first, last = data_range(ctx.source, replace(ctx.defs, as_of=None))
    end = min(last, ctx.as_of)
    # a holdout of a third of the history, at most a year
    cal_end = end - min(timedelta(days=365), (end - first) / 3)
    try:
        v = holdout(ctx.source, replace(ctx.defs, as_of=end), cal_end, time_unit=time_unit)
        m = v.metrics
        figs.append(charts.tracking(
            v.tracking, cal_end.isoformat(),
            f"Holdout: repeat purchases, actual and predicted (fitted up to {fmt.date(cal_end)})", sep,
        ))  # fmt: skip
        figs.append(charts.by_frequency(
            v.by_frequency, "Holdout: mean purchases by calibration frequency", sep
        ))  # fmt: skip
        notes.append(
            f"Holdout {fmt.date(cal_end)} – {fmt.date(v.holdout_end)}: "
            f"{fmt.number(m['actual_purchases'])} repeat purchase days, the model predicted "
            f"{fmt.number(m['predicted_purchases'])} ({_signed(m['total_error_pct'], fmt)}); "
            f"per customer MAE {fmt.number(m['mae'], 3)}, RMSE {fmt.number(m['rmse'], 3)}, "
            f"correlation {fmt.number(m['correlation'], 3) if m['correlation'] is not None else '—'}"
        )
    except TenureError as exc:  # too little history to hold some back
        notes.append(f"No holdout validation: {exc.what}")

    matrix = _alive_matrix(c)
    figs.append(charts.alive_map(matrix, "P(alive) by frequency and recency", sep))
    figs.append(charts.histogram(
        c["clv"].clip(upper=c["clv"].quantile(0.99)),
        f"Predicted CLV over {settings.clv_horizon_days} days ({fmt.currency}; top 1 % capped)",
        f"CLV ({fmt.currency})", sep,
    ))  # fmt: skip

    high = c["monetary_total"] >= c["monetary_total"].quantile(
        1 - settings.high_value_top_percent / 100
    )
    # leaving, not gone: still active by the store's own definition (a
    # purchase in the activity window), where an outreach can still keep
    # them; those who lapsed already are for a win-back, and only counted
    window = int(ctx.defs.activity_window)
    slipping = high & (c["p_alive"] < 0.5)
    risky = c[slipping & (c["recency_days"] < window)].sort_values(
        ["monetary_total", "customer_id"], ascending=[False, True]
    )
    lapsed = int((slipping & (c["recency_days"] >= window)).sum())
    rows = [
        [r.customer_id, fmt.money(r.monetary_total), fmt.number(r.orders), fmt.number(r.recency_days),
         fmt.percent(100 * r.p_alive), fmt.number(r.expected_purchases, 2), fmt.money(r.clv)]
        for r in risky.head(AT_RISK_LIST).itertuples()
    ]  # fmt: skip
    tables.append({
        "title": f"High-value customers the model thinks are leaving: {fmt.number(len(risky))} "
                 f"(top {settings.high_value_top_percent} % by revenue, P(alive) under 50 %, "
                 f"a purchase in the last {fmt.number(window)} days; the top {len(rows)} by "
                 f"revenue). Another {fmt.number(lapsed)} such customers have lapsed "
                 "already: a win-back campaign's audience",
        "header": ["customer", "revenue", "orders", "days since", "P(alive)", "purchases ahead", "CLV"],
        "rows": rows,
        "numeric": [1, 2, 3, 4, 5, 6],
        "ids": 0,
    })  # fmt: skip
    summary = scores.summary()
    text = (
        f"Fitted on {fmt.number(purchase.n_customers_)} customers as of {fmt.date(scores.as_of)}. "
        f"{scoring.alive_headline(summary, fmt.number)}. Over the next {settings.clv_horizon_days} "
        f"days the {fmt.number(summary['customers'])} customers should make {fmt.number(summary['expected_purchases'])} "
        f"purchases, worth {fmt.money(summary['predicted_clv'], 0)} (discounted at "
        f"{fmt.percent(100 * settings.discount_rate, 0)} a year, margin {fmt.percent(100 * settings.margin, 0)})."
    )  # fmt: skip
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


def _params(title: str, model: LikelihoodModel, fmt: Formatter) -> dict[str, Any]:
    rows = []
    for name, est in model.params_.items():
        se = model.std_errors_[name]
        rows.append([name, fmt.number(est, 4), fmt.number(se, 4),
                     f"{fmt.number(est - Z95 * se, 4)} – {fmt.number(est + Z95 * se, 4)}"])  # fmt: skip
    rows.append(["log-likelihood", fmt.number(model.log_likelihood_, 1), "", ""])
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
