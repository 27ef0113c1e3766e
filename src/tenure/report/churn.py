"""The report's churn and survival section: who is likely to churn and why
(the churn model that ``tenure fit churn`` kept, tested on a later window
than it learned from), and how long subscriptions last
(:mod:`tenure.report.survival`). Both are read from the store: nothing is
fitted here."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tenure.analysis.fitting import CHURN_HORIZON_DAYS
from tenure.analysis.metrics import DAYS_PER_MONTH, monthly_metrics, rate_over
from tenure.analysis.predictions import StoredPredictions, stale_note, stored_predictions
from tenure.config import Settings
from tenure.messages import Message
from tenure.report import charts, survival
from tenure.report.formatting import Formatter

# the horizon the overview's tile states its churn over, before a model is kept
HORIZON_DAYS = CHURN_HORIZON_DAYS
TOP_RISK = 20
TOP_FEATURES = 15

# feature -> (plain name, how its value is written: money, or decimal places)
FEATURES: dict[str, tuple[str, str | int]] = {
    "tenure_days": ("days since first seen", 0),
    "recency_days": ("days since the last purchase", 0),
    "frequency": ("purchase days", 0),
    "orders": ("orders", 0),
    "monetary_total": ("revenue", "money"),
    "monetary_avg": ("average order value", "money"),
    "mean_days_between": ("mean days between purchases", 1),
    "purchase_days_30": ("purchase days in the last 30 days", 0),
    "purchase_days_90": ("purchase days in the last 90 days", 0),
    "purchase_days_180": ("purchase days in the last 180 days", 0),
    "revenue_30": ("revenue in the last 30 days", "money"),
    "revenue_90": ("revenue in the last 90 days", "money"),
    "revenue_180": ("revenue in the last 180 days", "money"),
    "purchase_days_trend": ("trend of purchase days (last 90 days against the 90 before)", 2),
    "revenue_trend": ("trend of revenue (last 90 days against the 90 before)", 2),
    "refunded_orders": ("refunded orders", 0),
    "cancelled_orders": ("cancelled orders", 0),
    "active_subscriptions": ("active subscriptions", 0),
    "mrr": ("MRR", "money"),
    "subscribed_days": ("days subscribed", 0),
    "subscription_cancellations": ("subscriptions cancelled", 0),
    "tickets_90": ("support tickets in the last 90 days", 0),
    "open_tickets": ("open support tickets", 0),
    "mean_resolution_hours": ("mean hours to resolve a ticket", 1),
    "last_nps": ("latest NPS score", 0),
    "mean_csat": ("mean CSAT score", 2),
    "events_30": ("events in the last 30 days", 0),
    "events_prev_30": ("events in the 30 days before those", 0),
}


def _name(feature: str) -> str:
    """A feature's plain name, as the report writes it."""
    return FEATURES.get(feature, (feature.replace("_", " "), 2))[0]


def section(
    ctx: Any,
    settings: Settings,
    fmt: Formatter,
    html: Any,
    kept: StoredPredictions | None = None,
    monthly: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """``html(figs, prefix)`` turns figures into the page's chart blocks.
    ``kept``, what the store keeps (read here when not given), gives the
    churn model of ``tenure fit churn`` and the sBG fit of ``tenure fit
    sbg``; where none is kept, its part names the command that keeps one.
    ``monthly``, the monthly metrics when already computed,
    gives the monthly churn rate the model's churn is set against.

    When the model does not beat the recency-only baseline, the section
    says so first. ``summary`` holds the model's horizon and expected share
    for the overview's churn tile."""
    kept = kept if kept is not None else stored_predictions(settings)
    if kept.churn is None:
        risk, result = _not_kept(), None
    else:
        if monthly is None:
            monthly = monthly_metrics(ctx)
        risk, result = _churn(ctx, fmt, html, kept.churn, monthly)
    out: dict[str, Any] = {
        "id": "churn",
        "title": "Churn and survival",
        "parts": [risk, survival.part(ctx, kept.fits, fmt, html)],
    }
    if result is not None:
        verdict = baseline_verdict(result.evaluation, fmt)
        if verdict:
            out["text"] = verdict
        c = result.customers
        out["summary"] = {
            "horizon_days": result.horizon_days,
            "expected_share": 100 * float(c["churn_probability"].mean()) if len(c) else None,
        }
    return out


def _not_kept() -> dict[str, Any]:
    return {
        "title": "Churn risk",
        "text": Message(
            "No churn model is kept in the store yet: tenure fit churn fits one and keeps "
            "every active customer's churn risk, for this page and the customer pages."
        ),
    }


# -- the two churns ----------------------------------------------------------------


def baseline_verdict(evaluation: pd.DataFrame, fmt: Formatter) -> str | None:
    """The sentence that says the churn model ranks customers no better than
    the days since their last purchase do, on the measures where it does
    not (top-decile lift, AUC on the test window); None when it beats the
    baseline on both. Said first wherever the model's scores are shown."""
    if "model" not in evaluation.index or "recency_baseline" not in evaluation.index:
        return None
    model, base = evaluation.loc["model"], evaluation.loc["recency_baseline"]
    worse = [
        Message("{measure} {model} against {rule}", measure=Message(name),
                model=fmt.number(model[col], digits), rule=fmt.number(base[col], digits))
        for col, name, digits in (("lift_top_decile", "top-decile lift", 2), ("auc", "AUC", 3))
        if not model[col] > base[col]
    ]  # fmt: skip
    if not worse:
        return None
    return Message(
        "The churn model does not beat a rule that knows only the days since each customer's "
        "last purchase: on the test window its {worse} for that rule. "
        "Ranking customers by recency does as well; read the scores below with that in mind.",
        worse=worse[0]
        if len(worse) == 1
        else Message("{one} and {other}", one=worse[0], other=worse[1]),
    )


def comparison(
    monthly: pd.DataFrame,
    horizon_days: int,
    expected_share: float | None,
    active_by: str,
    window: int | None,
    fmt: Formatter,
) -> str:
    """The monthly churn rate of the overview and the model's churn in the
    next ``horizon_days``, side by side, each with its definition, and each
    in the other's terms (as if the same share left in every stretch of
    time: :func:`tenure.engine.metrics.rate_over`)."""
    last = monthly.iloc[-1] if len(monthly) else None
    lapse = {
        "purchase": Message("{window} days have passed since their last purchase", window=window),
        "subscription": Message("they have no active subscription"),
    }.get(active_by, Message("they have neither an active subscription nor a purchase in {window} days",
                             window=window))  # fmt: skip
    model = ""
    if expected_share is not None:
        per_month = rate_over(expected_share, horizon_days, DAYS_PER_MONTH)
        model = Message(
            "The churn model's {share} counts the customers active today with {churned}; as a "
            "rate per month, {per_month}.", share=fmt.percent(expected_share),
            churned=_churned(active_by, horizon_days), per_month=fmt.percent(per_month),
        )  # fmt: skip
    if last is None or pd.isna(last["churn_rate"]):
        why = "" if last is None else Message.of(last["missing"].get("churn_rate", ""))
        unknown = (
            Message("The overview's monthly churn rate (customers lost by the month's end: "
                    "{lapse}) is not known yet: {why}.", lapse=lapse, why=why)
            if why else
            Message("The overview's monthly churn rate (customers lost by the month's end: "
                    "{lapse}) is not known yet.", lapse=lapse)
        )  # fmt: skip
        return Message.join(" ", [unknown, model])
    m = float(last["churn_rate"])
    over = rate_over(m, DAYS_PER_MONTH, horizon_days)
    parts = [Message(
        "Two churn rates, side by side. The overview's monthly churn rate, {rate} in {period}, "
        "counts the customers active at a month's start who are lost by its end, when {lapse}; "
        "over {days} days at that rate, {over}.", rate=fmt.percent(m), period=last["period"],
        lapse=lapse, days=horizon_days, over=fmt.percent(over),
    ), model]  # fmt: skip
    # said only where it holds: the model's monthly rate above the overview's
    larger = model and rate_over(expected_share, horizon_days, DAYS_PER_MONTH) > m
    if larger and active_by != "subscription" and window and window > horizon_days:
        parts.append(Message(
            "The model's is the larger because {days} days without a purchase are a shorter "
            "test than {window}.", days=horizon_days, window=window,
        ))  # fmt: skip
    return Message.join(" ", parts)


def tile_note(
    monthly_churn: float, horizon_days: int, expected_share: float | None, fmt: Formatter
) -> str:
    """The overview churn tile's second line: its rate over the churn model's
    horizon, and the model's rate beside it."""
    if monthly_churn is None or np.isnan(monthly_churn):
        return ""
    over = fmt.percent(rate_over(monthly_churn, DAYS_PER_MONTH, horizon_days))
    if expected_share is None:
        return Message("≈ {rate} over {days} days", rate=over, days=horizon_days)
    return Message(
        "≈ {rate} over {days} days; the churn model: {share} in the next {days} days",
        rate=over,
        days=horizon_days,
        share=fmt.percent(expected_share),
    )


# -- churn risk ---------------------------------------------------------------------


def _churn(
    ctx: Any, fmt: Formatter, html: Any, kept: Any, monthly: pd.DataFrame
) -> tuple[dict[str, Any], Any]:
    part: dict[str, Any] = {"title": "Churn risk"}
    result = kept
    h = result.horizon_days
    c = result.customers
    w = result.windows
    ev = result.evaluation
    expected = float(c["churn_probability"].sum())
    likely = int((c["churn_probability"] >= 0.5).sum())
    share = fmt.percent(100 * expected / len(c)) if len(c) else fmt.MISSING
    said = [Message(
        "Of the {customers} customers active on {date}, the model expects {expected} ({share}) to "
        "churn in the next {h} days; {likely} have a churn probability of {half} or more. "
        "Churned means {churned}.", customers=fmt.number(len(c)), date=fmt.date(result.as_of),
        expected=fmt.number(expected), share=share, h=h, likely=fmt.number(likely),
        half=fmt.percent(50, 0), churned=_churned(ctx.active_by, h),
    )]  # fmt: skip
    said.append(Message(
        "This is the model kept in the store (version {version}, fitted {fitted}); "
        "tenure fit churn fits it again.", version=kept.kept["model_version"],
        fitted=fmt.datetime(kept.kept["fitted_at"]),
    ))  # fmt: skip
    if note := stale_note(kept.kept, "tenure fit churn", fmt, sentence=True):
        said.append(note)
    if result.as_of < ctx.as_of:
        said.append(Message(
            "The data now runs to {now}: these scores are those of {then}.",
            now=fmt.date(ctx.as_of), then=fmt.date(result.as_of),
        ))  # fmt: skip
    window = ctx.defs.activity_window if ctx.active_by != "subscription" else None
    share = 100 * expected / len(c) if len(c) else None
    said.append(comparison(monthly, h, share, ctx.active_by, window, fmt))
    part["text"] = Message.join(" ", said)
    rows = []
    for scorer, name in (("model", "churn model"), ("recency_baseline", "recency only")):
        if scorer in ev.index:
            r = ev.loc[scorer]
            rows.append([Message(name), fmt.number(r["auc"], 3), fmt.number(r["brier"], 3),
                         fmt.number(r["lift_top_decile"], 2)])  # fmt: skip
    test = ev.iloc[0]
    rate = float(test["churn_rate"])
    notes = [
        Message(
            "On the test window {rate} churned: predicting that share for everyone gives a Brier "
            "score of {brier} and an AUC of {auc}, and the largest top-decile lift possible is "
            "{lift}", rate=fmt.percent(100 * rate), brier=fmt.number(rate * (1 - rate), 3),
            auc=fmt.number(0.5, 1), lift=fmt.number(1 / rate, 2) if rate else fmt.MISSING,
        )
    ]  # fmt: skip
    spans = (("training", "train", "test"), ("test", "test", "score"),
             ("scoring (refitted on the test window)", "score", None))  # fmt: skip
    windows = [
        [Message(name), fmt.date(w[a]),
         f"{fmt.date(w[a])} – {fmt.date(w[b])}" if b else Message("predicted"),
         fmt.number(result.sizes[a])]
        for name, a, b in spans
    ]  # fmt: skip
    tables = [
        {
            "title": Message(
                "Fitted on the training window, tested on the test window ({customers} customers)",
                customers=fmt.number(int(test["customers"])),
            ),
            "header": ["", "AUC", "Brier score", "lift in the top decile"],
            "rows": rows,
            "numeric": [1, 2, 3],
        },
        {
            "title": "The windows: features as of a date, churn in the horizon after it",
            "header": ["window", "features as of", "churn observed", "customers"],
            "rows": windows,
            "numeric": [3],
        },
        _top_risk(c, h, fmt),
    ]
    imp = result.importances.head(TOP_FEATURES)
    shown = "" if len(result.importances) <= TOP_FEATURES else f" (the {TOP_FEATURES} largest)"
    figs = [
        charts.drivers(
            imp.rename(index=_name),
            f"What drives churn risk: mean |SHAP| per feature{shown}",
            fmt.separators,
        )
    ]
    if result.calibration is not None:
        groups = len(result.calibration)
        figs.append(
            charts.calibration(
                result.calibration,
                f"Calibration on the test window: the customers in {groups} groups by "
                "predicted probability",
                fmt.separators,
            )
        )
    part.update(charts=html(figs, "churn"), tables=tables, notes=notes)
    return part, result


def _churned(active_by: str, h: int) -> str:
    return Message({
        "purchase": "no purchase in the {h} days after",
        "subscription": "no active subscription at the end of the {h} days after",
    }.get(active_by, "no purchase in the {h} days after and no active subscription at their end"), h=h)  # fmt: skip


def _top_risk(c: pd.DataFrame, h: int, fmt: Formatter) -> dict[str, Any]:
    k = 1
    while f"driver_{k + 1}" in c.columns:
        k += 1
    rows = []
    for r in c.head(TOP_RISK).to_dict("records"):
        drivers = [describe_driver(r[f"driver_{i}"], r[f"driver_{i}_value"], r[f"driver_{i}_contribution"],
                           fmt) for i in range(1, k + 1)]  # fmt: skip
        rows.append([r["customer_id"], fmt.percent(100 * r["churn_probability"]), *drivers])
    return {
        "title": Message(
            "The {n} customers most likely to churn in the next {h} days, with what drives their "
            "risk (the feature's value, and its contribution to the log-odds)",
            n=len(rows),
            h=h,
        ),
        "header": ["customer", "churn probability", *(f"driver {i}" for i in range(1, k + 1))],
        "rows": rows,
        "numeric": [1],
        "ids": 0,
    }


def describe_driver(feature: str, value: float, contribution: float, fmt: Formatter) -> str:
    """ "days since the last purchase: 322 (+1.19)": the feature, its value and
    its contribution to the log-odds of churning."""
    # a known feature's name is said in the reader's language; another
    # (a category of the data, say) is a name and stays as it is
    name, kind = FEATURES[feature] if feature in FEATURES else (_name(feature), 2)
    shown = fmt.money(value) if kind == "money" else fmt.number(value, int(kind))
    sign = "+" if contribution > 0 else ""
    return Message(
        "{name}: {value} ({contribution})",
        name=Message(name) if feature in FEATURES else name,
        value=shown,
        contribution=f"{sign}{fmt.number(contribution, 2)}",
    )
