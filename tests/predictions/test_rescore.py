"""After an ingest, the kept scores of the customers it touched are made
again with the kept fit (no new fit), equal to lifetimes' with the same
parameters; the others are left as they were; the fits say how much data
came after them; a changed time zone rebuilds the summary."""

from __future__ import annotations

import json
import warnings

import duckdb
import pandas as pd
import pytest

from tests.conftest import cdnow_sample, import_lifetimes, query


@pytest.fixture
def cdnow_csv(tmp_path):
    raw = cdnow_sample("customer_id")
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


def _keyed(store) -> None:
    """customer_predictions as earlier versions kept it: with a key index
    on customer_id (which the rescore updates through, in place)."""
    from tenure.predictions.store import PREDICTIONS_DDL

    con = duckdb.connect(str(store / "analytics.duckdb"))
    con.execute("ALTER TABLE customer_predictions RENAME TO _unkeyed")
    con.execute(PREDICTIONS_DDL.replace("customer_id VARCHAR,", "customer_id VARCHAR PRIMARY KEY,"))
    con.execute("INSERT INTO customer_predictions SELECT * FROM _unkeyed")
    con.execute("DROP TABLE _unkeyed")
    con.close()


def _one_row_per_customer(store) -> None:
    """The kept scores hold one row per customer with a purchase, whichever
    way they were written."""
    kept = query(store, "SELECT count(*), count(DISTINCT customer_id) FROM customer_predictions")
    buyers = query(store, "SELECT count(*) FROM customer_activity WHERE purchase_days IS NOT NULL")
    assert kept[0][0] == kept[0][1] == buyers[0][0]


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


def test_a_late_rescore_never_overwrites_the_scores_of_a_later_ingest(cli, tmp_path, cdnow_csv):
    """An ingest's rescoring reads its customers before it takes the writers'
    lock; when a later ingest touched one of them in between, that
    customer's scores stay the later ones."""
    import numpy as np

    from tenure.config import load_settings
    from tenure.predictions.rescore import _CUSTOMER, replace_rows

    path, _raw = cdnow_csv
    store = tmp_path / "store"
    _ingest(cli, store, path)
    assert cli("predict", "--model", "bgnbd", "--store", store).code == 0
    rows = [
        ("n1", "00004", "1998-07-05", 20.0),
        ("n2", "00021", "1998-07-08", 15.0),
    ]
    first_path = tmp_path / "first.csv"
    pd.DataFrame(rows, columns=["order_id", "customer_id", "placed_at", "amount"]).to_csv(
        first_path, index=False
    )
    first = _ingest(cli, store, first_path)
    assert first["refreshed"]["scores_refreshed"] == 2
    # the first ingest's scores as its rescoring had them, before the next ingest
    cols = ", ".join(f'"{c}"' for c in _CUSTOMER)
    late = query(store, f"SELECT {cols} FROM customer_predictions "
                        "WHERE customer_id IN ('00004', '00021') ORDER BY customer_id")  # fmt: skip
    second_path = tmp_path / "second.csv"
    pd.DataFrame(
        [("n3", "00004", "1998-07-09", 10.0)],
        columns=["order_id", "customer_id", "placed_at", "amount"],
    ).to_csv(second_path, index=False)
    assert _ingest(cli, store, second_path)["refreshed"]["scores_refreshed"] == 1
    current = _scores(store)
    assert current.loc["00004", "x"] == late[0][1] + 1  # the later purchase day counts

    # the first ingest's write arrives late, with marked values
    columns = {c: np.array([r[i] for r in late]) for i, c in enumerate(_CUSTOMER)}
    columns["p_alive"] = np.array([0.125, 0.25])
    columns["next_purchase_date"] = columns["next_purchase_date"].astype("datetime64[D]")
    as_of = query(store, "SELECT max(as_of) FROM customer_predictions")[0][0]
    replace_rows(load_settings(store=store), columns, first["ingest_id"], as_of, moved=False)

    after = _scores(store)
    assert after.loc["00021", "p_alive"] == 0.25  # only the first ingest touched it
    pd.testing.assert_series_equal(after.loc["00004"], current.loc["00004"])


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


@pytest.mark.parametrize(("time_unit", "keyed"), [("day", False), ("week", False), ("day", True)])
def test_rescored_rows_equal_a_full_scoring_with_the_same_fits(cli, tmp_path, time_unit, keyed):
    """The rows an ingest rescores are those the full scoring path (what
    ``tenure predict`` keeps, to the bit: see test_store_scoring) gives with
    the kept fits on the store after the ingest: every column, exactly;
    the others are kept as they were, one row per customer. The same for
    the kept scores of earlier versions, with a key index."""
    from tenure.config import load_settings
    from tenure.engine.context import Context, Definitions
    from tenure.engine.source import open_store
    from tenure.models.spend import GammaGamma
    from tenure.predictions import scoring
    from tenure.predictions.store import _score_rows, load_fits
    from tests.predictions.test_store_scoring import _kept_model, _orders

    _orders(tmp_path / "orders.csv")
    store = tmp_path / "store"
    assert cli("ingest", "orders", tmp_path / "orders.csv", "--store", store).code == 0
    predicted = cli("predict", "--model", "bgnbd", "--store", store, "--horizon", "180",
                    "--margin", "0.4", "--time-unit", time_unit, "--json")  # fmt: skip
    assert predicted.code == 0, predicted.err
    if keyed:
        _keyed(store)
    # tenure predict keeps them without a key index; earlier versions, with one
    keys = ("SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'customer_predictions' "
            "AND constraint_type = 'PRIMARY KEY'")  # fmt: skip
    assert query(store, keys) == [(int(keyed),)]
    before = query(store, "SELECT * FROM customer_predictions ORDER BY customer_id")

    # later orders: repeat buyers, one-time buyers, refunds and cancellations,
    # a day with two orders, a customer whose later day is worth nothing, and
    # two new customers; the last day is the new as-of date
    later = pd.DataFrame(
        {
            "order_id": [f"n{i}" for i in range(10)],
            "customer_id": ["c0001", "c0001", "c0002", "c0003", "c0004", "c0005", "zero",
                            "new1", "new2", "new2"],
            "placed_at": ["2026-05-03 10:00", "2026-05-03 18:00", "2026-05-04", "2026-05-05",
                          "2026-05-05", "2026-05-06", "2026-05-06", "2026-05-07",
                          "2026-05-02", "2026-05-08"],
            "amount": [12.5, 7.25, 40.0, 19.99, 5.0, 33.3, 0.0, 21.0, 8.0, 9.5],
            "status": ["completed", "completed", "refunded", "completed", "cancelled",
                       "partially_refunded", "completed", "pending", "completed", "completed"],
        }
    )  # fmt: skip
    later.to_csv(tmp_path / "later.csv", index=False)
    done = cli("ingest", "orders", tmp_path / "later.csv", "--store", store, "--json")
    assert done.code == 0, done.err
    touched = sorted(set(later.customer_id))
    # each of them has a purchase (c0002's refund and c0004's cancellation
    # change their order counts, not their earlier purchases)
    assert json.loads(done.out)["refreshed"]["scores_refreshed"] == len(touched) == 8

    con = duckdb.connect(str(store / "analytics.duckdb"), read_only=True)
    fits = {f["fit_id"]: f for f in load_fits(con)}
    kept = con.execute("SELECT * FROM customer_predictions ORDER BY customer_id").df()
    con.close()
    stamps = ["horizon_days", "discount_rate", "margin", "currency", "model", "model_version",
              "purchase_fit_id", "spend_fit_id", "fitted_at"]  # fmt: skip
    purchase = _kept_model(fits[kept.purchase_fit_id[0]], scoring.purchase_models()["bgnbd"])
    spend = _kept_model(fits[kept.spend_fit_id[0]], GammaGamma)
    assert purchase.time_unit_ == time_unit
    settings = load_settings(store=store)
    with open_store(settings) as src:
        ctx = Context(src, Definitions.from_settings(settings, active_by="purchase"))
        full = scoring.score(ctx, purchase, spend, horizon_days=180, discount_rate=0.1, margin=0.4)
    expected = _score_rows(full)
    expected = expected[expected.customer_id.isin(touched)]
    expected = expected.sort_values("customer_id", ignore_index=True)
    got = kept[kept.customer_id.isin(touched)].reset_index(drop=True)
    assert got.customer_id.tolist() == expected.customer_id.tolist() == touched
    rows = got[list(expected.columns)].copy()
    rows["next_purchase_date"] = rows["next_purchase_date"].dt.date
    pd.testing.assert_frame_equal(rows, expected, check_exact=True, check_dtype=False)
    # the fits' stamps kept, the whole data's as-of day taken
    first = pd.DataFrame(before, columns=kept.columns).iloc[0]
    assert (got[stamps] == first[stamps]).all().all()
    assert set(got.as_of.astype(str)) == {str(ctx.as_of)} == {"2026-05-08"}
    after = query(store, "SELECT * FROM customer_predictions ORDER BY customer_id")
    assert [r for r in after if r[0] not in touched] == [r for r in before if r[0] not in touched]
    _one_row_per_customer(store)


def test_missing_values_are_written_as_null(cli, tmp_path, cdnow_csv):
    """A score the models leave undefined (NaN, NaT) is NULL in the store,
    as a full scoring writes it, not a NaN."""
    import numpy as np

    from tenure.config import load_settings
    from tenure.predictions.rescore import _CUSTOMER, replace_rows

    path, _raw = cdnow_csv
    store = tmp_path / "store"
    _ingest(cli, store, path)
    assert cli("predict", "--model", "bgnbd", "--store", store).code == 0
    later = tmp_path / "later.csv"
    pd.DataFrame(
        [("n1", "00004", "1998-07-05", 20.0), ("n2", "00021", "1998-07-08", 15.0)],
        columns=["order_id", "customer_id", "placed_at", "amount"],
    ).to_csv(later, index=False)
    done = _ingest(cli, store, later)
    cols = ", ".join(f'"{c}"' for c in _CUSTOMER)
    kept = query(store, f"SELECT {cols} FROM customer_predictions "
                        "WHERE customer_id IN ('00004', '00021') ORDER BY customer_id")  # fmt: skip
    columns = {c: np.array([r[i] for r in kept]) for i, c in enumerate(_CUSTOMER)}
    columns["p_alive"] = np.array([np.nan, 0.5])
    columns["clv"] = np.array([1.5, np.nan])
    columns["next_purchase_date"] = np.array(["NaT", "1998-08-01"], dtype="datetime64[D]")
    as_of = query(store, "SELECT max(as_of) FROM customer_predictions")[0][0]
    replace_rows(load_settings(store=store), columns, done["ingest_id"], as_of, moved=False)
    got = query(store, "SELECT customer_id, p_alive, clv, CAST(next_purchase_date AS VARCHAR), "
                       "x FROM customer_predictions WHERE customer_id IN ('00004', '00021') "
                       "ORDER BY customer_id")  # fmt: skip
    assert got == [
        ("00004", None, 1.5, None, kept[0][1]),
        ("00021", 0.5, None, "1998-08-01", kept[1][1]),
    ]


@pytest.mark.parametrize("keyed", [False, True])
def test_a_customer_left_without_a_purchase_loses_the_kept_scores(cli, tmp_path, cdnow_csv, keyed):
    """An ingest that refunds a one-order customer's only order keeps their
    row of the summary (an order of any status) but leaves them nothing to
    score: their kept scores go, the others' stay (with or without the key
    index of earlier versions)."""
    path, raw = cdnow_csv
    store = tmp_path / "store"
    _ingest(cli, store, path)
    assert cli("predict", "--model", "bgnbd", "--store", store).code == 0
    if keyed:
        _keyed(store)
    before = _scores(store)
    single = raw.groupby("customer_id").size().loc[lambda n: n == 1].index[0]
    order = raw.loc[raw["customer_id"] == single, ["order_id", "customer_id", "placed_at",
                                                   "amount"]]  # fmt: skip
    changed = tmp_path / "refunded.csv"
    order.assign(status="refunded").to_csv(changed, index=False)
    done = _ingest(cli, store, changed)
    assert done["updated"] == 1 and done["refreshed"]["scores_refreshed"] == 0
    after = _scores(store)
    assert single in before.index and single not in after.index
    assert query(store, f"SELECT all_orders, purchase_days FROM customer_activity "
                        f"WHERE customer_id = '{single}'") == [(1, None)]  # fmt: skip
    pd.testing.assert_frame_equal(after, before.drop(index=single))
    _one_row_per_customer(store)


def test_rescored_rows_stay_through_a_following_ingest_written_to_a_copy(
    cli, tmp_path, cdnow_csv, monkeypatch
):
    """A small ingest's rescore, then a large ingest (written to a copy of
    the store and swapped in, its rescore too): the first one's rows are
    kept as it wrote them, the second's replace those of its customers, one
    row per customer throughout, and they read the same after the store is
    opened again."""
    path, raw = cdnow_csv
    store = tmp_path / "store"
    _ingest(cli, store, path)
    assert cli("predict", "--model", "bgnbd", "--store", store).code == 0
    moved = sorted(set(raw.customer_id) - {"00004", "00021"})[:2]
    cols = ["order_id", "customer_id", "placed_at", "amount"]
    small = tmp_path / "small.csv"
    pd.DataFrame([("n1", "00004", "1998-07-05", 20.0), ("n2", "00021", "1998-07-08", 15.0)],
                 columns=cols).to_csv(small, index=False)  # fmt: skip
    assert _ingest(cli, store, small)["refreshed"]["scores_refreshed"] == 2
    first = _scores(store)
    _one_row_per_customer(store)

    # from one row on, writes go to a copy of the store
    monkeypatch.setenv("TENURE_SWAP_ROWS", "1")
    large = tmp_path / "large.csv"
    pd.DataFrame([("n3", moved[0], "1998-07-09", 10.0), ("n4", moved[1], "1998-07-10", 12.0)],
                 columns=cols).to_csv(large, index=False)  # fmt: skip
    assert _ingest(cli, store, large)["refreshed"]["scores_refreshed"] == 2
    assert not (store / "analytics.duckdb.wal").exists()
    second = _scores(store)
    _one_row_per_customer(store)
    pd.testing.assert_frame_equal(second.drop(index=moved), first.drop(index=moved))
    assert (second.loc[moved, "x"] == first.loc[moved, "x"] + 1).all()
    assert set(second.loc[moved, "as_of"].astype(str)) == {"1998-07-10"}
    assert set(second.loc[["00004", "00021"], "as_of"].astype(str)) == {"1998-07-08"}
