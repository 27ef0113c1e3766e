"""MBG/NBD: an independent implementation (lifetimes' ModifiedBetaGeoFitter,
a test-only reference) on CDNOW, a simulation with known parameters, and
what sets it apart from BG/NBD: a one-time buyer's P(alive) is below 1."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from tenure.models.btyd import BetaGeo
from tenure.models.mbgnbd import ModifiedBetaGeo
from tests.models import simulate

NAMES = ["r", "alpha", "a", "b"]


@pytest.fixture(scope="module")
def fits(cdnow, lifetimes):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = lifetimes.ModifiedBetaGeoFitter().fit(cdnow["x"], cdnow["t_x"], cdnow["T"])
    return ModifiedBetaGeo().fit(cdnow), ref


def test_the_fit_agrees_with_an_independent_implementation(cdnow, fits):
    ours, ref = fits
    for name in NAMES:
        assert ours.params_[name] == pytest.approx(ref.params_[name], rel=1e-5), name
        assert ours.std_errors_[name] == pytest.approx(ref.standard_errors_[name], rel=5e-3), name
    # lifetimes minimises the mean negative log-likelihood per customer
    log_params = np.log([ref.params_[n] for n in NAMES])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_nll = ref._negative_log_likelihood(  # noqa: SLF001
            log_params, cdnow["x"], cdnow["t_x"], cdnow["T"], np.ones(len(cdnow)), 0.0
        )
    assert ours.log_likelihood_ == pytest.approx(-ref_nll * len(cdnow), abs=1e-3)
    assert ours.log_likelihood_ == pytest.approx(-9582.13, abs=0.01)
    assert ours.n_customers_ == 2357


def test_predictions_agree_with_an_independent_implementation(cdnow, fits):
    ours, ref = fits
    ref._unload_params = lambda *names: [ours.params_[n] for n in names]  # noqa: SLF001
    x, t_x, T = cdnow["x"], cdnow["t_x"], cdnow["T"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        alive = ref.conditional_probability_alive(x, t_x, T)
        expected = ref.conditional_expected_number_of_purchases_up_to_time(39, x, t_x, T)
        curve = ref.expected_number_of_purchases_up_to_time(np.array([1.0, 10.0, 39.0, 78.0]))
    np.testing.assert_allclose(ours.predict_alive(cdnow), alive, rtol=1e-12)
    np.testing.assert_allclose(ours.predict_purchases(39, cdnow), expected, rtol=1e-9)
    np.testing.assert_allclose(
        ours.expected_repeat_purchases([1.0, 10.0, 39.0, 78.0]), curve, rtol=1e-9
    )


def test_a_one_time_buyer_is_less_likely_alive_the_longer_ago_they_bought(fits):
    ours, _ = fits
    once = pd.DataFrame({"x": [0.0] * 4, "t_x": [0.0] * 4, "T": [0.0, 10.0, 40.0, 78.0]})
    alive = ours.predict_alive(once)
    r, alpha, a, b = (ours.params_[n] for n in NAMES)
    # worked from the formula: 1 / (1 + a / b · ((α + T) / α)^r)
    np.testing.assert_allclose(alive, 1 / (1 + a / b * ((alpha + once["T"]) / alpha) ** r))
    assert (alive < 1).all() and (np.diff(alive) < 0).all()
    # BG/NBD cannot tell: every one-time buyer is alive
    assert (BetaGeo().fit(simulate.bg_nbd(
        500, 0.243, 4.4, 0.79, 2.4, 78.0, np.random.default_rng(1)
    )).predict_alive(once) == 1).all()  # fmt: skip


def test_expected_purchases_match_a_simulation_of_the_model():
    """E[X(t)] of a new customer against the mean count of 400,000 simulated
    customers (standard error about 0.003)."""
    truth = {"r": 0.525, "alpha": 6.18, "a": 0.891, "b": 1.614}
    m = ModifiedBetaGeo()
    m.params_ = truth
    rng = np.random.default_rng(5)
    for t in (5.0, 39.0):
        sim = simulate.mbg_nbd(400_000, *truth.values(), t, rng)
        se = sim["x"].std() / np.sqrt(len(sim))
        assert abs(m.expected_repeat_purchases(t) - sim["x"].mean()) < 4 * se, t


def test_recovers_known_parameters_within_three_standard_errors():
    truth = {"r": 0.525, "alpha": 43.3, "a": 0.891, "b": 1.614}  # CDNOW's, in days
    rng = np.random.default_rng(2024)
    data = simulate.mbg_nbd(8000, *truth.values(), rng.uniform(0, 730, 8000), rng)
    m = ModifiedBetaGeo().fit(data)
    assert m.converged_
    for name, value in truth.items():
        assert abs(m.params_[name] - value) < 3 * m.std_errors_[name], name
