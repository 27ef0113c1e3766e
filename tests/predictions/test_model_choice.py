"""The purchase model chosen by holdout, checked against an independent
implementation (lifetimes) of each candidate's holdout predictions; an
explicit model wins; and the likely-still-customers count with the
one-time buyers apart, counted from the raw orders."""

from __future__ import annotations

import json
import warnings
from datetime import date

import numpy as np
import pandas as pd
import pytest

from tenure.analysis.fitting import fit, predict
from tenure.analysis.predictions import stored_predictions
from tenure.config import load_settings
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
    # the chosen candidate's check is kept with the fit, which is on all the orders
    v = result.record["validation"]
    assert (v["calibration_end"], v["holdout_end"]) == (CAL_END, END)
    assert v["rmse"] == choice["rmse"][best] and result.record["calibration_end"] is None
    assert result.validation.metrics["rmse"] == choice["rmse"][best]
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


def test_the_chosen_models_holdout_check_is_kept_with_its_fit(cli, tmp_path):
    store, files = tmp_path / "store", tmp_path / "files"
    demo = cli("demo", "--customers", "300", "--store", store, "--out", files, "--no-report",
               "--json")  # fmt: skip
    assert demo.code == 0, demo.err
    result = cli("predict", "--store", store, "--json")
    assert result.code == 0, result.err
    out = result.json()
    choice = out["model_choice"]
    assert choice["by"] == "holdout"
    fits = cli("fits", "--store", store, "--json").json()["fits"]
    purchase = [f for f in fits if f["model"] == out["model"]][-1]
    v = purchase["validation"]
    assert (v["calibration_end"], v["holdout_end"]) == (
        choice["calibration_end"], choice["holdout_end"]
    )  # fmt: skip
    assert v["rmse"] == choice["rmse"][out["model"]] and v["mae"] == choice["mae"][out["model"]]

    # the holdout counted again with pandas from the demo's orders: purchase
    # days (a day with a purchase counts once) of the customers who had
    # bought by the calibration end, after it up to the end of the holdout
    cal_end, end = (date.fromisoformat(v[k]) for k in ("calibration_end", "holdout_end"))
    orders = pd.read_csv(files / "orders.csv", dtype=str)
    orders = orders[orders.status.isin(["completed", "pending", "partially_refunded"])]
    timezone = load_settings(store=store).timezone
    local = pd.to_datetime(orders.placed_at, utc=True).dt.tz_convert(timezone).dt.date
    days = orders.assign(day=local).drop_duplicates(["customer_id", "day"])
    first = days.groupby("customer_id").day.min()
    known = days[days.customer_id.isin(first[first <= cal_end].index)]
    later = known[(known.day > cal_end) & (known.day <= end)]
    assert v["customers"] == first.le(cal_end).sum()
    assert v["holdout_days"] == (end - cal_end).days
    assert v["actual_purchases"] == len(later)
    # by calibration frequency (7 or more together): customers and mean holdout days
    x = known[known.day <= cal_end].groupby("customer_id").size().sub(1).clip(upper=7)
    actual = later.groupby("customer_id").size().reindex(x.index, fill_value=0)
    by_x = pd.DataFrame({"x": x, "actual": actual}).groupby("x").actual.agg(["size", "mean"])
    kept = pd.DataFrame(v["by_frequency"]).set_index("x")
    assert kept["customers"].tolist() == by_x["size"].tolist()
    assert kept["actual"].to_numpy() == pytest.approx(by_x["mean"].to_numpy(), rel=1e-12)
    # the tracking ends on every repeat purchase day of those customers
    assert v["tracking"][-1]["actual"] == len(known[known.day <= end]) - len(x)

    # the report and the dashboard read it from the store as the check of
    # the fit the scores came from
    stored = stored_predictions(load_settings(store=store))
    assert stored.validated(out["model"])["fit_id"] == stored.purchase_fit["fit_id"]
