"""Type coercion as DuckDB SQL: for each field, an expression that reads the
raw text and one that says why it could not.

Formats that vary between exports (day-first or month-first dates, decimal
commas) are decided once per column from a sample, then applied to every
row by DuckDB.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import duckdb

from tenure.datamodel import ORDER_STATUSES, Field
from tenure.ingestion import identifiers
from tenure.sqltext import lit

SAMPLE = 20000

ISO = "iso"
# two-digit years first: %Y would read "24" as the year 24
DATE_GROUPS: dict[str, list[str]] = {
    "dmy": ["%d/%m/%y", "%d.%m.%y", "%d-%m-%y", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y"],
    "mdy": ["%m/%d/%y", "%m-%d-%y", "%m/%d/%Y", "%m-%d-%Y"],
    "ymd": ["%Y/%m/%d", "%Y.%m.%d", "%Y%m%d"],
}
DATE_SEPARATORS = ("/", ".", "-")  # no time suffix holds one
TIME_SUFFIXES = ["", " %H:%M", " %H:%M:%S", " %I:%M %p", " %I:%M:%S %p", "T%H:%M:%S"]
OFFSET_FORMATS = [
    "%Y-%m-%d %H:%M:%S %z",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S.%f%z",
    "%Y-%m-%d %H:%M:%S%z",
    "%Y-%m-%d %H:%M %z",
]
# an offset ends a time of day (10:00Z, 10:00:00+02:00, 10:00:00.5 -0530):
# a date alone (2024-01-05) ends like one (-05) but is a local date
HAS_OFFSET = r"\d:\d{2}(:\d{2}([.,]\d+)?)? ?(Z|z|[+-]\d{2}(:?\d{2})?)$"

STATUS_WORDS = {
    "completed": [
        "completed",
        "complete",
        "paid",
        "fulfilled",
        "success",
        "succeeded",
        "closed",
        "delivered",
        "shipped",
        "processed",
        "done",
    ],
    "pending": [
        "pending",
        "authorized",
        "processing",
        "open",
        "on-hold",
        "on_hold",
        "partially_paid",
        "unpaid",
        "awaiting_payment",
    ],
    "refunded": ["refunded", "refund", "returned", "fully_refunded"],
    "partially_refunded": [
        "partially_refunded",
        "partially refunded",
        "partial_refund",
        "partially-refunded",
        "partial refund",
    ],
    "cancelled": ["cancelled", "canceled", "voided", "void", "failed", "declined"],
}
TRUE_WORDS = [
    "true",
    "t",
    "yes",
    "y",
    "1",
    "on",
    "subscribed",
    "opted_in",
    "opt-in",
    "opted in",
    "granted",
    "x",
    "ja",
    "oui",
    "si",
    "sí",
]
FALSE_WORDS = [
    "false",
    "f",
    "no",
    "n",
    "0",
    "off",
    "unsubscribed",
    "not_subscribed",
    "opted_out",
    "opt-out",
    "opted out",
    "denied",
    "nein",
    "non",
]


def _list(words: list[str]) -> str:
    return "[" + ", ".join(lit(w) for w in words) + "]"


@dataclass(frozen=True)
class Parsed:
    value: str  # SQL: the typed value, NULL when missing or unreadable
    reason: str  # SQL: why a present value could not be read (NULL when it could)


def date_formats(group: str, with_time: bool) -> list[str]:
    formats = DATE_GROUPS[group]
    if not with_time:
        return formats
    return [f + t for f in formats for t in TIME_SUFFIXES]


def strptime_any(v: str, formats: list[str]) -> str:
    """SQL: ``try_strptime(v, formats)`` (the first format that reads ``v``),
    trying only the formats whose date separator ``v`` holds.

    A format can only read a value holding its separator (``/``, ``.`` or
    ``-``), as no specifier reads one of those characters, and a value
    holding one separator can only be read by the formats with it: so the
    first of those formats that reads it is the first of all. A day-first
    column is then tried against 12 formats per value, not 36."""
    groups: dict[str, list[str]] = {}
    for f in formats:
        groups.setdefault(next((c for c in DATE_SEPARATORS if c in f), ""), []).append(f)
    if len(groups) == 1:
        return f"try_strptime({v}, {_list(formats)})"
    cases = " ".join(
        f"WHEN contains({v}, {lit(sep)}) THEN try_strptime({v}, {_list(fs)})"
        for sep, fs in groups.items()
        if sep
    )
    rest = f"try_strptime({v}, {_list(groups[''])})" if "" in groups else "NULL"
    return f"CASE {cases} ELSE {rest} END"


def detect_date_group(
    con: duckdb.DuckDBPyConnection, expr: str, date_order: str, table: str = "raw"
) -> tuple[str, str | None]:
    """ISO, dmy, mdy or ymd for a column of date texts, and a warning if ambiguous."""
    sample = (
        f"(SELECT DISTINCT v FROM (SELECT nullif(trim({expr}), '') AS v FROM {table}) "
        f"WHERE v IS NOT NULL LIMIT {SAMPLE})"
    )
    iso = f"count(CASE WHEN {_iso_naive('v')} IS NOT NULL OR {_iso_offset('v')} IS NOT NULL THEN 1 END)"
    # a column all in ISO needs no other count (ISO wins ties): the costly
    # tries of every day-first and month-first format are skipped
    total, iso_hits = con.execute(f"SELECT count(*), {iso} FROM {sample}").fetchall()[0]
    if total == iso_hits:
        return ISO, None
    counts = {ISO: iso}
    for group in DATE_GROUPS:
        counts[group] = f"count(try_strptime(v, {_list(date_formats(group, True))}))"
    row = con.execute(
        "SELECT count(*), " + ", ".join(counts.values()) + f" FROM {sample}"
    ).fetchall()[0]
    total, hits = row[0], dict(zip(counts, row[1:], strict=True))
    if total == 0 or hits[ISO] >= max(hits.values()):
        return ISO, None
    if date_order in DATE_GROUPS:
        return date_order, None
    best = max(hits, key=lambda g: hits[g])
    if best in ("dmy", "mdy") and hits["dmy"] == hits["mdy"]:
        return "dmy", (
            "dates could be day-first or month-first (no day above 12 was seen); "
            "read as day-first. Pass --date-order mdy if they are month-first."
        )
    return best, None


def trimmed(v: str) -> str:
    """SQL: the text ``v`` trimmed (trim removes Unicode spaces), NULL when
    empty. A value that starts and ends with a printable ASCII character
    other than a space is its own trimmed form, and most values do: they are
    kept as they are, without the copy trim makes."""
    # texts compare byte by byte: a text from "!" up to (not including)
    # U+007F starts with one of "!" to "~". That, and the last character
    # taken by substr, cost half what left and right do (2M cells: 0.07
    # CPU s against 0.13)
    first = f"({v} >= '!' AND {v} < chr(127))"
    return (
        f"CASE WHEN {first} AND substr({v}, -1) BETWEEN '!' AND '~' THEN {v} "
        f"ELSE nullif(trim({v}), '') END"
    )


def _iso_naive(v: str) -> str:
    return f"try_cast({v} AS TIMESTAMP)"


def _iso_offset(v: str) -> str:
    return f"coalesce(try_cast({v} AS TIMESTAMPTZ), try_strptime({v}, {_list(OFFSET_FORMATS)}))"


def _in_zone(naive: str, tz: str) -> str:
    """A local wall-clock TIMESTAMP in zone ``tz`` (a SQL literal) as UTC."""
    if tz == "'UTC'":
        return naive
    return f"timezone('UTC', timezone({tz}, {naive}))"


def timestamp(v: str, group: str, tz: str, date_format: str | None) -> Parsed:
    """Text to a UTC TIMESTAMP; values without an offset are read in ``tz``."""
    if date_format:
        fmt = lit(date_format)
        if "%z" in date_format or "%Z" in date_format:
            value = f"timezone('UTC', try_strptime({v}, {fmt}))"
        else:
            value = _in_zone(f"try_strptime({v}, {fmt})::TIMESTAMP", tz)
        reason = f"'is not a date in the format {date_format}'"
        return Parsed(value, reason)
    if group == ISO:
        value = (
            f"CASE WHEN regexp_matches({v}, {lit(HAS_OFFSET)}) "
            f"THEN timezone('UTC', {_iso_offset(v)}) "
            f"ELSE {_in_zone(_iso_naive(v), tz)} END"
        )
        expected = "YYYY-MM-DD or YYYY-MM-DD HH:MM:SS"
    else:
        value = _in_zone(f"{strptime_any(v, date_formats(group, True))}::TIMESTAMP", tz)
        expected = {"dmy": "DD/MM/YYYY", "mdy": "MM/DD/YYYY", "ymd": "YYYY/MM/DD"}[group]
    reason = (
        f"'is not a date (expected {expected}, like the rest of the column); "
        "fix the value or pass --date-format'"
    )
    return Parsed(value, reason)


def date(v: str, group: str, date_format: str | None) -> Parsed:
    if date_format:
        return Parsed(
            f"try_strptime({v}, {lit(date_format)})::DATE",
            f"'is not a date in the format {date_format}'",
        )
    if group == ISO:
        value = f"coalesce(try_cast({v} AS DATE), try_cast({_iso_offset(v)} AS DATE))"
        expected = "YYYY-MM-DD"
    else:
        value = f"{strptime_any(v, date_formats(group, True))}::DATE"
        expected = {"dmy": "DD/MM/YYYY", "mdy": "MM/DD/YYYY", "ymd": "YYYY/MM/DD"}[group]
    return Parsed(
        value, f"'is not a date (expected {expected}); fix the value or pass --date-format'"
    )


def detect_decimal_comma(con: duckdb.DuckDBPyConnection, expr: str, table: str = "raw") -> bool:
    """True when the column writes decimals with a comma (12,50 or 1.234,56)."""
    cleaned = _strip_money(f"nullif(trim({expr}), '')")
    sample = f"(SELECT {cleaned} AS v FROM {table} WHERE nullif(trim({expr}), '') IS NOT NULL LIMIT {SAMPLE})"
    row = con.execute(
        "SELECT count(CASE WHEN regexp_matches(v, '^[+-]?[0-9.]*,[0-9]{1,2}$') OR "
        "regexp_matches(v, '^[+-]?[0-9]{1,3}(\\.[0-9]{3})+(,[0-9]+)?$') THEN 1 END), "
        "count(CASE WHEN regexp_matches(v, '^[+-]?[0-9,]*\\.[0-9]+$') THEN 1 END) "
        f"FROM {sample}"
    ).fetchall()[0]
    return row[0] > row[1]


def ambiguous_thousands(
    con: duckdb.DuckDBPyConnection, expr: str, decimal_comma: bool, table: str = "raw"
) -> str | None:
    """A warning when values such as 1.234 in a decimal-comma column (or 1,234
    in a decimal-point one) are read as thousands, though they could be decimals."""
    cleaned = _strip_money(f"nullif(trim({expr}), '')")
    sep = "." if decimal_comma else ","
    mark = "\\." if decimal_comma else ","
    pattern = f"^[+-]?[0-9]{{1,3}}({mark}[0-9]{{3}})+$"
    # the pattern needs the mark, and cleaning only removes characters: rows
    # without the mark are set aside before the costly cleaning
    row = con.execute(
        f"SELECT count(*), min(v), min(_line) FROM (SELECT _line, {cleaned} AS v FROM {table} "
        f"WHERE contains({expr}, '{sep}')) "
        f"WHERE regexp_matches(v, '{pattern}')"
    ).fetchall()[0]
    if not row[0]:
        return None
    n, example = int(row[0]), row[1]
    other = "comma" if decimal_comma else "point"
    read = example.replace(sep, "")
    return (
        f"{n:,} value{'s' if n > 1 else ''} such as '{example}' (first on line {row[2]}) "
        f"could be a thousands separator or a decimal {'point' if decimal_comma else 'comma'}; "
        f"read as {read}, since the column writes decimals with a {other}. "
        f"If '{sep}' is a decimal mark there, fix those values."
    )


def _strip_money(v: str) -> str:
    # currency signs and codes, spaces (also non-breaking), apostrophes as thousands marks
    return (
        f"regexp_replace(regexp_replace({v}, '^[A-Za-z]{{3}}\\s*|\\s*[A-Za-z]{{3}}$', ''), "
        "'[\\s\u00a0\u202f''$€£¥₹₩₽¢]|R\\$|kr', '', 'g')"
    )


# a plain number, such as most cells are: nothing to strip, no thousands mark
PLAIN_NUMBER = {False: r"^[+-]?[0-9]+(\.[0-9]+)?$", True: r"^[+-]?[0-9]+(,[0-9]+)?$"}


def cleaned_amount(v: str, decimal_comma: bool, sql_type: str = "DECIMAL(18,4)") -> str:
    """SQL: the amount written in ``v``, its currency signs and codes, spaces
    and thousands marks removed; NULL when it is not one."""
    s = _strip_money(v)
    # a thousands separator only counts between groups of three digits, so
    # "12,5" in a column of decimal points is refused, never read as 125
    if decimal_comma:
        grouped = r"^[+-]?[0-9]{1,3}(\.[0-9]{3})+(,[0-9]*)?$"
        s = (
            f"CASE WHEN NOT contains({s}, '.') OR regexp_matches({s}, '{grouped}') "
            f"THEN replace(replace({s}, '.', ''), ',', '.') END"
        )
    else:
        grouped = r"^[+-]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]*)?$"
        s = (
            f"CASE WHEN NOT contains({s}, ',') OR regexp_matches({s}, '{grouped}') "
            f"THEN replace({s}, ',', '') END"
        )
    return f"try_cast({s} AS {sql_type})"


def amount(v: str, decimal_comma: bool, sql_type: str = "DECIMAL(18,4)") -> Parsed:
    # a plain number is cast at once (the cleaning would leave it as it is,
    # its decimal comma made a point); only the others are cleaned
    plain = f"replace({v}, ',', '.')" if decimal_comma else v
    value = (
        f"CASE WHEN regexp_matches({v}, {lit(PLAIN_NUMBER[decimal_comma])}) "
        f"THEN try_cast({plain} AS {sql_type}) "
        f"ELSE {cleaned_amount(v, decimal_comma, sql_type)} END"
    )
    example = "1.234,56" if decimal_comma else "1234.56"
    return Parsed(value, f"'is not an amount (expected a number such as {example})'")


def integer(v: str) -> Parsed:
    value = (
        f"CASE WHEN try_cast({v} AS DOUBLE) = round(try_cast({v} AS DOUBLE)) "
        f"THEN try_cast(try_cast({v} AS DOUBLE) AS BIGINT) END"
    )
    return Parsed(value, "'is not a whole number'")


def number(v: str) -> Parsed:
    return Parsed(
        f"try_cast(replace({v}, ',', '.') AS DOUBLE)",
        "'is not a number'",
    )


def boolean(v: str) -> Parsed:
    low = f"lower({v})"
    value = (
        f"CASE WHEN list_contains({_list(TRUE_WORDS)}, {low}) THEN true "
        f"WHEN list_contains({_list(FALSE_WORDS)}, {low}) THEN false END"
    )
    return Parsed(value, "'is not yes/no (use true or false)'")


def status(v: str) -> Parsed:
    low = f"lower({v})"
    cases = " ".join(
        f"WHEN list_contains({_list(words)}, {low}) THEN {lit(name)}"
        for name, words in STATUS_WORDS.items()
    )
    return Parsed(
        f"CASE {cases} END",
        f"'is not an order status (use one of: {', '.join(ORDER_STATUSES)})'",
    )


def survey_kind(v: str) -> Parsed:
    return Parsed(
        f"CASE WHEN list_contains(['nps', 'csat', 'ces'], lower({v})) THEN lower({v}) END",
        "'is not a survey kind (use nps, csat or ces)'",
    )


def email(v: str, normal_form: str | None = None) -> Parsed:
    return Parsed(*identifiers.email(v, normal_form))


def identifier(v: str) -> Parsed:
    return Parsed(*identifiers.identifier(v))


def text(v: str) -> Parsed:
    return Parsed(v, "NULL")


def json_object(v: str) -> Parsed:
    return Parsed(
        f"CASE WHEN json_valid({v}) AND json_type({v}) = 'OBJECT' THEN json({v}) END",
        "'is not a JSON object'",
    )


def country(v: str) -> Parsed:
    return Parsed(
        f"(SELECT code FROM _countries WHERE name = lower({v}))",
        "'is not a country (use ISO 3166 codes such as DE, or English names)'",
    )


def currency(v: str) -> Parsed:
    # a membership test, not a lookup: a correlated subquery here would copy
    # every row aside to join it back
    return Parsed(
        f"CASE WHEN upper({v}) IN (SELECT code FROM _currencies) THEN upper({v}) END",
        "'is not an ISO 4217 currency code (such as EUR, USD)'",
    )


def timezone_name(v: str) -> Parsed:
    return Parsed(
        f"(SELECT name FROM _zones WHERE lname = lower({v}))",
        "'is not an IANA time zone (such as Europe/Berlin)'",
    )


def locale(v: str) -> Parsed:
    pattern = r"^([A-Za-z]{2,3})(?:[-_]([A-Za-z]{4}))?(?:[-_]([A-Za-z]{2}|[0-9]{3}))?$"
    p = lit(pattern)
    value = (
        f"CASE WHEN regexp_matches({v}, {p}) THEN concat_ws('-', "
        f"lower(regexp_extract({v}, {p}, 1)), "
        f"nullif(upper(left(regexp_extract({v}, {p}, 2), 1)) || "
        f"lower(substr(regexp_extract({v}, {p}, 2), 2)), ''), "
        f"nullif(upper(regexp_extract({v}, {p}, 3)), '')) END"
    )
    return Parsed(value, "'is not a locale (use a BCP 47 tag such as de-DE)'")


@lru_cache(maxsize=1)
def _country_rows() -> list[tuple[str, str]]:
    from babel import Locale

    territories = Locale("en").territories
    rows = {}
    for code, name in territories.items():
        if len(code) == 2 and code.isalpha():
            rows[code.lower()] = code
            rows[name.lower()] = code
    for alias, code in {
        "usa": "US",
        "united states of america": "US",
        "uk": "GB",
        "great britain": "GB",
        "england": "GB",
        "deutschland": "DE",
        "holland": "NL",
        "russia": "RU",
        "south korea": "KR",
    }.items():
        rows[alias] = code
    return sorted(rows.items())


@lru_cache(maxsize=1)
def _currency_codes() -> list[str]:
    from babel.numbers import list_currencies

    return sorted(list_currencies())


def install_lookups(con: duckdb.DuckDBPyConnection, types: set[str]) -> None:
    """Small lookup tables the expressions above refer to."""
    # each table in one statement from lists: a row at a time (executemany)
    # took 60 ms for the currencies, a tenth of a small ingest's own work
    if "country" in types:
        rows = _country_rows()
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _countries AS SELECT unnest(?::VARCHAR[]) AS name, "
            "unnest(?::VARCHAR[]) AS code",
            [[name for name, _ in rows], [code for _, code in rows]],
        )
    if "currency" in types:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _currencies AS SELECT unnest(?::VARCHAR[]) AS code",
            [_currency_codes()],
        )
    if "timezone" in types:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _zones AS "
            "SELECT name, lower(name) AS lname FROM pg_timezone_names()"
        )


# Source columns that are typed already (Parquet, Arrow, DataFrames) and
# read as they are: the values a typed column can hold are those its text
# would be read as, so the typed reading gives the text path's values and
# reasons without writing every value out as text and parsing it back.
TEMPORAL = (
    "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "DATE",
    "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S",
)  # fmt: skip
WHOLE = (
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
    "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT",
)  # fmt: skip
# a binary float's text is read back as the nearest decimal of its shortest
# text, not its binary value: amounts of such columns still go through text
FLOATING = ("DOUBLE", "FLOAT")


def is_exact(sql_type: str) -> bool:
    """An integer or a DECIMAL: its value is read exactly as its text is."""
    return sql_type in WHOLE or sql_type.startswith("DECIMAL")


def kept_type(sql_type: str) -> bool:
    """Whether readers keep a source column of this DuckDB type as it is
    (others are read as their text)."""
    return sql_type in ("VARCHAR", *TEMPORAL, *FLOATING) or is_exact(sql_type)


def typed_cell(field: Field, sql_type: str, date_format: str | None) -> bool:
    """Whether ``field`` reads a column of ``sql_type`` as it is, not as text."""
    t = field.type
    if t in ("timestamp", "date"):
        return sql_type in TEMPORAL and not date_format
    if t in ("amount", "rate", "integer", "number"):
        return is_exact(sql_type) or sql_type in FLOATING
    if t == "id":
        return sql_type in WHOLE
    return False


def _micros(v: str, sql_type: str) -> str:
    """SQL: a naive timestamp column as a TIMESTAMP (microseconds). A
    nanosecond's text is read to the microsecond below it, where a CAST
    would round: its text is cut, so the time is floored here too."""
    if sql_type in ("TIMESTAMP", "TIMESTAMP WITH TIME ZONE"):
        return v
    if sql_type != "TIMESTAMP_NS":
        return f"CAST({v} AS TIMESTAMP)"
    ns = f"epoch_ns({v})"
    floored = f"make_timestamp(({ns} - ((({ns} % 1000) + 1000) % 1000)) // 1000)"
    return f"CASE WHEN isfinite({v}) THEN {floored} ELSE CAST({v} AS TIMESTAMP) END"


def parse_typed(field: Field, v: str, sql_type: str, *, tz: str = "'UTC'") -> Parsed:
    """What :func:`parse` gives for the text of each value of ``v``, a column
    of ``sql_type`` (see :func:`typed_cell`), read without the text.

    - A TIMESTAMP's text has no offset: it is wall-clock time in ``tz``, as a
      naive text is; a TIMESTAMP WITH TIME ZONE's has one: it is an instant;
      a DATE is read as its text is (see below). Every such text is ISO, so the column's
      date format is ISO and its reasons ISO's.
    - A number's text has no currency, spaces or thousands marks, and no
      comma, so the column writes decimals with a point.
    - A whole number's text is a plain identifier: no control characters,
      at most 40 characters."""
    t = field.type
    if t == "timestamp":
        iso = timestamp("v", ISO, tz, None)
        if sql_type == "TIMESTAMP WITH TIME ZONE":
            value = f"timezone('UTC', {v})"
        elif sql_type == "DATE":
            # midnight of that day in ``tz``, as a date's text is read
            value = _in_zone(f"CAST({v} AS TIMESTAMP)", tz)
        else:
            value = _in_zone(_micros(v, sql_type), tz)
        return Parsed(value, iso.reason)
    if t == "date":
        return Parsed(f"CAST({_micros(v, sql_type)} AS DATE)", date("v", ISO, None).reason)
    if t in ("amount", "rate"):
        sql = "DECIMAL(18,8)" if t == "rate" else "DECIMAL(18,4)"
        cell = v if is_exact(sql_type) else f"CAST({v} AS VARCHAR)"
        return Parsed(f"try_cast({cell} AS {sql})", amount("v", False, sql).reason)
    if t in ("integer", "number"):
        # a FLOAT is widened as its text is read: to the DOUBLE nearest its text
        as_double = (
            f"try_cast(CAST({v} AS VARCHAR) AS DOUBLE)"
            if sql_type == "FLOAT"
            else f"CAST({v} AS DOUBLE)"
        )
        if t == "number":
            return Parsed(as_double, number("v").reason)
        value = (
            f"CASE WHEN {as_double} = round({as_double}) THEN try_cast({as_double} AS BIGINT) END"
        )
        return Parsed(value, integer("v").reason)
    if t == "id":
        return Parsed(f"CAST({v} AS VARCHAR)", "NULL")
    raise ValueError(f"{field.name} ({t}) does not read a {sql_type} column as it is")


def parse(
    field: Field,
    v: str,
    *,
    group: str = ISO,
    tz: str = "'UTC'",
    date_format: str | None = None,
    decimal_comma: bool = False,
    normal_form: str | None = None,
) -> Parsed:
    t = field.type
    if t == "id":
        return identifier(v)
    if t == "timestamp":
        return timestamp(v, group, tz, date_format)
    if t == "date":
        return date(v, group, date_format)
    if t == "amount":
        return amount(v, decimal_comma)
    if t == "rate":
        return amount(v, decimal_comma, "DECIMAL(18,8)")
    if t == "integer":
        return integer(v)
    if t == "number":
        return number(v)
    if t == "bool":
        return boolean(v)
    if t == "status":
        return status(v)
    if t == "survey_kind":
        return survey_kind(v)
    if t == "email":
        return email(v, normal_form)
    if t == "json":
        return json_object(v)
    if t == "country":
        return country(v)
    if t == "currency":
        return currency(v)
    if t == "timezone":
        return timezone_name(v)
    if t == "locale":
        return locale(v)
    return text(v)
