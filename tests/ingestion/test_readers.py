"""The exports users really have: Excel, compressed files, odd line ends,
whitespace-separated logs without a header, garbled lines, Latin-1 names."""

from __future__ import annotations

import bz2
import csv
import gzip
import json
from datetime import datetime
from decimal import Decimal

import pytest

from tenure.errors import ColumnNotFoundError, InputError, MissingExtraError
from tenure.ingestion.pipeline import ingest
from tests.conftest import query, skip_or_fail, write

ORDERS = (
    "order_id,customer_id,placed_at,amount\n"
    "O1,C1,2024-01-05,10.50\n"
    "O2,C2,2024-01-06,3\n"
    "O3,C1,2024-02-01,7.25\n"
)
# the same three orders, as stored
STORED = [
    ("O1", "C1", datetime(2024, 1, 5), Decimal("10.5000")),
    ("O2", "C2", datetime(2024, 1, 6), Decimal("3.0000")),
    ("O3", "C1", datetime(2024, 2, 1), Decimal("7.2500")),
]
JSONL = "".join(
    json.dumps({"order_id": o, "customer_id": c, "placed_at": d, "amount": a}) + "\n"
    for o, c, d, a in [
        ("O1", "C1", "2024-01-05", 10.5),
        ("O2", "C2", "2024-01-06", 3),
        ("O3", "C1", "2024-02-01", 7.25),
    ]
)


def _stored(ws):
    return query(
        ws.settings.store, "SELECT order_id, customer_id, placed_at, amount FROM orders ORDER BY 1"
    )


def _zstd(data: bytes) -> bytes:
    try:
        import zstandard
    except ImportError:  # the [zstd] extra, which the test install has
        skip_or_fail("zstandard is missing: pip install 'tenure[zstd]'")
    return zstandard.ZstdCompressor().compress(data)


PACKERS = {"gz": gzip.compress, "bz2": bz2.compress, "zst": _zstd}


@pytest.mark.parametrize("packer", sorted(PACKERS))
@pytest.mark.parametrize(("suffix", "text"), [("csv", ORDERS), ("jsonl", JSONL)])
def test_compressed_csv_and_json_lines(tmp_path, ws, packer, suffix, text):
    path = tmp_path / f"orders.{suffix}.{packer}"
    path.write_bytes(PACKERS[packer](text.encode()))
    r = ingest("orders", path, workspace=ws)
    assert (r.read, r.accepted, r.rejected) == (3, 3, 0)
    assert _stored(ws) == STORED
    # the unpacked copy is gone
    assert list((ws.settings.store / ".tmp").iterdir()) == []


def test_compression_is_known_by_the_first_bytes_not_the_name(tmp_path, ws):
    # compressed under a plain name, and a ".gz" a browser already unpacked
    (tmp_path / "packed.csv").write_bytes(gzip.compress(ORDERS.encode()))
    assert ingest("orders", tmp_path / "packed.csv", workspace=ws).accepted == 3
    write(tmp_path / "unpacked.csv.gz", ORDERS)
    r = ingest("orders", tmp_path / "unpacked.csv.gz", workspace=ws)
    assert (r.accepted, r.unchanged) == (3, 3)


def test_a_cut_gzip_file_is_a_message(tmp_path, ws):
    data = gzip.compress((ORDERS * 200).encode())
    (tmp_path / "cut.csv.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="gzip stream cannot be unpacked") as info:
        ingest("orders", tmp_path / "cut.csv.gz", workspace=ws)
    assert "download it again" in info.value.hint


def test_excel_workbook(tmp_path, ws):
    import openpyxl  # a core dependency

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Orders"
    sheet.append(["Order ID", "Customer", "Order Date", "Total", None])
    sheet.append(["O1", "C1", datetime(2024, 1, 5), 10.5])
    sheet.append(["O2", "C2", datetime(2024, 1, 6), 3])
    sheet.append([None, None, None, None])  # an empty row between blocks is layout
    sheet.append(["O3", "C1", datetime(2024, 2, 1), 7.25])
    sheet.append(["O4", "C2", "not a date", 1])
    book.create_sheet("Notes")
    book.save(tmp_path / "orders.xlsx")
    r = ingest("orders", tmp_path / "orders.xlsx", workspace=ws, map=["Customer=customer_id"])
    assert (r.read, r.accepted, r.rejected) == (4, 3, 1)
    assert _stored(ws) == STORED
    # a line is the row number Excel shows
    assert r.errors[0]["line"] == 6 and r.errors[0]["column"] == "Order Date"
    assert any("first sheet, 'Orders', of 2" in w for w in r.warnings)


def test_an_old_xls_workbook_says_how_to_save_it(tmp_path, ws):
    (tmp_path / "orders.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    with pytest.raises(InputError, match="Excel 97-2003") as info:
        ingest("orders", tmp_path / "orders.xls", workspace=ws)
    assert ".xlsx or CSV" in info.value.hint


def test_lines_ending_in_a_lone_cr(tmp_path, ws):
    (tmp_path / "mac.csv").write_bytes(ORDERS.replace("\n", "\r").encode())
    r = ingest("orders", tmp_path / "mac.csv", workspace=ws)
    assert (r.read, r.accepted) == (3, 3)
    assert _stored(ws) == STORED


# the first lines of CDNOW_master.txt as Fader and Hardie publish it: no
# header, fields right-aligned in runs of spaces, CRLF line ends
CDNOW_HEAD = (
    " 00001 19970101  1   11.77\r\n"
    " 00002 19970112  1   12.00\r\n"
    " 00002 19970112  5   77.00\r\n"
    " 00003 19970102  2   20.76\r\n"
    " 00003 19970330  2   20.76\r\n"
    " 00003 19970402  2   19.54\r\n"
)


def test_whitespace_separated_log_without_a_header(tmp_path, ws):
    path = write(tmp_path / "CDNOW_master.txt", CDNOW_HEAD)
    r = ingest(
        "orders",
        path,
        workspace=ws,
        map=["column1=customer_id", "column2=placed_at", "column4=amount"],
        currency="USD",
        date_format="%Y%m%d",
    )
    assert (r.read, r.accepted, r.rejected, r.duplicates) == (6, 6, 0, 0)
    assert any("column1, column2, column3, column4" in w for w in r.warnings)
    rows = query(
        ws.settings.store,
        "SELECT customer_id, placed_at, amount FROM orders ORDER BY customer_id, placed_at, amount",
    )
    assert rows == [
        ("00001", datetime(1997, 1, 1), Decimal("11.7700")),
        ("00002", datetime(1997, 1, 12), Decimal("12.0000")),
        ("00002", datetime(1997, 1, 12), Decimal("77.0000")),
        ("00003", datetime(1997, 1, 2), Decimal("20.7600")),
        ("00003", datetime(1997, 3, 30), Decimal("20.7600")),
        ("00003", datetime(1997, 4, 2), Decimal("19.5400")),
    ]


def test_a_whitespace_line_with_another_number_of_fields_is_rejected(tmp_path, ws):
    text = CDNOW_HEAD + " 00004 19970101   1.00\r\n" + " 00005 19970101  1   9.99\r\n"
    r = ingest(
        "orders",
        write(tmp_path / "log.txt", text),
        workspace=ws,
        map=["column1=customer_id", "column2=placed_at", "column4=amount"],
    )
    assert (r.read, r.accepted, r.rejected) == (8, 7, 1)
    assert (
        r.errors[0]["line"] == 7 and "3 fields where the first line has 4" in r.errors[0]["reason"]
    )


def test_identical_rows_of_a_log_are_orders_and_reimport_changes_nothing(tmp_path, ws):
    """Without an order id, two identical rows are two orders (a customer bought
    the same thing twice that day); the derived ids are the same next time."""
    text = "customer_id,placed_at,amount\nC1,2024-01-05,10\nC1,2024-01-05,10\nC2,2024-01-05,10\n"
    path = write(tmp_path / "log.csv", text)
    r = ingest("orders", path, workspace=ws)
    assert (r.accepted, r.duplicates, r.inserted) == (3, 0, 3)
    assert any("no order id column" in w for w in r.warnings)
    ids = query(ws.settings.store, "SELECT order_id FROM orders ORDER BY 1")
    assert len({i for (i,) in ids}) == 3
    again = ingest("orders", path, workspace=ws)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
    assert query(ws.settings.store, "SELECT order_id FROM orders ORDER BY 1") == ids
    # one more identical row later in the file is one more order
    more = ingest("orders", write(tmp_path / "more.csv", text + "C1,2024-01-05,10\n"), workspace=ws)
    assert (more.inserted, more.unchanged) == (1, 3)


def test_only_one_column_found_points_at_the_delimiter(tmp_path, ws):
    write(tmp_path / "o.csv", "order_id#customer_id#placed_at#amount\nO1#C1#2024-01-05#10\n")
    with pytest.raises(ColumnNotFoundError) as info:
        ingest("orders", tmp_path / "o.csv", workspace=ws)
    assert "Only one column was found" in info.value.hint
    assert "--delimiter" in info.value.hint
    # the whole line is not offered as a column to map
    assert "--map" not in info.value.hint


def test_binary_and_garbled_lines_are_rejected_one_by_one(tmp_path, ws):
    data = (
        b"order_id,customer_id,placed_at,amount\n"
        b"O1,C1,2024-01-05,10.50\n"
        b"O9,C\x00\x01\x02,2024-01-02,\xff\xfe6\n"
        b"O2,C2,2024-01-06,3\n"
        b"\x89PNG\x00\x00\x1a\x0b\n"
        b"O3,C1,2024-02-01,7.25\n"
        b"O8,C\x07\x08,2024-02-01,7.25\n"
    )
    (tmp_path / "o.csv").write_bytes(data)
    r = ingest("orders", tmp_path / "o.csv", workspace=ws)
    assert (r.read, r.accepted, r.rejected) == (6, 3, 3)
    assert [e["line"] for e in r.errors] == [3, 5, 7]
    assert _stored(ws) == STORED


def test_a_binary_file_is_refused_with_a_message(tmp_path, ws):
    (tmp_path / "o.csv").write_bytes(bytes(range(256)) * 40)
    with pytest.raises(InputError, match="not a text file"):
        ingest("orders", tmp_path / "o.csv", workspace=ws)


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_western_names_in_latin_1_are_read_as_written(tmp_path, ws, encoding):
    names = [
        "Zoë Martin",
        "Anaïs Dubois",
        "Søren Kierkegaard",
        "José Núñez",
        "Björk Guðmundsdóttir",
    ]
    text = "customer_id,name\n" + "".join(f"c{i},{n}\n" for i, n in enumerate(names))
    r = ingest("customers", write(tmp_path / "c.csv", text, encoding=encoding), workspace=ws)
    assert r.accepted == len(names)
    assert [n for (n,) in query(ws.settings.store, "SELECT name FROM customers ORDER BY 1")] == (
        sorted(names)
    )


def test_central_european_names_in_cp1250_stay_cp1250(tmp_path, ws):
    names = ["Příliš Žluťoučký", "Jiří Dvořák", "Tomáš Černý", "Łukasz Świątek"]
    text = "customer_id,name\n" + "".join(f"c{i},{n}\n" for i, n in enumerate(names))
    r = ingest("customers", write(tmp_path / "c.csv", text, encoding="cp1250"), workspace=ws)
    assert r.accepted == len(names)
    assert {n for (n,) in query(ws.settings.store, "SELECT name FROM customers")} == set(names)


def test_a_closest_column_hint_respects_the_field_type(tmp_path, ws):
    write(tmp_path / "fx.csv", "date,currency,rate_to_reporting\n2024-01-01,USD,0.9\n")
    with pytest.raises(ColumnNotFoundError) as info:
        ingest("fx_rates", tmp_path / "fx.csv", workspace=ws)
    assert "closest column is 'rate_to_reporting'" in info.value.hint
    assert '"date=rate"' not in info.value.hint


def test_the_cdnow_log_ingested_twice(tmp_path, ws):
    """CDNOW_master.txt as lifetimes ships it: whitespace-separated, no order
    id. Every row is an order (69,659 of 23,570 customers, the counts Fader,
    Hardie and Lee publish); the second import changes nothing."""
    import pandas as pd

    from tests.conftest import lifetimes_dir

    path = lifetimes_dir() / "datasets" / "CDNOW_master.txt"
    first = ingest("orders", path, workspace=ws, map=["dollar_value=amount"], currency="USD")
    assert (first.read, first.accepted, first.rejected, first.duplicates) == (69_659, 69_659, 0, 0)
    assert first.customers_created == 23_570
    snapshot = "SELECT count(*), sum(hash(columns(* EXCLUDE (_ingest_id)))) FROM orders"
    before = query(ws.settings.store, snapshot)
    again = ingest("orders", path, workspace=ws, map=["dollar_value=amount"], currency="USD")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 69_659)
    assert query(ws.settings.store, snapshot) == before
    # an independent reading of the file agrees on customers and money
    frame = pd.read_csv(path, sep=r"\s+", dtype={"customer_id": str})
    stored = query(
        ws.settings.store,
        "SELECT count(DISTINCT customer_id), sum(amount), min(placed_at) FROM orders",
    )[0]
    assert stored[0] == frame["customer_id"].nunique() == 23_570
    assert stored[1] == Decimal(str(round(frame["dollar_value"].sum(), 2)))
    assert stored[2] == datetime(1997, 1, 1)


def test_zstandard_without_its_package_names_the_install(tmp_path, ws, monkeypatch):
    import sys

    path = tmp_path / "orders.csv.zst"
    path.write_bytes(_zstd(ORDERS.encode()))
    monkeypatch.setitem(sys.modules, "zstandard", None)  # as if not installed
    with pytest.raises(MissingExtraError) as info:
        ingest("orders", path, workspace=ws)
    assert "pip install 'tenure[zstd]'" in info.value.hint
    assert list((ws.settings.store / ".tmp").iterdir()) == []


def test_a_headerless_csv_and_an_explicit_whitespace_delimiter(tmp_path, ws):
    write(tmp_path / "log.csv", "1001,2024-01-05,10.50\n1002,2024-01-06,3\n")
    r = ingest(
        "orders",
        tmp_path / "log.csv",
        workspace=ws,
        map=["column1=customer_id", "column2=placed_at", "column3=amount"],
    )
    assert (r.read, r.accepted) == (2, 2)
    # a tab-and-space file read on request as runs of whitespace
    write(tmp_path / "log.txt", "customer_id  placed_at \t amount\n1003 2024-01-07\t\t4.5\n")
    r = ingest("orders", tmp_path / "log.txt", workspace=ws, delimiter="whitespace")
    assert (r.read, r.accepted) == (1, 1)
    rows = query(ws.settings.store, "SELECT customer_id, placed_at, amount FROM orders ORDER BY 1")
    assert rows == [
        ("1001", datetime(2024, 1, 5), Decimal("10.5000")),
        ("1002", datetime(2024, 1, 6), Decimal("3.0000")),
        ("1003", datetime(2024, 1, 7), Decimal("4.5000")),
    ]


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_each_control_byte_rejects_its_line(tmp_path, ws, encoding):
    # the 28 control bytes that are not text (all of U+0000-U+001F and DEL
    # but tab, line feed, vertical tab, form feed and carriage return), each
    # in a line of its own after three clean ones; the names hold an é so
    # that a Latin-1 file is read as one
    junk = [*range(0x00, 0x09), *range(0x0E, 0x20), 0x7F]
    lines, bad = ["customer_id,name"], []
    for i, b in enumerate(junk):
        lines += [f"c{i}-{k},Zoé {k}" for k in range(3)]
        lines.append(f"x{i},Zo{chr(b)}é")
        bad.append(len(lines))
    path = write(tmp_path / "c.csv", "\n".join(lines) + "\n", encoding=encoding)
    r = ingest("customers", path, workspace=ws, max_errors=100)
    assert (r.read, r.accepted, r.rejected) == (4 * 28, 3 * 28, 28)
    with open(r.quarantine, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(row["_line"]) for row in rows] == bad
    assert {row["_reason"] for row in rows} == {
        "holds control characters or binary data, not text; fix or remove the line"
    }
    assert query(ws.settings.store, "SELECT count(*) FROM customers WHERE name = 'Zoé 2'") == [
        (28,)
    ]


@pytest.mark.parametrize("broken_at", [None, 70_001])
def test_each_record_keeps_its_line_before_and_after_a_broken_line(tmp_path, broken_at):
    """The records are numbered by their place in the table read in file
    order: each one's line is the one it was written on (its order id holds
    it), before and after a line that cannot be split into columns."""
    import duckdb

    from tenure.ingestion.readers import read_file

    lines = ["order_id,customer_id,placed_at,amount"]
    for line in range(2, 100_002):
        extra = ",extra" if line == broken_at else ""
        lines.append(f"O{line},C{line % 997},2024-01-05,{line % 100}.25{extra}")
    path = tmp_path / "orders.csv"
    path.write_text("\n".join(lines) + "\n")
    con = duckdb.connect()
    src = read_file(con, path)
    assert (src.read, src.broken) == (100_000, 1 if broken_at else 0)
    rows, first, last, wrong = con.execute(
        "SELECT count(*), min(_line), max(_line), "
        "count(*) FILTER (WHERE _line <> CAST(substr(order_id, 2) AS BIGINT)) FROM raw"
    ).fetchall()[0]
    assert (rows, first, last, wrong) == (100_000 - src.broken, 2, 100_001, 0)
    if broken_at:
        assert con.execute("SELECT _line FROM broken").fetchall() == [(broken_at,)]
    con.close()
