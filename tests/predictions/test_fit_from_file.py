"""A fit from a file (``tenure fit bgnbd --orders FILE``) reads it through
the ingest's checks without a store: the rows are kept, rejected, set aside
and counted as duplicates as ``tenure ingest`` of the same file does, and
the fit equals the fit from that store, and lifetimes' on CDNOW."""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import cdnow_sample, import_lifetimes


def _cdnow(path: Path, repeats: bool) -> pd.DataFrame:
    """The CDNOW sample's 6,919 transactions as typed Parquet, with three
    rows that cannot be used (a negative amount, a date in the future, no
    customer) and, with ``repeats``, a row written twice (a duplicate) and
    an order id used again with another amount (a conflict); the clean rows."""
    raw = cdnow_sample()
    clean = pd.DataFrame(
        {
            "order_id": [f"O{i}" for i in range(len(raw))],
            "customer_id": "C" + raw["customer"],
            "placed_at": pd.to_datetime(raw["date"], format="%Y%m%d"),
            "amount": raw["amount"].astype(float),
        }
    )
    bad = pd.DataFrame(
        {
            "order_id": ["B1", "B2", "B3"],
            "customer_id": ["C1", "C2", None],
            "placed_at": pd.to_datetime(["1997-03-01", "2199-01-01", "1997-03-02"]),
            "amount": [-5.0, 10.0, 10.0],
        }
    )
    frames = [clean, bad]
    if repeats:
        conflict = clean.iloc[[20]].assign(amount=clean.amount.iloc[20] + 1)
        frames += [clean.iloc[[10]], conflict]
    pd.concat(frames, ignore_index=True).to_parquet(path, index=False)
    return clean


def _lines(quarantine: str) -> list[int]:
    with open(quarantine, newline="", encoding="utf-8") as f:
        return sorted(int(row["_line"]) for row in csv.DictReader(f))


@pytest.mark.parametrize("repeats", [False, True], ids=["unique-ids", "repeated-ids"])
def test_a_fit_from_a_file_equals_the_fit_from_its_store_and_lifetimes(cli, tmp_path, repeats):
    path = tmp_path / "orders.parquet"
    clean = _cdnow(path, repeats)

    from_file = cli("fit", "bgnbd", "--orders", path, "--json")
    assert from_file.code == 0, from_file.err
    file_doc = json.loads(from_file.out)
    store = tmp_path / "store"
    ingested = cli("ingest", "orders", path, "--store", store, "--json")
    assert ingested.code == 0, ingested.err
    ingest_doc = json.loads(ingested.out)
    from_store = cli("fit", "bgnbd", "--store", store, "--json")
    assert from_store.code == 0, from_store.err
    store_doc = json.loads(from_store.out)

    # the same rows kept, rejected and doubled as the ingest of the file
    read = len(clean) + 3 + 2 * repeats
    orders = file_doc["orders"]
    assert (orders["rows"], orders["rejected"], orders["duplicates"]) == (
        read, 3 + repeats, int(repeats),
    )  # fmt: skip
    assert (ingest_doc["read"], ingest_doc["rejected"], ingest_doc["duplicates"]) == (
        orders["rows"], orders["rejected"], orders["duplicates"],
    )  # fmt: skip
    # the same lines set aside: the bad rows after the clean ones, the conflict last
    bad = [len(clean) + 1, len(clean) + 2, len(clean) + 3] + ([read] if repeats else [])
    assert _lines(orders["quarantine"]) == _lines(ingest_doc["quarantine"]) == bad

    # the same fit, on the same 2,357 customers
    assert file_doc["n_customers"] == store_doc["n_customers"] == 2357
    for name, value in store_doc["params"].items():
        assert file_doc["params"][name] == pytest.approx(value, rel=1e-9), name
    assert file_doc["log_likelihood"] == pytest.approx(store_doc["log_likelihood"], rel=1e-12)

    # and lifetimes' on the clean rows, as its documentation fits them
    lifetimes = import_lifetimes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = lifetimes.utils.summary_data_from_transaction_data(
            clean, "customer_id", "placed_at", observation_period_end=clean.placed_at.max(),
            freq="D",
        )  # fmt: skip
        ref = lifetimes.BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
    for name, value in ref.params_.items():
        assert file_doc["params"][name] == pytest.approx(value, rel=1e-4), name
