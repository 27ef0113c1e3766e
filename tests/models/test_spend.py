"""Gamma-Gamma: the published CDNOW estimates and an independent implementation."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from tenure.errors import InputError, NotFittedError
from tenure.models.spend import GammaGamma
from tests.conftest import lifetimes_dir


@pytest.fixture(scope="module")
def cdnow_spend() -> pd.DataFrame:
    frame = pd.read_csv(
        lifetimes_dir() / "datasets" / "cdnow_customers_summary_with_transactions.csv"
    )
    frame = frame[frame["x"] > 0]
    return frame.rename(columns={"zbar": "m"})


def test_reproduces_the_published_estimates(cdnow_spend):
    m = GammaGamma().fit(cdnow_spend)
    # Fader and Hardie (2013), "The Gamma-Gamma Model of Monetary Value":
    # p = 6.25, q = 3.74, gamma = 15.44 on the 946 CDNOW repeat buyers
    assert m.n_customers_ == 946
    assert m.params_["p"] == pytest.approx(6.25, abs=0.01)
    assert m.params_["q"] == pytest.approx(3.74, abs=0.01)
    assert m.params_["gamma"] == pytest.approx(15.44, abs=0.02)
    # E[M] of the population = p gamma / (q - 1)
    assert m.params_["p"] * m.params_["gamma"] / (m.params_["q"] - 1) == pytest.approx(
        35.2, abs=0.1
    )


def test_agrees_with_an_independent_implementation(cdnow_spend, lifetimes):
    with warnings.catch_warnings():  # lifetimes' fit warns on pandas' newer options
        warnings.simplefilter("ignore")
        ref = lifetimes.GammaGammaFitter().fit(cdnow_spend["x"], cdnow_spend["m"])
        ours = GammaGamma().fit(cdnow_spend)
        for name, ref_name in (("p", "p"), ("q", "q"), ("gamma", "v")):
            assert ours.params_[name] == pytest.approx(ref.params_[ref_name], rel=1e-3)
        expected = ref.conditional_expected_average_profit(cdnow_spend["x"], cdnow_spend["m"])
    np.testing.assert_allclose(ours.predict_spend(cdnow_spend), expected, rtol=2e-3)


def test_the_penalizer_is_lifetimes_penalizer_coef(cdnow_spend, lifetimes):
    """The same penalty as lifetimes': penalizer × Σ params² added to the
    mean negative log-likelihood per customer."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = lifetimes.GammaGammaFitter(penalizer_coef=0.1).fit(cdnow_spend["x"], cdnow_spend["m"])
    ours = GammaGamma(penalizer=0.1).fit(cdnow_spend)
    for name, ref_name in (("p", "p"), ("q", "q"), ("gamma", "v")):
        assert ours.params_[name] == pytest.approx(ref.params_[ref_name], rel=1e-5)
    # far from the unpenalised estimates (p = 6.25, gamma = 15.44)
    assert ours.params_["gamma"] < 10


def test_edges_and_contract(cdnow_spend):
    with pytest.raises(NotFittedError):
        GammaGamma().predict_spend(cdnow_spend)
    with pytest.raises(InputError, match="at least one repeat purchase"):
        GammaGamma().fit(pd.DataFrame({"x": [0, 2], "m": [1.0, 2.0]}))
    m = GammaGamma().fit(cdnow_spend)
    # a customer without repeat purchases gets the population mean
    assert m.predict_spend({"x": [0], "m": [0.0]})[0] == pytest.approx(
        m.params_["p"] * m.params_["gamma"] / (m.params_["q"] - 1)
    )
    # with q <= 1 the mean does not exist: NaN, never a negative spend
    m.params_ = {"p": 2.0, "q": 0.8, "gamma": 10.0}
    assert np.isnan(m.predict_spend({"x": [0], "m": [0.0]})[0])
    assert m.predict_spend({"x": [3], "m": [20.0]})[0] > 0
