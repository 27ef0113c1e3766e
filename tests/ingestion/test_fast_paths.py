"""The typing pass's cheap first tests read every value as the full cleaning
reads it: the shortcut for plain numbers gives the amount the cleaning gives,
and the shortcut for values with nothing to trim gives trim's answer."""

from __future__ import annotations

import duckdb
import pytest

from tenure.ingestion import coerce

VALUES = [
    "12",
    "12.50",
    "+7",
    "-0",
    "007",
    "12.",
    ".5",
    "-.5",
    "+-1",
    "1.2.3",
    "1,234.50",
    "1,234",
    "12,5",
    "1.234,56",
    "1.234",
    "€ 12.50",
    "USD 10",
    "10 EUR",
    "$1,000",
    "1'234.50",
    "R$ 5,00",
    "5 kr",
    "1e3",
    "1E-2",
    "1_000",
    "+.5",
    "0x10",
    "NaN",
    "inf",
    "Infinity",
    "1d",
    "12 EUR",
    "EUR12",
    "99999999999999.9999",
    "999999999999999",
    "0.00001",
    "12\t",
    "\u00a012",
    "1 234,56",
    "\uff11\uff12",  # full-width digits
    "٣",  # an Arabic-Indic digit
    "",
    None,
]


def _both(
    con: duckdb.DuckDBPyConnection, fast: str, slow: str, values: list[str | None]
) -> list[tuple]:
    con.execute("CREATE OR REPLACE TABLE t (v VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?)", [(v,) for v in values])
    return con.execute(f"SELECT v, {fast}, {slow} FROM t").fetchall()


@pytest.mark.parametrize("decimal_comma", [False, True])
@pytest.mark.parametrize("sql_type", ["DECIMAL(18,4)", "DECIMAL(18,8)"])
def test_plain_numbers_read_as_the_cleaning_reads_them(decimal_comma, sql_type):
    con = duckdb.connect()
    fast = coerce.amount("v", decimal_comma, sql_type).value
    slow = coerce.cleaned_amount("v", decimal_comma, sql_type)
    rows = _both(con, fast, slow, VALUES)
    assert [r for r in rows if r[1] != r[2]] == []
    # and the shortcut is taken: plain numbers are read at all
    read = {v for v, got, _ in rows if got is not None}
    assert {"12", "+7", "-0", "007"} <= read


def test_values_with_nothing_to_trim_are_kept_as_trim_keeps_them():
    con = duckdb.connect()
    extra = [" a", "a ", "\u3000a", "a\u00a0", "\u2003", "\ta", "a\t", "é", "aé", "éa", " ", "a"]
    extra += [
        "!",
        "~",
        "!a~",
        "\x7fa",
        "a\x7f",
        "\x7f",
        "\x20\x7e",
        "~\u00a0",
        "\U0001f600a",
        "a\U0001f600",
    ]
    rows = _both(con, coerce.trimmed("v"), "nullif(trim(v), '')", VALUES + extra)
    assert [r for r in rows if r[1] != r[2]] == []
    assert ("\u3000a", "a", "a") in rows and ("\ta", "\ta", "\ta") in rows


DATES = [
    "31/01/2024",
    "01/31/2024",
    "31.01.24",
    "31-01-2024 10:20",
    "1/2/24",
    " 1/2/24",
    "01/02/2024  10:20",
    "2024/01/31",
    "2024.01.31 10:20:30",
    "2024-01-31",
    "20240131",
    "19970101",
    "20240131T10:20:30",
    "01/02/2024 10:20 PM",
    "01-02-2024 10:20 pm",
    "01-02-2024 10:20 P.M.",
    "01/02.2024",
    "01.02-2024",
    "2024/01-31",
    "-2024/01/02",
    "31/02/2024",
    "yesterday",
    "",
    None,
]


@pytest.mark.parametrize("group", sorted(coerce.DATE_GROUPS))
def test_dates_are_tried_only_against_the_formats_of_their_separator(group):
    con = duckdb.connect()
    formats = coerce.date_formats(group, True)
    fast = coerce.strptime_any("v", formats)
    slow = f"try_strptime(v, [{', '.join(repr(f) for f in formats)}])"
    rows = _both(con, fast, slow, DATES)
    assert [r for r in rows if r[1] != r[2]] == []
    assert sum(r[1] is not None for r in rows) >= 4  # some dates of each group are read
