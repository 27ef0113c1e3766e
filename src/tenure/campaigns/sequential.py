"""Anytime-valid intervals: asymptotic confidence sequences.

An interval that is looked at every day and acted on the first day it
excludes zero is wrong far more than 5 % of the time. A confidence sequence
holds at every sample size at once, so a campaign may be watched while it
runs. We use the asymptotic confidence sequence of Waudby-Smith, Arbour,
Sinha, Kennedy and Ramdas (2023), "Time-uniform central limit theory and
asymptotic confidence sequences" (arXiv:2103.06476, eq. 9 and 161), as
GrowthBook's gbstats implements it (``SequentialTwoSidedTTest``). With
N = n_a + n_b customers, σ̂² = se²·N and a tuning ρ chosen so the sequence
is tightest at N = η (the planned audience):

    half-width = σ̂ · sqrt( 2(Nρ² + 1) / (N²ρ²) · log( sqrt(Nρ² + 1) / α ) ),
    ρ = sqrt( (−2 log α + log(−2 log α + 1)) / η ).

Its p-value (eq. 155) is min(1, 1/E), with the e-value of no lift
E = exp( ρ² N² Δ² / (2 σ̂² (Nρ² + 1)) ) / sqrt(Nρ² + 1).
"""

from __future__ import annotations

import numpy as np

from tenure.campaigns.lift import ALPHA, Interval
from tenure.campaigns.stats import Array, _arr

# gbstats' default η: the sample size at which the sequence is tightest
TUNING = 5000


def rho(alpha: float = ALPHA, tuning: float = TUNING) -> float:
    """The mixing parameter ρ (eq. 161 of Waudby-Smith et al.)."""
    return float(np.sqrt((-2 * np.log(alpha) + np.log(-2 * np.log(alpha) + 1)) / tuning))


def halfwidth(se: Array, n: Array, *, alpha: float = ALPHA, tuning: float = TUNING) -> Array:
    """Half the width of the confidence sequence at N = ``n`` customers."""
    r = rho(alpha, tuning)
    n = _arr(n)
    s2 = _arr(se) ** 2 * n
    nr2 = n * r**2
    return np.sqrt(s2) * np.sqrt(2 * (nr2 + 1) * np.log(np.sqrt(nr2 + 1) / alpha) / (n * r) ** 2)


def sequential_p_value(estimate: Array, se: Array, n: Array, *, alpha: float = ALPHA,
                       tuning: float = TUNING) -> Array:  # fmt: skip
    """The anytime-valid p-value of no lift: 1/E, at most 1 (eq. 155)."""
    r = rho(alpha, tuning)
    n = _arr(n)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        st2 = _arr(estimate) ** 2 * n / _arr(se) ** 2
        tr2p1 = n * r**2 + 1
        evalue = np.exp(r**2 * st2 / (2 * tr2p1)) / np.sqrt(tr2p1)
        return np.minimum(1 / evalue, 1.0)


def confidence_sequence(fixed: Interval, n: Array, *, alpha: float = ALPHA,
                        tuning: float = TUNING) -> Interval:  # fmt: skip
    """The anytime-valid counterpart of a fixed-horizon interval ``fixed``
    (same estimate and standard error) at N = ``n`` customers in both arms."""
    half = halfwidth(fixed.se, n, alpha=alpha, tuning=tuning)
    p = sequential_p_value(fixed.estimate, fixed.se, n, alpha=alpha, tuning=tuning)
    return Interval(fixed.estimate, fixed.se, fixed.estimate - half, fixed.estimate + half, p)
