"""Holdout validation of the purchase models: fit on the orders up to a
calibration date, predict the period after it, and compare with what
happened.

Per customer: the repeat purchase days in the holdout against the model's
conditional expectation given (x, t_x, T) at the calibration end. In
aggregate: the total, the mean by calibration frequency (Fader, Hardie and
Lee 2005, figure 4), and the cumulative repeat purchases week by week from
the first order to the end of the holdout (their figure 2), where the
prediction for each customer starts at their first purchase day.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from tenure.engine import periods
from tenure.engine.context import Context, as_date
from tenure.engine.source import Source
from tenure.engine.summaries import purchase_summary
from tenure.errors import InputError, TenureError
from tenure.models import PurchaseModel
from tenure.predictions.scoring import MODEL_NAMES, check_time_unit, fit_purchase_model

if TYPE_CHECKING:  # pandas is imported where it is used: a fit needs none
    import pandas as pd

FREQUENCY_BINS = 7  # calibration x of 0..6, and 7 or more


@dataclass
class Validation:
    """What :func:`holdout` measured; ``metrics`` are plain numbers."""

    model: PurchaseModel
    model_name: str
    calibration_end: date
    holdout_end: date
    time_unit: str
    customers: pd.DataFrame  # customer_id, x, t_x, T, actual, predicted
    by_frequency: pd.DataFrame  # x, customers, actual, predicted
    tracking: pd.DataFrame  # week, date, actual, predicted (cumulative)
    metrics: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "calibration_end": self.calibration_end.isoformat(),
            "holdout_end": self.holdout_end.isoformat(),
            "time_unit": self.time_unit,
            **self.metrics,
            "by_frequency": self.by_frequency.to_dict("records"),
        }


def data_range(source: Source, defs: Any) -> tuple[date, date]:
    """First and last local purchase dates of the source."""
    ctx = Context(source, replace(defs, as_of=None))
    p = ctx.all_orders
    first, last = p.aggregate(first=p.local_date.min(), last=p.local_date.max()).execute().iloc[0]
    return as_date(first), as_date(last)


def check_calibration_end(
    calibration_end: date, first: date, last: date, source: str | None = None, what: str = "orders"
) -> None:
    if not first <= calibration_end < last:
        raise InputError(
            f"the calibration end {calibration_end} is outside the {what}, which run from "
            f"{first} to {last}.",
            hint="Pick a date between them that leaves a holdout after it, e.g. "
            f"--calibration-end {first + (last - first) * 2 // 3}.",
            value=str(calibration_end),
            source=source,
        )


def holdout(
    source: Source,
    defs: Any,
    calibration_end: date,
    *,
    model: str = "bgnbd",
    time_unit: str = "day",
    penalizer: float = 0.0,
) -> Validation:
    """Fit ``model`` up to ``calibration_end`` and compare its predictions
    with the orders after it, up to the definitions' as-of date (the end
    of the data by default)."""
    import pandas as pd

    unit = check_time_unit(time_unit)
    first, last = data_range(source, defs)
    end = defs.as_of or last
    check_calibration_end(calibration_end, first, min(last, end))
    cal = Context(source, replace(defs, as_of=calibration_end))
    full = Context(source, replace(defs, as_of=end))
    fitted = fit_purchase_model(cal, model, time_unit=time_unit, penalizer=penalizer)
    duration = (full.as_of_day - cal.as_of_day) / unit

    # per customer: calibration (x, t_x, T) and holdout repeat purchase days
    s = purchase_summary(cal, time_unit=time_unit).select("customer_id", "x", "t_x", "T")
    d = full.purchase_days
    later = d.filter((d.day > cal.as_of_day) & (d.day <= full.as_of_day))
    later = later.group_by("customer_id").agg(actual=later.count().cast("int64"))
    joined = s.left_join(later, "customer_id")
    c = joined.select(
        "customer_id", "x", "t_x", "T", actual=joined.actual.fill_null(0).cast("int64")
    ).to_pandas()
    c["predicted"] = fitted.predict_purchases(duration, c)

    bins = np.minimum(c["x"].to_numpy(), FREQUENCY_BINS)
    by_freq = (
        c.assign(x=bins)
        .groupby("x")
        .agg(
            customers=("actual", "size"), actual=("actual", "mean"), predicted=("predicted", "mean")
        )
        .reset_index()
    )
    tracking = _tracking(cal, full, fitted, unit)
    err = c["predicted"] - c["actual"]
    actual_total, predicted_total = float(c["actual"].sum()), float(c["predicted"].sum())
    holdout_weeks = tracking[tracking["date"] > pd.Timestamp(calibration_end)]
    increments = tracking["actual"].diff().fillna(tracking["actual"])
    predicted_inc = tracking["predicted"].diff().fillna(tracking["predicted"])
    in_holdout = tracking["date"] > pd.Timestamp(calibration_end)
    metrics = {
        "customers": int(len(c)),
        "holdout_days": int(full.as_of_day - cal.as_of_day),
        "actual_purchases": actual_total,
        "predicted_purchases": predicted_total,
        "total_error_pct": (
            100 * (predicted_total - actual_total) / actual_total if actual_total else None
        ),
        "mae": float(np.abs(err).mean()),
        "rmse": float(np.sqrt((err**2).mean())),
        "correlation": (
            float(np.corrcoef(c["predicted"], c["actual"])[0, 1])
            if c["actual"].std() > 0 and c["predicted"].std() > 0
            else None
        ),
        # mean absolute error of the weekly purchases in the holdout, in % of their mean
        "weekly_mape_pct": (
            float(
                100
                * np.abs(predicted_inc[in_holdout] - increments[in_holdout]).mean()
                / increments[in_holdout].mean()
            )
            if len(holdout_weeks) and increments[in_holdout].mean() > 0
            else None
        ),
    }
    return Validation(
        fitted,
        model,
        calibration_end,
        full.as_of,
        time_unit,
        c,
        by_freq,
        tracking,
        metrics,
    )


def _tracking(cal: Context, full: Context, model: PurchaseModel, unit: float) -> pd.DataFrame:
    """Cumulative repeat purchase days by week, actual and predicted, of the
    customers acquired by the calibration end."""
    import pandas as pd

    buyers = full.purchasers.filter(full.purchasers.first_day <= cal.as_of_day)
    start_day = int(buyers.first_day.min().execute())
    d = full.purchase_days
    repeat = d.join(buyers.select("customer_id", "first_day"), "customer_id")
    repeat = repeat.filter((repeat.day > repeat.first_day) & (repeat.day <= full.as_of_day))
    week = ((repeat.day - start_day) // 7).name("week")
    actual = repeat.group_by(week).agg(n=repeat.count()).to_pandas()
    cohorts = buyers.group_by("first_day").agg(n=buyers.count()).to_pandas()
    weeks = np.arange(0, (full.as_of_day - start_day) // 7 + 1)
    ends = np.minimum(start_day + (weeks + 1) * 7 - 1, full.as_of_day)  # last day of each week
    age = (ends[:, None] - cohorts["first_day"].to_numpy()[None, :]) / unit
    expected = np.where(age > 0, model.expected_repeat_purchases(np.maximum(age, 0)), 0.0)
    predicted = expected @ cohorts["n"].to_numpy(dtype="float64")
    counts = np.zeros(len(weeks))
    counts[actual["week"].to_numpy(dtype=int)] = actual["n"].to_numpy()
    return pd.DataFrame(
        {
            "week": weeks,
            "date": pd.to_datetime([periods.from_day_number(int(e)) for e in ends]),
            "actual": np.cumsum(counts),
            "predicted": predicted,
        }
    )


# -- choosing the purchase model ------------------------------------------------

# in this order on a tie: the simplest first
CANDIDATES = ("bgnbd", "mbgnbd", "paretonbd")
DEFAULT_MODEL = "bgnbd"


def default_calibration_end(first: date, end: date) -> date:
    """Hold back the last third of the history, at most a year."""
    return end - min(timedelta(days=365), (end - first) / 3)


@dataclass
class ModelChoice:
    """Which purchase model :func:`choose_model` picked, and why.

    ``rmse`` holds each candidate's root mean squared error of the repeat
    purchase days per customer in the holdout; ``failed`` the reason a
    candidate could not be checked. Squared error because every model
    predicts each customer's expected count, which squared error rewards
    (an absolute error rewards predicting the median, 0 for most customers).
    ``validation`` is the chosen candidate's holdout check, kept with the
    fit so that the choice can be seen (None without a holdout).
    """

    chosen: str
    calibration_end: date | None
    holdout_end: date | None
    rmse: dict[str, float] = field(default_factory=dict)
    mae: dict[str, float] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    validation: Validation | None = field(default=None, repr=False)

    @property
    def reason(self) -> str:
        if not self.rmse:
            why = "; ".join(f"{k}: {v}" for k, v in self.failed.items())
            return (
                f"No holdout to choose a model on ({why}); {self.chosen} "
                f"({MODEL_NAMES[self.chosen]}) by default"
            )
        others = " vs ".join(f"{k} {v:.3f}" for k, v in self.rmse.items() if k != self.chosen)
        return (
            f"Model chosen by holdout: {self.chosen}, RMSE {self.rmse[self.chosen]:.3f}"
            + (f" vs {others}" if others else "")
            + f" (each customer's repeat purchase days after {self.calibration_end} up to "
            f"{self.holdout_end}, predicted by fits on the orders up to {self.calibration_end})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "chosen": self.chosen,
            "by": "holdout" if self.rmse else "default",
            "criterion": "rmse",
            "calibration_end": self.calibration_end.isoformat() if self.calibration_end else None,
            "holdout_end": self.holdout_end.isoformat() if self.holdout_end else None,
            "rmse": self.rmse,
            "mae": self.mae,
            "failed": self.failed,
            "reason": self.reason,
        }


def choose_model(
    source: Source,
    defs: Any,
    *,
    time_unit: str = "day",
    penalizer: float = 0.0,
    candidates: tuple[str, ...] = CANDIDATES,
    calibration_end: date | None = None,
) -> ModelChoice:
    """Fit each candidate up to ``calibration_end`` (by default
    :func:`default_calibration_end`) and keep the one whose predictions of
    each customer's repeat purchase days after it have the smallest RMSE.
    Without history enough to hold some back, BG/NBD, with the reason."""
    first, last = data_range(source, defs)
    end = min(last, defs.as_of or last)
    cal_end = calibration_end or default_calibration_end(first, end)
    choice = ModelChoice(DEFAULT_MODEL, cal_end, end)
    checks: dict[str, Validation] = {}
    for name in candidates:
        try:
            v = holdout(
                source, replace(defs, as_of=end), cal_end, model=name,
                time_unit=time_unit, penalizer=penalizer,
            )  # fmt: skip
        except TenureError as exc:
            choice.failed[name] = exc.what
            continue
        checks[name] = v
        choice.rmse[name], choice.mae[name] = v.metrics["rmse"], v.metrics["mae"]
    if choice.rmse:
        choice.chosen = min(choice.rmse, key=choice.rmse.__getitem__)
        choice.validation = checks[choice.chosen]
    else:
        choice.calibration_end = choice.holdout_end = None
    return choice
