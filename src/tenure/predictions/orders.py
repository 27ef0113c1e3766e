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

from tenure.datamodel import KINDS
from tenure.ingestion import coerce
from tenure.predictions import files
from tenure.predictions.files import RecordsData
from tenure.sqltext import lit, q

ORDERS = KINDS["orders"]
REQUIRED = ("customer_id", "placed_at", "amount")
OPTIONAL = ("order_id", "status", "currency")
IDS = ("customer_id", "order_id")


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
    Timestamps without an offset are read in ``timezone``. The amounts are
    in ``currency``, or in the one currency of a currency column; a column
    with several makes the currency ``"mixed"`` and is counted in
    ``currencies``, for the fits that add amounts up refuse them
    (:meth:`RecordsData.check_one_currency`).

    >>> orders = read_orders("orders.csv", map={"Total": "amount"})  # doctest: +SKIP
    >>> orders.source                                                # doctest: +SKIP
    """
    con, raw = files.connect()
    name = files.load(raw, data, "orders")
    types = files.column_types(raw)
    found = files.resolve(ORDERS, list(types), map or {}, name, REQUIRED, OPTIONAL)
    tz = lit(timezone)

    value: dict[str, str] = {}
    reason: dict[str, str] = {}
    for f, col in found.items():
        typ = types[col]
        if f in IDS:
            value[f] = files.text_sql(col)
            continue
        if f == "currency":
            continue
        if f == "placed_at":
            v, why = files.timestamp_sql(raw, col, typ, tz, date_format, date_order)
        elif f == "amount":
            v, why = files.amount_sql(raw, col, typ)
        else:
            v, why = _status(raw, files.text_sql(col))
        value[f] = v
        if why is not None:
            reason[f] = why

    def problems(ids_as_they_are: bool) -> list[tuple[str, str, str]]:
        """The first problem of each row, a missing value or one that cannot
        be read: (condition, column, reason), the same list whether the ids
        are read as they are or trimmed."""
        checks = []
        for f, col in found.items():
            if f == "currency":
                continue
            typ = "ID" if ids_as_they_are and f in IDS else types[col]
            present = files.present_sql(col, typ)
            if f in REQUIRED:
                checks.append((f"NOT ({present})", col, f"'is missing: {f} is needed'"))
            if f in reason:
                checks.append((f"{present} AND ({value[f]}) IS NULL", col, reason[f]))
        amount = value["amount"]
        checks.append(
            (f"isnan({amount}) OR isinf({amount})", found["amount"], "'is not a finite amount'")
        )
        return checks

    def typed(v: dict[str, str], checks: list[tuple[str, str, str]]) -> str:
        # an order without an id is an order of its own: its line stands in
        line = "'#' || CAST(_line AS VARCHAR)"
        order_id = f"coalesce({v['order_id']}, {line})" if "order_id" in v else line
        return files.typed_select(
            {
                "order_id": order_id,
                "customer_id": v["customer_id"],
                "placed_at": v["placed_at"],
                "status": f"coalesce({v.get('status', 'NULL')}, 'completed')",
                "amount_reporting": v["amount"],
            },
            checks,
        )

    checks = problems(False)
    key = "order_id" if "order_id" in found else None
    if reason:
        # text parsed row by row (dates, amounts) is parsed once, into a table
        counts = files.reject(raw, typed(value, checks), checks, key)
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
        *counts, unclean = raw.execute(
            f"{files.counts_sql(key, untrimmed)} FROM ({view})"
        ).fetchall()[0]
        if unclean:  # some ids need trimming after all
            view = typed(value, checks)
            counts = raw.execute(f"{files.counts_sql(key)} FROM ({view})").fetchall()[0]
        raw.execute(f"CREATE TEMP VIEW _typed AS {view}")
        counts = tuple(int(c) for c in counts)
        files.rejected_table(raw, checks, bool(counts[1]))
    read, rejected, duplicates, first = files.finish(
        raw,
        "orders",
        ["order_id", "customer_id", "placed_at", "status", "amount_reporting"],
        key,
        counts,
        name,
        "orders",
        "Check the columns with --map SRC=FIELD, or the date format with --date-format.",
    )
    currencies = _currencies(raw, found.get("currency"))
    if len(currencies) == 1:
        currency = next(iter(currencies))
    elif currencies:  # not converted: a fit that adds no amounts up says so
        currency = "mixed"
    source = files.source_over(con, {"orders": "orders"}, currency, name)
    return OrdersData(source, name, read, rejected, duplicates, first, currencies=currencies)


def _currencies(raw: Any, col: str | None) -> dict[str, int]:
    """The codes of the usable rows' currency column, most rows first."""
    if col is None:
        return {}
    code = f"upper({files.text_sql(col)})"
    rows = raw.execute(
        f"SELECT {code} AS c, count(*) AS n FROM _typed JOIN src USING (_line) "
        "WHERE _problem IS NULL AND c IS NOT NULL GROUP BY c ORDER BY n DESC, c"
    ).fetchall()
    return {c: int(n) for c, n in rows}


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
