"""The report's subscription survival part: the Kaplan-Meier curves of the
durations (counted by :func:`tenure.analysis.survival.subscription_survival`)
and the sBG model that ``tenure fit sbg`` kept, read back from the store.
Nothing is fitted here; without a kept fit the part names the command."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tenure.analysis.predictions import Z95
from tenure.analysis.survival import (
    ALL,
    SBG_COMMAND,
    kept_sbg,
    sbg_survival,
    subscription_survival,
)
from tenure.messages import Message
from tenure.report import charts
from tenure.report.formatting import Formatter

SURVIVAL_MONTHS = (1, 3, 6, 12, 24)


def part(ctx: Any, fits: list[dict[str, Any]], fmt: Formatter, html: Any) -> dict[str, Any]:
    """``fits``: the fits the store keeps (:attr:`StoredPredictions.fits`)."""
    out: dict[str, Any] = {"title": "Subscription survival"}
    s = subscription_survival(ctx)
    if s is None:
        out["text"] = "There are no subscriptions in the data, so there are no survival curves."
        return out
    if not s.started:
        out["text"] = f"No subscription had started by {fmt.date(ctx.as_of)}."
        return out
    remarks = [
        f"{fmt.number(s.started)} subscriptions started by {fmt.date(ctx.as_of)}; "
        f"{fmt.number(s.ended)} have ended and {fmt.number(s.started - s.ended)} are still active "
        f"(censored: how long they will last is not known yet). A subscription is still "
        f"subscribed after t months when it was renewed on its t-th monthly renewal date."
    ]
    fit = kept_sbg(fits)
    if fit is None:
        remarks.append(Message(
            "No sBG model is kept in the store yet: {command} fits one on how long "
            "subscriptions last and keeps it, with every active subscription's renewal "
            "probability.", command=SBG_COMMAND,
        ))  # fmt: skip
        projected = {}
    else:
        remarks.append(Message(
            "The sBG curve is the model kept in the store (version {version}, fitted {fitted}, "
            "on the subscriptions as of {date}); {command} fits it again.",
            version=fit["model_version"], fitted=fmt.datetime(pd.Timestamp(fit["fitted_at"])),
            date=fmt.date(pd.Timestamp(fit["as_of"]).date()), command=SBG_COMMAND,
        ))  # fmt: skip
        months = np.arange(max(SURVIVAL_MONTHS[-1], s.longest + 12) + 1)
        projected = {ALL: pd.DataFrame({"time": months, "survival": sbg_survival(fit, months)})}
    if s.missing:
        remarks.append(f"The Kaplan–Meier curves need lifelines, an optional install. {s.missing}.")
    sep = fmt.separators
    figs, tables = [], []
    if s.overall is not None:
        figs.append(charts.survival(
            {ALL: s.overall}, projected, "Still subscribed, by months since the start", sep
        ))  # fmt: skip
        if s.by_plan is not None:
            figs.append(charts.survival(
                {str(p): g for p, g in s.by_plan.groupby("plan", sort=True)}, {},
                "By plan: Kaplan–Meier", sep,
            ))  # fmt: skip
        tables.append(_survival_table(s, fit, fmt))
    elif projected:
        figs.append(charts.survival(
            {}, projected, "Still subscribed, by months since the start: the sBG model", sep
        ))  # fmt: skip
    if fit is not None:
        tables.append(_sbg_table(fit, fmt))
    notes = [Message(
        "An sBG model per plan and hazard ratios by plan and country are not shown here: "
        "{command} --subscriptions FILE fits the sBG model on a file of one plan's "
        "subscriptions, and cox_hazards in tenure.models gives the hazard ratios in Python "
        "(see docs/churn.md)", command=SBG_COMMAND,
    )]  # fmt: skip
    out.update(
        text=Message.join(" ", remarks), charts=html(figs, "survival"), tables=tables, notes=notes
    )
    return out


def _at(curve: pd.DataFrame, month: int) -> pd.Series | None:
    """The step curve's row in force at ``month``; None past its last time."""
    if curve.empty or month > curve["time"].max():
        return None
    return curve[curve["time"] <= month].iloc[-1]


def _survival_table(s: Any, fit: dict[str, Any] | None, fmt: Formatter) -> dict[str, Any]:
    curves = {ALL: s.overall}
    if s.by_plan is not None:
        curves.update({str(p): g for p, g in s.by_plan.groupby("plan", sort=True)})
    rows = []
    for name, curve in curves.items():
        started, ended = s.groups[name]
        cells = []
        for month in SURVIVAL_MONTHS:
            r = _at(curve, month)
            cells.append("—" if r is None else
                         f"{fmt.percent(100 * r['survival'])} ({fmt.number(100 * r['lower'], 1)}–"
                         f"{fmt.number(100 * r['upper'], 1)})")  # fmt: skip
        rows.append([f"{name} (Kaplan–Meier)", fmt.number(started), fmt.number(ended), *cells])
        if name == ALL and fit is not None:
            at = sbg_survival(fit, SURVIVAL_MONTHS)
            rows.append([f"{name} (sBG)", "", "", *(fmt.percent(100 * v) for v in at)])
    return {
        "title": "Share still subscribed after 1, 3, 6, 12 and 24 months (Kaplan–Meier with its 95 % "
        "interval, and the sBG model)",
        "header": ["subscriptions", "started", "ended", *(f"{m} month{'s' if m > 1 else ''}" for m in SURVIVAL_MONTHS)],
        "rows": rows,
        "numeric": list(range(1, 3 + len(SURVIVAL_MONTHS))),
    }  # fmt: skip


def _sbg_table(fit: dict[str, Any], fmt: Formatter) -> dict[str, Any]:
    rows = []
    for param, est in fit["params"].items():
        se = (fit.get("std_errors") or {}).get(param)
        interval = "—" if se is None else (
            f"{fmt.number(est - Z95 * se, 4)} – {fmt.number(est + Z95 * se, 4)}"
        )  # fmt: skip
        rows.append([ALL, param, fmt.number(est, 4), fmt.number(se, 4), interval])
    rows.append([ALL, "log-likelihood", fmt.number(fit["log_likelihood"], 1), "", ""])
    return {
        "title": "Shifted-beta-geometric model (months): each subscriber cancels with their own "
        "probability θ per month, θ ~ Beta(alpha, beta)",
        "header": ["subscriptions", "parameter", "estimate", "std. error", "95 % interval"],
        "rows": rows,
        "numeric": [2, 3],
    }
