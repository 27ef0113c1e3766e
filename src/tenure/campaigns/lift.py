"""The lift of an arm over the control, with its 95 % interval.

For a metric with per-customer mean ȳ (conversion rate, orders, revenue per
assigned customer, days to the next order) in the control (a) and an arm
(b), with sample variances s² and sizes n:

* absolute lift  Δ = ȳ_b − ȳ_a,  Var(Δ) = s²_b/n_b + s²_a/n_a;
* relative lift  Δ/|ȳ_a|, its variance by the delta method for a ratio of
  independent means: s²_b/(n_b ȳ_a²) + s²_a ȳ_b²/(n_a ȳ_a⁴);
* intervals and p-values from Student's t with the Welch–Satterthwaite
  degrees of freedom.

These are the formulas of GrowthBook's gbstats (``TwoSidedTTest``,
``frequentist_variance``), so its published test cases are ours too
(tests/campaigns/test_golden_gbstats.py). Everything is vectorised: every
field may be an array, one entry per arm or per simulated campaign.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as st

from tenure.campaigns.stats import Array, Sums, _arr

ALPHA = 0.05


@dataclass(frozen=True)
class Interval:
    """An estimate with its standard error, interval and two-sided p-value."""

    estimate: Array
    se: Array
    lower: Array
    upper: Array
    p_value: Array

    def as_dict(self) -> dict[str, float | list[float]]:
        return {"estimate": _num(self.estimate), "se": _num(self.se),
                "ci": [_num(self.lower), _num(self.upper)], "p_value": _num(self.p_value)}  # fmt: skip


def _num(x):
    value = np.asarray(x)
    if value.ndim == 0:
        v = float(value)
        return v if np.isfinite(v) else None
    return [float(v) if np.isfinite(v) else None for v in value]


@dataclass(frozen=True)
class Lift:
    """An arm against the control: means, sizes, and the absolute and
    relative lift with their intervals (``dof``: Welch's degrees of freedom)."""

    control_mean: Array
    arm_mean: Array
    n_control: Array
    n_arm: Array
    absolute: Interval
    relative: Interval
    dof: Array


def welch_dof(var_a: Array, n_a: Array, var_b: Array, n_b: Array) -> Array:
    """Welch–Satterthwaite degrees of freedom of a difference of two means."""
    with np.errstate(divide="ignore", invalid="ignore"):
        num = (var_b / n_b + var_a / n_a) ** 2
        den = var_b**2 / (n_b**2 * (n_b - 1)) + var_a**2 / (n_a**2 * (n_a - 1))
        return num / den


def t_interval(estimate: Array, se: Array, dof: Array, alpha: float = ALPHA) -> Interval:
    """Estimate ± t(1 − α/2, dof)·se, and the two-sided p-value of 0."""
    estimate, se = _arr(estimate), _arr(se)
    with np.errstate(divide="ignore", invalid="ignore"):
        half = st.t.ppf(1 - alpha / 2, dof) * se
        p = 2 * st.t.sf(np.abs(estimate / se), dof)
    return Interval(estimate, se, estimate - half, estimate + half, p)


def relative_variance(mean_a: Array, var_a: Array, n_a: Array,
                      mean_b: Array, var_b: Array, n_b: Array) -> Array:  # fmt: skip
    """Var(ȳ_b/ȳ_a) by the delta method, the two means independent."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return var_b / n_b / mean_a**2 + var_a / n_a * mean_b**2 / mean_a**4


def from_moments(*, mean_a: Array, mean_b: Array, base_a: Array, var_a: Array, n_a: Array,
                 var_b: Array, n_b: Array, var_relative: Array, base_b: Array,
                 alpha: float = ALPHA) -> Lift:  # fmt: skip
    """A lift from (possibly CUPED-adjusted) means and variances; ``base_a``
    and ``base_b`` are the unadjusted means that a relative lift divides by
    and that the result reports."""
    dof = welch_dof(var_a, n_a, var_b, n_b)
    diff = mean_b - mean_a
    absolute = t_interval(diff, np.sqrt(var_b / n_b + var_a / n_a), dof, alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = diff / np.abs(base_a)
    relative = t_interval(rel, np.sqrt(var_relative), dof, alpha)
    return Lift(_arr(base_a), _arr(base_b), _arr(n_a), _arr(n_b), absolute, relative, dof)


def lift(control: Sums, arm: Sums, *, alpha: float = ALPHA) -> Lift:
    """The lift of ``arm`` over ``control``, unadjusted (Welch's t)."""
    ma, mb, va, vb = control.mean, arm.mean, control.variance, arm.variance
    na, nb = _arr(control.n), _arr(arm.n)
    return from_moments(mean_a=ma, mean_b=mb, base_a=ma, base_b=mb, var_a=va, n_a=na,
                        var_b=vb, n_b=nb, var_relative=relative_variance(ma, va, na, mb, vb, nb),
                        alpha=alpha)  # fmt: skip


# what a result says, read from its interval
BETTER, WORSE, INCONCLUSIVE, MISMATCH = "better", "worse", "inconclusive", "sample ratio mismatch"


def verdict(lower: float | None, upper: float | None, *, higher_is_better: bool = True,
            srm_flagged: bool = False) -> str:  # fmt: skip
    """``better`` or ``worse`` when the interval excludes zero, else
    ``inconclusive``; ``sample ratio mismatch`` whatever the interval when
    the arms' sizes show the assignment was broken (the lift cannot be
    trusted then). ``higher_is_better`` is False for days to the next order."""
    if srm_flagged:
        return MISMATCH
    if lower is None or upper is None or not (lower > 0 or upper < 0):
        return INCONCLUSIVE
    up = lower > 0
    return BETTER if up == higher_is_better else WORSE
