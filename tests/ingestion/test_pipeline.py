"""Ingest worked examples: every row accounted for, values checked by hand."""

from __future__ import annotations

import csv
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from tenure.errors import ColumnNotFoundError, InputError, TooManyErrorsError
from tenure.ingestion.pipeline import ingest
from tests.conftest import query, write

ORDERS = """order_id,customer_id,placed_at,amount,currency,status
O1,C1,2024-01-05 10:00:00,10.00,EUR,completed
O2,C1,2024-02-05 10:00:00,20.50,EUR,refunded
O3,C2,2024-03-05 10:00:00,7.25,EUR,
"""


def test_counts_add_up_and_values_are_stored_exactly(tmp_path, ws):
    r = ingest("orders", write(tmp_path / "o.csv", ORDERS), workspace=ws)
    assert (r.read, r.accepted, r.rejected, r.duplicates) == (3, 3, 0, 0)
    assert (r.inserted, r.updated, r.unchanged, r.customers_created) == (3, 0, 0, 2)
    rows = query(
        ws.settings.store,
        "SELECT order_id, amount, status, amount_reporting FROM orders ORDER BY order_id",
    )
    assert rows == [
        ("O1", Decimal("10.0000"), "completed", Decimal("10.0000")),
        ("O2", Decimal("20.5000"), "refunded", Decimal("20.5000")),
        ("O3", Decimal("7.2500"), "completed", Decimal("7.2500")),  # empty status = completed
    ]
    stubs = query(
        ws.settings.store, "SELECT customer_id, created_at, is_stub FROM customers ORDER BY 1"
    )
    assert stubs == [("C1", datetime(2024, 1, 5, 10), True), ("C2", datetime(2024, 3, 5, 10), True)]


def test_reimport_changes_nothing_and_a_changed_row_updates(tmp_path, ws):
    path = write(tmp_path / "o.csv", ORDERS)
    ingest("orders", path, workspace=ws)
    before = query(ws.settings.store, "SELECT * EXCLUDE (_ingest_id) FROM orders ORDER BY 1")
    again = ingest("orders", path, workspace=ws)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
    assert (
        query(ws.settings.store, "SELECT * EXCLUDE (_ingest_id) FROM orders ORDER BY 1") == before
    )
    changed = write(
        tmp_path / "o2.csv",
        ORDERS.replace("20.50,EUR,refunded", "21.00,EUR,completed")
        + "O4,C3,2024-04-01,5,EUR,completed\n",
    )
    r = ingest("orders", changed, workspace=ws)
    assert (r.inserted, r.updated, r.unchanged) == (1, 1, 2)
    assert query(ws.settings.store, "SELECT amount, status FROM orders WHERE order_id = 'O2'") == [
        (Decimal("21.0000"), "completed")
    ]
    assert query(ws.settings.store, "SELECT count(*) FROM orders") == [(4,)]


def test_fields_a_file_does_not_map_keep_their_stored_value(tmp_path, ws):
    write(tmp_path / "c.csv", "customer_id,email,country\nC1,a@x.io,DE\n")
    ingest("customers", tmp_path / "c.csv", workspace=ws)
    write(tmp_path / "c2.csv", "customer_id,country\nC1,FR\n")
    r = ingest("customers", tmp_path / "c2.csv", workspace=ws)
    assert r.updated == 1
    assert query(ws.settings.store, "SELECT email, country FROM customers") == [("a@x.io", "FR")]


def test_duplicates_and_conflicts_within_a_file(tmp_path, ws):
    text = (
        ORDERS + "O1,C1,2024-01-05 10:00:00,10.00,EUR,completed\n"
        "O1,C1,2024-01-05 10:00:00,,,\n"
        "O3,C2,2024-03-05 10:00:00,9.99,EUR,\n"
    )
    r = ingest("orders", write(tmp_path / "o.csv", text), workspace=ws)
    # lines 5 and 6 repeat O1 (6 with blanks): duplicates; line 7 contradicts O3
    assert (r.read, r.accepted, r.duplicates, r.rejected) == (6, 3, 2, 1)
    assert r.errors[0]["line"] == 7
    assert r.errors[0]["column"] == "amount"
    assert "conflicts with line 4" in r.errors[0]["reason"]
    assert "7.2500" in r.errors[0]["reason"]


def test_repeated_missing_keys_and_a_repeat_of_a_rejected_row(tmp_path, ws):
    text = (
        "order_id,customer_id,placed_at,amount\n"
        "O1,C1,2024-01-05,10\n"
        ",C1,2024-01-06,5\n"  # no key, twice: both rejected, neither a duplicate
        ",C2,2024-01-07,6\n"
        "O2,C1,2024-01-08,ten\n"  # rejected
        "O2,C1,2024-01-08,7\n"  # its repeat differs from it: a conflict, not accepted
        "O3,C2,2024-01-09,8\n"
        "O3,C2,2024-01-09,8\n"  # duplicate
    )
    r = ingest("orders", write(tmp_path / "o.csv", text), workspace=ws)
    assert (r.read, r.accepted, r.duplicates, r.rejected) == (7, 2, 1, 4)
    with open(r.quarantine, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [(row["_line"], row["_column"]) for row in rows] == [
        ("3", "order_id"),
        ("4", "order_id"),
        ("5", "amount"),
        ("6", "amount"),
    ]
    # each rejected row as read, the conflicting repeat too
    assert [(row["order_id"], row["amount"]) for row in rows] == [
        ("", "5"),
        ("", "6"),
        ("O2", "ten"),
        ("O2", "7"),
    ]
    assert rows[3]["_reason"] == (
        "conflicts with line 5, which has the same order_id O2 and no value here; "
        "keep one of the two rows"
    )
    assert query(ws.settings.store, "SELECT order_id, amount FROM orders ORDER BY 1") == [
        ("O1", Decimal("10.0000")),
        ("O3", Decimal("8.0000")),
    ]


def test_rejected_rows_go_to_quarantine_with_line_column_value_reason(tmp_path, ws):
    text = (
        "order_id,customer_id,placed_at,amount\n"
        "O1,C1,2024-01-05,10\n"
        "O2,C1,2024-02-31,10\n"  # impossible date
        "O3,,2024-01-07,10\n"  # missing customer
        "O4,C2,2024-01-08,ten\n"  # not an amount
        "O5,C2,2024-01-09,-4\n"  # negative
        "O6,C2,2024-01-10,1,extra\n"  # too many fields
    )
    r = ingest("orders", write(tmp_path / "orders.csv", text), workspace=ws)
    assert (r.read, r.accepted, r.rejected) == (6, 1, 5)
    with open(r.quarantine, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    got = [(row["_file"], row["_line"], row["_column"], row["_value"]) for row in rows]
    assert got == [
        ("orders.csv", "3", "placed_at", "2024-02-31"),
        ("orders.csv", "4", "customer_id", ""),
        ("orders.csv", "5", "amount", "ten"),
        ("orders.csv", "6", "amount", "-4"),
        ("orders.csv", "7", "", ""),
    ]
    assert "is not a date" in rows[0]["_reason"]
    assert "missing" in rows[1]["_reason"]
    assert "not an amount" in rows[2]["_reason"]
    assert "negative" in rows[3]["_reason"]
    assert "more fields" in rows[4]["_reason"] and rows[4]["_raw"] == "O6,C2,2024-01-10,1,extra"
    assert rows[0]["order_id"] == "O2"  # the original row travels with its reason


def test_fixed_quarantine_file_can_be_ingested_again(tmp_path, ws):
    text = "order_id,customer_id,placed_at,amount\nO1,C1,2024-01-05,10\nO2,C1,2024-13-01,5\n"
    r = ingest("orders", write(tmp_path / "o.csv", text), workspace=ws)
    fixed = tmp_path / "fixed.csv"
    fixed.write_text(
        Path(r.quarantine).read_text(encoding="utf-8").replace("2024-13-01", "2024-12-01")
    )
    again = ingest("orders", fixed, workspace=ws)
    assert (again.accepted, again.inserted, again.rejected) == (1, 1, 0)
    assert query(ws.settings.store, "SELECT count(*) FROM orders") == [(2,)]


def test_max_errors_fails_and_writes_nothing(tmp_path, ws):
    text = "order_id,customer_id,placed_at,amount\nO1,C1,2024-01-05,10\nO2,C1,bad,5\nO3,C1,bad,5\n"
    with pytest.raises(TooManyErrorsError) as info:
        ingest("orders", write(tmp_path / "o.csv", text), workspace=ws, max_errors=1)
    assert "2 of 3 rows were rejected" in info.value.what
    assert "o.csv line 3, column 'placed_at': 'bad' is not a date" in info.value.hint
    assert query(ws.settings.store, "SELECT count(*) FROM orders") == [(0,)]
    runs = ws.ops.runs()
    assert runs[0]["status"] == "failed" and runs[0]["rejected"] == 2
    ok = ingest("orders", tmp_path / "o.csv", workspace=ws, max_errors=2)
    assert ok.inserted == 1


def test_fx_conversion_uses_the_rate_in_force_that_day(tmp_path, ws):
    write(
        tmp_path / "fx.csv",
        "date,currency,rate\n2024-01-01,GBP,1.15\n2024-02-01,GBP,1.20\n"
        "2024-01-01,USD,0.90\n2024-01-01,JPY,0.00601234\n",
    )
    ingest("fx_rates", tmp_path / "fx.csv", workspace=ws)
    text = (
        "order_id,customer_id,placed_at,amount,currency\n"
        "O1,C1,2024-01-31 23:59:59,100.00,GBP\n"
        "O2,C1,2024-02-01 00:00:00,100.00,GBP\n"
        "O3,C1,2024-03-15,10.00,usd\n"
        "O4,C1,2023-12-31,10.00,USD\n"  # before any USD rate
        "O5,C1,2024-03-15,10.00,CHF\n"  # no CHF rate at all
        "O6,C1,2024-03-15,1000,JPY\n"
    )
    r = ingest("orders", write(tmp_path / "o.csv", text), workspace=ws)
    assert (r.accepted, r.rejected) == (4, 2)
    rows = query(
        ws.settings.store,
        "SELECT order_id, amount, currency, fx_rate, amount_reporting FROM orders ORDER BY 1",
    )
    assert rows == [
        ("O1", Decimal("100.0000"), "GBP", Decimal("1.15000000"), Decimal("115.0000")),
        ("O2", Decimal("100.0000"), "GBP", Decimal("1.20000000"), Decimal("120.0000")),
        ("O3", Decimal("10.0000"), "USD", Decimal("0.90000000"), Decimal("9.0000")),
        # 1000 x 0.00601234 = 6.01234, kept to four decimals
        ("O6", Decimal("1000.0000"), "JPY", Decimal("0.00601234"), Decimal("6.0123")),
    ]
    reasons = {e["line"]: e["reason"] for e in r.errors}
    assert reasons[5].startswith("has no FX rate into EUR on or before 2023-12-31")
    assert "row for CHF" in reasons[6]


def test_an_amount_too_large_once_converted_is_rejected_not_a_failed_ingest(tmp_path, ws):
    write(tmp_path / "fx.csv", "date,currency,rate\n2024-01-01,GBP,1.17\n")
    ingest("fx_rates", tmp_path / "fx.csv", workspace=ws)
    text = (
        "order_id,customer_id,placed_at,amount,currency\n"
        "O1,C1,2024-03-15,10.00,GBP\n"
        # 99,999,999,999,999.9999 GBP x 1.17 is 116,999,999,999,999.9999 EUR:
        # more than DECIMAL(18,4) holds
        "O2,C1,2024-03-15,99999999999999.9999,GBP\n"
        "O3,C1,2024-03-15,99999999999999.9999,EUR\n"  # at a rate of 1 it fits
    )
    r = ingest("orders", write(tmp_path / "o.csv", text), workspace=ws)
    assert (r.accepted, r.rejected) == (2, 1)
    assert r.errors == [
        {
            "line": 3,
            "column": "amount",
            "value": "99999999999999.9999",
            "reason": "is too large once converted into EUR (at 1.17 EUR per GBP): "
            "the most an amount can be is 99999999999999.9999",
        }
    ]
    assert query(ws.settings.store, "SELECT order_id, amount_reporting FROM orders ORDER BY 1") == [
        ("O1", Decimal("11.7000")),
        ("O3", Decimal("99999999999999.9999")),
    ]


def test_timestamps_are_stored_in_utc(tmp_path, ws):
    text = (
        "order_id,customer_id,placed_at,amount\n"
        "O1,C1,2024-07-01T23:30:00+02:00,1\n"  # offset given: 21:30 UTC
        "O2,C1,2024-07-01 23:30:00,1\n"  # no offset: read in --timezone
        "O3,C1,2024-01-01T00:15:00Z,1\n"
    )
    ingest("orders", write(tmp_path / "o.csv", text), workspace=ws, timezone="America/New_York")
    rows = query(ws.settings.store, "SELECT order_id, placed_at FROM orders ORDER BY 1")
    assert rows == [
        ("O1", datetime(2024, 7, 1, 21, 30)),
        ("O2", datetime(2024, 7, 2, 3, 30)),  # EDT is UTC-4
        ("O3", datetime(2024, 1, 1, 0, 15)),
    ]


def test_a_date_alone_is_midnight_in_the_timezone_not_an_offset(tmp_path, ws):
    # "2024-01-05" ends like an offset of -05 hours, but is a local date
    text = (
        "order_id,customer_id,placed_at,amount\n"
        "O1,C1,2024-01-05,1\n"  # midnight in Berlin (UTC+1 in winter): 23:00 UTC the day before
        "O2,C1,2024-01-05 10:00-05,1\n"  # an offset after a time of day: 15:00 UTC
        "O3,C1,2024-07-05T10:00:00.5+05:30,1\n"  # 04:30:00.5 UTC
    )
    ingest("orders", write(tmp_path / "o.csv", text), workspace=ws, timezone="Europe/Berlin")
    from datetime import date

    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(
        pa.table({"order_id": ["O4"], "customer_id": ["C1"], "placed_at": [date(2024, 7, 5)],
                  "amount": [1]}),
        tmp_path / "d.parquet",
    )  # fmt: skip
    ingest("orders", tmp_path / "d.parquet", workspace=ws, timezone="Europe/Berlin")
    rows = query(ws.settings.store, "SELECT order_id, placed_at FROM orders ORDER BY 1")
    assert rows == [
        ("O1", datetime(2024, 1, 4, 23, 0)),
        ("O2", datetime(2024, 1, 5, 15, 0)),
        ("O3", datetime(2024, 7, 5, 4, 30, 0, 500000)),
        ("O4", datetime(2024, 7, 4, 22, 0)),  # a typed date: midnight in Berlin (UTC+2)
    ]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["31/01/2024", "02/03/2024"], [(2024, 1, 31), (2024, 3, 2)]),  # day-first seen
        (["01/31/2024", "02/03/2024"], [(2024, 1, 31), (2024, 2, 3)]),  # month-first seen
        (["31.01.2024", "02.03.2024"], [(2024, 1, 31), (2024, 3, 2)]),
    ],
)
def test_day_first_or_month_first_is_detected(tmp_path, ws, values, expected):
    lines = "".join(f"O{i},C1,{v},1\n" for i, v in enumerate(values))
    ingest(
        "orders",
        write(tmp_path / "o.csv", "order_id,customer_id,placed_at,amount\n" + lines),
        workspace=ws,
    )
    got = query(ws.settings.store, "SELECT placed_at FROM orders ORDER BY order_id")
    assert [(d.year, d.month, d.day) for (d,) in got] == expected


def test_ambiguous_dates_warn_and_date_order_decides(tmp_path, ws):
    path = write(tmp_path / "o.csv", "order_id,customer_id,placed_at,amount\nO1,C1,03/04/2024,1\n")
    r = ingest("orders", path, workspace=ws)
    assert any("day-first or month-first" in w for w in r.warnings)
    assert query(ws.settings.store, "SELECT placed_at FROM orders") == [(datetime(2024, 4, 3),)]
    ingest("orders", path, workspace=ws, date_order="mdy")
    assert query(ws.settings.store, "SELECT placed_at FROM orders") == [(datetime(2024, 3, 4),)]


def test_semicolon_file_with_decimal_commas_in_cp1252(tmp_path, ws):
    text = (
        "Bestellnummer;Kunde;Datum;Betrag;Währung\n"
        "B1;K1;31.01.2024;1.234,56;EUR\n"
        "B2;K2;01.02.2024;12,5;EUR\n"
        "B3;Müller;02.02.2024;€ 3,00;EUR\n"
    )
    path = write(tmp_path / "bestellungen.csv", text, encoding="cp1252")
    r = ingest(
        "orders",
        path,
        workspace=ws,
        map=[
            "Bestellnummer=order_id",
            "Kunde=customer_id",
            "Datum=placed_at",
            "Betrag=amount",
            "Währung=currency",
        ],
    )
    assert (r.accepted, r.rejected) == (3, 0)
    rows = query(ws.settings.store, "SELECT customer_id, amount FROM orders ORDER BY 1")
    assert rows == [
        ("K1", Decimal("1234.5600")),
        ("K2", Decimal("12.5000")),
        ("Müller", Decimal("3.0000")),
    ]


def test_utf16_and_tab_delimited(tmp_path, ws):
    text = "order_id\tcustomer_id\tplaced_at\tamount\nO1\tÅsa\t2024-01-01\t5\n"
    r = ingest(
        "orders", write(tmp_path / "o.tsv", "\ufeff" + text, encoding="utf-16-le"), workspace=ws
    )
    assert r.accepted == 1
    assert query(ws.settings.store, "SELECT customer_id FROM orders") == [("Åsa",)]


def test_mixed_encodings_reject_only_the_bad_lines(tmp_path, ws):
    good = "order_id,customer_id,placed_at,amount\nO1,Zoë,2024-01-01,5\n".encode()
    bad = "O2,Renée,2024-01-02,5\n".encode("latin-1")
    (tmp_path / "mixed.csv").write_bytes(good + bad + b"O3,Bob,2024-01-03,5\n")
    r = ingest("orders", tmp_path / "mixed.csv", workspace=ws)
    assert (r.read, r.accepted, r.rejected) == (3, 2, 1)
    assert r.errors[0]["line"] == 3 and "not valid utf-8" in r.errors[0]["reason"]


def test_json_lines_and_parquet(tmp_path, ws):
    import pyarrow as pa
    import pyarrow.parquet as pq

    write(
        tmp_path / "e.jsonl",
        '{"customer_id": "C1", "name": "app_open", '
        '"occurred_at": "2024-01-01T10:00:00Z", "properties": {"screen": "home"}}\n'
        "not json\n"
        '{"customer_id": "C1", "name": "app_open", "occurred_at": "2024-01-01T10:00:00Z", '
        '"properties": {"screen": "home"}}\n',
    )
    r = ingest("events", tmp_path / "e.jsonl", workspace=ws)
    # no event_id: identical events are duplicates
    assert (r.read, r.accepted, r.rejected, r.duplicates) == (3, 1, 1, 1)
    assert r.errors[0]["line"] == 2
    assert query(ws.settings.store, "SELECT properties->>'screen' FROM events") == [("home",)]
    table = pa.table(
        {
            "order_id": ["P1", "P2"],
            "customer_id": ["C1", None],
            "placed_at": pa.array([datetime(2024, 5, 1, 12), datetime(2024, 5, 2)]),
            "amount": [12.5, 3.0],
        }
    )
    pq.write_table(table, tmp_path / "o.parquet")
    r = ingest("orders", tmp_path / "o.parquet", workspace=ws)
    assert (r.accepted, r.rejected) == (1, 1)
    assert r.errors[0]["line"] == 2  # row 2 of the Parquet file
    assert query(ws.settings.store, "SELECT placed_at, amount FROM orders") == [
        (datetime(2024, 5, 1, 12), Decimal("12.5000"))
    ]


def test_dataframes_in(ws):
    import pandas as pd

    frame = pd.DataFrame(
        {
            "order_id": ["A", "B"],
            "customer_id": ["C1", "C2"],
            "placed_at": pd.to_datetime(["2024-01-01", "2024-01-02"]),
            "amount": [1.5, 2.25],
        }
    )
    r = ingest("orders", frame, workspace=ws)
    assert (r.inserted, r.source) == (2, "DataFrame")


def test_unknown_customers_are_rejected_when_not_created(tmp_path, ws):
    write(tmp_path / "c.csv", "customer_id\nC1\n")
    ingest("customers", tmp_path / "c.csv", workspace=ws)
    r = ingest("orders", write(tmp_path / "o.csv", ORDERS), workspace=ws, create_customers=False)
    assert (r.accepted, r.rejected, r.customers_created) == (2, 1, 0)
    assert r.errors[0]["value"] == "C2" and "not a customer in the store" in r.errors[0]["reason"]


def test_order_items_need_their_order(tmp_path, ws):
    ingest("orders", write(tmp_path / "o.csv", ORDERS), workspace=ws)
    write(tmp_path / "i.csv", "order_id,sku,qty,price\nO1,S1,2,5.00\nO1,S2,,1\nO9,S1,1,1\n")
    r = ingest("order_items", tmp_path / "i.csv", workspace=ws)
    assert (r.accepted, r.rejected) == (2, 1)
    assert query(ws.settings.store, "SELECT product_id, quantity FROM order_items ORDER BY 1") == [
        ("S1", 2),
        ("S2", 1),  # an empty quantity means 1
    ]


def test_survey_scores_are_checked_against_their_scale(tmp_path, ws):
    text = (
        "response_id,customer_id,kind,score,answered_at\n"
        "R1,C1,NPS,10,2024-01-01\nR2,C1,csat,5,2024-01-01\nR3,C1,csat,6,2024-01-01\n"
        "R4,C1,ces,7,2024-01-01\nR5,C1,nps,11,2024-01-01\nR6,C1,stars,3,2024-01-01\n"
    )
    r = ingest("survey_responses", write(tmp_path / "s.csv", text), workspace=ws)
    assert (r.accepted, r.rejected) == (3, 3)
    assert [e["line"] for e in r.errors] == [4, 6, 7]
    assert "not a survey kind" in r.errors[2]["reason"]


def test_customers_values_are_normalised(tmp_path, ws):
    text = (
        "id,E-Mail,country,locale,time_zone,birthday,accepts_marketing,plan_tier\n"
        "C1, Ann@Example.COM ,germany,de_de,europe/berlin,1990-05-17,yes,gold\n"
        "C2,bob@example.com,XX,en-US,Mars/Base,1985-02-30,maybe,\n"
    )
    r = ingest("customers", write(tmp_path / "c.csv", text), workspace=ws)
    assert (r.accepted, r.rejected) == (1, 1)
    assert r.errors[0]["column"] == "country"
    rows = query(
        ws.settings.store,
        "SELECT customer_id, email, country, locale, time_zone, "
        "birthday, consent_email, attributes->>'plan_tier' "
        "FROM customers",
    )
    assert rows[0][:5] == ("C1", "ann@example.com", "DE", "de-DE", "Europe/Berlin")
    assert str(rows[0][5]) == "1990-05-17" and rows[0][6] is True and rows[0][7] == "gold"


def test_country_names_and_currency_codes_are_looked_up(tmp_path, ws):
    # the lookup tables: country names and aliases to ISO 3166 codes, and
    # the ISO 4217 codes a currency cell may hold (in any case)
    text = "id,country\nC1,usa\nC2,Deutschland\nC3,uk\nC4,France\nC5,Atlantis\n"
    r = ingest("customers", write(tmp_path / "c.csv", text), workspace=ws)
    assert (r.accepted, r.rejected) == (4, 1)
    assert (r.errors[0]["line"], r.errors[0]["column"]) == (6, "country")
    rows = query(ws.settings.store, "SELECT customer_id, country FROM customers ORDER BY 1")
    assert rows == [("C1", "US"), ("C2", "DE"), ("C3", "GB"), ("C4", "FR")]
    orders = (
        "order_id,customer_id,placed_at,amount,currency\n"
        "O1,C1,2024-01-01,5,eur\nO2,C1,2024-01-02,6,XYZ\nO3,C1,2024-01-03,7,EUR\n"
    )
    r = ingest("orders", write(tmp_path / "o.csv", orders), workspace=ws)
    assert (r.accepted, r.rejected) == (2, 1)
    assert (r.errors[0]["line"], r.errors[0]["column"]) == (3, "currency")
    assert "ISO 4217" in r.errors[0]["reason"]
    assert query(ws.settings.store, "SELECT order_id, currency FROM orders ORDER BY 1") == [
        ("O1", "EUR"),
        ("O3", "EUR"),
    ]


def test_missing_required_column_names_the_closest(tmp_path, ws):
    write(tmp_path / "o.csv", "order_id,customer_id,placed,amount\nO1,C1,2024-01-01,1\n")
    with pytest.raises(ColumnNotFoundError) as info:
        ingest("orders", tmp_path / "o.csv", workspace=ws)
    text = info.value.render()
    assert "need a column for 'placed_at'" in text
    assert "Columns found: 'order_id', 'customer_id', 'placed', 'amount'" in text
    assert '--map "placed=placed_at"' in text


def test_every_row_rejected_is_an_error(tmp_path, ws):
    write(tmp_path / "o.csv", "order_id,customer_id,placed_at,amount\nO1,C1,nope,1\n")
    with pytest.raises(InputError, match="every one of the 1 rows was rejected"):
        ingest("orders", tmp_path / "o.csv", workspace=ws)


def test_header_only_file_reads_nothing(tmp_path, ws):
    r = ingest(
        "orders", write(tmp_path / "o.csv", "order_id,customer_id,placed_at,amount\n"), workspace=ws
    )
    assert (r.read, r.accepted) == (0, 0)
    assert any("header but no rows" in w for w in r.warnings)


def test_a_comma_that_is_not_a_thousands_separator_is_refused(tmp_path, ws):
    text = (
        "order_id,customer_id,placed_at,amount\n"
        'O1,C1,2024-01-01,"1,234.50"\nO2,C1,2024-01-01,7.25\nO3,C1,2024-01-01,"12,5"\n'
    )
    r = ingest("orders", write(tmp_path / "o.csv", text), workspace=ws)
    assert (r.accepted, r.rejected) == (2, 1)
    assert r.errors[0]["value"] == "12,5"
    assert query(ws.settings.store, "SELECT amount FROM orders ORDER BY 1") == [
        (Decimal("7.2500"),),
        (Decimal("1234.5000"),),
    ]


def test_two_digit_years_and_empty_currency_cells(tmp_path, ws):
    text = (
        "order_id,customer_id,placed_at,amount,currency\nO1,C1,31.03.24,1,\nO2,C1,01.04.24,2,EUR\n"
    )
    r = ingest("orders", write(tmp_path / "o.csv", text), workspace=ws)
    assert r.accepted == 2
    assert query(
        ws.settings.store, "SELECT placed_at, currency, amount_reporting FROM orders ORDER BY 1"
    ) == [
        (datetime(2024, 3, 31), "EUR", Decimal("1.0000")),
        (datetime(2024, 4, 1), "EUR", Decimal("2.0000")),
    ]


def test_a_bad_date_order_is_refused(tmp_path, ws):
    with pytest.raises(InputError, match="is not a date order"):
        ingest("orders", write(tmp_path / "o.csv", ORDERS), workspace=ws, date_order="xyz")


def test_a_frame_with_an_unnamed_column_is_refused_by_its_position(ws):
    import pyarrow as pa

    table = pa.table({"order_id": ["O1"], "": [1]})
    with pytest.raises(InputError) as err:
        ingest("orders", table, workspace=ws)
    assert err.value.what == "column 2 of the data has no name."
    assert query(ws.settings.store, "SELECT count(*) FROM orders") == [(0,)]


def test_keys_repeated_only_far_apart_are_found(tmp_path, ws):
    # 200,000 distinct orders, then line 200,002 repeats line 2 exactly (a
    # duplicate) and line 200,003 repeats line 3's order O1 with another
    # amount (a conflict): the repeats lie 200,000 lines from their first rows
    n = 200_000
    lines = [f"O{i},C{i % 997},2024-01-05,{i % 50 + 1}.00\n" for i in range(n)]
    text = "order_id,customer_id,placed_at,amount\n" + "".join(lines)
    text += lines[0] + "O1,C1,2024-01-05,99.00\n"
    r = ingest("orders", write(tmp_path / "o.csv", text), workspace=ws)
    assert (r.read, r.accepted, r.duplicates, r.rejected) == (n + 2, n, 1, 1)
    assert r.errors[0]["line"] == n + 3
    assert r.errors[0]["column"] == "amount"
    assert "conflicts with line 3, which has the same order_id O1" in r.errors[0]["reason"]
    assert query(ws.settings.store, "SELECT amount FROM orders WHERE order_id = 'O1'") == [
        (Decimal("2.0000"),)
    ]
