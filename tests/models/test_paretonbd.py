"""Pareto/NBD: the published estimates on CDNOW, an independent implementation
(lifetimes, a test-only reference), the likelihood by numerical integration
at extreme points, and the data rules."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, optimize
from scipy.special import gammaln

from tenure.errors import InputError
from tenure.models.btyd import ParetoNBD

PUBLISHED = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}


def _with_params(params: dict) -> ParetoNBD:
    model = ParetoNBD()
    model.params_ = dict(params)
    return model


def test_reproduces_the_published_cdnow_estimates(cdnow):
    m = ParetoNBD().fit(cdnow)
    # Fader, Hardie and Lee (2005), "A Note on Deriving the Pareto/NBD Model
    # and Related Expressions": r = 0.553, alpha = 10.578, s = 0.606,
    # beta = 11.669, LL = -9595.0
    for name in ("r", "alpha", "s"):  # each rounds to the published figure
        assert m.params_[name] == pytest.approx(PUBLISHED[name], abs=5e-4), name
    # beta's standard error is 6: between 11.65 and 11.67 the log-likelihood
    # moves by less than 1e-5, and the fit still reaches the maximum, 11.668
    assert m.params_["beta"] == pytest.approx(PUBLISHED["beta"], abs=2e-3)
    assert m.std_errors_["beta"] == pytest.approx(6.2, abs=0.2)
    assert m.log_likelihood_ == pytest.approx(-9595.0, abs=0.05)
    at_published = ParetoNBD()._loglik(np.array(list(PUBLISHED.values())), cdnow).sum()
    assert at_published == pytest.approx(-9595.0, abs=0.05)
    assert m.log_likelihood_ >= at_published - 1e-6
    assert m.n_customers_ == 2357
    summary = m.summary()
    assert list(summary.index) == ["r", "alpha", "s", "beta"]
    assert (summary["std_error"] > 0).all()
    assert summary.attrs["aic"] == pytest.approx(2 * 4 + 2 * 9594.97, abs=0.1)


def test_the_likelihood_peaks_at_the_published_estimates(cdnow):
    """The maximum itself, found with tolerances far tighter than a fit
    needs, on the likelihood and gradient the fit uses."""
    model = ParetoNBD()
    data = model._prepare({c: cdnow[c].to_numpy(dtype="float64") for c in ("x", "t_x", "T")})
    w = np.ones(len(cdnow))

    def objective(log_params):
        params = np.exp(log_params)
        value, grad = model._value_and_gradient(params, data, w)
        return -value / len(w), -grad * params / len(w)

    best = optimize.minimize(
        objective, np.zeros(4), jac=True, method="L-BFGS-B", options={"ftol": 1e-15, "gtol": 1e-10}
    )
    found = dict(zip(model.param_names, np.exp(best.x), strict=True))
    for name in ("r", "alpha", "s"):
        assert found[name] == pytest.approx(PUBLISHED[name], abs=5e-4), name
    assert found["beta"] == pytest.approx(PUBLISHED["beta"], abs=2e-3)  # 11.668
    assert -best.fun * len(w) == pytest.approx(-9595.0, abs=0.05)


@pytest.mark.parametrize(
    "params",
    [
        PUBLISHED,
        {"r": 0.553, "alpha": 11.669, "s": 0.606, "beta": 10.578},  # alpha > beta
        {"r": 2.0, "alpha": 3.0, "s": 0.3, "beta": 40.0},
        {"r": 0.2, "alpha": 50.0, "s": 1.5, "beta": 2.0},
    ],
)
def test_agrees_with_an_independent_implementation(cdnow, lifetimes, params):
    x, t_x, T = (cdnow[c].to_numpy(dtype="float64") for c in ("x", "t_x", "T"))
    values = np.array(list(params.values()))
    ref = lifetimes.ParetoNBDFitter()
    ref.params_ = pd.Series(params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ll = lifetimes.ParetoNBDFitter._conditional_log_likelihood(values, x, t_x, T)
        alive = ref.conditional_probability_alive(x, t_x, T)
        expected = ref.conditional_expected_number_of_purchases_up_to_time(39, x, t_x, T)
    ours = _with_params(params)
    np.testing.assert_allclose(ours._loglik(values, cdnow), ll, rtol=1e-9)
    np.testing.assert_allclose(ours.predict_alive(cdnow), alive, rtol=1e-9)
    np.testing.assert_allclose(ours.predict_purchases(39, cdnow), expected, rtol=1e-9)
    weeks = np.array([1.0, 39.0, 78.0, 520.0])
    np.testing.assert_allclose(
        ours.expected_repeat_purchases(weeks),
        ref.expected_number_of_purchases_up_to_time(weeks),
        rtol=1e-9,
    )


def _reference(params: dict, x: float, t_x: float, T: float) -> tuple[float, float]:
    """log L and log P(alive) from Schmittlein, Morrison and Colombo's
    likelihood, integrated numerically:

        L = Γ(r+x) α^r β^s / Γ(r) · [(α+T)^-(r+x) (β+T)^-s
            + s ∫_{t_x}^T (α+τ)^-(r+x) (β+τ)^-(s+1) dτ]

    the second term being the chance of dropping out at τ in (t_x, T)."""
    r, alpha, s, beta = params.values()
    p = r + x
    log_c = gammaln(p) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    alive = -p * np.log(alpha + T) - s * np.log(beta + T)

    def log_integrand(tau):
        return -p * np.log(alpha + tau) - (s + 1) * np.log(beta + tau)

    # the integrand falls by a factor e over about `width` from t_x on
    width = 1.0 / (p / (alpha + t_x) + (s + 1) / (beta + t_x))
    points = [t_x + k * width for k in (1, 10, 100, 1000, 10000) if t_x + k * width < T]
    top = log_integrand(t_x)
    integral, _ = integrate.quad(
        lambda tau: np.exp(log_integrand(tau) - top),
        t_x,
        T,
        points=points,
        limit=200,
        epsabs=0,
        epsrel=1e-12,
    )
    total = np.logaddexp(alive, np.log(s) + top + np.log(integral))
    return log_c + total, alive - total


EXTREMES = [
    # many purchases over a long time, the last recent or long ago
    (PUBLISHED, 500, 1900.0, 2000.0),
    (PUBLISHED, 500, 100.0, 2000.0),
    (PUBLISHED, 0, 0.0, 2000.0),
    ({"r": 2.0, "alpha": 3.0, "s": 1.0, "beta": 40.0}, 1000, 1050.0, 1100.0),
    # alpha and beta equal or a hair apart: both branches, z near 0
    ({"r": 0.553, "alpha": 10.0, "s": 0.606, "beta": 10.0}, 3, 20.0, 40.0),
    ({"r": 0.553, "alpha": 10.0, "s": 0.606, "beta": 10.0 * (1 + 1e-9)}, 3, 20.0, 40.0),
    ({"r": 0.553, "alpha": 10.0 * (1 + 1e-9), "s": 0.606, "beta": 10.0}, 3, 20.0, 40.0),
    # scales ten thousand times apart: z = 0.9999 in either branch
    ({"r": 0.553, "alpha": 1000.0, "s": 0.606, "beta": 0.1}, 0, 0.0, 50.0),
    ({"r": 0.553, "alpha": 1000.0, "s": 0.606, "beta": 0.1}, 2, 0.01, 50.0),
    ({"r": 0.553, "alpha": 0.1, "s": 0.606, "beta": 1000.0}, 0, 0.0, 50.0),
    ({"r": 0.553, "alpha": 0.1, "s": 0.606, "beta": 1000.0}, 7, 30.0, 50.0),
]


@pytest.mark.parametrize(("params", "x", "t_x", "T"), EXTREMES)
def test_extreme_points_against_numerical_integration(params, x, t_x, T):
    row = {"x": np.array([x], dtype="float64"), "t_x": np.array([t_x]), "T": np.array([T])}
    model = _with_params(params)
    ll = model._loglik(np.array(list(params.values())), row)[0]
    ref_ll, ref_log_alive = _reference(params, x, t_x, T)
    assert np.isfinite(ll)
    assert ll == pytest.approx(ref_ll, rel=1e-9, abs=1e-12)
    alive = model.predict_alive(row)[0]
    assert 0 <= alive <= 1
    assert alive == pytest.approx(np.exp(ref_log_alive), rel=1e-8, abs=1e-300)
    assert np.isfinite(model.predict_purchases(10, row)).all()


def test_predictions_follow_the_model(cdnow, lifetimes):
    m = _with_params(PUBLISHED)
    # a purchase at T: certainly alive
    assert m.predict_alive({"x": [4, 0], "t_x": [30.0, 0.0], "T": [30.0, 0.0]}) == pytest.approx(
        [1.0, 1.0]
    )
    # nothing is expected in no time, and more in more time
    assert (m.predict_purchases(0, cdnow) == 0).all()
    weeks = [1, 10, 52, 520]
    expected = np.array([m.predict_purchases(t, cdnow.iloc[:50]) for t in weeks])
    assert (np.diff(expected, axis=0) > 0).all()
    # s = 1, where the closed form is 0 / 0 (lifetimes gives NaN), is the limit
    ref = lifetimes.ParetoNBDFitter()
    ref.params_ = pd.Series({**PUBLISHED, "s": 1.0 + 1e-7})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        near = ref.conditional_expected_number_of_purchases_up_to_time(
            39, cdnow["x"], cdnow["t_x"], cdnow["T"]
        )
    at_one = _with_params({**PUBLISHED, "s": 1.0}).predict_purchases(39, cdnow)
    np.testing.assert_allclose(at_one, near, rtol=1e-6)
    # scalars in, arrays of the same shape out
    assert np.shape(m.predict_alive({"x": 2, "t_x": 5.0, "T": 10.0})) == ()


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"x": [1.5], "t_x": [2.0], "T": [5.0]}, "whole number"),
        ({"x": [-1.0], "t_x": [0.0], "T": [5.0]}, "whole number"),
        ({"x": [1.0], "t_x": [6.0], "T": [5.0]}, "T ≥ t_x"),
        ({"x": [1.0, 0.0], "t_x": [2.0, 1.0], "T": [5.0, 5.0]}, "x = 0 must have t_x = 0"),
        ({"x": [0.0, 0.0], "t_x": [0.0, 0.0], "T": [5.0, 9.0]}, "repeat purchase"),
    ],
)
def test_the_data_rules(data, match):
    with pytest.raises(InputError, match=match):
        ParetoNBD().fit(pd.DataFrame(data))
