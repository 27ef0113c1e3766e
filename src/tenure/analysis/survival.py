"""How long subscriptions last, as the report and the dashboard show it:
the Kaplan-Meier curves of the durations in the store (descriptive: counted,
not fitted), and the survival curve of the sBG model that ``tenure fit sbg``
kept (read back, never fitted here).

Both count time in monthly renewals (see :mod:`tenure.engine.durations`),
so the curves estimate the same S(t)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

# the sBG model's t: the month a subscription ended in, or the renewals an
# active one has passed
TIME = "lifetime"
ALL = "all subscriptions"
# what fits the model the survival part shows
SBG_COMMAND = "tenure fit sbg"


@dataclass
class SubscriptionSurvival:
    """The durations' counts and their Kaplan-Meier curves.

    ``groups`` maps ``ALL`` and each plan (when there are several) to
    (subscriptions started, ended); ``overall`` and ``by_plan`` are the
    curves of :func:`tenure.models.survival.kaplan_meier` (``by_plan`` None
    with one plan); both None when lifelines is missing, and ``missing``
    then says how to install it."""

    started: int
    ended: int
    longest: int
    groups: dict[str, tuple[int, int]] = field(default_factory=dict)
    overall: pd.DataFrame | None = None
    by_plan: pd.DataFrame | None = None
    missing: str | None = None


def subscription_survival(ctx: Any) -> SubscriptionSurvival | None:
    """The Kaplan-Meier curves of every subscription started by the as-of
    day, overall and by plan; None when the data has no subscriptions."""
    from tenure.engine.durations import subscription_durations
    from tenure.errors import MissingExtraError
    from tenure.models.survival import MISSING, kaplan_meier

    if ctx.source.get("subscriptions") is None:
        return None
    d = subscription_durations(ctx, "month").to_pandas()
    out = SubscriptionSurvival(
        started=len(d),
        ended=int(d["churned"].sum()) if len(d) else 0,
        longest=int(d[TIME].max()) if len(d) else 0,
    )
    if d.empty:
        return out
    plans = "plan" in d.columns and d["plan"].nunique() > 1
    out.groups[ALL] = (len(d), out.ended)
    if plans:
        for p, g in d.groupby(d["plan"].fillna(MISSING), sort=True):
            out.groups[str(p)] = (len(g), int(g["churned"].sum()))
    try:
        out.overall = kaplan_meier(d, time=TIME)
        out.by_plan = kaplan_meier(d, time=TIME, group="plan") if plans else None
    except MissingExtraError as exc:
        out.missing = exc.hint
    return out


def kept_sbg(fits: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The latest sBG fit of monthly renewals kept by ``tenure fit sbg``
    (a row of :attr:`StoredPredictions.fits`); None when none is kept."""
    found = [f for f in fits if f["model"] == "sbg" and (f.get("time_unit") or "month") == "month"]
    return found[-1] if found else None


def sbg_survival(fit: dict[str, Any], months: Any) -> np.ndarray:
    """S(t) = B(α, β + t) / B(α, β) at the kept fit's parameters: the share
    of a new cohort still subscribed after t months."""
    from tenure.models.contractual import ShiftedBetaGeometric

    model = ShiftedBetaGeometric()
    model.params_ = {k: float(v) for k, v in fit["params"].items()}
    return model.predict_survival(np.asarray(months, dtype="float64"))
