"""Survival curves and hazard ratios of subscriptions, through lifelines.

Both read one row per subscription with a duration and whether it ended,
as :func:`tenure.engine.durations.subscription_durations` gives
(``duration_days`` or ``periods``, and ``churned``); subscriptions still
active are right-censored at their duration.

* :func:`kaplan_meier`: the product-limit estimate S(t) = prod over event
  times t_i <= t of (1 - d_i / n_i), d_i ends among the n_i at risk just
  before t_i, with the exponential Greenwood ("log(-log)") confidence band;
  one curve per value of ``group`` when given.
* :func:`cox_hazards`: Cox's proportional hazards model. Categories (plan,
  country) enter as 0/1 columns against their most common value; numeric
  columns as they are. The hazard ratio of a column is the factor by which
  the hazard of ending multiplies for a unit more of it (or for that
  category instead of the reference), assumed the same at every duration.

lifelines is an optional install: ``pip install 'tenure[ml]'``.

Examples
--------
>>> from tenure.engine.durations import subscription_durations   # doctest: +SKIP
>>> d = subscription_durations(ctx).to_pandas()                   # doctest: +SKIP
>>> kaplan_meier(d, time="periods", group="plan")                 # doctest: +SKIP
>>> cox_hazards(d)                                                # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from tenure.errors import ConfigError, ConvergenceError, InputError, MissingExtraError

CATEGORIES = ("plan", "country")
MISSING = "(none)"


def _lifelines() -> Any:
    try:
        import lifelines
        import lifelines.exceptions  # noqa: F401
    except ImportError:
        raise MissingExtraError.for_extra("ml", "lifelines") from None
    return lifelines


def kaplan_meier(
    durations: Any,
    *,
    time: str = "duration_days",
    event: str = "churned",
    group: str | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """The Kaplan-Meier curve (one per ``group`` value), as a tidy frame.

    Columns: ``group`` (named after the grouping column, when given),
    ``time`` (0 and every distinct duration), ``survival``, ``lower`` and
    ``upper`` (the 1 - alpha band), ``at_risk`` (subscriptions not ended or
    censored before ``time``), ``events`` (ended at ``time``) and
    ``censored`` (still active at ``time``, observed no longer).
    """
    lifelines = _lifelines()
    _check_alpha(alpha)
    frame = _frame(durations, [time, event] + ([group] if group else []))
    t, e = _time_event(frame, time, event)
    parts = []
    if group is None:
        parts.append(_curve(lifelines, t, e, alpha))
    else:
        labels = frame[group].astype("object").where(frame[group].notna(), MISSING).astype(str)
        for value in sorted(labels.unique()):
            keep = (labels == value).to_numpy()
            curve = _curve(lifelines, t[keep], e[keep], alpha)
            curve.insert(0, group, value)
            parts.append(curve)
    return pd.concat(parts, ignore_index=True)


def _curve(lifelines: Any, t: np.ndarray, e: np.ndarray, alpha: float) -> pd.DataFrame:
    fitter = lifelines.KaplanMeierFitter(alpha=alpha).fit(t, e)
    table = fitter.event_table
    band = fitter.confidence_interval_survival_function_
    return pd.DataFrame(
        {
            "time": table.index.to_numpy(dtype="float64"),
            "survival": fitter.survival_function_.iloc[:, 0].to_numpy(dtype="float64"),
            "lower": band.iloc[:, 0].to_numpy(dtype="float64"),
            "upper": band.iloc[:, 1].to_numpy(dtype="float64"),
            "at_risk": table["at_risk"].to_numpy(dtype="int64"),
            "events": table["observed"].to_numpy(dtype="int64"),
            "censored": table["censored"].to_numpy(dtype="int64"),
        }
    )


def cox_hazards(
    durations: Any,
    *,
    time: str = "duration_days",
    event: str = "churned",
    categorical: Sequence[str] | None = None,
    numeric: Sequence[str] = (),
    penalizer: float = 0.0,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Hazard ratios from Cox's proportional hazards model, as a tidy frame.

    Parameters
    ----------
    categorical
        Category columns, each as 0/1 columns against its most common value
        (missing values are a category of their own, ``(none)``); default:
        ``plan`` and ``country`` when present.
    numeric
        Numeric columns, entered as they are (say ``mrr``).
    penalizer
        L2 penalty on the coefficients (lifelines' ``penalizer``); a little
        (0.01) helps when a category has few or no ends.

    Returns
    -------
    DataFrame
        ``covariate`` (``plan=premium`` or the numeric column's name),
        ``hazard_ratio``, ``lower``, ``upper`` (the 1 - alpha interval) and
        ``p`` (Wald test of a ratio of 1); ``attrs["reference"]`` holds each
        category's reference value.
    """
    lifelines = _lifelines()
    _check_alpha(alpha)
    if not isinstance(penalizer, int | float) or isinstance(penalizer, bool) or penalizer < 0:
        raise ConfigError(
            f"The 'penalizer' parameter of cox_hazards must be a float in [0, inf). "
            f"Got {penalizer!r} instead."
        )
    if categorical is None:
        present = durations.columns if hasattr(durations, "columns") else ()
        categorical = [c for c in CATEGORIES if c in present]
    categorical, numeric = list(categorical), list(numeric)
    if not categorical and not numeric:
        raise ConfigError(
            "the Cox model has no covariates.",
            hint="Pass categorical=['plan'] or numeric=['mrr'], or durations with a plan column.",
        )
    frame = _frame(durations, [time, event, *categorical, *numeric])
    t, e = _time_event(frame, time, event)
    design = pd.DataFrame({"_time": t, "_event": e})
    reference: dict[str, str] = {}
    for col in categorical:
        labels = frame[col].astype("object").where(frame[col].notna(), MISSING).astype(str)
        counts = labels.value_counts()
        # the most common value is the reference; ties alphabetically
        ref = sorted(counts[counts == counts.max()].index)[0]
        reference[col] = ref
        for value in sorted(set(labels) - {ref}):
            design[f"{col}={value}"] = (labels == value).to_numpy(dtype="float64")
    for col in numeric:
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype="float64")
        if not np.isfinite(values).all():
            raise InputError(
                f"column {col!r} has missing or non-numeric values.",
                column=col,
                hint="Fill them, or leave the column out of numeric=.",
            )
        design[col] = values
    if design.shape[1] == 2:
        raise InputError(
            "every category has one value only, so there is nothing to compare.",
            hint="Pass a column whose values differ between subscriptions.",
        )
    fitter = lifelines.CoxPHFitter(penalizer=penalizer, alpha=alpha)
    try:
        fitter.fit(design, duration_col="_time", event_col="_event")
    except (lifelines.exceptions.ConvergenceError, np.linalg.LinAlgError, ValueError) as exc:
        # lifelines' own error, or the singular matrix and NaN steps of
        # covariates that separate the ends completely
        raise ConvergenceError(
            f"the Cox model did not converge: {str(exc).splitlines()[0]}",
            hint="1. A category may have no ends at all: merge it or drop it. "
            "2. Two covariates may say the same (mrr and plan). "
            "3. Try penalizer=0.01.",
        ) from None
    s = fitter.summary
    level = round(100 * (1 - alpha))
    out = pd.DataFrame(
        {
            "covariate": s.index.astype(str),
            "hazard_ratio": s["exp(coef)"].to_numpy(dtype="float64"),
            "lower": s[f"exp(coef) lower {level}%"].to_numpy(dtype="float64"),
            "upper": s[f"exp(coef) upper {level}%"].to_numpy(dtype="float64"),
            "p": s["p"].to_numpy(dtype="float64"),
        }
    )
    out.attrs["reference"] = reference
    out.attrs["subscriptions"] = int(len(design))
    out.attrs["ended"] = int(e.sum())
    return out


def _check_alpha(alpha: float) -> None:
    if not isinstance(alpha, float) or not 0 < alpha < 1:
        raise ConfigError(f"alpha must be a float in (0, 1). Got {alpha!r} instead.")


def _frame(durations: Any, columns: list[str]) -> pd.DataFrame:
    if hasattr(durations, "to_pandas") and not isinstance(durations, pd.DataFrame):
        durations = durations.to_pandas()  # an Ibis table: one row per subscription
    if not isinstance(durations, pd.DataFrame):
        raise InputError(
            "durations must be a DataFrame, one row per subscription.",
            hint="Pass subscription_durations(ctx).to_pandas().",
        )
    have = [str(c) for c in durations.columns]
    missing = [c for c in columns if c not in have]
    if missing:
        raise InputError(
            f"the durations have no column {', '.join(map(repr, missing))}; they have "
            f"{', '.join(have)}.",
            column=missing[0],
            hint="Use subscription_durations(ctx), or name the columns with time= and event=.",
        )
    if len(durations) == 0:
        raise InputError("there are no subscriptions to estimate from.")
    return durations


def _time_event(frame: pd.DataFrame, time: str, event: str) -> tuple[np.ndarray, np.ndarray]:
    t = pd.to_numeric(frame[time], errors="coerce").to_numpy(dtype="float64")
    if not np.isfinite(t).all() or (t < 0).any():
        raise InputError(
            f"column {time!r} must hold a duration of 0 or more for every subscription.",
            column=time,
        )
    raw = frame[event]
    if raw.isna().any():
        raise InputError(f"column {event!r} has missing values.", column=event)
    try:
        e = raw.to_numpy().astype("float64")
    except (TypeError, ValueError):
        e = np.array([np.nan])
    if not np.isin(e, (0.0, 1.0)).all():
        raise InputError(
            f"column {event!r} must be True / False (or 1 / 0): did the subscription end?",
            column=event,
        )
    return t, e.astype(bool)
