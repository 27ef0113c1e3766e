"""The purchase model chosen by holdout, checked against an independent
implementation (lifetimes) of each candidate's holdout predictions; an
explicit model wins; and the likely-still-customers count with the
one-time buyers apart, counted from the raw orders."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from tenure.analysis.fitting import fit, predict
from tests.conftest import import_lifetimes
from tests.predictions.test_btyd_pipeline import cdnow_orders  # noqa: F401 (a fixture)

# The CDNOW sample runs from 1997-01-01 to 1998-06-30, 545 days: the holdout
# is the last third, 181 whole days, so the fits end on 1997-12-31.
CAL_END, END = "1997-12-31", "1998-06-30"


@pytest.fixture(scope="module")
def reference(cdnow_orders):  # noqa: F811
    """lifetimes' calibration and holdout summary (weeks) and its RMSE of
    each candidate's conditional expected purchases."""
    lifetimes = import_lifetimes()
    tx = pd.read_csv(cdnow_orders, dtype={"customer": str})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = lifetimes.utils.calibration_and_holdout_data(
            tx, "customer", "date", calibration_period_end=CAL_END,
            observation_period_end=END, freq="D", freq_multiplier=7,
        )  # fmt: skip
        rmse = {}
        for name, fitter in (
            ("bgnbd", lifetimes.BetaGeoFitter),
            ("mbgnbd", lifetimes.ModifiedBetaGeoFitter),
        ):
            f = fitter().fit(d["frequency_cal"], d["recency_cal"], d["T_cal"])
            predicted = f.conditional_expected_number_of_purchases_up_to_time(
                d["duration_holdout"], d["frequency_cal"], d["recency_cal"], d["T_cal"]
            )
            rmse[name] = float(np.sqrt(((predicted - d["frequency_holdout"]) ** 2).mean()))
    return tx, rmse


def test_without_a_model_the_best_holdout_fit_is_chosen(cdnow_orders, reference):  # noqa: F811
    _, rmse = reference
    result = fit(None, cdnow_orders, time_unit="week")
    choice = result.record["model_choice"]
    assert choice["calibration_end"] == CAL_END and choice["holdout_end"] == END
    assert set(choice["rmse"]) == {"bgnbd", "mbgnbd", "paretonbd"} and not choice["failed"]
    for name, value in rmse.items():
        assert choice["rmse"][name] == pytest.approx(value, rel=1e-4), name
    best = min(choice["rmse"], key=choice["rmse"].get)
    assert choice["chosen"] == best == result.record["model"]
    assert choice["reason"].startswith(f"Model chosen by holdout: {best}, RMSE ")
    for name in ("bgnbd", "mbgnbd", "paretonbd"):
        assert f"{name} {choice['rmse'][name]:.3f}" in choice["reason"] or name == best


def test_an_explicit_model_wins(cli, cdnow_orders):  # noqa: F811
    result = cli("predict", "--model", "mbgnbd", "--orders", cdnow_orders, "--time-unit",
                 "week", "--json")  # fmt: skip
    assert result.code == 0, result.err
    out = json.loads(result.out)
    assert out["model"] == "mbgnbd" and out["model_choice"] is None
    chosen = cli("predict", "--orders", cdnow_orders, "--time-unit", "week", "--json")
    out = json.loads(chosen.out)
    assert out["model_choice"]["chosen"] == out["model"]


def test_one_time_buyers_are_counted_apart(cdnow_orders, reference):  # noqa: F811
    tx, _ = reference
    days = tx.groupby("customer").date.nunique()
    once, repeat = int((days == 1).sum()), int((days > 1).sum())
    lifetimes = import_lifetimes()
    for model in ("bgnbd", "mbgnbd"):
        scores = predict(cdnow_orders, model=model, time_unit="week")
        s = scores.summary()
        assert s["one_time_buyers"] == once and s["repeat_customers"] == repeat
        c = scores.customers
        # P(alive) from lifetimes at the same parameters
        fitter = {"bgnbd": lifetimes.BetaGeoFitter, "mbgnbd": lifetimes.ModifiedBetaGeoFitter}
        ref = fitter[model]()
        ref.params_ = pd.Series(scores.purchase_model.params_)
        alive = ref.conditional_probability_alive(c["x"], c["t_x"], c["T"]) >= 0.5
        assert s["likely_alive_repeat"] == int((alive & (c["x"] > 0)).sum())
        if model == "bgnbd":  # every one-time buyer is alive to BG/NBD: not counted
            assert alive[c["x"] == 0].all()
            assert s["likely_alive_one_time"] is None and not s["one_time_status_known"]
            assert s["likely_alive"] == s["likely_alive_repeat"]
        else:
            assert s["likely_alive_one_time"] == int((alive & (c["x"] == 0)).sum())
            assert s["likely_alive_one_time"] < once
            assert s["likely_alive"] == s["likely_alive_repeat"] + s["likely_alive_one_time"]


def test_a_calibration_end_given_is_the_split_the_choice_is_made_on(cdnow_orders):  # noqa: F811
    result = fit(None, cdnow_orders, calibration_end="1997-09-30", time_unit="week")
    choice, v = result.record["model_choice"], result.record["validation"]
    assert choice["calibration_end"] == v["calibration_end"] == "1997-09-30"
    assert v["rmse"] == pytest.approx(choice["rmse"][choice["chosen"]], rel=1e-9)
