"""``tenure predict`` on a store scores where the scores are kept (one
INSERT ... SELECT, predictions per distinct (x, t_x, T) and (x, m)): the
rows it keeps equal, to the bit, those of the per-customer path with the
same fits, and lifetimes' predictions on CDNOW."""

from __future__ import annotations

import json
import warnings

import duckdb
import numpy as np
import pandas as pd
import pytest

from tenure.analysis.fitting import predict
from tenure.config import load_settings
from tenure.engine.context import Context, Definitions
from tenure.engine.source import open_store
from tenure.models.spend import GammaGamma
from tenure.predictions import scoring
from tenure.predictions.store import _score_rows, load_fits
from tests.conftest import cdnow_sample, import_lifetimes, query


def _orders(path, seed: int = 7) -> None:
    """Orders of 700 customers over two years: several on one day, refunds
    and cancellations, one-time buyers, and a repeat day refunded to 0."""
    rng = np.random.default_rng(seed)
    n = 700
    counts = rng.poisson(rng.gamma(1.0, 4.0, n)) + 1
    customer = np.repeat(np.arange(n), counts)
    start = rng.integers(0, 600, n)[customer]
    day = start + np.floor(rng.exponential(120.0, len(customer))).astype(int) % 730
    hour = rng.integers(0, 24, len(customer))
    frame = pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(len(customer))],
            "customer_id": [f"c{c:04d}" for c in customer],
            "placed_at": pd.Timestamp("2023-01-01")
            + pd.to_timedelta(day, unit="D")
            + pd.to_timedelta(hour, unit="h"),
            "amount": np.round(rng.lognormal(3.5, 0.8, len(customer)), 2),
            "status": rng.choice(
                ["completed", "refunded", "cancelled", "partially_refunded", "pending"],
                len(customer),
                p=[0.85, 0.05, 0.03, 0.04, 0.03],
            ),
        }
    )
    # a customer whose repeat day is worth nothing: m = 0
    frame.loc[len(frame)] = ["z1", "zero", pd.Timestamp("2023-02-01"), 10.0, "completed"]
    frame.loc[len(frame)] = ["z2", "zero", pd.Timestamp("2023-03-01"), 0.0, "completed"]
    frame.to_csv(path, index=False)


def _kept_model(fit: dict, cls: type):
    model = cls()
    model.params_ = dict(fit["params"])
    model.time_unit_ = fit.get("time_unit") or "day"
    return model


def _kept(store) -> pd.DataFrame:
    con = duckdb.connect(str(store / "analytics.duckdb"), read_only=True)
    try:
        return con.execute("SELECT * FROM customer_predictions ORDER BY customer_id").df()
    finally:
        con.close()


@pytest.mark.parametrize("time_unit", ["day", "week"])
def test_kept_scores_equal_the_per_customer_path_with_the_same_fits(cli, tmp_path, time_unit):
    _orders(tmp_path / "orders.csv")
    store = tmp_path / "store"
    done = cli("ingest", "orders", tmp_path / "orders.csv", "--store", store, "--json")
    assert done.code == 0, done.err
    result = cli("predict", "--model", "bgnbd", "--store", store, "--horizon", "180",
                 "--margin", "0.4", "--time-unit", time_unit, "--json")  # fmt: skip
    assert result.code == 0, result.err
    out = json.loads(result.out)
    kept = _kept(store)

    con = duckdb.connect(str(store / "analytics.duckdb"), read_only=True)
    fits = {f["fit_id"]: f for f in load_fits(con)}
    con.close()
    purchase = _kept_model(fits[kept.purchase_fit_id[0]], scoring.purchase_models()["bgnbd"])
    spend = _kept_model(fits[kept.spend_fit_id[0]], GammaGamma)
    settings = load_settings(store=store)
    with open_store(settings) as src:
        ctx = Context(src, Definitions.from_settings(settings, active_by="purchase"))
        assert ctx.stored_activity is not None  # the path that scores in the store
        each = scoring.score(ctx, purchase, spend, horizon_days=180, discount_rate=0.1, margin=0.4)
    expected = _score_rows(each).sort_values("customer_id", ignore_index=True)
    got = kept[list(expected.columns)].copy()
    got["next_purchase_date"] = got["next_purchase_date"].dt.date
    pd.testing.assert_frame_equal(got, expected, check_exact=True, check_dtype=False)
    assert kept.expected_spend.isna().sum() == 0 and (kept.loc[kept.x == 0, "p_alive"] == 1).all()
    assert kept.loc[kept.customer_id == "zero", ["x", "orders"]].values.tolist() == [[1, 2]]

    # the command's totals are the kept rows' sums; its top customer the kept one
    rows = query(store, "SELECT clv, expected_purchases FROM customer_predictions")
    assert out["customers"] == len(kept) == len(rows)
    assert out["predicted_clv"] == pytest.approx(float(np.nansum([r[0] for r in rows])), rel=1e-12)
    best = kept.sort_values(["clv", "customer_id"], ascending=[False, True]).iloc[0]
    assert out["top_customers"][0]["customer_id"] == best.customer_id
    assert out["top_customers"][0]["clv"] == best.clv


def test_the_library_reads_kept_scores_back_on_demand(tmp_path, cli):
    _orders(tmp_path / "orders.csv", seed=11)
    store = tmp_path / "store"
    assert cli("ingest", "orders", tmp_path / "orders.csv", "--store", store).code == 0
    scores = predict(store=store, model="bgnbd", save=True)
    top = scores.top(5)  # from the store
    every = scores.customers  # read back: the rows as kept
    kept = _kept(store)
    assert len(every) == len(kept) == scores.summary()["customers"]
    pd.testing.assert_frame_equal(
        every.sort_values("customer_id", ignore_index=True)[["customer_id", "clv", "x"]],
        kept[["customer_id", "clv", "x"]],
    )
    pd.testing.assert_frame_equal(top.reset_index(drop=True), scores.top(5).reset_index(drop=True))
    assert scores.summary()["predicted_clv"] == pytest.approx(every.clv.sum(), rel=1e-12)


def test_kept_scores_equal_lifetimes_on_cdnow(cli, tmp_path):
    raw = cdnow_sample("customer_id")
    raw["placed_at"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    raw.insert(0, "order_id", [f"o{i}" for i in range(len(raw))])
    path = tmp_path / "cdnow.csv"
    raw[["order_id", "customer_id", "placed_at", "amount"]].to_csv(path, index=False)
    store = tmp_path / "store"
    assert cli("ingest", "orders", path, "--currency", "USD", "--store", store).code == 0
    done = cli("predict", "--model", "bgnbd", "--store", store, "--horizon", "90", "--json")
    assert done.code == 0, done.err
    kept = _kept(store).set_index("customer_id")
    con = duckdb.connect(str(store / "analytics.duckdb"), read_only=True)
    fits = {f["fit_id"]: f for f in load_fits(con)}
    con.close()

    lifetimes = import_lifetimes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = lifetimes.utils.summary_data_from_transaction_data(
            raw, "customer_id", "placed_at", monetary_value_col="amount",
            observation_period_end=raw.placed_at.max(), freq="D",
        )  # fmt: skip
        bgf = lifetimes.BetaGeoFitter()
        bgf.params_ = pd.Series(fits[kept.purchase_fit_id.iloc[0]]["params"])
        alive = bgf.conditional_probability_alive(s["frequency"], s["recency"], s["T"])
        purchases = bgf.conditional_expected_number_of_purchases_up_to_time(
            90, s["frequency"], s["recency"], s["T"]
        )
        ggf = lifetimes.GammaGammaFitter()
        p, q, gamma = (fits[kept.spend_fit_id.iloc[0]]["params"][k] for k in ("p", "q", "gamma"))
        ggf.params_ = pd.Series({"p": p, "q": q, "v": gamma})
        spend = ggf.conditional_expected_average_profit(s["frequency"], s["monetary_value"])
    kept = kept.loc[s.index]
    np.testing.assert_array_equal(kept["x"], s["frequency"])
    np.testing.assert_allclose(kept["p_alive"], alive, rtol=1e-9)
    np.testing.assert_allclose(kept["expected_purchases"], purchases, rtol=1e-9)
    np.testing.assert_allclose(kept["expected_spend"], spend, rtol=1e-9)
