"""From orders to fitted models and scores: the published CDNOW estimates
from the raw transactions through `tenure fit --orders`, holdout counts and
predictions equal to an independent implementation (lifetimes), parameters
recovered from simulated orders, the store's tables, and bad input."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tenure.analysis.fitting import fit, predict
from tenure.errors import InputError
from tenure.given import RejectedRowsWarning, read_orders
from tests.conftest import cdnow_sample, import_lifetimes, query


@pytest.fixture(scope="module")
def cdnow_orders(tmp_path_factory) -> Path:
    """The CDNOW sample's 6,919 transactions of 2,357 customers (1997-01 to
    1998-06), as lifetimes ships them, written as a plain CSV of orders."""
    raw = cdnow_sample()
    raw["date"] = pd.to_datetime(raw["date"], format="%Y%m%d").dt.strftime("%Y-%m-%d")
    path = tmp_path_factory.mktemp("cdnow") / "cdnow.csv"
    raw[["customer", "date", "amount"]].to_csv(path, index=False)
    return path


def test_fit_from_a_file_of_orders_reproduces_the_published_estimates(cli, cdnow_orders):
    result = cli(
        "fit", "bgnbd", "--orders", cdnow_orders, "--calibration-end", "1997-09-30",
        "--time-unit", "week", "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    fitted = json.loads(result.out)
    # Fader, Hardie and Lee (2005): r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for name, value in published.items():  # each rounds to the published figure
        assert fitted["params"][name] == pytest.approx(value, abs=5e-4), name
        assert fitted["std_errors"][name] > 0
    assert fitted["log_likelihood"] == pytest.approx(-9582.4, abs=0.05)
    assert fitted["n_customers"] == 2357 and fitted["model"] == "bgnbd"
    assert fitted["orders"]["rows"] == 6919 and fitted["orders"]["rejected"] == 0
    v = fitted["validation"]
    assert v["calibration_end"] == "1997-09-30" and v["holdout_end"] == "1998-06-30"


def test_holdout_equals_lifetimes_calibration_and_holdout(cdnow_orders):
    lifetimes = import_lifetimes()
    BetaGeoFitter = lifetimes.BetaGeoFitter  # noqa: N806
    calibration_and_holdout_data = lifetimes.utils.calibration_and_holdout_data
    result = fit("bgnbd", cdnow_orders, calibration_end="1997-09-30", time_unit="week")
    ours = result.validation.customers.set_index("customer_id").sort_index()
    tx = pd.read_csv(cdnow_orders, dtype={"customer": str})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = calibration_and_holdout_data(
            tx, "customer", "date", calibration_period_end="1997-09-30",
            observation_period_end="1998-06-30", freq="D", freq_multiplier=7,
        )  # fmt: skip
    ref = ref.sort_index()
    assert list(ours.index) == list(ref.index)
    np.testing.assert_array_equal(ours["x"], ref["frequency_cal"])
    np.testing.assert_allclose(ours["t_x"], ref["recency_cal"])
    np.testing.assert_allclose(ours["T"], ref["T_cal"])
    np.testing.assert_array_equal(ours["actual"], ref["frequency_holdout"])
    bgf = BetaGeoFitter()
    bgf.params_ = pd.Series(result.model.params_)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = bgf.conditional_expected_number_of_purchases_up_to_time(
            ref["duration_holdout"], ref["frequency_cal"], ref["recency_cal"], ref["T_cal"]
        )
    np.testing.assert_allclose(ours["predicted"], expected, rtol=1e-6)
    m = result.validation.metrics
    assert m["actual_purchases"] == ref["frequency_holdout"].sum()
    assert m["predicted_purchases"] == pytest.approx(expected.sum(), rel=1e-6)
    # the weekly tracking ends at the holdout's actual total of repeat purchase days
    tracking = result.validation.tracking
    assert tracking["actual"].iloc[-1] == tx.groupby("customer").date.nunique().sub(1).sum()


def _simulate_bgnbd(n: int, seed: int) -> pd.DataFrame:
    """Orders of customers who buy as BG/NBD says (days): r=0.243,
    alpha=30.9, a=0.793, b=2.426, first purchases over two years."""
    rng = np.random.default_rng(seed)
    r, alpha, a, b = 0.243, 30.9, 0.793, 2.426
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    start = rng.integers(0, 730, n)
    end = 1000
    rows_c, rows_d = [np.arange(n)], [start.astype(float)]
    t = start.astype(float)
    alive = np.ones(n, dtype=bool)
    while alive.any():
        t = t + rng.exponential(1 / np.maximum(lam, 1e-12))
        alive &= t < end
        rows_c.append(np.flatnonzero(alive))
        rows_d.append(t[alive])
        alive &= rng.random(n) >= p  # drops out after this purchase
    cust = np.concatenate(rows_c)
    day = np.floor(np.concatenate(rows_d)).astype(int)
    # one order per customer and day: x counts repeat purchase days
    frame = pd.DataFrame({"customer_id": cust, "day": day}).drop_duplicates()
    frame["placed_at"] = pd.Timestamp("2023-01-01") + pd.to_timedelta(frame["day"], unit="D")
    frame["customer_id"] = "C" + frame["customer_id"].astype(str)
    frame["amount"] = 20.0
    frame["order_id"] = np.arange(len(frame)).astype(str)
    frame.loc[frame.index[-1], "placed_at"] = pd.Timestamp("2023-01-01") + pd.Timedelta(
        days=end - 1
    )
    return frame[["order_id", "customer_id", "placed_at", "amount"]]


def test_parameters_of_simulated_orders_are_recovered():
    orders = _simulate_bgnbd(6000, seed=3)
    result = fit("bgnbd", orders)
    truth = {"r": 0.243, "alpha": 30.9, "a": 0.793, "b": 2.426}
    for name, value in truth.items():
        est, se = result.model.params_[name], result.model.std_errors_[name]
        assert abs(est - value) < 3 * se, (name, est, se)


def test_predict_keeps_the_scores_and_fits_in_the_store(cli, tmp_path):
    store = tmp_path / "store"
    demo = cli("demo", "--customers", "600", "--store", store, "--out", tmp_path / "f",
               "--no-report", "--json")  # fmt: skip
    assert demo.code == 0, demo.err
    # the demo's purchase model was chosen on a holdout
    chosen = json.loads(demo.out)["predictions"]["model"]
    result = cli("predict", "--model", "bgnbd", "--store", store, "--horizon", "180",
                 "--margin", "0.5", "--json", "--export", tmp_path / "scores.csv")  # fmt: skip
    assert result.code == 0, result.err
    out = json.loads(result.out)
    scores = pd.read_csv(tmp_path / "scores.csv")
    assert (
        out["customers"]
        == len(scores)
        == query(store, "SELECT count(*) FROM customer_predictions")[0][0]
    )
    assert out["predicted_clv"] == pytest.approx(scores.clv.sum())
    assert scores.p_alive.between(0, 1).all() and (scores.clv >= 0).all()
    # customers without a repeat purchase have P(alive) 1 in BG/NBD
    assert (scores.loc[scores.x == 0, "p_alive"] == 1).all()
    # CLV = discounted purchases x spend x margin: never above undiscounted purchases x spend x margin
    assert (scores.clv <= scores.expected_purchases * scores.expected_spend * 0.5 + 1e-9).all()
    # the demo fitted BG/NBD on the orders before its campaigns' launch
    # (version 1, with the spend model), then scored the customers with the
    # chosen model and fitted the subscriptions and the churn model; then
    # this command's BG/NBD and spend model
    fits = query(store, "SELECT model, model_version FROM model_fits ORDER BY fit_id")
    first = 2 if chosen == "bgnbd" else 1
    bgnbd = 3 if chosen == "bgnbd" else 2
    assert fits == [
        ("bgnbd", 1), ("gammagamma", 1), (chosen, first), ("gammagamma", 2), ("sbg", 1),
        ("churn", 1), ("bgnbd", bgnbd), ("gammagamma", 3),
    ]  # fmt: skip
    # read back: a fit without a holdout has none, the churn fit its test scores
    import duckdb

    from tenure.predictions.store import load_fits

    con = duckdb.connect(str(store / "analytics.duckdb"), read_only=True)
    kept = {(f["model"], f["model_version"]): f for f in load_fits(con)}
    con.close()
    assert kept[("bgnbd", bgnbd)]["validation"] is None
    assert set(kept[("churn", 1)]["validation"]) == {"model", "recency_baseline"}
    assert kept[("bgnbd", bgnbd)]["params"].keys() == {"r", "alpha", "a", "b"}
    again = cli("predict", "--model", "bgnbd", "--store", store, "--json")
    assert again.code == 0
    fits = query(store, "SELECT model, model_version FROM model_fits ORDER BY fit_id")
    assert fits[-2:] == [("bgnbd", bgnbd + 1), ("gammagamma", 4)]
    assert query(
        store, "SELECT DISTINCT model_version, horizon_days FROM customer_predictions"
    ) == [(bgnbd + 1, 365)]


def test_rows_that_cannot_be_used_are_set_aside_with_their_reason(cli, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(
        "Order,Client,Order Date,Total\n"
        "1,A,2024-01-05,10.00\n"
        "2,A,2024-02-10,12.50\n"
        "3,,2024-02-11,9.00\n"
        "4,B,31/02/2024,9.00\n"
        "5,B,2024-03-01,abc\n"
        "2,A,2024-02-10,12.50\n"
        "6,B,2024-03-02,7.00\n"
        "7,B,2024-06-02,7.00\n",
        encoding="utf-8",
    )
    data = read_orders(path, map={"Client": "customer_id", "Total": "amount"})
    with pytest.warns(RejectedRowsWarning, match="3 of 8 rows"):
        data.warn()
    assert (data.read, data.rejected, data.duplicates) == (8, 3, 1)
    reasons = {(r["line"], r["column"]) for r in data.reasons}
    assert reasons == {(4, "Client"), (5, "Order Date"), (6, "Total")}
    rejected = data.write_rejected(tmp_path / "bad.csv").read_text()
    assert "abc" in rejected and "31/02/2024" in rejected
    data.source.close()
    result = cli("fit", "bgnbd", "--orders", path, "--map", "Client=customer_id",
                 "--map", "Total=amount", "--json")  # fmt: skip
    assert result.code == 0, result.err
    out = json.loads(result.out)
    assert out["orders"]["rejected"] == 3
    assert Path(out["orders"]["quarantine"]).read_text().count("\n") == 4  # header + 3 rows


@pytest.mark.parametrize("kind", ["dataframe", "parquet"])
@pytest.mark.parametrize("pad", ["", " ", "\u00a0"])  # ids as they are, or to be trimmed
def test_typed_orders_are_checked_like_text(tmp_path, kind, pad):
    frame = pd.DataFrame(
        {
            "order_id": ["o1", "o2", "o3", "o4", pad + "o2", "o5", "o6"],
            "customer_id": ["A", "A" + pad, None, "B", "A", "B", "B"],
            "placed_at": pd.to_datetime(
                ["2024-01-05", "2024-02-10", "2024-02-11", "2024-03-01"]
                + ["2024-02-12", "2024-03-02", "2024-06-02"]
            ),
            "amount": [10.0, 12.5, 9.0, None, 99.0, np.inf, 7.0],
        }
    )
    data = frame
    if kind == "parquet":
        data = tmp_path / "orders.parquet"
        frame.to_parquet(data, index=False)
    orders = read_orders(data)
    # line 3 has no customer, line 4 no amount, line 6 an infinite one; line 5
    # repeats o2 (once trimmed) with another date: it conflicts with line 2,
    # which is kept, as `tenure ingest` would have it
    assert (orders.read, orders.rejected, orders.duplicates) == (7, 4, 0)
    reasons = [(r["line"], r["column"], r["reason"]) for r in orders.reasons]
    assert reasons == [
        (3, "customer_id", "is missing (a value is required)"),
        (4, "amount", "is missing (a value is required)"),
        (5, "placed_at", "conflicts with line 2, which has the same order_id o2 and "
         "2024-02-10 00:00:00 here; keep one of the two rows"),
        (6, "amount", "is not an amount (expected a number such as 1234.56)"),
    ]  # fmt: skip
    kept = orders.source.table("orders").to_pandas().sort_values("order_id")
    assert list(kept.order_id) == ["o1", "o2", "o6"]
    assert list(kept.customer_id) == ["A", "A", "B"]
    assert list(kept.amount_reporting) == [10.0, 12.5, 7.0]
    assert orders.write_rejected(tmp_path / "bad.csv").read_text().count("\n") == 5
    orders.source.close()
    clean = read_orders(frame.iloc[[0, 3, 6]].assign(amount=1.0))
    assert (clean.read, clean.rejected, clean.duplicates, clean.reasons) == (3, 0, 0, [])
    kept = clean.source.table("orders").to_pandas().sort_values("order_id")
    assert list(kept.customer_id) == ["A", "B", "B"]
    header_only = clean.write_rejected(tmp_path / "none.csv").read_text()
    # the quarantine file's columns, then the row as read
    assert header_only == (
        "_file,_line,_column,_value,_reason,order_id,customer_id,placed_at,amount,_raw\n"
    )
    clean.source.close()


@pytest.mark.parametrize("kind", ["csv", "dataframe"])
def test_an_order_without_an_id_is_an_order_of_its_own(tmp_path, kind):
    # two orders with an empty id are two orders, not a duplicate of each
    # other; a repeated id with another date conflicts and is left out
    frame = pd.DataFrame(
        {
            "order_id": ["o1", None, None, "o1", "o2"],
            "customer_id": ["A", "A", "A", "A", "B"],
            "placed_at": pd.to_datetime(
                ["2024-01-05", "2024-02-10", "2024-03-11", "2024-01-06", "2024-03-01"]
            ),
            "amount": [10.0, 20.0, 30.0, 99.0, 5.0],
        }
    )
    data = frame
    if kind == "csv":
        data = tmp_path / "orders.csv"
        frame.to_csv(data, index=False)
    orders = read_orders(data)
    assert (orders.read, orders.rejected, orders.duplicates) == (5, 1, 0)
    assert orders.reasons[0]["reason"].startswith("conflicts with line ")
    kept = orders.source.table("orders").to_pandas().sort_values("placed_at")
    assert list(kept.amount_reporting) == [10.0, 20.0, 5.0, 30.0]
    # the line stands in for the id: a file's line (after its header), a frame's row
    first = 3 if kind == "csv" else 2
    assert list(kept.order_id) == ["o1", f"#{first}", "o2", f"#{first + 1}"]
    assert orders.reasons[0]["line"] == first + 2
    orders.source.close()


def test_amounts_in_several_currencies_are_not_added_up(cli, tmp_path):
    orders = _simulate_bgnbd(300, seed=4)
    frame = orders.assign(currency="usd")
    path = tmp_path / "usd.csv"
    frame.to_csv(path, index=False)
    data = read_orders(path)
    assert data.currencies == {"USD": len(frame)}
    data.source.close()
    scores = predict(frame)  # one currency in the file: its amounts are in it
    assert scores.currency == "USD"
    frame.loc[frame.index[:5], "currency"] = " EUR"
    frame.to_csv(path, index=False)
    out = cli("fit", "gammagamma", "--orders", path)
    assert out.code == 1
    assert "usd.csv" in out.err and "EUR (5 rows)" in out.err and "tenure ingest orders" in out.err
    for model in ("bgnbd", "paretonbd"):  # counts only: the amounts are not used
        out = cli("fit", model, "--orders", path, "--json")
        assert out.code == 0, out.err
        record = json.loads(out.out)
        assert record["definitions"]["currency"] == "mixed"
        assert record["orders"]["currencies"] == {"USD": len(frame) - 5, "EUR": 5}
    with pytest.raises(InputError, match="lifetime value"):
        predict(frame)
    with pytest.raises(InputError, match="churn"):
        fit("churn", frame)


def test_bad_input_says_what_to_do(cli, tmp_path, cdnow_orders):
    out = cli("fit", "bgnbd", "--orders", cdnow_orders, "--calibration-end", "2001-01-01")
    assert out.code == 1
    assert "cdnow.csv" in out.err and "1997-01-01 to 1998-06-30" in out.err
    once = tmp_path / "once.csv"
    once.write_text("customer_id,placed_at,amount\nA,2024-01-01,5\nB,2024-02-01,6\n")
    out = cli("fit", "bgnbd", "--orders", once)
    assert out.code == 1 and "repeat purchases" in out.err
    # a fit that fails for want of the rows left out says which they were, first
    spoiled = tmp_path / "spoiled.csv"
    spoiled.write_text("customer_id,placed_at,amount\nA,2024-01-01,5\nA,2024-02-01,x\n")
    out = cli("fit", "bgnbd", "--orders", spoiled)
    assert out.code == 1
    said, error = out.err.index("1 of 2 rows of spoiled.csv"), out.err.index("second day")
    assert said < error and "line 3, column 'amount': 'x'" in out.err
    assert (tmp_path / "spoiled.rejected.csv").read_text().count("\n") == 2
    out = cli("fit", "nope", "--orders", once)
    assert out.code == 2 and "bgnbd" in out.err  # a usage error
    missing = tmp_path / "nocol.csv"
    missing.write_text("client,when\nA,2024-01-01\n")
    out = cli("fit", "bgnbd", "--orders", missing)
    assert out.code == 1 and "nocol.csv" in out.err and '--map "client=customer_id"' in out.err
    with pytest.raises(InputError, match="no such file"):
        read_orders(tmp_path / "absent.csv")


def test_predict_on_a_dataframe_returns_pandas():
    orders = _simulate_bgnbd(1500, seed=9)
    scores = predict(orders, horizon_days=90, discount_rate=0.0, margin=1.0)
    c = scores.customers
    assert isinstance(c, pd.DataFrame) and len(c) == orders.customer_id.nunique()
    # without discounting, CLV is expected purchases x expected spend
    np.testing.assert_allclose(c.clv, c.expected_purchases * c.expected_spend)


def test_predict_from_a_file_says_what_it_left_out_and_reads_a_date_format(cli, tmp_path):
    path = tmp_path / "bestellungen.csv"
    rows = ["kunde,datum,betrag"]
    for c in range(12):
        for month in (1, 3, 6) if c % 2 else (2,):
            rows.append(f"K{c},{10 + c:02d}.{month:02d}.2024,{10 + c}.50")
    rows.append("K1,31.02.2024,9.00")  # no such day
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    maps = ("--map", "kunde=customer_id", "--map", "datum=placed_at", "--map", "betrag=amount")
    export = tmp_path / "scores.csv"
    out = cli("predict", "--orders", path, *maps, "--date-format", "%d.%m.%Y",
              "--export", export, "--json")  # fmt: skip
    assert out.code == 0, out.err
    result = out.json()
    assert result["customers"] == 12
    assert result["orders"]["rejected"] == 1 and result["orders"]["rows"] == 25
    assert "1 of 25 rows were left out" in out.err and "31.02.2024" in out.err
    assert "bestellungen.rejected.csv" in out.err
    # day first: the last order is K11's of 21 June, K1's last of 11 June
    assert result["as_of"] == "2024-06-21"
    scores = pd.read_csv(export).set_index("customer_id")
    assert scores.loc["K1", "recency_days"] == 10 and scores.loc["K1", "orders"] == 3
    assert scores.loc["K0", "orders"] == 1
