"""Customer lifetime value and discounted purchases against lifetimes'
customer_lifetime_value (a test-only reference), and the time to the next
purchase against a simulation of the posterior."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from tenure.models.btyd import BetaGeo, ParetoNBD
from tenure.models.spend import GammaGamma
from tests.conftest import lifetimes_dir

# Fader, Hardie and Lee's CDNOW estimates (weeks) and Fader and Hardie's
# Gamma-Gamma estimates on the same customers
PARAMS = {
    BetaGeo: {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
    ParetoNBD: {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669},
}
SPEND = {"p": 6.25, "q": 3.74, "gamma": 15.44}
# lifetimes steps through months of this many units of T (its `freq`)
UNITS_PER_MONTH = {"W": 4.345, "D": 30}


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    """The 2,357 CDNOW customers in weeks, with m the average value of their
    repeat purchases (0 without one)."""
    frame = pd.read_csv(
        lifetimes_dir() / "datasets" / "cdnow_customers_summary_with_transactions.csv"
    )
    return frame.rename(columns={"zbar": "m"})


def _ours(model: type):
    m = model()
    m.params_ = dict(PARAMS[model])
    return m


def _spend_model(params: dict = SPEND) -> GammaGamma:
    m = GammaGamma()
    m.params_ = dict(params)
    return m


def _reference(lifetimes, model: type):
    """lifetimes' fitter of the same model, at the same parameters."""
    fitter = lifetimes.BetaGeoFitter() if model is BetaGeo else lifetimes.ParetoNBDFitter()
    fitter.params_ = pd.Series(PARAMS[model])
    fitter.predict = fitter.conditional_expected_number_of_purchases_up_to_time
    return fitter


def _lifetimes_clv(lifetimes, model, data, monetary, *, discount_rate, freq) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clv = lifetimes.utils._customer_lifetime_value(
            _reference(lifetimes, model),
            data["x"],
            data["t_x"],
            data["T"],
            pd.Series(monetary, index=data.index),
            time=12,
            discount_rate=discount_rate,
            freq=freq,
        )
    return clv.to_numpy(dtype="float64")


def _twelve_months(freq: str) -> dict:
    """Our arguments for lifetimes' twelve monthly steps, each discounted by
    (1 + d)^k in month k: the unit of discounting is one month."""
    month = UNITS_PER_MONTH[freq]
    return {"horizon": 12 * month, "steps": 12, "periods_per_year": month}


@pytest.mark.parametrize("freq", ["W", "D"])
@pytest.mark.parametrize("model", [BetaGeo, ParetoNBD])
def test_clv_matches_lifetimes(cdnow, lifetimes, model, freq):
    gg = lifetimes.GammaGammaFitter()
    gg.params_ = pd.Series({"p": SPEND["p"], "q": SPEND["q"], "v": SPEND["gamma"]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = gg.customer_lifetime_value(
            _reference(lifetimes, model),
            cdnow["x"],
            cdnow["t_x"],
            cdnow["T"],
            cdnow["m"],
            time=12,
            discount_rate=0.01,
            freq=freq,
        ).to_numpy()
    spend = _spend_model().predict_spend(cdnow)
    ours = _ours(model).predict_clv(cdnow, spend, discount_rate=0.01, **_twelve_months(freq))
    np.testing.assert_allclose(ours, expected, rtol=1e-6)
    assert (ours > 0).all()


@pytest.mark.parametrize("model", [BetaGeo, ParetoNBD])
def test_discounted_purchases_match_lifetimes(cdnow, lifetimes, model):
    expected = _lifetimes_clv(lifetimes, model, cdnow, 1.0, discount_rate=0.05, freq="W")
    ours = _ours(model).predict_discounted_purchases(
        cdnow, discount_rate=0.05, **_twelve_months("W")
    )
    np.testing.assert_allclose(ours, expected, rtol=1e-6)
    # discounting only takes away
    undiscounted = _lifetimes_clv(lifetimes, model, cdnow, 1.0, discount_rate=0.0, freq="W")
    assert (ours < undiscounted).all()


@pytest.mark.parametrize("model", [BetaGeo, ParetoNBD])
def test_clv_without_discount_is_purchases_times_spend_times_margin(cdnow, lifetimes, model):
    spend = _spend_model().predict_spend(cdnow)
    # lifetimes' months add up to the expected purchases over the horizon
    expected = _lifetimes_clv(lifetimes, model, cdnow, spend, discount_rate=0.0, freq="W")
    ours = _ours(model).predict_clv(cdnow, spend, margin=0.25, **_twelve_months("W"))
    np.testing.assert_allclose(ours, 0.25 * expected, rtol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        purchases = _reference(lifetimes, model).predict(
            12 * UNITS_PER_MONTH["W"], cdnow["x"], cdnow["t_x"], cdnow["T"]
        )
    np.testing.assert_allclose(ours, 0.25 * spend * np.asarray(purchases), rtol=1e-6)


@pytest.mark.parametrize("model", [BetaGeo, ParetoNBD])
def test_clv_is_nan_where_spend_is_unknown_and_never_negative(cdnow, model):
    # with q < 1 the mean spend does not exist: no estimate without repeat purchases
    spend = _spend_model({"p": 2.0, "q": 0.8, "gamma": 10.0}).predict_spend(cdnow)
    clv = _ours(model).predict_clv(cdnow, spend, 52, discount_rate=0.1)
    no_repeat = cdnow["x"].to_numpy() == 0
    assert no_repeat.any() and np.isnan(clv[no_repeat]).all()
    assert (clv[~no_repeat] >= 0).all() and np.isfinite(clv[~no_repeat]).all()
    given = _ours(model).predict_clv(cdnow.iloc[:3], [np.nan, 10.0, 0.0], 52)
    assert np.isnan(given[0]) and given[1] >= 0 and given[2] == 0


@pytest.mark.parametrize("model", [BetaGeo, ParetoNBD])
def test_next_purchase_time_matches_a_simulation_of_the_posterior(model):
    """Alive, a customer's rate is Gamma(r + x, α + T) a posteriori (both
    models share the purchase process): draw it, then the exponential wait."""
    m = _ours(model)
    r, alpha = m.params_["r"], m.params_["alpha"]
    customers = {"x": [0.0, 2.0, 10.0], "t_x": [0.0, 20.0, 35.0], "T": [40.0, 40.0, 40.0]}
    rng = np.random.default_rng(5)
    for quantile in (0.25, 0.5, 0.75):
        ours = m.predict_next_purchase(customers, quantile=quantile)
        for i, (x, T) in enumerate(zip(customers["x"], customers["T"], strict=True)):
            rate = rng.gamma(r + x, 1.0 / (alpha + T), 400_000)
            waits = rng.exponential(1.0 / rate)
            assert ours[i] == pytest.approx(np.quantile(waits, quantile), rel=0.02), (x, quantile)
