"""Readers: put a source's rows into a DuckDB temp table, as text, with their line.

Every reader creates two temp tables on the connection it is given:

``raw``      ``_line`` (the line or row number in the source) and one
             VARCHAR column per source column, as written there;
``broken``   rows that could not even be split into columns: ``_line``,
             ``_raw`` (the text of the line) and ``_reason``.

Rows never pass through Python one by one: files are scanned by DuckDB;
database query results arrive as Arrow batches.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from tenure.errors import InputError
from tenure.ingestion import sniff
from tenure.sqltext import lit, q
from tenure.store.analytics import scalar

FORMATS = ("csv", "parquet", "jsonl")


@dataclass
class Source:
    name: str  # what messages call it: the file name or the URL without password
    format: str
    columns: list[str]
    read: int
    broken: int
    notes: list[str] = field(default_factory=list)


def detect_format(path: Path, explicit: str | None) -> str:
    if explicit:
        fmt = explicit.lower()
        if fmt not in FORMATS:
            raise InputError(
                f"unknown format {explicit!r}.", hint=f"Use one of: {', '.join(FORMATS)}."
            )
        return fmt
    suffixes = [s.lower() for s in path.suffixes]
    if ".parquet" in suffixes or ".pq" in suffixes:
        return "parquet"
    if ".jsonl" in suffixes or ".ndjson" in suffixes or ".json" in suffixes:
        return "jsonl"
    if suffixes and suffixes[-1] in {".csv", ".tsv", ".txt"} or ".csv" in suffixes:
        return "csv"
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head == b"PAR1":
        return "parquet"
    if head.lstrip()[:1] == b"{":
        return "jsonl"
    return "csv"


def read_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    fmt: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    workdir: Path | None = None,
) -> Source:
    if not path.exists():
        raise InputError(
            "no such file.",
            hint=f"Check the path (a relative path starts from {Path.cwd()}).",
            source=str(path),
            code="file_not_found",
        )
    if path.is_dir():
        raise InputError(f"{path} is a folder, not a file.", hint="Pass a file.", source=str(path))
    if path.stat().st_size == 0:
        raise InputError(
            "the file is empty (0 bytes): there is nothing to ingest.",
            hint="Export the data again; check that the export finished.",
            source=path.name,
        )
    fmt = detect_format(path, fmt)
    if fmt == "parquet":
        return _read_parquet(con, path)
    return _read_text(con, path, fmt, encoding, delimiter, workdir)


def _read_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> Source:
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM read_parquet({lit(str(path))})").fetchall()
    except duckdb.Error as exc:
        raise InputError(
            f"cannot read it as Parquet: {str(exc).splitlines()[0]}",
            hint="Check that the file is a complete Parquet file, or pass --format.",
            source=path.name,
        ) from None
    columns = [row[0] for row in described]
    select = ", ".join(f"CAST({q(c)} AS VARCHAR) AS {q(c)}" for c in columns)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE raw AS SELECT file_row_number + 1 AS _line, {select} "
        f"FROM read_parquet({lit(str(path))}, file_row_number = true)"
    )
    empty_broken(con)
    read = scalar(con, "SELECT count(*) FROM raw")
    return Source(path.name, "parquet", columns, int(read), 0)


def empty_broken(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE OR REPLACE TEMP TABLE broken (_line BIGINT, _raw VARCHAR, _reason VARCHAR)")


def _read_text(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    fmt: str,
    encoding: str | None,
    delimiter: str | None,
    workdir: Path | None,
) -> Source:
    dialect = sniff.sniff(path, encoding, delimiter)
    notes = []
    scan_path = path
    enc = sniff.NATIVE.get(dialect.encoding.lower().replace("-", "_"), None)
    enc = enc or sniff.NATIVE.get(dialect.encoding.lower())
    if enc is None:
        tmp = Path(tempfile.mkstemp(suffix=".csv", dir=workdir)[1])
        sniff.transcode_to_utf8(path, dialect.encoding, tmp)
        scan_path, enc = tmp, "utf-8"
        notes.append(f"read as {dialect.encoding}")
    elif enc != "utf-8":
        notes.append(f"read as {enc}")
    if fmt == "jsonl":
        options = (
            "delim = '\x01', quote = '', escape = '', header = false, "
            "columns = {'_text': 'VARCHAR'}"
        )
    else:
        options = (
            f"delim = {lit(dialect.delimiter)}, quote = '\"', escape = '\"', header = true, "
            "all_varchar = true, auto_detect = false"
        )
        header = _header(scan_path, dialect.delimiter, enc)
        if header is None:
            raise InputError(
                "the file has no header row.",
                hint="The first line must name the columns.",
                source=path.name,
            )
        cols = ", ".join(f"{lit(c)}: 'VARCHAR'" for c in header)
        options += f", columns = {{{cols}}}"
    scan = (
        f"read_csv({lit(str(scan_path))}, {options}, encoding = {lit(enc)}, "
        "store_rejects = true, rejects_scan = '_scans', rejects_table = '_errors', "
        "null_padding = false, strict_mode = true, max_line_size = 10000000)"
    )
    first_line = 1 if fmt == "jsonl" else 2
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE raw AS SELECT row_number() OVER () "
            f"+ {first_line - 1} AS _line, * FROM {scan}"
        )
    except duckdb.Error as exc:
        raise InputError(
            f"cannot read it as {fmt.upper()}: {str(exc).splitlines()[0]}",
            hint="Check the file, or pass --delimiter / --encoding / --format.",
            source=path.name,
        ) from None
    con.execute(
        "CREATE OR REPLACE TEMP TABLE broken AS "
        "SELECT DISTINCT ON (line) line::BIGINT AS _line, csv_line AS _raw, "
        "CASE error_type WHEN 'INVALID ENCODING' THEN 'bytes that are not valid ' || "
        f"{lit(enc)} || ' text; save the file as UTF-8' "
        "WHEN 'TOO MANY COLUMNS' THEN 'more fields than the header has columns (' || "
        "error_message || ')' "
        "WHEN 'MISSING COLUMNS' THEN 'fewer fields than the header has columns (' || "
        "error_message || ')' "
        "ELSE lower(error_type::VARCHAR) || ': ' || error_message END AS _reason "
        "FROM _errors ORDER BY line"
    )
    if scalar(con, "SELECT count(*) FROM broken"):
        # Records are read in file order and the broken lines (known by line)
        # are skipped, so a record's line is its index plus the header plus
        # the broken lines before it.
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _gaps AS SELECT "
            f"_line - {first_line} - (row_number() OVER (ORDER BY _line) - 1) AS before_n "
            "FROM broken"
        )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE raw AS SELECT r._line + (SELECT count(*) FROM _gaps g "
            f"WHERE g.before_n < r._line - {first_line - 1}) AS _line, r.* EXCLUDE (_line) "
            "FROM raw r"
        )
    if fmt == "jsonl":
        columns = _explode_json(con)
    else:
        columns = [c for c in _header(scan_path, dialect.delimiter, enc) or []]
    broken = int(scalar(con, "SELECT count(*) FROM broken"))
    total = int(scalar(con, "SELECT count(*) FROM raw")) + broken
    if scan_path != path:
        scan_path.unlink(missing_ok=True)
    return Source(path.name, fmt, columns, total, broken, notes)


def _header(path: Path, delimiter: str, enc: str) -> list[str] | None:
    """The header line, read here because DuckDB needs the column list up front."""
    import csv
    import io

    with open(path, "rb") as fh:
        block = fh.read(1024 * 1024)
    text = block.decode("utf-16" if enc == "utf-16" else enc, errors="replace").lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    for fields in reader:
        if any(f.strip() for f in fields):
            names = [f.strip() for f in fields]
            return _unique(names)
        return None
    return None


RESERVED = {"_line", "_rec", "_text"}


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, name in enumerate(names):
        name = name or f"column{i + 1}"
        if name in RESERVED:
            name = f"{name}_src"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 1
        out.append(name)
    return out


def _explode_json(con: duckdb.DuckDBPyConnection) -> list[str]:
    """JSON lines: lines that are not a JSON object are broken; keys become columns."""
    con.execute(
        "INSERT INTO broken SELECT _line, _text, 'not a JSON object' FROM raw "
        "WHERE _text IS NOT NULL AND trim(_text) <> '' "
        "AND (NOT coalesce(json_valid(_text), false) OR json_type(_text) <> 'OBJECT')"
    )
    con.execute(
        "DELETE FROM raw WHERE _text IS NULL OR trim(_text) = '' "
        "OR NOT coalesce(json_valid(_text), false) OR json_type(_text) <> 'OBJECT'"
    )
    keys = [
        row[0]
        for row in con.execute(
            "SELECT k FROM (SELECT unnest(json_keys(_text)) AS k, min(_line) AS first "
            "FROM raw GROUP BY k) ORDER BY first, k"
        ).fetchall()
    ]
    select = ", ".join(f"_text ->> {lit(k)} AS {q(k)}" for k in keys)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE raw AS SELECT _line{', ' + select if select else ''} "
        "FROM raw"
    )
    return keys
