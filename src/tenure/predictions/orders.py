"""Orders straight from a file or a DataFrame, for fitting without a store.

``tenure fit MODEL --orders FILE`` and the Python API read a CSV, Parquet or
JSON-lines file (or a pandas/polars/Arrow table) of orders with at least a
customer id, a date and an amount, mapped like ``tenure ingest`` (the same
column names and aliases, ``--map SRC=FIELD``). Columns that are already
typed (Parquet, DataFrames) are used as they are; text columns are parsed
with the ingest's own rules (date orders, decimal commas, currency signs).

Nothing is lost silently: a row without a usable customer, date or amount
is left out with its reason, and the caller writes those rows to a
quarantine file and says how many there were. An order id is optional; when
given, a repeated id keeps its first row and the others count as
duplicates.

Everything happens in an in-memory DuckDB database: the store is not
touched.
"""

from __future__ import annotations

from collections.abc import Mapping as MappingABC
from typing import Any

import ibis

from tenure.datamodel import KINDS
from tenure.engine.source import Source
from tenure.errors import InputError
from tenure.ingestion import coerce
from tenure.ingestion.quarantine import describe
from tenure.predictions import files
from tenure.predictions.files import RecordsData
from tenure.sqltext import lit, q

ORDERS = KINDS["orders"]
REQUIRED = ("customer_id", "placed_at", "amount")
OPTIONAL = ("order_id", "status")
IDS = ("customer_id", "order_id")
NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL")


# what read_orders gives: the same as for any file read for a fit
OrdersData = RecordsData


def read_orders(
    data: Any,
    *,
    map: MappingABC[str, str] | None = None,
    timezone: str = "UTC",
    currency: str = "EUR",
    date_format: str | None = None,
    date_order: str = "auto",
) -> OrdersData:
    """Read orders from ``data`` (a path or a table) into an in-memory engine.

    ``map`` maps the file's columns to fields (``{"Order Date": "placed_at"}``).
    Timestamps without an offset are read in ``timezone``.

    >>> orders = read_orders("orders.csv", map={"Total": "amount"})  # doctest: +SKIP
    >>> orders.source                                                # doctest: +SKIP
    """
    con = ibis.duckdb.connect()
    raw = con.con
    raw.execute("SET TimeZone = 'UTC'")
    raw.execute("SET enable_progress_bar = false")
    name = files.load(raw, data, "orders")
    columns = [r[0] for r in raw.execute("DESCRIBE src").fetchall() if r[0] != "_line"]
    types = {r[0]: r[1] for r in raw.execute("DESCRIBE src").fetchall()}
    found = files.resolve(ORDERS, columns, map or {}, name, REQUIRED, OPTIONAL)
    tz = lit(timezone)

    value: dict[str, str] = {}
    reason: dict[str, str] = {}
    for f, col in found.items():
        v, typ = q(col), types[col].upper()
        text = f"nullif(trim(CAST({v} AS VARCHAR)), '')"
        if f in IDS:
            value[f] = text
            continue
        if f == "placed_at":
            if typ.startswith("TIMESTAMP WITH TIME ZONE"):
                value[f] = f"timezone('UTC', {v})"
            elif typ.startswith("TIMESTAMP") or typ == "DATE":
                value[f] = coerce._in_zone(f"CAST({v} AS TIMESTAMP)", tz)
            else:
                group = coerce.ISO
                if not date_format:
                    group, _ = coerce.detect_date_group(raw, text, date_order, table="src")
                parsed = coerce.timestamp(text, group, tz, date_format)
                value[f], reason[f] = parsed.value, parsed.reason
            continue
        if f == "amount":
            if typ.startswith(NUMERIC):
                value[f] = f"CAST({v} AS DOUBLE)"
            else:
                comma = coerce.detect_decimal_comma(raw, text, table="src")
                parsed = coerce.amount(text, comma, "DOUBLE")
                value[f], reason[f] = parsed.value, parsed.reason
            continue
        value[f], reason[f] = _status(raw, text)

    def problems(ids_as_they_are: bool) -> list[tuple[str, str, str]]:
        """The first problem of each row, a missing value or one that cannot
        be read: (condition, column, reason), the same list whether the ids
        are read as they are or trimmed."""
        checks = []
        for f, col in found.items():
            trim = types[col].upper() == "VARCHAR" and not (ids_as_they_are and f in IDS)
            present = f"nullif(trim({q(col)}), '') IS NOT NULL" if trim else f"{q(col)} IS NOT NULL"
            if f in REQUIRED:
                checks.append((f"NOT ({present})", col, f"'is missing: {f} is needed'"))
            if f in reason:
                checks.append((f"{present} AND ({value[f]}) IS NULL", col, reason[f]))
        if "amount" in found:
            amount = value["amount"]
            checks.append(
                (f"isnan({amount}) OR isinf({amount})", found["amount"], "'is not a finite amount'")
            )
        return checks

    checks = problems(False)
    as_text = " ".join(f"WHEN {k} THEN CAST(s.{q(c[1])} AS VARCHAR)" for k, c in enumerate(checks))
    status = f"coalesce({value.get('status', 'NULL')}, 'completed')"

    def typed(v: dict[str, str], checks: list[tuple[str, str, str]]) -> str:
        problem = " ".join(f"WHEN {c} THEN {i}" for i, (c, _, _) in enumerate(checks))
        return (
            "SELECT _line, "
            f"{v.get('order_id', 'CAST(_line AS VARCHAR)')} AS order_id, "
            f"{v['customer_id']} AS customer_id, {v['placed_at']} AS placed_at, "
            f"{status} AS status, {v['amount']} AS amount_reporting, "
            f"CASE {problem} END AS _problem FROM src"
        )

    # one pass counts the rows, the rejected ones and the distinct order ids
    unique = "count(DISTINCT order_id) FILTER (_problem IS NULL)" if "order_id" in found else "0"
    counts = f"SELECT count(*), count(_problem), {unique}"
    if "placed_at" in reason or "amount" in reason:
        # text parsed row by row (dates, amounts) is parsed once, into a table
        raw.execute(f"CREATE TEMP TABLE _typed AS {typed(value, checks)}")
        read, rejected, distinct = raw.execute(f"{counts} FROM _typed").fetchall()[0]
    else:
        # Typed columns (Parquet, DataFrames) are read where they are: copying
        # millions of rows costs more than the queries that read them. Ids
        # that are ASCII without a space at either end and not empty are
        # what trimming would make them (DuckDB's trim removes the space and
        # Unicode spaces): when every id is such, the ids are read as they
        # are, here and in every query after, for trimming ten million of
        # them took a fifth of the time of this pass and again of grouping
        # the orders by customer and day.
        ids = {f: f"CAST({q(found[f])} AS VARCHAR)" for f in IDS if f in found}
        untrimmed = " + ".join(
            f"count(*) FILTER ({f} IS NOT NULL AND NOT (strlen({f}) = length({f}) "
            f"AND {f} <> '' AND NOT starts_with({f}, ' ') AND NOT ends_with({f}, ' ')))"
            for f in ids
        )
        view = typed(value | ids, problems(True))
        read, rejected, distinct, unclean = raw.execute(
            f"{counts}, {untrimmed} FROM ({view})"
        ).fetchall()[0]
        if unclean:  # some ids need trimming after all
            view = typed(value, checks)
            read, rejected, distinct = raw.execute(f"{counts} FROM ({view})").fetchall()[0]
        raw.execute(f"CREATE TEMP VIEW _typed AS {view}")
    read, rejected = int(read), int(rejected)
    if rejected:
        raw.execute(
            "CREATE TEMP TABLE _rejected AS SELECT s._line, "
            f"CASE t._problem {_literal_cases(checks, 1)} END AS _column, "
            f"CASE t._problem {as_text} END AS _value, "
            f"CASE t._problem {_literal_cases(checks, 2)} END AS _reason "
            "FROM _typed t JOIN src s USING (_line) WHERE t._problem IS NOT NULL"
        )
    else:
        raw.execute(
            "CREATE TEMP TABLE _rejected "
            "(_line BIGINT, _column VARCHAR, _value VARCHAR, _reason VARCHAR)"
        )
    good = "SELECT order_id, customer_id, placed_at, status, amount_reporting FROM _typed"
    if rejected:
        good += " WHERE _problem IS NULL"
    duplicates = int(read - rejected - distinct) if "order_id" in found else 0
    if duplicates:
        good += " QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY _line) = 1"
    raw.execute(f"CREATE VIEW orders AS {good}")
    reasons = [
        {"line": int(line), "column": col, "value": val, "reason": why}
        for line, col, val, why in raw.execute(
            "SELECT _line, _column, _value, _reason FROM _rejected ORDER BY _line LIMIT 5"
        ).fetchall()
    ]
    if read == 0:
        raise InputError("there are no orders in it.", hint="Export the orders again.", source=name)
    if rejected == read:
        raise InputError(
            f"none of the {read:,} rows can be used; the first: {describe(name, reasons[0])}",
            hint="Check the columns with --map SRC=FIELD, or the date format with --date-format.",
            source=name,
        )
    source = Source.from_ibis(con, {"orders": "orders"}, currency=currency, description=name)
    source._closer = con.disconnect
    return OrdersData(source, name, read, rejected, duplicates, reasons)


def _literal_cases(checks: list[tuple[str, str, str]], i: int) -> str:
    """WHEN k THEN the i-th part of check k, as a SQL literal (reasons are
    SQL already)."""
    return " ".join(f"WHEN {k} THEN {lit(c[i]) if i == 1 else c[i]}" for k, c in enumerate(checks))


def _status(raw: Any, text: str) -> tuple[str, str]:
    """The status as SQL: the ingest's rules applied to the few distinct
    texts of the column, then looked up, which is much faster on millions
    of rows than applying them to every row."""
    coerce.install_lookups(raw, {"status"})
    parsed = coerce.status("v")
    pairs = raw.execute(
        f"SELECT v, {parsed.value} FROM (SELECT DISTINCT {text} AS v FROM src) WHERE v IS NOT NULL"
    ).fetchall()
    if len(pairs) > 1000:  # not a status column; let every row say so
        return coerce.status(text).value, coerce.status(text).reason
    cases = " ".join(f"WHEN {lit(v)} THEN {lit(s) if s else 'NULL'}" for v, s in pairs)
    value = f"CASE {text} {cases} END" if cases else "NULL"
    return value, parsed.reason
