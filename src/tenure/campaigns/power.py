"""Power and minimum detectable effect of an audience, before launch.

For an audience of N customers split into an arm (share 1 − h) and a
holdout (share h), a metric with per-customer standard deviation σ (for a
conversion rate p, σ² = p(1 − p)) and a two-sided test at level α, the
standard error of the lift is se = σ·sqrt(1/n_arm + 1/n_holdout) and

    MDE   = (z(1 − α/2) + z(power)) · se                  (absolute)
    power = Φ(|δ|/se − z(1 − α/2)) + Φ(−|δ|/se − z(1 − α/2))

(the normal approximation of a two-sample test; e.g. Kohavi, Tang and Xu
2020, ch. 17, or Chow, Shao and Wang, *Sample Size Calculations in Clinical
Research*, 3.2). The relative MDE divides by the baseline mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as st

from tenure.campaigns.lift import ALPHA
from tenure.campaigns.stats import Array, _arr

POWER = 0.8


def _se(sd: ArrayLike, n_arm: ArrayLike, n_control: ArrayLike) -> Array:
    with np.errstate(divide="ignore"):
        return _arr(sd) * np.sqrt(1 / _arr(n_arm) + 1 / _arr(n_control))


def mde(sd: ArrayLike, n_arm: ArrayLike, n_control: ArrayLike, *, alpha: float = ALPHA,
        power: float = POWER) -> Array:  # fmt: skip
    """The smallest absolute lift detected with probability ``power``."""
    z = st.norm.ppf(1 - alpha / 2) + st.norm.ppf(power)
    return z * _se(sd, n_arm, n_control)


def power_of(effect: ArrayLike, sd: ArrayLike, n_arm: ArrayLike, n_control: ArrayLike, *,
             alpha: float = ALPHA) -> Array:  # fmt: skip
    """The probability that a true absolute lift ``effect`` is detected."""
    z = st.norm.ppf(1 - alpha / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.abs(_arr(effect)) / _se(sd, n_arm, n_control)
    return st.norm.cdf(shift - z) + st.norm.cdf(-shift - z)


@dataclass(frozen=True)
class AudiencePower:
    """What an audience can show: sizes, and the absolute and relative MDE."""

    n_arm: int
    n_holdout: int
    baseline: float
    sd: float
    mde_absolute: float
    mde_relative: float | None
    alpha: float
    power: float

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def audience_power(n: int, holdout_share: float, *, baseline: float, sd: float | None = None,
                   alpha: float = ALPHA, power: float = POWER) -> AudiencePower:  # fmt: skip
    """The MDE of an audience of ``n`` with a holdout of ``holdout_share``.
    ``baseline`` is the metric's expected mean; without ``sd`` it is a
    conversion rate (σ² = p(1 − p))."""
    if not 0 < holdout_share < 1:
        raise ValueError(f"holdout_share must be in (0, 1); got {holdout_share}")
    n_hold = int(round(n * holdout_share))
    n_arm = n - n_hold
    sigma = float(np.sqrt(baseline * (1 - baseline))) if sd is None else float(sd)
    m = float(mde(sigma, n_arm, n_hold, alpha=alpha, power=power))
    rel = m / abs(baseline) if baseline else None
    return AudiencePower(n_arm, n_hold, baseline, sigma, m, rel, alpha, power)
