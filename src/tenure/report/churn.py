"""The report's churn and survival section: who is likely to churn and why
(the churn classifier, tested on a later window than it learned from), and
how long subscriptions last (Kaplan-Meier, the sBG model, Cox hazard ratios)."""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import pandas as pd

from tenure.config import Settings
from tenure.engine.context import Context
from tenure.errors import ConvergenceError, InputError, MissingExtraError
from tenure.messages import Message
from tenure.models import Z95
from tenure.models.contractual import ShiftedBetaGeometric
from tenure.models.survival import MISSING, cox_hazards, kaplan_meier
from tenure.report import charts
from tenure.report.formatting import Formatter

HORIZON_DAYS = 90
MIN_HORIZON_DAYS = 7
# fewer ends than this say next to nothing about hazard ratios
MIN_COX_ENDS = 10
TOP_RISK = 20
TOP_FEATURES = 15
SURVIVAL_MONTHS = (1, 3, 6, 12, 24)
ALL = "all subscriptions"
# the sBG model's t: the month a subscription ended in, or the renewals an
# active one has passed; the Kaplan-Meier curves use it too, so both estimate
# the same S(t)
TIME = "lifetime"

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
    ctx: Context,
    settings: Settings,
    fmt: Formatter,
    html: Any,
    kept: Any = None,
    monthly: pd.DataFrame | None = None,
    *,
    fit: bool = True,
) -> dict[str, Any]:
    """``html(figs, prefix)`` turns figures into the page's chart blocks.
    ``kept``, a churn model read back from the store
    (:func:`tenure.predictions.store.load_churn`), is shown instead of
    fitting one; with ``fit=False`` (the report, the dashboard) none is
    fitted when none is kept, and the part names the command that keeps one.
    ``monthly``, the monthly metrics when already computed,
    gives the monthly churn rate the model's churn is set against.

    When the model does not beat the recency-only baseline, the section
    says so first. ``summary`` holds the model's horizon and expected share
    for the overview's churn tile."""
    if monthly is None:
        from tenure.engine.metrics import period_metrics

        try:
            monthly = period_metrics(ctx, "month")
        except InputError:  # no month is complete yet: there is no monthly rate to compare
            monthly = pd.DataFrame()
    if kept is None and not fit:
        risk, result = _not_kept(), None
    else:
        risk, result = _churn(ctx, fmt, html, kept, monthly)
    out: dict[str, Any] = {
        "id": "churn",
        "title": "Churn and survival",
        "parts": [risk, _survival(ctx, fmt, html)],
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
    from tenure.engine.metrics import DAYS_PER_MONTH, rate_over

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
    if model and active_by != "subscription" and window and window > horizon_days:
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
    from tenure.engine.metrics import DAYS_PER_MONTH, rate_over

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


def _fit(ctx: Context, horizon_days: int = HORIZON_DAYS) -> tuple[Any, bool]:
    """The churn model at ``horizon_days``; when the history is too short for
    it, at the longest horizon that fits, or half that, and so on down to
    ``MIN_HORIZON_DAYS``. Returns the result and whether it was shortened."""
    from tenure.models.churn import ChurnClassifier
    from tenure.predictions.churn import fit_churn

    # one thread: at the sizes of a report the boosters' threads mostly wait
    # for each other at every tree, and on a busy machine they wait far longer
    def run(days: int) -> Any:
        return fit_churn(
            ctx, horizon_days=days, classifier=ChurnClassifier(n_jobs=1), explain=TOP_RISK
        )

    try:
        return run(horizon_days), False
    except InputError as exc:
        found = re.search(r"a horizon of (\d+) days or fewer", exc.hint or "")
        if found is None:
            raise
    # the longest horizon that fits trains on the first days of data, when few
    # customers may be known yet; a shorter one gives the training window more
    days, tried = int(found.group(1)), []
    while days >= MIN_HORIZON_DAYS:
        try:
            return run(days), True
        except InputError as exc:
            last = exc
            tried.append(days)
            days //= 2
    if not tried:
        raise InputError(
            f"even a {MIN_HORIZON_DAYS}-day horizon needs twice that much history before the "
            f"as-of date.",
            hint="Ingest more history: the model needs customers seen before and after a date.",
        )
    days_tried = ", ".join(map(str, tried[:-1])) + " and " * (len(tried) > 1) + str(tried[-1])
    raise InputError(
        f"the history is too short for a {horizon_days}-day horizon, and at {days_tried} "
        f"days {last.what}",
        hint=last.hint,
    )


def _churn(
    ctx: Context, fmt: Formatter, html: Any, kept: Any, monthly: pd.DataFrame
) -> tuple[dict[str, Any], Any]:
    part: dict[str, Any] = {"title": "Churn risk"}
    if kept is not None:
        result, shortened = kept, False
    else:
        try:
            result, shortened = _fit(ctx)
        except InputError as exc:  # too little history, too few customers, one class only
            part["text"] = f"No churn model: {exc.what}" + (f" {exc.hint}" if exc.hint else "")
            return part, None
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
    if shortened:
        said.append(Message(
            "The horizon is {h} days, not {full}: the model learns from the customers active two "
            "horizons before the as-of date ({train} here), and the history is too short for more.",
            h=h, full=HORIZON_DAYS, train=fmt.date(w["train"]),
        ))  # fmt: skip
    if kept is not None:
        said.append(Message(
            "This is the model kept in the store (version {version}, fitted {fitted}); "
            "tenure fit churn fits it again.", version=kept.kept["model_version"],
            fitted=fmt.datetime(kept.kept["fitted_at"]),
        ))  # fmt: skip
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


# -- subscription survival ------------------------------------------------------------


def _survival(ctx: Context, fmt: Formatter, html: Any) -> dict[str, Any]:
    from tenure.engine.durations import subscription_durations

    part: dict[str, Any] = {"title": "Subscription survival"}
    if ctx.source.get("subscriptions") is None:
        part["text"] = "There are no subscriptions in the data, so there are no survival curves."
        return part
    d = subscription_durations(ctx, "month").to_pandas()
    if d.empty:
        part["text"] = f"No subscription had started by {fmt.date(ctx.as_of)}."
        return part
    ended = int(d["churned"].sum())
    remarks = [
        f"{fmt.number(len(d))} subscriptions started by {fmt.date(ctx.as_of)}; "
        f"{fmt.number(ended)} have ended and {fmt.number(len(d) - ended)} are still active "
        f"(censored: how long they will last is not known yet). A subscription is still "
        f"subscribed after t months when it was renewed on its t-th monthly renewal date."
    ]
    plans = "plan" in d.columns and d["plan"].nunique() > 1
    groups = {ALL: d}
    if plans:
        groups.update({str(p): g for p, g in d.groupby(d["plan"].fillna(MISSING), sort=True)})
    fits = {}
    for name, g in groups.items():
        try:
            fits[name] = _sbg_fit(g)
        except (InputError, ConvergenceError) as exc:
            remarks.append(f"No sBG model for {name}: {exc.what}")
    months = np.arange(max(SURVIVAL_MONTHS[-1], int(d[TIME].max()) + 12) + 1)
    projected = {
        name: pd.DataFrame({"time": months, "survival": m.predict_survival(months)})
        for name, m in fits.items()
    }
    try:
        km = kaplan_meier(d, time=TIME)
        by_plan = kaplan_meier(d, time=TIME, group="plan") if plans else None
    except MissingExtraError as exc:
        km = by_plan = None
        remarks.append(
            f"The Kaplan–Meier curves and the hazard ratios need lifelines, an optional "
            f"install. {exc.hint}."
        )
    sep = fmt.separators
    overall = {ALL: projected[ALL]} if ALL in projected else {}
    figs, tables, notes = [], [], []
    if km is not None:
        figs.append(charts.survival(
            {ALL: km}, overall,
            "Still subscribed, by months since the start", sep,
        ))  # fmt: skip
        if by_plan is not None:
            figs.append(charts.survival(
                {str(p): g for p, g in by_plan.groupby("plan", sort=True)},
                {k: v for k, v in projected.items() if k != ALL},
                "By plan: Kaplan–Meier (solid) and the sBG model (dashed)", sep,
            ))  # fmt: skip
        tables.append(_survival_table(km, by_plan, groups, fits, fmt))
    elif overall:
        figs.append(charts.survival(
            {}, overall, "Still subscribed, by months since the start: the sBG model", sep
        ))  # fmt: skip
    if fits:
        tables.append(_sbg_table(fits, fmt))
    if km is not None:
        try:
            cox = _cox(d, remarks)
        except (InputError, ConvergenceError) as exc:
            remarks.append(f"No hazard ratios: {exc.what}")
            cox = None
        except np.linalg.LinAlgError:  # a category that ends all or none of its subscriptions
            remarks.append("No hazard ratios: the Cox model's equations have no single solution.")
            cox = None
        if cox is not None:
            ref = cox.attrs["reference"]
            cox = cox.assign(covariate=[_covariate(c, ref, fmt.currency) for c in cox["covariate"]])
            tables.append(_cox_table(cox, ref, fmt))
            figs.append(charts.hazard_ratios(
                cox, "Hazard ratios of ending a subscription (95 % interval; log scale)", sep
            ))  # fmt: skip
            notes.append(
                "A hazard ratio of 1.2 means subscriptions of that kind end 20 % more often at "
                "any duration than those of the reference; an interval that includes 1 shows "
                "no clear difference"
            )
    part.update(text=" ".join(remarks), charts=html(figs, "survival"), tables=tables, notes=notes)
    return part


def _sbg_fit(durations: pd.DataFrame) -> ShiftedBetaGeometric:
    """The sBG model on the distinct (t, churned) rows, weighted by their counts."""
    rows = pd.DataFrame({"t": durations[TIME], "churned": durations["churned"].astype("int64")})
    counted = rows.value_counts(sort=False).reset_index(name="n")
    return ShiftedBetaGeometric().fit(counted[["t", "churned"]], weights=counted["n"].to_numpy())


def _at(curve: pd.DataFrame, month: int) -> pd.Series | None:
    """The step curve's row in force at ``month``; None past its last time."""
    if curve.empty or month > curve["time"].max():
        return None
    return curve[curve["time"] <= month].iloc[-1]


def _survival_table(
    km: pd.DataFrame,
    by_plan: pd.DataFrame | None,
    groups: dict[str, pd.DataFrame],
    fits: dict[str, ShiftedBetaGeometric],
    fmt: Formatter,
) -> dict[str, Any]:
    curves = {ALL: km}
    if by_plan is not None:
        curves.update({str(p): g for p, g in by_plan.groupby("plan", sort=True)})
    rows = []
    for name, curve in curves.items():
        g = groups[name]
        cells = []
        for month in SURVIVAL_MONTHS:
            r = _at(curve, month)
            cells.append("—" if r is None else
                         f"{fmt.percent(100 * r['survival'])} ({fmt.number(100 * r['lower'], 1)}–"
                         f"{fmt.number(100 * r['upper'], 1)})")  # fmt: skip
        rows.append(
            [
                f"{name} (Kaplan–Meier)",
                fmt.number(len(g)),
                fmt.number(int(g["churned"].sum())),
                *cells,
            ]
        )
        if name in fits:
            s = fits[name].predict_survival(np.asarray(SURVIVAL_MONTHS))
            rows.append([f"{name} (sBG)", "", "", *(fmt.percent(100 * v) for v in s)])
    return {
        "title": "Share still subscribed after 1, 3, 6, 12 and 24 months (Kaplan–Meier with its 95 % "
        "interval, and the sBG model)",
        "header": ["subscriptions", "started", "ended", *(f"{m} month{'s' if m > 1 else ''}" for m in SURVIVAL_MONTHS)],
        "rows": rows,
        "numeric": list(range(1, 3 + len(SURVIVAL_MONTHS))),
    }  # fmt: skip


def _sbg_table(fits: dict[str, ShiftedBetaGeometric], fmt: Formatter) -> dict[str, Any]:
    rows = []
    for name, model in fits.items():
        for param, est in model.params_.items():
            se = model.std_errors_[param]
            rows.append([name, param, fmt.number(est, 4), fmt.number(se, 4),
                         f"{fmt.number(est - Z95 * se, 4)} – {fmt.number(est + Z95 * se, 4)}"])  # fmt: skip
        rows.append([name, "log-likelihood", fmt.number(model.log_likelihood_, 1), "", ""])
    return {
        "title": "Shifted-beta-geometric model (months): each subscriber cancels with their own "
        "probability θ per month, θ ~ Beta(alpha, beta)",
        "header": ["subscriptions", "parameter", "estimate", "std. error", "95 % interval"],
        "rows": rows,
        "numeric": [2, 3],
    }


def _cox(d: pd.DataFrame, remarks: list[str]) -> pd.DataFrame | None:
    """Hazard ratios by plan and country, or by MRR without plans; None
    without any of them. What lifelines warns about becomes a remark."""
    categorical = [c for c in ("plan", "country") if c in d.columns and d[c].nunique() > 1]
    # MRR follows the plan: with both, each blurs the other's ratio
    numeric = []
    if "mrr" in d.columns and "plan" not in categorical and d["mrr"].notna().all():
        numeric = ["mrr"]
    if not categorical and not numeric:
        return None
    if int(d["churned"].sum()) < MIN_COX_ENDS:
        remarks.append(
            f"Hazard ratios need {MIN_COX_ENDS} ended subscriptions at least; "
            f"{int(d['churned'].sum())} have ended."
        )
        return None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            cox = cox_hazards(d, time="duration_days", categorical=categorical, numeric=numeric)
        except ConvergenceError as exc:
            remarks.append(f"No hazard ratios: {exc.what}")
            return None
    said = []
    for w in caught:
        if not w.category.__module__.startswith("lifelines"):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            continue
        said.append(" ".join(str(w.message).split()).split(". ")[0].rstrip("."))
    if said:
        remarks.append(
            f"Read the hazard ratios with care: fitting them, lifelines warned: {'; '.join(said)}."
        )
    return cox


def _cox_table(cox: pd.DataFrame, reference: dict[str, str], fmt: Formatter) -> dict[str, Any]:
    rows = [
        [r.covariate, fmt.number(r.hazard_ratio, 2),
         f"{fmt.number(r.lower, 2)} – {fmt.number(r.upper, 2)}", fmt.number(r.p, 3)]
        for r in cox.itertuples()
    ]  # fmt: skip
    against = ", ".join(f"{col} {value}" for col, value in reference.items())
    return {
        "title": Message.join("; ", [Message(
            "Cox proportional hazards on days subscribed ({subscriptions} subscriptions, {ended} ended)",
            subscriptions=fmt.number(cox.attrs["subscriptions"]), ended=fmt.number(cox.attrs["ended"]),
        ), against and Message("each category against its most common value: {against}",
                               against=against)]),
        "header": ["", "hazard ratio", "95 % interval", "p"],
        "rows": rows,
        "numeric": [1, 2, 3],
    }  # fmt: skip


def _covariate(name: str, reference: dict[str, str], currency: str) -> str:
    col, _, value = name.partition("=")
    if not value:
        return f"MRR (per 1 {currency} more)" if col == "mrr" else _name(col)
    return f"{col} {value} (against {reference.get(col, '?')})"
