"""The writer's two ways into the store give the same store: a large first
ingest writes its rows straight from the staging connection into a copy of
the store, without a scratch copy first; a small one writes them in place."""

from __future__ import annotations

import duckdb
import pytest

from tenure.config import load_settings
from tenure.ingestion.pipeline import ingest
from tenure.store import summary
from tenure.store.workspace import Workspace
from tests.conftest import write

ORDERS = """order_id,customer_id,placed_at,amount,status
o1,c1,2024-01-01 10:00:00,10.50,completed
o2,c1,2024-01-03 11:00:00,20.25,refunded
o3,c2,2024-01-02 09:30:00,7.00,
o4,c3,2024-01-05 12:00:00,0.01,cancelled
o5,c2,2024-01-09 08:00:00,99.99,pending
"""


def _stored(store) -> tuple[list, list, list]:
    con = duckdb.connect(str(store / "analytics.duckdb"), read_only=True)
    try:
        orders = con.execute(
            "SELECT order_id, customer_id, placed_at, amount, status, discount, channel, "
            "amount_reporting, fx_rate, _line, _hash FROM orders ORDER BY order_id"
        ).fetchall()
        customers = con.execute(
            "SELECT customer_id, created_at, is_stub, _line FROM customers ORDER BY 1"
        ).fetchall()
        activity = con.execute(
            f"SELECT * EXCLUDE (_ingest_id) FROM {summary.TABLE} ORDER BY customer_id"
        ).fetchall()
    finally:
        con.close()
    return orders, customers, activity


def _first_ingest(tmp_path, name: str, swap_rows: str, monkeypatch):
    monkeypatch.setenv("TENURE_SWAP_ROWS", swap_rows)
    store = tmp_path / name
    path = write(tmp_path / "orders.csv", ORDERS)
    with Workspace.open(load_settings(store=store, reporting_currency="EUR")) as ws:
        first = ingest("orders", path, workspace=ws)
        again = ingest("orders", path, workspace=ws)
    return store, first, again


@pytest.mark.parametrize("swap_rows", ["0", "3"])
def test_a_first_ingest_through_a_copy_stores_what_one_in_place_does(
    tmp_path, monkeypatch, swap_rows
):
    in_place, *_ = _first_ingest(tmp_path, "in-place", "1000", monkeypatch)
    copied, first, again = _first_ingest(tmp_path, "copied", swap_rows, monkeypatch)
    assert (first.inserted, first.customers_created) == (5, 3)
    # the hashes of the rows written straight are those a later ingest compares
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 5)
    assert _stored(copied) == _stored(in_place)
    orders, customers, activity = _stored(copied)
    assert [o[4] for o in orders] == ["completed", "refunded", "completed", "cancelled", "pending"]
    assert [(c[0], str(c[1]), c[2]) for c in customers] == [
        ("c1", "2024-01-01 10:00:00", True),
        ("c2", "2024-01-02 09:30:00", True),
        ("c3", "2024-01-05 12:00:00", True),
    ]
    # c2: two purchase days, 7.00 + 99.99
    c2 = next(a for a in activity if a[0] == "c2")
    assert (c2[6], c2[7], float(c2[8])) == (2, 2, 106.99)
    # nothing left beside the store, and the copy swapped in is compressed,
    # but for the identifiers, stored as written (datamodel.PLAIN_STORAGE)
    assert list((copied / ".tmp").iterdir()) == []
    con = duckdb.connect(str(copied / "analytics.duckdb"), read_only=True)
    try:
        kinds = {
            column: {
                r[0]
                for r in con.execute(
                    "SELECT compression FROM pragma_storage_info('orders') "
                    "WHERE column_name = ? AND segment_type = 'VARCHAR'",
                    [column],
                ).fetchall()
            }
            for column in ("status", "customer_id", "order_id")
        }
    finally:
        con.close()
    assert kinds["status"] and kinds["status"] != {"Uncompressed"}
    assert kinds["customer_id"] == kinds["order_id"] == {"Uncompressed"}


@pytest.mark.parametrize("swap_rows", ["0", "1000"])
def test_customers_already_stored_are_not_created_again_either_way(
    tmp_path, monkeypatch, swap_rows
):
    # c2 is stored first (created 2023-12-01); the orders name c1, c2 and c3:
    # only c1 and c3 are created, each at its first order, whichever way the
    # orders are written (through a copy with 0, in place with 1000)
    monkeypatch.setenv("TENURE_SWAP_ROWS", swap_rows)
    store = tmp_path / "s"
    customers = write(tmp_path / "c.csv", "customer_id,created_at\nc2,2023-12-01\n")
    with Workspace.open(load_settings(store=store, reporting_currency="EUR")) as ws:
        ingest("customers", customers, workspace=ws)
        r = ingest("orders", write(tmp_path / "orders.csv", ORDERS), workspace=ws)
    assert (r.inserted, r.customers_created) == (5, 2)
    _, stored, _ = _stored(store)
    assert [(c[0], str(c[1]), c[2]) for c in stored] == [
        ("c1", "2024-01-01 10:00:00", True),
        ("c2", "2023-12-01 00:00:00", False),
        ("c3", "2024-01-05 12:00:00", True),
    ]


def test_rows_are_compared_by_the_hash_of_their_values_or_by_one_stored_before(tmp_path):
    # rows are stored without a hash; a re-import hashes the stored values.
    # A store written before kept a hash with each row: it is used as it is
    # (o2's no longer matches its values, so o2 counts as updated)
    from tenure.datamodel import KINDS, stored_columns

    store = tmp_path / "s"
    path = write(tmp_path / "orders.csv", ORDERS)
    settings = load_settings(store=store, reporting_currency="EUR")
    with Workspace.open(settings) as ws:
        ingest("orders", path, workspace=ws)
        again = ingest("orders", path, workspace=ws)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 5)
    values = ", ".join(n for n, _ in stored_columns(KINDS["orders"]) if not n.startswith("_"))
    con = duckdb.connect(str(settings.analytics_path))
    try:
        assert con.execute("SELECT count(_hash) FROM orders").fetchone() == (0,)
        con.execute(f"UPDATE orders SET _hash = hash({values})")
        con.execute("UPDATE orders SET _hash = 1 WHERE order_id = 'o2'")
    finally:
        con.close()
    with Workspace.open(settings) as ws:
        before = ingest("orders", path, workspace=ws)
    assert (before.inserted, before.updated, before.unchanged) == (0, 1, 4)
    orders, _, _ = _stored(store)
    assert [o[0] for o in orders if o[10] is None] == ["o2"]  # written again, without a hash
