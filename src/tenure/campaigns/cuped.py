"""CUPED: the lift adjusted for each customer's pre-period behaviour.

Deng, Xu, Kohavi and Walker (2013), "Improving the sensitivity of online
controlled experiments by utilizing pre-experiment data" (WSDM). With y the
metric after assignment and x the same metric over the same length of time
before it, each arm's mean becomes

    ȳ_cuped = ȳ − θ x̄,   θ = cov(y, x) / var(x)  (pooled over both arms),

whose variance is (s²_y + θ² s²_x − 2θ cov(y, x)) / n = s²_y (1 − ρ²)/n at
the best θ: a pre-period correlation ρ removes the share ρ² of the variance.
Randomisation makes x̄ equal in expectation across arms, so the adjusted
difference estimates the same lift. The relative lift divides by the
control's unadjusted mean, with the delta-method variance of gbstats'
``frequentist_variance_relative_cuped``; θ is 0 (no adjustment) when either
pooled variance is 0, as there.
"""

from __future__ import annotations

import numpy as np

from tenure.campaigns.lift import ALPHA, Lift, from_moments
from tenure.campaigns.stats import Array, Paired


def theta(control: Paired, arm: Paired) -> Array:
    """θ = cov(y, x)/var(x) of both arms pooled; 0 where either variance is 0."""
    joint = control + arm
    var_pre, var_post = joint.pre.variance, joint.post.variance
    ok = (var_pre > 0) & (var_post > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ok, joint.covariance / np.where(ok, var_pre, 1.0), 0.0)


def adjusted_variance(p: Paired, th: Array) -> Array:
    """Var of y − θx per customer."""
    var = p.post.variance + th**2 * p.pre.variance - 2 * th * p.covariance
    return np.where(p.n > 1, var, 0.0)


def cuped_lift(control: Paired, arm: Paired, *, alpha: float = ALPHA) -> tuple[Lift, Array]:
    """The CUPED-adjusted lift of ``arm`` over ``control``, and θ."""
    th = theta(control, arm)
    ua, ub = control.post.mean, arm.post.mean
    ma = ua - th * control.pre.mean
    mb = ub - th * arm.pre.mean
    va, vb = adjusted_variance(control, th), adjusted_variance(arm, th)
    na, nb = control.n, arm.n
    with np.errstate(divide="ignore", invalid="ignore"):
        v_arm = vb / (nb * ua**2)
        const = -ub
        v_ctrl = (control.post.variance * const**2 / ua**2
                  + 2 * th * control.covariance * const / ua
                  + th**2 * control.pre.variance) / (na * ua**2)  # fmt: skip
    result = from_moments(mean_a=ma, mean_b=mb, base_a=ua, base_b=ub, var_a=va, n_a=na,
                          var_b=vb, n_b=nb, var_relative=v_arm + v_ctrl, alpha=alpha)  # fmt: skip
    return result, th


def variance_reduction(control: Paired, arm: Paired) -> Array:
    """The share of the absolute lift's variance that CUPED removes."""
    th = theta(control, arm)
    na, nb = control.n, arm.n
    plain = control.post.variance / na + arm.post.variance / nb
    adjusted = adjusted_variance(control, th) / na + adjusted_variance(arm, th) / nb
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(plain > 0, 1 - adjusted / np.where(plain > 0, plain, 1), 0.0)
