"""Subscriptions: read them straight from a file, fit the sBG model on how
long they last, check it on a holdout and score every active subscription.

``tenure fit sbg --subscriptions FILE --period month`` reads a file (or a
DataFrame) with a subscription id, customer id, start and end (empty while
active), read, mapped and checked like ``tenure ingest subscriptions``
(:func:`tenure.given.read_subscriptions`); ``plan`` is kept when present.
Without a file the store's subscriptions are read.

Time is counted in renewals (see :mod:`tenure.engine.durations`): a
subscription that ended after its (n-1)-th renewal date, up to and
including its n-th, cancelled in period n; one still active has survived
``periods`` renewals so far.

Holdout: fitted on what was known at the calibration end (durations cut
there), the model predicts how many of the subscriptions active then are
still active after each further period, ``Σ S(t_i + j) / S(t_i)``; the
actual count is taken from the data for every period that ends by the last
day of data.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tenure.config import Settings
from tenure.engine.context import Context, Definitions
from tenure.engine.durations import PERIODS, subscription_durations
from tenure.errors import ConfigError, InputError
from tenure.given import RecordsData, read_subscriptions
from tenure.models.contractual import ShiftedBetaGeometric

DAYS_PER_PERIOD = {"month": 365.25 / 12, "year": 365.25}
MONTHS_PER_PERIOD = {"month": 1, "year": 12}


@dataclass
class SubscriptionFit:
    """An sBG fit: the model, the data it saw, and its holdout check."""

    model: ShiftedBetaGeometric
    period: str
    as_of: date
    calibration_end: date | None
    subscriptions: int
    churned: int
    validation: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def curve(self, periods: int = 12) -> pd.DataFrame:
        """S(t) and r(t) of a new cohort for t = 0..periods."""
        t = np.arange(periods + 1)
        retention = np.r_[np.nan, self.model.predict_retention(t[1:])]
        return pd.DataFrame(
            {"t": t, "survival": self.model.predict_survival(t), "retention": retention}
        )


def durations_frame(ctx: Context, period: str) -> pd.DataFrame:
    """The durations of every subscription started by the as-of day."""
    return subscription_durations(ctx, period).order_by("subscription_id").to_pandas()


def durations_range(ctx: Context) -> tuple[date, date]:
    """The first start and the last day of the subscriptions (the as-of day)."""
    s = ctx.source.table("subscriptions")
    first = ctx.local(s.started_at).min().execute()
    return (ctx.as_of if first is None else pd.Timestamp(first).date()), ctx.as_of


def _distinct(durations: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    counts = (
        durations.assign(churned=durations["churned"].astype(int))
        .groupby(["lifetime", "churned"], as_index=False)
        .size()
    )
    data = counts.rename(columns={"lifetime": "t"})[["t", "churned"]]
    return data, counts["size"].to_numpy(float)


def fit_sbg(
    ctx: Context, *, period: str = "month", calibration_end: date | None = None
) -> SubscriptionFit:
    """Fit sBG on the durations known at ``calibration_end`` (default: the
    context's as-of date); with a calibration end, check it on the rest."""
    _check_period(period)
    cal = ctx
    if calibration_end is not None:
        cal = Context(ctx.source, replace(ctx.defs, as_of=calibration_end))
    try:
        known = durations_frame(cal, period)
    finally:
        if cal is not ctx:
            cal.close()
    if known.empty:
        raise InputError(
            f"no subscription had started by {cal.as_of}.",
            hint="Use a later --calibration-end, or check the start dates.",
        )
    data, w = _distinct(known)
    model = ShiftedBetaGeometric().fit(data, weights=w)
    result = SubscriptionFit(
        model=model,
        period=period,
        as_of=cal.as_of,
        calibration_end=calibration_end,
        subscriptions=len(known),
        churned=int(known["churned"].sum()),
    )
    if calibration_end is not None:
        later = durations_frame(ctx, period)
        result.validation = _holdout(model, known, later, period, calibration_end, ctx.as_of)
    return result


def _holdout(
    model: ShiftedBetaGeometric,
    known: pd.DataFrame,
    later: pd.DataFrame,
    period: str,
    calibration_end: date,
    data_end: date,
) -> dict[str, Any]:
    """Survivors of the subscriptions active at the calibration end, after
    each further renewal: predicted against actual, for the renewals that
    fall by the last day of data for every one of them."""
    active = known.loc[~known["churned"], ["subscription_id", "periods"]]
    if active.empty:
        raise InputError(
            f"no subscription was active on {calibration_end}, so there is nothing to follow.",
            hint="Use an earlier --calibration-end.",
        )
    now = later.set_index("subscription_id").loc[active["subscription_id"]]
    t0 = active["periods"].to_numpy()
    ended = now["churned"].to_numpy(bool)
    # renewals survived by the last day: all of them for an active one; one
    # fewer than the period it ended in for a churned one
    survived = now["lifetime"].to_numpy() - ended
    # follow as many renewals as every active one has had time for
    room = (survived - t0)[~ended]
    if len(room):
        followed = int(room.min())
    else:  # all of them have ended: every renewal up to the last day is known
        followed = int((data_end - calibration_end).days // DAYS_PER_PERIOD[period])
    rows = []
    for j in range(1, max(followed, 0) + 1):
        rows.append(
            {
                "period": j,
                "actual": int((survived >= t0 + j).sum()),
                "predicted": float(model.predict_conditional_survival(t0, j).sum()),
            }
        )
    frame = pd.DataFrame(rows, columns=["period", "actual", "predicted"])
    errors = (frame["predicted"] - frame["actual"]).abs() / frame["actual"].clip(lower=1)
    return {
        "calibration_end": calibration_end.isoformat(),
        "holdout_end": data_end.isoformat(),
        "active_at_calibration_end": int(len(active)),
        "periods_followed": followed,
        "tracking": frame.to_dict("records"),
        "mape_pct": float(errors.mean() * 100) if len(frame) else None,
    }


def score_subscriptions(
    fitted: SubscriptionFit,
    durations: pd.DataFrame,
    *,
    horizon_days: int,
    discount_rate: float,
    margin: float,
) -> pd.DataFrame:
    """One row per active subscription: the renewal probability, the
    expected renewals over the horizon, the discounted expected remaining
    lifetime (in periods), the median remaining periods, and, with ``mrr``,
    the discounted value of the renewals over the horizon times the margin.
    Computed once per distinct tenure."""
    m, period = fitted.model, fitted.period
    active = durations.loc[~durations["churned"].astype(bool)].reset_index(drop=True)
    t, inverse = np.unique(active["periods"].to_numpy(dtype=float), return_inverse=True)
    horizon = round(horizon_days / DAYS_PER_PERIOD[period])  # 365 days: 12 months, 1 year
    d = (1 + discount_rate) ** (1 / (12 / MONTHS_PER_PERIOD[period])) - 1
    out = active[["customer_id", "subscription_id", "started_at", "periods"]].copy()
    for name in ("plan", "country"):
        if name in active:
            out[name] = active[name]
    out["renewal_probability"] = m.predict_renewal_probability(t)[inverse]
    out["expected_renewals"] = m.expected_remaining_lifetime(t, horizon=horizon)[inverse]
    out["expected_remaining_periods"] = m.expected_remaining_lifetime(t, discount_rate=d)[inverse]
    out["median_remaining_periods"] = m.predict_median_remaining_lifetime(t)[inverse]
    if "mrr" in active:
        value = m.expected_remaining_lifetime(t, discount_rate=d, horizon=horizon)[inverse]
        out["mrr"] = active["mrr"]
        out["clv"] = active["mrr"].to_numpy(float) * MONTHS_PER_PERIOD[period] * value * margin
    return out


@contextmanager
def subscriptions_context(
    subscriptions: Any = None,
    *,
    settings: Settings,
    map: Mapping[str, str] | None = None,
    as_of: date | None = None,
    rejected_to: Path | None = None,
    date_format: str | None = None,
) -> Iterator[tuple[Context, RecordsData | None]]:
    """A subscription-defined context over a file or over the store."""
    from tenure.contexts import open_context

    if subscriptions is None:
        with open_context(settings=settings, active_by="subscription", as_of=as_of) as ctx:
            yield ctx, None
        return
    data = read_subscriptions(
        subscriptions, map=map, timezone=settings.timezone, currency=settings.reporting_currency or "EUR",
        date_format=date_format,
    )  # fmt: skip
    if data.rejected and rejected_to is not None:
        data.quarantine = data.write_rejected(rejected_to)
    data.warn()
    try:
        defs = Definitions.from_settings(settings, active_by="subscription", as_of=as_of)
        yield Context(data.source, defs), data
    finally:
        data.source.close()


def _check_period(period: str) -> None:
    if period not in PERIODS:
        raise ConfigError(
            f"the period {period!r} is not one tenure knows.",
            hint="Use month or year: the length of one renewal.",
        )
