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


def _cdnow(path: Path, repeats: bool, with_bad: bool = True) -> pd.DataFrame:
    """The CDNOW sample's 6,919 transactions as typed Parquet, with (``with_bad``)
    three rows that cannot be used (a negative amount, a date in the future,
    no customer) and, with ``repeats``, a row written twice (a duplicate) and
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
    frames = [clean, bad] if with_bad else [clean]
    if repeats:
        conflict = clean.iloc[[20]].assign(amount=clean.amount.iloc[20] + 1)
        frames += [clean.iloc[[10]], conflict]
    pd.concat(frames, ignore_index=True).to_parquet(path, index=False)
    return clean


def _lines(quarantine: str) -> list[int]:
    with open(quarantine, newline="", encoding="utf-8") as f:
        return sorted(int(row["_line"]) for row in csv.DictReader(f))


@pytest.mark.parametrize(
    ("repeats", "bad"),
    [(False, False), (False, True), (True, True)],
    ids=["clean", "unique-ids", "repeated-ids"],
)
def test_a_fit_from_a_file_equals_the_fit_from_its_store_and_lifetimes(cli, tmp_path, repeats, bad):
    path = tmp_path / "orders.parquet"
    clean = _cdnow(path, repeats, bad)

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
    read = len(clean) + 3 * bad + 2 * repeats
    orders = file_doc["orders"]
    assert (orders["rows"], orders["rejected"], orders["duplicates"]) == (
        read, 3 * bad + repeats, int(repeats),
    )  # fmt: skip
    assert (ingest_doc["read"], ingest_doc["rejected"], ingest_doc["duplicates"]) == (
        orders["rows"], orders["rejected"], orders["duplicates"],
    )  # fmt: skip
    # the same lines set aside: the bad rows after the clean ones, the conflict last
    if bad:
        lines = [len(clean) + 1, len(clean) + 2, len(clean) + 3] + ([read] if repeats else [])
        assert _lines(orders["quarantine"]) == _lines(ingest_doc["quarantine"]) == lines
    else:
        assert orders["quarantine"] is None and ingest_doc["rejected"] == 0

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


# A file every row of which passes, in the shapes that the per-customer
# grouping of a clean file has to get right: statuses written in several
# ways (blank is completed), purchases and refunds on one local day,
# customers with only refunds or cancellations, orders either side of
# midnight in the business's time zone, day-first dates and decimal commas
# in a CSV, customer ids that are numbers in Parquet.
TRICKY_CSV = """order,client,date,total,state
1,A,05/01/2024 23:30,"10,50",Paid
2,A,06/01/2024 04:30,"5,00",
3,A,06/01/2024 05:30,"7,25",partially refunded
4,A,20/02/2024 12:00,"3,00",REFUNDED
5,B,01/02/2024 10:00,"8,00",refunded
6,B,02/02/2024 10:00,"9,00",cancelled
7,C,01/03/2024 02:00,"1,00",pending
8,C,01/03/2024 03:00,"2,00",Paid
9,C,15/03/2024 12:00,"4,00",voided
10,D,30/03/2024 23:59,"0,00",completed
"""
ZONE = "America/New_York"


def _store_rows(cli, path: Path, store: Path, mapping: list[str]) -> list[tuple]:
    from tests.conftest import query

    done = cli("ingest", "orders", path, *mapping, "--store", store, "--json")
    assert done.code == 0, done.err
    assert json.loads(done.out)["rejected"] == 0
    return sorted(query(store, "SELECT * EXCLUDE (_ingest_id) FROM customer_activity"))


def _file_rows(path: Path, mapping: dict[str, str]) -> list[tuple]:
    from tenure.given import read_orders

    data = read_orders(path, summary=True, timezone=ZONE, map=mapping)
    try:
        # the short way was taken: the summary came from the file's one pass
        assert data.source.activity is not None and data.source.activity_timezone == ZONE
        assert (data.rejected, data.duplicates) == (0, 0)
        return sorted(data.source.rows(data.source.activity.drop("_ingest_id")))
    finally:
        data.source.close()


@pytest.mark.parametrize("shape", ["csv", "parquet"])
def test_the_summary_of_a_clean_file_is_the_summary_its_ingest_keeps(
    cli, tmp_path, monkeypatch, shape
):
    monkeypatch.setenv("TENURE_TIMEZONE", ZONE)
    path = tmp_path / "orders.csv"
    path.write_text(TRICKY_CSV, encoding="utf-8")
    mapping = {"client": "customer_id", "total": "amount"}
    if shape == "parquet":
        frame = pd.read_csv(path, dtype={"total": str})
        pd.DataFrame(
            {
                "order_id": frame["order"].astype("int64"),
                "customer_id": frame["client"].map({"A": 11, "B": 12, "C": 13, "D": 14}),
                "placed_at": pd.to_datetime(frame["date"], format="%d/%m/%Y %H:%M"),
                "amount": frame["total"].str.replace(",", ".").astype(float),
                "status": frame["state"],
            }
        ).to_parquet(path := tmp_path / "orders.parquet", index=False)
        mapping = {}
    flags = [f for c, f in mapping.items() for f in ("--map", f"{c}={f}")]
    from_file = _file_rows(path, mapping)
    from_store = _store_rows(cli, path, tmp_path / "store", flags)
    assert from_file == from_store
    # worked by hand, customer A (times without an offset are New York's):
    # purchases on Jan 5 at 23:30 (10.50) and twice on Jan 6 (5.00 and 7.25,
    # one refunded in part); the refund in full of Feb 20 is an order and a
    # refund, not a purchase. C bought twice on its first day
    a = dict(zip([n for n, _ in _columns()], from_file[0], strict=False))
    assert (a["purchase_days"], a["orders"], a["all_orders"], a["refunded_orders"]) == (2, 3, 4, 2)
    assert (float(a["total"]), float(a["first_day_amount"])) == (22.75, 10.5)
    c = dict(zip([n for n, _ in _columns()], from_file[2], strict=False))
    assert (c["first_day_orders"], float(c["first_day_amount"]), c["purchase_days"]) == (2, 3.0, 1)
    assert len(from_file) == 4


def _columns():
    from tenure.store.summary import COLUMNS

    return COLUMNS


@pytest.mark.parametrize(
    "row",
    [
        "11,B,02/01/2024 10:00,11,Paid",  # the same order again: a duplicate
        "11,A,01/02/2024 10:00,2,Paid",  # the same order id, another amount: a conflict
        "12, A,01/02/2024 10:00,1,Paid",  # an id that trim makes another customer's
        "12,A\x01,01/02/2024 10:00,1,Paid",  # a control character
        "12,A,01/02/2024 10:00,1,lost",  # not a status
        "12,A,01/02/2030 10:00,1,Paid",  # in the future
        "12,A,01/02/2024 10:00,-1,Paid",  # negative
        " 12 ,A,01/02/2024 10:00,1,Paid",  # an order id that trim changes
    ],
)
def test_a_file_with_a_row_that_does_not_pass_is_read_the_full_way(tmp_path, row):
    from tenure.given import read_orders

    text = "order_id,customer_id,placed_at,amount,status\n" + "\n".join(
        f"{i},{'AB'[i % 2]},0{1 + i % 9}/01/2024 10:00,{i},Paid" for i in range(1, 12)
    )
    path = tmp_path / "orders.csv"
    path.write_text(text + "\n" + row + "\n", encoding="utf-8")
    full = read_orders(path)
    short = read_orders(path, summary=True)
    try:
        assert short.source.activity is None
        assert (short.read, short.rejected, short.duplicates) == (
            full.read, full.rejected, full.duplicates
        )  # fmt: skip
        assert short.read == 12 and short.rejected + short.duplicates <= 1
        kept = [t.to_pandas().sort_values("order_id", ignore_index=True)
                for t in (full.source.table("orders"), short.source.table("orders"))]  # fmt: skip
        pd.testing.assert_frame_equal(*kept)
    finally:
        full.source.close()
        short.source.close()


def test_a_fit_of_a_file_imports_neither_pandas_nor_arrow(tmp_path):
    """Their imports cost more than a fit's statistics: the command runs in a
    fresh interpreter, as a user types it, and says which it loaded."""
    import os
    import subprocess
    import sys

    path = tmp_path / "orders.parquet"
    _cdnow(path, repeats=False, with_bad=False)
    run = (
        "import io, sys; sys.argv = ['tenure', *sys.argv[1:]]; out, sys.stdout = sys.stdout, "
        "io.StringIO()\nfrom tenure.cli.app import main\ntry:\n    main()\nexcept SystemExit:\n"
        "    pass\nprinted, sys.stdout = sys.stdout.getvalue(), out\n"
        "print(json.dumps({'out': printed, 'loaded': [m for m in ('pandas', 'pyarrow') "
        "if m in sys.modules]}))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", "import json\n" + run, "fit", "bgnbd", "--orders", str(path),
         "--json"], capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert json.loads(result["out"])["n_customers"] == 2357
    assert result["loaded"] == []
