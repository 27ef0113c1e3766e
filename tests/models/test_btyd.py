"""BG/NBD: the published estimates on CDNOW, an independent implementation
(lifetimes, a test-only reference), simulation with known parameters, and
the model contract."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

from tenure.errors import ConfigError, InputError, NotFittedError
from tenure.models.btyd import BetaGeo


def test_reproduces_the_published_cdnow_estimates(cdnow):
    m = BetaGeo().fit(cdnow)
    # Fader, Hardie and Lee (2005), Table 1 and text: r = 0.243, alpha = 4.414,
    # a = 0.793, b = 2.426, LL = -9582.4
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for name, value in published.items():  # each rounds to the published figure
        assert m.params_[name] == pytest.approx(value, abs=5e-4), name
    assert m.log_likelihood_ == pytest.approx(-9582.4, abs=0.05)
    assert m.n_customers_ == 2357
    summary = m.summary()
    assert list(summary.index) == ["r", "alpha", "a", "b"]
    assert (summary["std_error"] > 0).all() and summary.attrs["aic"] == pytest.approx(
        2 * 4 + 2 * 9582.43, abs=0.1
    )


def test_agrees_with_an_independent_implementation(cdnow, lifetimes):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = lifetimes.BetaGeoFitter().fit(cdnow["x"], cdnow["t_x"], cdnow["T"])
        ours = BetaGeo().fit(cdnow)
        for name, ref_name in zip(["r", "alpha", "a", "b"], ["r", "alpha", "a", "b"], strict=True):
            assert ours.params_[name] == pytest.approx(ref.params_[ref_name], rel=1e-3)
        # standard errors from the Hessian, to 3 significant figures
        ref_se = ref.standard_errors_
        for name in ["r", "alpha", "a", "b"]:
            assert ours.std_errors_[name] == pytest.approx(ref_se[name], rel=5e-3), name
        # predictions at the same parameters
        ref._unload_params = lambda *names: [ours.params_[n] for n in names]  # noqa: SLF001
        expected = ref.conditional_expected_number_of_purchases_up_to_time(
            39, cdnow["x"], cdnow["t_x"], cdnow["T"]
        )
        alive = ref.conditional_probability_alive(cdnow["x"], cdnow["t_x"], cdnow["T"])
    np.testing.assert_allclose(ours.predict_purchases(39, cdnow), expected, rtol=1e-6)
    np.testing.assert_allclose(ours.predict_alive(cdnow), alive, rtol=1e-9)


def _simulate(
    n: int, r: float, alpha: float, a: float, b: float, T: float, seed: int
) -> pd.DataFrame:
    """BG/NBD customers observed for T from their first purchase."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    for i in range(n):  # a simulation of known truth, not the engine
        t = 0.0
        while True:
            t += rng.exponential(1 / lam[i])
            if t > T:
                break
            x[i] += 1
            t_x[i] = t
            if rng.random() < p[i]:
                break
    return pd.DataFrame({"x": x, "t_x": t_x, "T": np.full(n, T)})


def test_recovers_known_parameters_within_their_standard_errors():
    truth = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # weeks, as CDNOW
    data = _simulate(6000, *truth.values(), T=78.0, seed=7)
    m = BetaGeo().fit(data)
    for name, value in truth.items():
        assert abs(m.params_[name] - value) < 3 * m.std_errors_[name], (name, m.params_[name])


def test_weights_equal_duplicated_rows(cdnow):
    small = cdnow.iloc[:400]
    counted = small.groupby(["x", "t_x", "T"], as_index=False).size()
    by_weight = BetaGeo().fit(counted, weights=counted["size"])
    by_rows = BetaGeo().fit(small)
    for name in by_rows.params_:
        assert by_weight.params_[name] == pytest.approx(by_rows.params_[name], rel=1e-4)
    assert by_weight.log_likelihood_ == pytest.approx(by_rows.log_likelihood_, rel=1e-9)
    assert by_weight.n_customers_ == 400


def test_the_model_contract(cdnow):
    m = BetaGeo()
    with pytest.raises(NotFittedError, match="call fit"):
        m.predict_alive(cdnow)
    assert m.fit(cdnow) is m
    again = pickle.loads(pickle.dumps(m))
    np.testing.assert_allclose(again.predict_alive(cdnow), m.predict_alive(cdnow))
    refit = BetaGeo().fit(cdnow.iloc[:500]).fit(cdnow)
    assert refit.params_ == pytest.approx(m.params_)
    with pytest.raises(
        ConfigError,
        match=r"The 'penalizer' parameter of BetaGeo must be a float in \[0, inf\). Got -1 instead.",
    ):
        BetaGeo(penalizer=-1).fit(cdnow)


def test_edges(cdnow):
    nobody_returns = pd.DataFrame({"x": [0, 0], "t_x": [0.0, 0.0], "T": [10.0, 20.0]})
    with pytest.raises(InputError, match="repeat purchase"):
        BetaGeo().fit(nobody_returns)
    with pytest.raises(InputError, match="T ≥ t_x"):
        BetaGeo().fit(pd.DataFrame({"x": [1], "t_x": [5.0], "T": [4.0]}))
    with pytest.raises(InputError, match="no column"):
        BetaGeo().fit(pd.DataFrame({"frequency": [1]}))
    m = BetaGeo().fit(cdnow)
    # a customer with no repeat purchase has not shown any sign of dropping out
    assert m.predict_alive({"x": [0], "t_x": [0.0], "T": [30.0]})[0] == 1.0
    # huge x and T stay finite
    big = {"x": [5000.0], "t_x": [9000.0], "T": [10000.0]}
    assert (
        np.isfinite(m.predict_alive(big)).all() and np.isfinite(m.predict_purchases(10, big)).all()
    )
