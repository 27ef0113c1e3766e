"""Checks read once per distinct value (tenure.ingestion.distinct): the same
statuses, reasons and repeated keys as the row-by-row reading, worked by hand."""

from __future__ import annotations

import csv

import duckdb
import pytest

from tenure.ingestion import distinct
from tenure.ingestion.pipeline import ingest
from tests.conftest import query, write

ORDERS = (
    "order_id,customer_id,placed_at,amount,status\n"
    "O1,C1,2024-01-05,10,Paid\n"
    "O2,C1,2024-01-06,11,shipped\n"
    "O3,C2,2024-01-07,12,REFUNDED\n"
    "O4,C2,2024-01-08,13,lost in the post\n"
    "O5,C3,2024-01-09,14,\n"
    "O6,C3,2024-01-10,15,paid\n"
    "O7,C3,2024-01-11,16,Lost in the post\n"
)


@pytest.mark.parametrize(
    ("limit", "o3"),
    [(distinct.MAX_STATUS_TEXTS, "REFUNDED"), (1, "REFUNDED"), (64, "  refunded ")],
)
def test_statuses_read_once_per_text_say_what_each_row_says(tmp_path, ws, limit, o3, monkeypatch):
    # limit 1: more texts than that, so each row is read on its own, as it
    # is when a text is not as trim leaves it; every way gives the same
    # statuses and the same reasons
    monkeypatch.setattr(distinct, "MAX_STATUS_TEXTS", limit)
    text = ORDERS.replace("REFUNDED", o3)
    r = ingest("orders", write(tmp_path / "orders.csv", text), workspace=ws)
    assert (r.read, r.accepted, r.rejected) == (7, 5, 2)
    assert query(ws.settings.store, "SELECT order_id, status FROM orders ORDER BY 1") == [
        ("O1", "completed"),
        ("O2", "completed"),
        ("O3", "refunded"),
        ("O5", "completed"),  # an empty status is a completed order
        ("O6", "completed"),
    ]
    with open(r.quarantine, newline="", encoding="utf-8") as fh:
        rows = [(x["_line"], x["_column"], x["_value"], x["_reason"]) for x in csv.DictReader(fh)]
    reason = (
        "is not an order status (use one of: completed, pending, refunded, "
        "partially_refunded, cancelled)"
    )
    assert rows == [
        ("5", "status", "lost in the post", reason),
        ("8", "status", "Lost in the post", reason),
    ]


@pytest.mark.parametrize("limit", [distinct.MAX_STATUS_TEXTS, 1])
def test_currencies_read_once_per_text_say_what_each_row_says(tmp_path, ws, limit, monkeypatch):
    monkeypatch.setattr(distinct, "MAX_STATUS_TEXTS", limit)
    text = (
        "order_id,customer_id,placed_at,amount,currency\n"
        "O1,C1,2024-01-05,10,eur\n"
        "O2,C1,2024-01-06,11,EUR\n"
        "O3,C2,2024-01-07,12,Euro\n"
        "O4,C2,2024-01-08,13,\n"
    )
    r = ingest("orders", write(tmp_path / "orders.csv", text), workspace=ws)
    assert (r.read, r.accepted, r.rejected) == (4, 3, 1)
    got = query(ws.settings.store, "SELECT order_id, currency FROM orders ORDER BY 1")
    assert got == [("O1", "EUR"), ("O2", "EUR"), ("O4", "EUR")]  # empty: the default
    with open(r.quarantine, newline="", encoding="utf-8") as fh:
        rows = [(x["_line"], x["_column"], x["_value"], x["_reason"]) for x in csv.DictReader(fh)]
    assert rows == [
        ("4", "currency", "Euro", "is not an ISO 4217 currency code (such as EUR, USD)"),
    ]


def test_a_column_of_few_texts_is_read_once_per_text():
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT * FROM (VALUES ('a'), ('B'), (NULL), ('a')) v(s)")
    assert distinct.texts(con, "s", "t", lambda v: f"upper({v})") == {"a": "A", "B": "B"}
    # a text that trim would change: the rows read their own
    con.execute("INSERT INTO t VALUES (' c')")
    assert distinct.texts(con, "s", "t", lambda v: f"upper({v})") is None


def test_statuses_map_each_distinct_text():
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE t AS SELECT * FROM (VALUES ('Paid'), (' Paid'), ('  '), ('nope'), "
        "('Paid'), (NULL), ('cancelled')) v(s)"
    )
    read = distinct.statuses(con, "s", "t", blank="completed")
    assert read == {
        "Paid": "completed",
        " Paid": "completed",
        "  ": "completed",
        "nope": None,
        "cancelled": "cancelled",
    }
    got = con.execute(f"SELECT {distinct.status_value(read, 's')} FROM t").fetchall()
    assert [v for (v,) in got] == [
        "completed", "completed", "completed", None, "completed", None, "cancelled",
    ]  # fmt: skip
    assert distinct.statuses(con, "s", "(SELECT CAST(range AS VARCHAR) s FROM range(65))") is None


def test_repeated_hashes_are_those_of_the_keys_held_twice(monkeypatch):
    monkeypatch.setattr(distinct, "MIN_SORTED_KEYS", 0)  # sorted here, however few
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE t AS SELECT * FROM (VALUES ('a', 1), ('b', 1), ('a', 1), ('c', 2), "
        "('c', 2), ('c', 3), ('a', 2)) v(k, n)"
    )
    want = {h for (h,) in con.execute("SELECT hash('a') UNION SELECT hash('c')").fetchall()}
    assert distinct.repeated_hashes(con, "k", "t", "h") == 2
    assert {h for (h,) in con.execute("SELECT _h FROM h").fetchall()} == want
    # a key of two columns: only ('a', 1) and ('c', 2) are held twice
    pair = {h for (h,) in con.execute("SELECT hash('a', 1) UNION SELECT hash('c', 2)").fetchall()}
    assert distinct.repeated_hashes(con, "k, n", "t", "h") == 2
    assert {h for (h,) in con.execute("SELECT _h FROM h").fetchall()} == pair
    # grouped in the engine: the same hashes
    assert distinct.repeated_hashes(con, "k", "t", "h", sort=False) == 2
    assert {h for (h,) in con.execute("SELECT _h FROM h").fetchall()} == want
    # over the limit of sorted keys: grouped in the engine, the same hashes
    monkeypatch.setattr(distinct, "MAX_SORTED_KEYS", 3)
    assert distinct.repeated_hashes(con, "k", "t", "h") == 2
    assert {h for (h,) in con.execute("SELECT _h FROM h").fetchall()} == want
    assert distinct.repeated_hashes(con, "k", "(SELECT 'x' AS k)", "h") == 0


@pytest.mark.parametrize("sort", [True, False])
def test_narrow_hashes_are_the_upper_32_bits_of_the_keys_held_twice(monkeypatch, sort):
    monkeypatch.setattr(distinct, "MIN_SORTED_KEYS", 0)
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT * FROM (VALUES ('a'), ('b'), ('a'), ('c'), ('c')) v(k)")
    want = {h >> 32 for (h,) in con.execute("SELECT hash('a') UNION SELECT hash('c')").fetchall()}
    assert distinct.repeated_hashes(con, "k", "t", "h", narrow=True, sort=sort) == 2
    assert {h for (h,) in con.execute("SELECT _h FROM h").fetchall()} == want
    assert {
        h
        for (h,) in con.execute(
            f"SELECT {distinct.key_hash('k', narrow=True)} FROM t WHERE k IN ('a', 'c')"
        ).fetchall()
    } == want


def test_keys_sharing_a_narrow_hash_by_chance_are_told_apart(tmp_path):
    """Two different order ids whose hashes share their upper 32 bits (found
    by search, so the chance collision is certain) are both accepted; a
    real repeat beside them is still one row and a duplicate."""
    con = duckdb.connect()
    a, b = con.execute(
        "SELECT min(i), max(i) FROM (SELECT i, hash('o' || i) >> 32 AS h, "
        "count(*) OVER (PARTITION BY hash('o' || i) >> 32) AS n FROM range(300000) r(i)) "
        "WHERE n > 1 AND h = (SELECT hash('o' || i) >> 32 FROM range(300000) r(i) "
        "GROUP BY 1 HAVING count(*) > 1 ORDER BY 1 LIMIT 1)"
    ).fetchall()[0]
    assert a != b
    assert con.execute(f"SELECT hash('o{a}') >> 32 = hash('o{b}') >> 32").fetchall()[0][0]
    f = tmp_path / "orders.csv"
    f.write_text(
        "order_id,customer_id,placed_at,amount\n"
        f"o{a},c1,2024-01-01,10\no{b},c2,2024-01-02,20\no{a},c1,2024-01-01,10\n"
    )
    import tenure

    result = tenure.ingest("orders", f, store=tmp_path / "s")
    assert (result.accepted, result.duplicates, result.rejected) == (2, 1, 0)


@pytest.mark.parametrize("limit", [distinct.MAX_SORTED_KEYS, 3])
def test_repeated_hashes_refuse_a_row_that_is_not_valid(limit, monkeypatch):
    monkeypatch.setattr(distinct, "MIN_SORTED_KEYS", 0)
    monkeypatch.setattr(distinct, "MAX_SORTED_KEYS", limit)
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT * FROM (VALUES ('O1'), ('O2'), (' O3'), ('O4')) v(k)")
    assert distinct.repeated_hashes(con, "k", "t", "h", valid=distinct.plain("k")) is None
    con.execute("UPDATE t SET k = 'O3' WHERE k = ' O3'")
    assert distinct.repeated_hashes(con, "k", "t", "h", valid=distinct.plain("k")) == 0


def test_identifiers_written_plainly_are_kept_and_the_others_read_as_before(tmp_path, ws):
    long = "C" * 257
    text = (
        "order_id,customer_id,placed_at,amount\n"
        "O1,C1,2024-01-05,10\n"
        '" O2 ", C1 ,2024-01-06,11\n'  # trimmed: O2 of C1
        '"O\t3",C2,2024-01-07,12\n'  # a tab inside
        f"O4,{long},2024-01-08,13\n"  # too long
        f"O5,{long[:256]},2024-01-09,14\n"  # as long as allowed
        '"O 6",C 3,2024-01-10,15\n'  # a space inside is kept
    )
    r = ingest("orders", write(tmp_path / "orders.csv", text), workspace=ws)
    assert (r.read, r.accepted, r.rejected) == (6, 4, 2)
    got = query(ws.settings.store, "SELECT order_id, customer_id FROM orders ORDER BY 1")
    assert got == [("O 6", "C 3"), ("O1", "C1"), ("O2", "C1"), ("O5", long[:256])]
    with open(r.quarantine, newline="", encoding="utf-8") as fh:
        rows = [(x["_line"], x["_column"], x["_value"], x["_reason"]) for x in csv.DictReader(fh)]
    assert rows == [
        ("4", "order_id", "O\t3", "holds a control character (U+0009 at character 2); remove it"),
        ("5", "customer_id", long, "is 257 characters long; an identifier has at most 256"),
    ]
