"""A typed source (Parquet, a DataFrame) is read as it is, not written out as
text and parsed back: every row must come out as the same values written as
text in a CSV file come out, accepted or rejected with the same reason.

Each case writes one table twice: as Parquet with its types, and as CSV with
each value's text (DuckDB's CAST to VARCHAR, which is what the text path read
from Parquet before). Both go through the readers and the checks; the checked
rows (values, reasons and the values the reasons show) must be equal."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest

from tenure.datamodel import KINDS
from tenure.ingestion import mapping as mapping_mod
from tenure.ingestion.readers import read_file
from tenure.ingestion.validate import build_checked
from tenure.sqltext import lit

# amounts a binary float or a decimal holds that text reads in its own way:
# not-a-number, infinities, too large, rounded at the fourth decimal
AMOUNTS = [
    "12.5",
    "-3.25",
    "0",
    "-0.0",
    "12.34565",
    "-1.23455",
    "0.00005",
    "1e-05",
    "99999999999999.9999",
    "99999999999999.99995",
    "60000000000000.5",
    "1e20",
    "154181017653.57394",
    "44017185.349791124",
    "nan",
    "inf",
    "-inf",
    None,
]
TIMES = [
    "2024-01-05 10:00:00",
    "2024-01-05 10:00:00.123456",
    "2024-03-31 02:30:00",  # no such wall-clock time in Berlin
    "2024-10-27 02:30:00",  # twice in Berlin
    "1899-12-31 23:59:59",
    "0001-01-01 00:00:00",
    "2999-01-01 00:00:00",
    "infinity",
    "-infinity",
    None,
]


def _checked(con: duckdb.DuckDBPyConnection, path, kind: str, tz: str, **options) -> list[tuple]:
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE fx_rates AS SELECT DATE '2000-01-01' AS date, "
        "'USD' AS currency, 2.0::DECIMAL(18,8) AS rate"
    )
    src = read_file(con, path)
    usable = [c for c in src.columns if not c.startswith("_")]
    resolved = mapping_mod.resolve(
        KINDS[kind], usable, mapping_mod.parse_map_flags([], KINDS[kind]), src.name
    )
    plan = build_checked(
        con, KINDS[kind], resolved, usable, source="s", tz=tz, date_format=options.get("date_format"),
        date_order="auto", default_currency="EUR", reporting_currency="EUR",
    )  # fmt: skip
    first = con.execute("SELECT min(_line) FROM checked").fetchall()[0][0]
    rows = con.execute(
        f"SELECT * REPLACE (_line - {first} AS _line) FROM checked ORDER BY _line"
    ).fetchall()
    return rows, plan


def _both(tmp_path, select: str, kind: str = "orders", tz: str = "UTC", **options):
    """The checked rows of ``select`` written as Parquet and as CSV text."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE TABLE t AS {select}")
    parquet, csv = tmp_path / "t.parquet", tmp_path / "t.csv"
    con.execute(f"COPY t TO {lit(str(parquet))} (FORMAT parquet)")
    texts = ", ".join(
        f'CAST("{c}" AS VARCHAR) AS "{c}"' for c, *_ in con.execute("DESCRIBE t").fetchall()
    )
    con.execute(f"COPY (SELECT {texts} FROM t) TO {lit(str(csv))} (FORMAT csv, HEADER true)")
    typed = _checked(duckdb.connect(), parquet, kind, tz, **options)
    text = _checked(duckdb.connect(), csv, kind, tz, **options)
    return typed, text


def _values(name: str, values: list[str | None], sql_type: str) -> str:
    cells = ", ".join("NULL" if v is None else lit(v) for v in values)
    return f"unnest([{cells}])::{sql_type} AS {name}"


@pytest.mark.parametrize("amount_type", ["DOUBLE", "FLOAT", "DECIMAL(18,2)", "DECIMAL(38,6)"])
@pytest.mark.parametrize(
    "time_type", ["TIMESTAMP", "TIMESTAMPTZ", "DATE", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S"]
)
@pytest.mark.parametrize("tz", ["UTC", "Europe/Berlin"])
def test_typed_orders_read_as_their_text_is_read(tmp_path, amount_type, time_type, tz):
    amounts = [a for a in AMOUNTS if not amount_type.startswith("DECIMAL") or a in
               ("12.5", "-3.25", "0", "12.34565", "-1.23455", "0.00005", "60000000000000.5", None)]  # fmt: skip
    if amount_type == "DECIMAL(38,6)":
        amounts.append("123456789012345.123456")
    times = TIMES
    if time_type == "TIMESTAMP_NS":  # nanoseconds hold 1677-2262
        times = [t for t in TIMES if t not in ("0001-01-01 00:00:00", "2999-01-01 00:00:00")] + [
            "2024-01-05 23:59:59.999999999",
            "1969-12-31 23:59:59.999999999",
        ]
    n = len(times) * len(amounts) * 2
    select = (
        f"SELECT i::BIGINT AS order_id, (i % 7)::INTEGER AS customer_id, placed_at, amount, "
        f"currency, 'paid' AS status "
        f"FROM (SELECT row_number() OVER () AS i, * FROM "
        f"(SELECT {_values('placed_at', times, 'VARCHAR')}) "
        f"CROSS JOIN (SELECT {_values('amount', amounts, 'VARCHAR')}) "
        "CROSS JOIN (SELECT unnest(['EUR', 'USD']) AS currency)) "
    )
    select = (
        f"SELECT * REPLACE (CAST(placed_at AS {time_type}) AS placed_at, "
        f"CAST(amount AS {amount_type}) AS amount) FROM ({select})"
    )
    (typed, plan_typed), (text, plan_text) = _both(tmp_path, select, tz=tz)
    assert len(typed) == n
    assert typed == text
    assert plan_typed.warnings == plan_text.warnings
    reasons = {r[-2] for r in typed}
    # the cases reach the rules they are meant to: each reason is met
    assert "is in the future; check the date or its time zone" in reasons
    assert "is before 1900; check the date" in reasons
    assert any(r and r.startswith("is missing") for r in reasons)
    assert any(r and r.startswith("is negative") for r in reasons)
    assert any(r and r.startswith("is too large once converted") for r in reasons)
    if amount_type in ("DOUBLE", "FLOAT"):
        assert "is not an amount (expected a number such as 1234.56)" in reasons
    assert None in reasons  # and rows pass


def test_typed_values_are_the_values_written(tmp_path):
    (typed, _), (text, _) = _both(
        tmp_path,
        "SELECT 7::BIGINT AS order_id, 42::INTEGER AS customer_id, "
        "TIMESTAMP '2024-01-05 10:00:00' AS placed_at, 12.34565::DOUBLE AS amount",
        tz="Europe/Berlin",
    )
    assert typed == text
    row = dict(zip(("order_id", "customer_id"), typed[0][1:3], strict=True))
    assert row == {"order_id": "7", "customer_id": "42"}
    # 10:00 in Berlin in winter is 09:00 UTC; 12.34565 rounds half away to .3457
    assert str(typed[0][3]) == "2024-01-05 09:00:00"
    assert typed[0][4] == Decimal("12.3457")


@pytest.mark.parametrize("quantity_type", ["BIGINT", "DOUBLE", "FLOAT", "DECIMAL(10,3)"])
def test_typed_whole_numbers_read_as_their_text_is_read(tmp_path, quantity_type):
    values = ["1", "2.0", "2.5", "0", "-1", "1e20", "nan", "inf", "3.0000001", None]
    if quantity_type in ("BIGINT", "DECIMAL(10,3)"):
        values = [v for v in values if v not in ("1e20", "nan", "inf", "3.0000001", "2.5")
                  or quantity_type.startswith("DECIMAL") and v == "2.5"]  # fmt: skip
    select = (
        "SELECT 'O' || row_number() OVER () AS order_id, 'C1' AS customer_id, "
        f"'P1' AS product_id, CAST(quantity AS {quantity_type}) AS quantity, "
        f"12.5::DOUBLE AS unit_price FROM (SELECT {_values('quantity', values, 'VARCHAR')})"
    )
    (typed, _), (text, _) = _both(tmp_path, select, kind="order_items")
    assert len(typed) == len(values)
    assert typed == text
    reasons = {r[-2] for r in typed}
    assert "must be 1 or more" in reasons


def test_a_date_format_given_reads_typed_dates_as_text(tmp_path):
    """--date-format applies to the text: a typed date column is read as its
    text then, as before, and rows not in that format say so."""
    (typed, _), (text, _) = _both(
        tmp_path,
        "SELECT 'O1' AS order_id, 'C1' AS customer_id, "
        "TIMESTAMP '2024-01-05 10:00:00' AS placed_at, 12.5 AS amount",
        date_format="%d/%m/%Y",
    )
    assert typed == text
    assert typed[0][-2] == "is not a date in the format %d/%m/%Y"


def _quarantine(path) -> list[tuple]:
    """The rows of a quarantine file, lines counted from the first data row."""
    con = duckdb.connect()
    rows = con.execute(
        f"SELECT * EXCLUDE (_file) FROM read_csv({lit(str(path))}, all_varchar = true) "
        "ORDER BY CAST(_line AS BIGINT)"
    ).fetchall()
    first = int(rows[0][0])
    return [(int(r[0]) - first, *r[1:]) for r in rows]


def test_a_fit_from_a_typed_file_or_frame_keeps_and_rejects_what_its_text_does(tmp_path):
    """``tenure fit --orders FILE.parquet`` and Arrow tables read through the same
    checks: the same rows kept, the same quarantine rows with the same text."""
    import pyarrow.parquet as pq

    from tenure.given import read_orders

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        "CREATE TABLE t AS SELECT 'O' || i AS order_id, i % 3 AS customer_id, "
        "TIMESTAMP '2024-01-01 10:00:00' + INTERVAL (i * 7) HOUR AS placed_at, "
        "CASE i % 5 WHEN 0 THEN -2.5 WHEN 1 THEN 'nan'::DOUBLE WHEN 2 THEN NULL "
        "ELSE i * 1.25 END::DOUBLE AS amount FROM range(40) r(i)"
    )
    parquet, csv = tmp_path / "o.parquet", tmp_path / "o.csv"
    con.execute(f"COPY t TO {lit(str(parquet))} (FORMAT parquet)")
    con.execute(
        "COPY (SELECT order_id, CAST(customer_id AS VARCHAR) AS customer_id, "
        "CAST(placed_at AS VARCHAR) AS placed_at, CAST(amount AS VARCHAR) AS amount FROM t) "
        f"TO {lit(str(csv))} (FORMAT csv, HEADER true)"
    )
    # an Arrow table keeps NaN (pandas would make it a missing value)
    frame = pq.read_table(parquet)
    got = {}
    for name, data in (("parquet", parquet), ("csv", csv), ("frame", frame)):
        orders = read_orders(data)
        try:
            kept = orders.source.table("orders").order_by("order_id").to_pyarrow().to_pylist()
            got[name] = (
                orders.read,
                orders.rejected,
                kept,
                _quarantine(orders.rejected_file),
                [(r["column"], r["reason"]) for r in orders.reasons],
            )
        finally:
            orders.source.close()
    assert got["parquet"] == got["csv"] == got["frame"]
    read, rejected, kept, quarantined, _ = got["parquet"]
    # 40 rows: every fifth negative, every fifth NaN, every fifth missing
    assert (read, rejected, len(kept)) == (40, 24, 16)
    reasons = {r[3] for r in quarantined}
    assert reasons == {
        "is negative; record refunds with status refunded",
        "is not an amount (expected a number such as 1234.56)",
        "is missing (a value is required)",
    }
    assert ("amount", "nan") in {(r[1], r[2]) for r in quarantined}


def test_an_ingest_of_a_typed_parquet_file_keeps_exact_cents_and_quarantines_by_line(tmp_path):
    """The ingest reads a Parquet file where it lies (its rows are not copied
    first): cents come out exact, and a rejected row goes to the quarantine
    file with its line and its value as the file holds it."""
    from tenure.config import load_settings
    from tenure.ingestion.pipeline import ingest
    from tenure.store.workspace import Workspace

    path = tmp_path / "orders.parquet"
    duckdb.sql(
        "COPY (SELECT * FROM (VALUES "
        "('o1', 'c1', TIMESTAMP '2024-01-05 10:00:00', 0.10::DECIMAL(12,2)), "
        "('o2', 'c1', TIMESTAMP '2024-01-06 10:00:00', 1234567.89::DECIMAL(12,2)), "
        "('o3', 'c2', TIMESTAMP '2024-01-07 10:00:00', -0.01::DECIMAL(12,2)), "
        "('o4', 'c2', TIMESTAMP '2024-01-08 10:00:00', 0.29::DECIMAL(12,2))"
        ") t(order_id, customer_id, placed_at, amount)) "
        f"TO {lit(str(path))} (FORMAT parquet)"
    )
    store = tmp_path / "store"
    with Workspace.open(load_settings(store=store, reporting_currency="EUR")) as ws:
        result = ingest("orders", path, workspace=ws)
    assert (result.read, result.inserted, result.rejected) == (4, 3, 1)
    con = duckdb.connect(str(store / "analytics.duckdb"), read_only=True)
    try:
        stored = con.execute(
            "SELECT order_id, amount, amount_reporting, _line FROM orders ORDER BY order_id"
        ).fetchall()
        total = con.execute("SELECT sum(total) FROM customer_activity").fetchall()[0][0]
    finally:
        con.close()
    assert stored == [
        ("o1", Decimal("0.1000"), Decimal("0.1000"), 1),
        ("o2", Decimal("1234567.8900"), Decimal("1234567.8900"), 2),
        ("o4", Decimal("0.2900"), Decimal("0.2900"), 4),
    ]
    assert total == Decimal("1234568.2800")
    rejected = duckdb.sql(
        f"SELECT _line, _column, _value FROM read_csv({lit(result.quarantine)}, all_varchar = true)"
    )
    assert rejected.fetchall() == [("3", "amount", "-0.01")]
