"""sBG: the published estimates of Fader and Hardie (2007)."""

from __future__ import annotations

import numpy as np
import pytest

from tenure.errors import InputError
from tenure.models.contractual import ShiftedBetaGeometric

# Fader and Hardie (2007), Table 1: customers still active at the start of
# years 1..8, of 1,000 acquired
REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491]


@pytest.mark.parametrize(
    ("survivors", "alpha", "beta", "ll"),
    [(REGULAR, 0.704, 1.182, -1680.3), (HIGH_END, 0.668, 3.806, -1611.2)],
)
def test_reproduces_the_published_estimates(survivors, alpha, beta, ll):
    data, w = ShiftedBetaGeometric.from_survivors(survivors)
    m = ShiftedBetaGeometric().fit(data, weights=w)
    assert m.params_["alpha"] == pytest.approx(alpha, abs=6e-4)
    assert m.params_["beta"] == pytest.approx(beta, abs=6e-4)
    assert m.log_likelihood_ == pytest.approx(ll, abs=0.06)
    assert m.n_customers_ == 1000
    # the fitted survival curve follows the data it came from
    np.testing.assert_allclose(m.predict_survival(np.arange(8)) * 1000, survivors, rtol=0.05)


def test_retention_is_the_ratio_of_survivals():
    data, w = ShiftedBetaGeometric.from_survivors(REGULAR)
    m = ShiftedBetaGeometric().fit(data, weights=w)
    t = np.arange(1, 10)
    np.testing.assert_allclose(
        m.predict_retention(t), m.predict_survival(t) / m.predict_survival(t - 1)
    )
    assert (np.diff(m.predict_retention(t)) > 0).all()  # retention rises with tenure


def test_edges():
    with pytest.raises(InputError, match="never rise"):
        ShiftedBetaGeometric.from_survivors([100, 120])
    data, w = ShiftedBetaGeometric.from_survivors([100, 100, 100])
    with pytest.raises(InputError, match="no subscriber has cancelled"):
        ShiftedBetaGeometric().fit(data, weights=w)


def _fitted(alpha: float, beta: float) -> ShiftedBetaGeometric:
    m = ShiftedBetaGeometric()
    m.params_ = {"alpha": alpha, "beta": beta}
    return m


def test_remaining_lifetime_matches_a_simulated_cohort():
    # a cohort drawn from the model: among those still active after t periods,
    # count the further renewals (each discounted) until they cancel
    rng = np.random.default_rng(7)
    alpha, beta, d = 0.9, 2.5, 0.05
    m = _fitted(alpha, beta)
    theta = rng.beta(alpha, beta, 2_000_000)
    life = rng.geometric(theta)  # the period they cancel in: renewals passed = life - 1
    z = 1 / (1 + d)
    for t in (0, 3, 10):
        alive = life > t
        further = life[alive] - 1 - t  # renewals after the t-th
        discounted = (z - z ** (further + 1)) / (1 - z)  # Σ_{j=1..further} z^j
        expected = m.expected_remaining_lifetime(t, discount_rate=d)
        se = discounted.std() / np.sqrt(alive.sum())
        assert abs(expected - discounted.mean()) < 4 * se
        # the next renewal and survival three periods on
        assert m.predict_renewal_probability(t) == pytest.approx((further >= 1).mean(), abs=4e-3)
        assert m.predict_conditional_survival(t, 3) == pytest.approx(
            (further >= 3).mean(), abs=4e-3
        )
        median = m.predict_median_remaining_lifetime(t)
        assert (further >= median).mean() <= 0.5 < (further >= median - 1).mean()


def test_remaining_lifetime_closed_forms():
    m = _fitted(2.5, 4.0)
    t = np.array([0.0, 1.0, 7.0])
    # undiscounted, unbounded: E[(1 - θ) / θ] under Beta(α, β + t) = (β + t) / (α - 1)
    np.testing.assert_allclose(m.expected_remaining_lifetime(t), (4.0 + t) / 1.5)
    # ... which a long enough horizon approaches
    np.testing.assert_allclose(
        m.expected_remaining_lifetime(t, horizon=200_000), (4.0 + t) / 1.5, rtol=1e-3
    )
    # a horizon of one period is the renewal probability; discounted, times 1/(1 + d)
    np.testing.assert_allclose(
        m.expected_remaining_lifetime(t, discount_rate=0.1, horizon=1),
        (4.0 + t) / (6.5 + t) / 1.1,
    )
    # the hypergeometric form equals the sum of the discounted survivals
    np.testing.assert_allclose(
        m.expected_remaining_lifetime(t, discount_rate=0.01),
        m.expected_remaining_lifetime(t, discount_rate=0.01, horizon=20_000),
        rtol=1e-9,
    )
    heavy = _fitted(0.7, 1.2)  # α ≤ 1: infinite without a discount or a horizon
    assert np.isinf(heavy.expected_remaining_lifetime(3.0))
    assert np.isfinite(heavy.expected_remaining_lifetime(3.0, discount_rate=0.01))
    with pytest.raises(InputError, match="discount rate"):
        heavy.expected_remaining_lifetime(3.0, discount_rate=-0.1)
