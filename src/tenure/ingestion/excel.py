"""Excel workbooks (.xlsx, .xlsm): the first sheet into the ``raw`` temp table.

openpyxl reads a workbook row by row, so rows pass through Python here, in
batches handed to DuckDB as Arrow tables. A row's ``_line`` is its row
number in the sheet, as Excel shows it. Cells are turned into the text
Excel would export: dates as ISO dates, whole numbers without ".0".
"""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path
from typing import Any

import duckdb

from tenure.errors import InputError, MissingExtraError
from tenure.ingestion.sniff import unique_names
from tenure.sqltext import lit, q

BATCH_ROWS = 50_000


def cell_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def _open(path: Path):
    try:
        import openpyxl
    except ImportError:
        raise MissingExtraError(
            "reading Excel files needs the package 'openpyxl', which is not installed.",
            hint="Install it with: pip install openpyxl (it comes with tenure), "
            "or save the sheet as CSV.",
            source=path.name,
        ) from None
    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise InputError(
            f"cannot read it as an Excel workbook: {exc}.",
            hint="Open it in Excel and save it again as .xlsx, or save the sheet as CSV.",
            source=path.name,
        ) from None


def read_xlsx(
    con: duckdb.DuckDBPyConnection, path: Path, name: str
) -> tuple[list[str], int, int, list[str]]:
    """Fill ``raw`` and ``broken`` from the first sheet: (columns, read, broken, notes)."""
    import pyarrow as pa

    book = _open(path)
    notes = []
    try:
        sheet = book.worksheets[0]
        if len(book.worksheets) > 1:
            notes.append(
                f"read the first sheet, '{sheet.title}', of {len(book.worksheets)}; "
                "save the others as files of their own"
            )
        rows = sheet.iter_rows(values_only=True)
        header: list[str] | None = None
        first_line = 0
        for n, values in enumerate(rows, start=1):
            names = [(cell_text(v) or "").strip() for v in values]
            if any(names):
                while not names[-1]:
                    names.pop()  # trailing cells without a name are layout, not columns
                header = unique_names(names)
                first_line = n
                break
        if header is None:
            raise InputError(
                "the first sheet is empty: there is nothing to ingest.",
                hint="Put the data on the first sheet, with the column names in its first row.",
                source=name,
            )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE raw (_line BIGINT, "
            + ", ".join(f"{q(c)} VARCHAR" for c in header)
            + ")"
        )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE broken (_line BIGINT, _raw VARCHAR, _reason VARCHAR)"
        )
        batch: list[list[Any]] = []
        bad: list[tuple[int, str, str]] = []

        def flush() -> None:
            if not batch:
                return
            cols = list(zip(*batch, strict=True))
            table = pa.table(
                {"_line": pa.array(cols[0], pa.int64())}
                | {c: pa.array(cols[i + 1], pa.string()) for i, c in enumerate(header)}
            )
            con.register("_xlsx_batch", table)
            con.execute("INSERT INTO raw SELECT * FROM _xlsx_batch")
            con.unregister("_xlsx_batch")
            batch.clear()

        for n, values in enumerate(rows, start=first_line + 1):
            texts = [cell_text(v) for v in values]
            if not any(t is not None and t.strip() for t in texts):
                continue  # empty rows between blocks of data are layout
            if any(t is not None and t.strip() for t in texts[len(header) :]):
                bad.append(
                    (n, ",".join(t or "" for t in texts), "more cells than the header has columns")
                )
                continue
            texts = (texts + [None] * len(header))[: len(header)]
            batch.append([n, *texts])
            if len(batch) >= BATCH_ROWS:
                flush()
        flush()
        for line, text, reason in bad:
            con.execute(f"INSERT INTO broken VALUES ({line}, {lit(text)}, {lit(reason)})")
    finally:
        book.close()
    read = con.execute("SELECT count(*) FROM raw").fetchall()[0][0] + len(bad)
    return header, int(read), len(bad), notes
