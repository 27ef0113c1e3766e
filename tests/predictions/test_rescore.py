"""After an ingest, the kept scores of the customers it touched are made
again with the kept fit (no new fit), equal to lifetimes' with the same
parameters; the others are left as they were; the fits say how much data
came after them; a changed time zone rebuilds the summary."""

from __future__ import annotations

import json
import warnings

import pandas as pd
import pytest

from tests.conftest import import_lifetimes, lifetimes_dir, query


@pytest.fixture
def cdnow_csv(tmp_path):
    raw = pd.read_csv(
        lifetimes_dir() / "datasets" / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["customer_id", "sample", "date", "cds", "amount"],
        dtype={"customer_id": str, "date": str},
    )
    raw["placed_at"] = pd.to_datetime(raw["date"], format="%Y%m%d").dt.strftime("%Y-%m-%d")
    raw.insert(0, "order_id", [f"o{i}" for i in range(len(raw))])
    path = tmp_path / "cdnow.csv"
    raw[["order_id", "customer_id", "placed_at", "amount"]].to_csv(path, index=False)
    return path, raw


def _ingest(cli, store, path) -> dict:
    result = cli("ingest", "orders", path, "--currency", "USD", "--store", store, "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def _scores(store) -> pd.DataFrame:
    rows = query(store, "SELECT customer_id, p_alive, x, t_x, \"T\", as_of, purchase_fit_id "
                 "FROM customer_predictions")  # fmt: skip
    cols = ["customer_id", "p_alive", "x", "t_x", "T", "as_of", "purchase_fit_id"]
    return pd.DataFrame(rows, columns=cols).set_index("customer_id").sort_index()


def test_an_ingest_scores_the_customers_it_touched_with_the_kept_fit(cli, tmp_path, cdnow_csv):
    path, raw = cdnow_csv
    store = tmp_path / "store"
    first = _ingest(cli, store, path)
    assert first["refreshed"] == {
        "summary_rebuilt": False, "timezone": "UTC", "scores_refreshed": None,
    }  # fmt: skip
    predicted = cli("predict", "--model", "bgnbd", "--store", store, "--json")
    assert predicted.code == 0, predicted.err
    assert [f["staleness"]["stale"] for f in json.loads(predicted.out)["fits"]] == [False] * 2
    before = _scores(store)
    fits = json.loads(cli("fits", "--store", store, "--json").out)["fits"]

    later = pd.DataFrame(
        {
            "order_id": ["n1", "n2", "n3", "n4"],
            "customer_id": ["00004", "00021", "00021", "99999"],  # 99999 is new
            "placed_at": ["1998-07-05", "1998-07-08", "1998-07-10", "1998-07-10"],
            "amount": [20.0, 15.0, 5.0, 30.0],
        }
    )
    # and the one order of a one-order customer goes to the new customer
    single = raw.groupby("customer_id").size().loc[lambda n: n == 1].index[0]
    moved = raw.loc[raw["customer_id"] == single, ["order_id", "placed_at", "amount"]]
    later = pd.concat([later, moved.assign(customer_id="99999")])
    assert single in before.index
    later_path = tmp_path / "later.csv"
    later.to_csv(later_path, index=False)
    second = _ingest(cli, store, later_path)
    assert second["refreshed"]["scores_refreshed"] == 3
    assert second["refreshed"]["summary_rebuilt"] is False

    after = _scores(store)
    touched = ["00004", "00021", "99999"]
    untouched = before.index.difference([*touched, single])
    pd.testing.assert_frame_equal(after.loc[untouched], before.loc[untouched])
    assert single not in after.index  # no order left: no scores
    assert set(after.loc[touched, "as_of"].astype(str)) == {"1998-07-10"}
    assert set(after["purchase_fit_id"]) == set(before["purchase_fit_id"])

    # lifetimes, given the kept fit's parameters and its own summary of the purchases
    lifetimes = import_lifetimes()
    kept_raw = raw[raw["customer_id"] != single][["customer_id", "placed_at", "amount"]]
    orders = pd.concat([kept_raw, later.drop(columns="order_id")])
    ref = lifetimes.utils.summary_data_from_transaction_data(
        orders, "customer_id", "placed_at", observation_period_end="1998-07-10", freq="D"
    ).loc[touched]
    model = lifetimes.BetaGeoFitter()
    model.params_ = pd.Series(next(f for f in fits if f["model"] == "bgnbd")["params"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        alive = model.conditional_probability_alive(ref["frequency"], ref["recency"], ref["T"])
    assert after.loc[touched, "x"].tolist() == ref["frequency"].tolist()
    assert after.loc[touched, "T"].tolist() == ref["T"].tolist()
    assert after.loc[touched, "p_alive"].to_numpy() == pytest.approx(alive, rel=1e-9)

    # no new fit; each kept one says what came after it: the 5 orders and the
    # customers rows the ingest wrote (the new one)
    customers = query(
        store, f"SELECT count(*) FROM customers WHERE _ingest_id = {second['ingest_id']}"
    )
    written = 5 + customers[0][0]
    now = json.loads(cli("fits", "--store", store, "--json").out)["fits"]
    assert [f["fit_id"] for f in now] == [f["fit_id"] for f in fits]
    assert {(f["staleness"]["stale"], f["staleness"]["rows_ingested"]) for f in now} == {
        (True, written)
    }
    shown = cli("fits", "--store", store, "--wide")
    assert "2 of the fits are older than the data" in shown.out
    assert f"{written} rows were ingested after it" in " ".join(shown.out.split())
    # the report says it beside the scores
    assert cli("report", "-o", tmp_path / "r.html", "--store", store).code == 0
    page = " ".join((tmp_path / "r.html").read_text(encoding="utf-8").split())
    assert f"{written} rows were ingested after it; tenure predict fits it again" in page


def test_a_changed_time_zone_rebuilds_the_summary_and_scores_everyone(
    cli, tmp_path, cdnow_csv, monkeypatch
):
    path, raw = cdnow_csv
    store = tmp_path / "store"
    _ingest(cli, store, path)
    assert cli("predict", "--model", "bgnbd", "--store", store).code == 0
    monkeypatch.setenv("TENURE_TIMEZONE", "America/New_York")
    one = tmp_path / "one.csv"
    pd.DataFrame(
        {"order_id": ["n1"], "customer_id": ["00004"], "placed_at": ["1998-07-01 12:00"],
         "amount": [10.0]}
    ).to_csv(one, index=False)  # fmt: skip
    refreshed = _ingest(cli, store, one)["refreshed"]
    assert refreshed["summary_rebuilt"] is True
    assert refreshed["timezone"] == "America/New_York"
    assert refreshed["scores_refreshed"] == raw["customer_id"].nunique()
    meta = dict(query(store, "SELECT key, value FROM _tenure_meta"))
    assert meta["summary_timezone"] == "America/New_York"
