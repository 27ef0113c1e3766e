"""Records straight from a file or a DataFrame, for fitting without a store.

``tenure fit MODEL --orders FILE`` (or ``--subscriptions FILE``) and the
Python API read a CSV, Parquet or JSON-lines file, or a pandas/polars/Arrow
table, mapped like ``tenure ingest``: the same column names and aliases,
``--map SRC=FIELD``. Columns that are already typed (Parquet, DataFrames)
are used as they are; text columns are parsed with the ingest's own rules
(date orders, decimal commas, currency signs).

Nothing is lost silently: a row without a usable required value is left
out with its reason, and the caller writes those rows to a quarantine file
and says how many there were. A repeated id keeps its first row and the
others count as duplicates.

Everything happens in an in-memory DuckDB database: the store is not
touched.
"""

from __future__ import annotations

import csv
import warnings
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import ibis

from tenure.datamodel import Kind
from tenure.engine.source import RejectedRowsWarning, Source
from tenure.errors import InputError
from tenure.ingestion import coerce
from tenure.ingestion import mapping as mapping_mod
from tenure.ingestion.quarantine import describe
from tenure.ingestion.readers import detect_format
from tenure.ingestion.sources import _to_arrow
from tenure.sqltext import lit, q

NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL")


@dataclass
class RecordsData:
    """What a reader read: a :class:`Source` over the usable rows, and the
    counts and reasons of the rows left out."""

    source: Source
    name: str
    read: int
    rejected: int
    duplicates: int
    reasons: list[dict[str, Any]] = field(default_factory=list)
    quarantine: Path | None = None
    # the currencies of a currency column, with their numbers of rows
    currencies: dict[str, int] = field(default_factory=dict)

    def write_rejected(self, path: Path | str) -> Path:
        """Write the rejected rows (line, column, value, reason) to a CSV file."""
        path = Path(path)
        rows = self.source.con.con.execute(
            "SELECT _line, _column, _value, _reason FROM _rejected ORDER BY _line"
        ).fetchall()
        with path.open("w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            out.writerow(["_line", "_column", "_value", "_reason"])
            out.writerows(rows)
        return path

    def warn(self) -> None:
        if not self.rejected:
            return
        first = "; ".join(describe(self.name, r) for r in self.reasons[:3])
        where = f" All of them: {self.quarantine}" if self.quarantine else ""
        warnings.warn(
            f"{self.rejected:,} of {self.read:,} rows of {self.name} were left out: {first}."
            f"{where}",
            RejectedRowsWarning,
            stacklevel=3,
        )

    def check_one_currency(self, use: str) -> None:
        """Refuse amounts in several currencies where ``use`` adds them up."""
        if len(self.currencies) <= 1:
            return
        shown = ", ".join(
            f"{c} ({n:,} row{'s' * (n != 1)})" for c, n in list(self.currencies.items())[:5]
        )
        if len(self.currencies) > 5:
            shown += f" and {len(self.currencies) - 5} more"
        raise InputError(
            f"its amounts are in {len(self.currencies)} currencies: {shown}; {use} adds "
            "amounts up, so they must be in one currency.",
            hint="Ingest the file (`tenure ingest orders FILE` converts every amount into the "
            "reporting currency) and fit from the store, or keep the rows of one currency.",
            source=self.name,
            code="mixed_currencies",
        )

    def summary(self) -> dict[str, Any]:
        """The counts for a command's JSON."""
        return {
            "source": self.name,
            "rows": self.read,
            "rejected": self.rejected,
            "duplicates": self.duplicates,
            "quarantine": str(self.quarantine) if self.quarantine else None,
            "first_rejected": self.reasons[:3],
            "currencies": self.currencies,
        }


def connect() -> tuple[ibis.BaseBackend, duckdb.DuckDBPyConnection]:
    """An in-memory engine for one file."""
    con = ibis.duckdb.connect()
    raw = con.con
    raw.execute("SET TimeZone = 'UTC'")
    raw.execute("SET enable_progress_bar = false")
    return con, raw


def column_types(raw: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The columns of ``src`` (without ``_line``) and their types."""
    return {r[0]: r[1].upper() for r in raw.execute("DESCRIBE src").fetchall() if r[0] != "_line"}


def timestamp_sql(
    raw: duckdb.DuckDBPyConnection,
    col: str,
    typ: str,
    tz: str,
    date_format: str | None,
    date_order: str,
) -> tuple[str, str | None]:
    """A column as a UTC timestamp: (SQL value, SQL reason when it is NULL)."""
    v = q(col)
    if typ.startswith("TIMESTAMP WITH TIME ZONE"):
        return f"timezone('UTC', {v})", None
    if typ.startswith("TIMESTAMP") or typ == "DATE":
        return coerce._in_zone(f"CAST({v} AS TIMESTAMP)", tz), None
    text = f"nullif(trim(CAST({v} AS VARCHAR)), '')"
    group = coerce.ISO
    if not date_format:
        group, _ = coerce.detect_date_group(raw, text, date_order, table="src")
    parsed = coerce.timestamp(text, group, tz, date_format)
    return parsed.value, parsed.reason


def amount_sql(raw: duckdb.DuckDBPyConnection, col: str, typ: str) -> tuple[str, str | None]:
    """A column as a DOUBLE amount: (SQL value, SQL reason when it is NULL)."""
    v = q(col)
    if typ.startswith(NUMERIC):
        return f"CAST({v} AS DOUBLE)", None
    text = f"nullif(trim(CAST({v} AS VARCHAR)), '')"
    comma = coerce.detect_decimal_comma(raw, text, table="src")
    parsed = coerce.amount(text, comma, "DOUBLE")
    return parsed.value, parsed.reason


def text_sql(col: str) -> str:
    return f"nullif(trim(CAST({q(col)} AS VARCHAR)), '')"


def present_sql(col: str, typ: str) -> str:
    """SQL true when the column has a value in this row."""
    return (
        f"nullif(trim({q(col)}), '') IS NOT NULL" if typ == "VARCHAR" else f"{q(col)} IS NOT NULL"
    )


def typed_select(values: dict[str, str], checks: list[tuple[str, str, str]]) -> str:
    """SELECT of ``_line``, ``values`` (output column -> SQL over ``src``)
    and ``_problem``, the index of the first check that failed. ``checks``
    are (SQL condition over ``src``, the file's column, SQL reason)."""
    problem = " ".join(f"WHEN {c} THEN {i}" for i, (c, _, _) in enumerate(checks))
    columns = ", ".join(f"{v} AS {q(k)}" for k, v in values.items())
    return (
        f"SELECT _line, {columns}, CASE {problem or 'WHEN false THEN 0'} END AS _problem FROM src"
    )


def counts_sql(key: str | None, extra: str = "") -> str:
    """One pass over ``_typed``: rows, rows with a problem, distinct keys of
    the usable rows (0 without a key), then ``extra``."""
    unique = f"count(DISTINCT {q(key)}) FILTER (_problem IS NULL)" if key else "0"
    return f"SELECT count(*), count(_problem), {unique}{', ' + extra if extra else ''}"


def reject(
    raw: duckdb.DuckDBPyConnection,
    select: str,
    checks: list[tuple[str, str, str]],
    key: str | None,
) -> tuple[int, int, int]:
    """Parse ``src`` once into the table ``_typed`` (``select``, as
    :func:`typed_select` makes it from ``checks``) and list the rows with a
    problem in ``_rejected``; (rows, rejected, distinct keys of the rest)."""
    raw.execute(f"CREATE TEMP TABLE _typed AS {select}")
    read, rejected, distinct = raw.execute(f"{counts_sql(key)} FROM _typed").fetchall()[0]
    rejected_table(raw, checks, bool(rejected))
    return int(read), int(rejected), int(distinct)


def rejected_table(
    raw: duckdb.DuckDBPyConnection, checks: list[tuple[str, str, str]], any_rejected: bool
) -> None:
    """``_rejected``: the line, column, value and reason of each row of
    ``_typed`` with a problem (empty, without a query, when there is none)."""
    if not any_rejected:
        raw.execute(
            "CREATE TEMP TABLE _rejected (_line BIGINT, _column VARCHAR, _value VARCHAR, "
            "_reason VARCHAR)"
        )
        return
    shown = " ".join(f"WHEN {k} THEN CAST(s.{q(c[1])} AS VARCHAR)" for k, c in enumerate(checks))
    col_cases = " ".join(f"WHEN {k} THEN {lit(c[1])}" for k, c in enumerate(checks))
    why_cases = " ".join(f"WHEN {k} THEN {c[2]}" for k, c in enumerate(checks))
    raw.execute(
        "CREATE TEMP TABLE _rejected AS SELECT s._line, "
        f"CASE t._problem {col_cases} END AS _column, "
        f"CASE t._problem {shown} END AS _value, "
        f"CASE t._problem {why_cases} END AS _reason "
        "FROM _typed t JOIN src s USING (_line) WHERE t._problem IS NOT NULL"
    )


def finish(
    raw: duckdb.DuckDBPyConnection,
    view: str,
    columns: list[str],
    key: str | None,
    counts: tuple[int, int, int],
    name: str,
    what: str,
    hint: str,
) -> tuple[int, int, int, list[dict[str, Any]]]:
    """Create the view of usable rows (the first row of each ``key``) from
    ``counts`` (rows, rejected, distinct keys, as :func:`reject` gives);
    (read, rejected, duplicates, the first reasons)."""
    read, rejected, distinct = counts
    good = f"SELECT {', '.join(q(c) for c in columns)} FROM _typed"
    if rejected:
        good += " WHERE _problem IS NULL"
    duplicates = read - rejected - distinct if key is not None else 0
    if duplicates:
        good += f" QUALIFY row_number() OVER (PARTITION BY {q(key)} ORDER BY _line) = 1"
    raw.execute(f"CREATE VIEW {q(view)} AS {good}")
    reasons = [
        {"line": int(line), "column": col, "value": val, "reason": why}
        for line, col, val, why in raw.execute(
            "SELECT _line, _column, _value, _reason FROM _rejected ORDER BY _line LIMIT 5"
        ).fetchall()
    ]
    if read == 0:
        raise InputError(
            f"there are no {what} in it.", hint=f"Export the {what} again.", source=name
        )
    if rejected == read:
        raise InputError(
            f"none of the {read:,} rows can be used; the first: {describe(name, reasons[0])}",
            hint=hint,
            source=name,
        )
    return read, rejected, duplicates, reasons


def load(raw: duckdb.DuckDBPyConnection, data: Any, what: str) -> str:
    """The rows of ``data`` as the view ``src`` with a ``_line`` column; its name."""
    if isinstance(data, str | Path):
        path = Path(data)
        if not path.exists():
            raise InputError(
                "no such file.",
                hint=f"Check the path (a relative path starts from {Path.cwd()}).",
                source=str(path),
                code="file_not_found",
            )
        if path.is_dir() or path.stat().st_size == 0:
            raise InputError(
                f"is a folder or an empty file, not a file of {what}.", source=str(path)
            )
        fmt = detect_format(path, None)
        p = lit(str(path))
        try:
            if fmt == "parquet":
                raw.execute(
                    "CREATE TEMP VIEW src AS SELECT file_row_number + 1 AS _line, * EXCLUDE "
                    f"(file_row_number) FROM read_parquet({p}, file_row_number = true)"
                )
            elif fmt == "jsonl":
                raw.execute(
                    "CREATE TEMP TABLE src AS SELECT row_number() OVER () AS _line, * "
                    f"FROM read_json_auto({p}, format = 'newline_delimited')"
                )
            else:
                # line 1 is the header; a value's line is its row number + 1
                raw.execute(
                    "CREATE TEMP TABLE src AS SELECT row_number() OVER () + 1 AS _line, * "
                    f"FROM read_csv({p}, header = true, all_varchar = true)"
                )
        except Exception as exc:  # duckdb.Error: say which file and why
            raise InputError(
                f"cannot read it as {fmt}: {str(exc).splitlines()[0]}",
                hint=f"For a messy export (an odd encoding or delimiter), ingest it with "
                f"`tenure ingest {what} FILE` and fit from the store.",
                source=path.name,
            ) from None
        return path.name
    table = _to_arrow(data)
    raw.register("_frame", table)
    raw.execute("CREATE TEMP VIEW src AS SELECT row_number() OVER () AS _line, * FROM _frame")
    return f"the {type(data).__name__} given"


def resolve(
    kind: Kind,
    columns: list[str],
    wanted: MappingABC[str, str],
    name: str,
    required: tuple[str, ...],
    optional: tuple[str, ...],
) -> dict[str, str]:
    """field -> column, by ``wanted`` (column -> field) and then by the
    ingest's names and aliases; the required fields must be found."""
    explicit = mapping_mod.parse_map_flags([f"{c}={f}" for c, f in wanted.items()], kind)
    by_norm: dict[str, str] = {}
    for col in columns:
        by_norm.setdefault(mapping_mod.normalize(col), col)
    found: dict[str, str] = {}
    for f, col in explicit.columns.items():
        actual = col if col in columns else by_norm.get(mapping_mod.normalize(col))
        if actual is None:
            raise mapping_mod._not_found(kind, f, col, columns, name, explicit=True)
        found[f] = actual
    used = set(found.values())
    for f in (*required, *optional):
        if f in found:
            continue
        for candidate in (f, *kind.field(f).aliases):
            col = by_norm.get(mapping_mod.normalize(candidate))
            if col is not None and col not in used:
                found[f] = col
                used.add(col)
                break
        else:
            if f in required:
                raise mapping_mod._not_found(kind, f, None, columns, name, explicit=False)
    return found


def source_over(con: ibis.BaseBackend, tables: dict[str, str], currency: str, name: str) -> Source:
    source = Source.from_ibis(con, tables, currency=currency, description=name)
    source._closer = con.disconnect
    return source
