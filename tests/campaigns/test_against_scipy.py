"""The lift and CUPED from sums against SciPy's Welch t-test on the
customers' own values (an independent implementation)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from tenure.campaigns.cuped import cuped_lift, theta
from tenure.campaigns.lift import lift
from tenure.campaigns.stats import Paired, Sums


@pytest.fixture
def customers():
    rng = np.random.default_rng(8)
    pre_a, pre_b = rng.gamma(1.0, 20.0, 700), rng.gamma(1.0, 20.0, 900)
    post_a = 0.6 * pre_a + rng.gamma(1.0, 15.0, 700)
    post_b = 0.6 * pre_b + rng.gamma(1.0, 15.0, 900) + 3.0
    return pre_a, post_a, pre_b, post_b


def _welch(a, b):
    res = stats.ttest_ind(b, a, equal_var=False)
    ci = res.confidence_interval(0.95)
    return b.mean() - a.mean(), res.pvalue, (ci.low, ci.high)


def test_lift_equals_welch_t_test(customers):
    _, post_a, _, post_b = customers
    result = lift(Sums.of(post_a), Sums.of(post_b)).absolute
    diff, p, (low, high) = _welch(post_a, post_b)
    assert float(result.estimate) == pytest.approx(diff, rel=1e-12)
    assert float(result.p_value) == pytest.approx(p, rel=1e-9)
    assert (float(result.lower), float(result.upper)) == pytest.approx((low, high), rel=1e-9)


def test_cuped_equals_welch_on_adjusted_values(customers):
    """CUPED is Welch's t-test on y − θx, θ the pooled regression slope."""
    pre_a, post_a, pre_b, post_b = customers
    control, arm = Paired.of(post_a, pre_a), Paired.of(post_b, pre_b)
    th = float(theta(control, arm))
    x, y = np.concatenate([pre_a, pre_b]), np.concatenate([post_a, post_b])
    assert th == pytest.approx(np.polyfit(x, y, 1)[0], rel=1e-9)  # least squares slope
    adjusted, _ = cuped_lift(control, arm)
    diff, p, (low, high) = _welch(post_a - th * pre_a, post_b - th * pre_b)
    assert float(adjusted.absolute.estimate) == pytest.approx(diff, rel=1e-9)
    assert float(adjusted.absolute.p_value) == pytest.approx(p, rel=1e-6)
    assert (float(adjusted.absolute.lower), float(adjusted.absolute.upper)) == pytest.approx(
        (low, high), rel=1e-9
    )
