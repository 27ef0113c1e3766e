"""The quarantine file: every rejected row, as read, with where and why.

One CSV per ingest run in ``<store>/quarantine/``. Its first columns are
``_file, _line, _column, _value, _reason``; then the source's own columns,
so a user can fix the rows in place and ingest the file again (tenure
ignores the columns that start with an underscore). Rows that could not be
split into columns keep their text in ``_raw``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from tenure.sqltext import lit, q

SUMMARY_ROWS = 5


@dataclass(frozen=True)
class Pending:
    """A quarantine file written under a temporary name until the ingest ends."""

    temp: Path
    final: Path

    def publish(self) -> None:
        os.chmod(self.temp, 0o600)  # rejected rows are customers' data: the owner's only
        os.replace(self.temp, self.final)


def write(
    con: duckdb.DuckDBPyConnection,
    folder: Path,
    run_id: int,
    kind: str,
    source: str,
    columns: list[str],
    labels: dict[str, str],
) -> Pending:
    """Write rejected and broken rows; ``labels`` names each field's source column."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(source).stem)[:60] or "source"
    final = folder / f"{run_id:06d}-{kind}-{stem}.csv"
    temp = final.with_suffix(".csv.partial")
    # the source's columns, renamed if they would clash with ours
    own = {"_file", "_line", "_column", "_value", "_reason", "_raw"}
    # as text: a typed source's dates and numbers as the checks showed them
    raw_cols = ", ".join(
        f"CAST(r.{q(c)} AS VARCHAR) AS {q(c + '_' if c in own else c)}" for c in columns
    )
    null_cols = ", ".join(f"NULL AS {q(c + '_' if c in own else c)}" for c in columns)
    label = lit(source)
    column = (
        "CASE e._err_field "
        + " ".join(f"WHEN {lit(f)} THEN {lit(c)}" for f, c in labels.items())
        + " ELSE e._err_field END"
        if labels
        else "e._err_field"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _quarantine AS "
        f"SELECT {label} AS _file, e._line, {column} AS _column, e._err_value AS _value, "
        f"e._err_reason AS _reason{', ' + raw_cols if raw_cols else ''}, NULL AS _raw "
        "FROM rejected_rows e JOIN raw r ON r._line = e._line "
        f"UNION ALL SELECT {label}, b._line, NULL, NULL, b._reason"
        f"{', ' + null_cols if null_cols else ''}, b._raw FROM broken b"
    )
    con.execute(
        f"COPY (SELECT * FROM _quarantine ORDER BY _line) TO {lit(str(temp))} "
        "(FORMAT csv, HEADER true)"
    )
    return Pending(temp, final)


def summary(con: duckdb.DuckDBPyConnection) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The first rejected rows, and the count of rejected rows per column and reason."""
    first = con.execute(
        "SELECT _line, _column, _value, _reason FROM _quarantine ORDER BY _line "
        f"LIMIT {SUMMARY_ROWS}"
    ).fetchall()
    errors = [
        {"line": int(line), "column": col, "value": val, "reason": why}
        for line, col, val, why in first
    ]
    grouped = con.execute(
        "SELECT _column, regexp_replace(_reason, '\\d{4}-\\d{2}-\\d{2}', 'DATE', 'g') AS why, "
        "count(*) AS n, min(_line) FROM _quarantine GROUP BY ALL ORDER BY n DESC, 4 LIMIT 20"
    ).fetchall()
    reasons = [
        {"column": col, "reason": why, "count": int(n), "first_line": int(line)}
        for col, why, n, line in grouped
    ]
    return errors, reasons


def describe(source: str, error: dict[str, Any]) -> str:
    """One rejected row as where -> what: ``orders.csv line 17, column 'x': 'v' reason``."""
    where = f"{source} line {error['line']}"
    if error.get("column"):
        where += f", column '{error['column']}'"
    value = error.get("value")
    what = f"{value!r} {error['reason']}" if value is not None else error["reason"]
    return f"{where}: {what}"
