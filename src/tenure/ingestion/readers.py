"""Readers: put a source's rows into a DuckDB temp table, as text, with their line.

Every reader creates two temp tables on the connection it is given:

``raw``      ``_line`` (the line or row number in the source) and one
             column per source column, as written there: VARCHAR, or the
             date, time or number type a typed source (Parquet, Arrow) gave;
``broken``   rows that could not even be split into columns: ``_line``,
             ``_raw`` (the text of the line) and ``_reason``.

Rows never pass through Python one by one: files are scanned by DuckDB;
database query results arrive as Arrow batches (Excel sheets are the
exception: see :mod:`tenure.ingestion.excel`). This module is the one place
that knows file formats: compressed files are unpacked first
(:mod:`tenure.ingestion.unpack`), whatever their name says.
"""

from __future__ import annotations

import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from tenure.errors import InputError
from tenure.ingestion import coerce, sniff, unpack
from tenure.ingestion.sniff import unique_names
from tenure.sqltext import lit, q
from tenure.store.analytics import scalar

FORMATS = ("csv", "parquet", "jsonl", "xlsx")
# a line whose every field looks like this holds data, not column names
DATA_LIKE = re.compile(r"^[-+]?[$€£]?[0-9][0-9.,:/ T-]*$")
# the rows of a text file as read, in file order, of which ``raw`` is a view
READ = "_raw_read"
READ_TABLE_EXISTS = (
    f"SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = '{READ}'"
)
# control bytes that make a line binary junk (tab, line breaks and form feed are text)
CONTROL = r"[\x00-\x08\x0e-\x1f\x7f]"


@dataclass
class Source:
    name: str  # what messages call it: the file name or the URL without password
    format: str
    columns: list[str]
    read: int
    broken: int
    notes: list[str] = field(default_factory=list)


def detect_format(path: Path, explicit: str | None) -> str:
    """csv, parquet, jsonl or xlsx: by name (a compression suffix set aside),
    then by the first bytes."""
    return _format(Path(unpack.inner_name(path)), path, explicit)


def _format(named: Path, path: Path, explicit: str | None) -> str:
    if explicit:
        fmt = explicit.lower()
        if fmt in ("excel", "xls", "xlsm"):
            fmt = "xlsx"
        if fmt not in FORMATS:
            raise InputError(
                f"unknown format {explicit!r}.", hint=f"Use one of: {', '.join(FORMATS)}."
            )
        return fmt
    suffixes = [s.lower() for s in named.suffixes]
    last = suffixes[-1] if suffixes else ""
    head = unpack.head(path)
    if head.startswith(b"\xd0\xcf\x11\xe0") or last == ".xls":
        raise InputError(
            "this is an old Excel 97-2003 workbook (.xls), which tenure does not read.",
            hint="Open it in Excel or LibreOffice and save it as .xlsx or CSV.",
            source=named.name,
            code="unsupported_format",
        )
    if last in (".xlsx", ".xlsm"):
        return "xlsx"
    if ".parquet" in suffixes or ".pq" in suffixes:
        return "parquet"
    if ".jsonl" in suffixes or ".ndjson" in suffixes or ".json" in suffixes:
        return "jsonl"
    if last in {".csv", ".tsv", ".txt", ".dat"} or ".csv" in suffixes:
        return "csv"
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as archive:
                if "xl/workbook.xml" in archive.namelist():
                    return "xlsx"
        except zipfile.BadZipFile:
            pass
        raise InputError(
            "this is a zip archive, not a data file.",
            hint="Unzip it and ingest the file inside.",
            source=named.name,
            code="unsupported_format",
        )
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
    lazy: bool = False,
) -> Source:
    """The file at ``path`` into ``raw`` and ``broken``. With ``lazy``, a
    Parquet file's ``raw`` may be a view of the file (read again by each
    query of it) rather than a copy of its rows."""
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
    temps: list[Path] = []
    try:
        return _read_unpacked(con, path, fmt, encoding, delimiter, workdir, temps, lazy)
    finally:
        for temp in temps:
            temp.unlink(missing_ok=True)


def _read_unpacked(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    fmt: str | None,
    encoding: str | None,
    delimiter: str | None,
    workdir: Path | None,
    temps: list[Path],
    lazy: bool = False,
) -> Source:
    notes = []
    scan = path
    how = unpack.compression_of(path)
    if how:
        scan = unpack.decompress(path, how, workdir)
        temps.append(scan)
        notes.append(f"unpacked from {how}")
        if scan.stat().st_size == 0:
            raise InputError(
                "the file unpacks to nothing (0 bytes): there is nothing to ingest.",
                hint="Export the data again; check that the export finished.",
                source=path.name,
            )
    fmt = _format(Path(unpack.inner_name(path)), scan, fmt)
    if fmt == "xlsx":
        from tenure.ingestion.excel import read_xlsx

        columns, read, broken, more = read_xlsx(con, scan, path.name)
        return Source(path.name, "xlsx", columns, read, broken, notes + more)
    if fmt == "parquet":
        # an unpacked file is removed after the read: its rows are copied
        src = _read_parquet(con, scan, path.name, view=lazy and not how)
    else:
        if unpack.has_lone_cr(scan):
            scan = unpack.cr_to_lf(scan, workdir)
            temps.append(scan)
            notes.append("lines end in a lone CR (carriage return); read as lines")
        src = _read_text(con, scan, fmt, encoding, delimiter, workdir, name=path.name)
    src.notes[:0] = notes
    return src


def _read_parquet(
    con: duckdb.DuckDBPyConnection, path: Path, name: str | None = None, *, view: bool = False
) -> Source:
    """``raw``: the file's rows, or with ``view`` a view of the file. A view
    spares the copy of every row (the checks read each column once; a file
    already typed needs no text); the checks' other queries read a column or
    a few rows, and the quarantine the rejected lines."""
    name = name or path.name
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM read_parquet({lit(str(path))})").fetchall()
    except duckdb.Error as exc:
        raise InputError(
            f"cannot read it as Parquet: {str(exc).splitlines()[0]}",
            hint="Check that the file is a complete Parquet file, or pass --format.",
            source=name,
        ) from None
    columns = [row[0] for row in described]
    select = kept_as_typed({row[0]: row[1] for row in described})
    con.execute(
        f"CREATE OR REPLACE TEMP {'VIEW' if view else 'TABLE'} raw AS "
        f"SELECT file_row_number + 1 AS _line, {select} "
        f"FROM read_parquet({lit(str(path))}, file_row_number = true)"
    )
    empty_broken(con)
    read = scalar(con, "SELECT count(*) FROM raw")
    return Source(name, "parquet", columns, int(read), 0)


def kept_as_typed(types: dict[str, str]) -> str:
    """SQL select list: the columns of these types. Dates, times and numbers
    stay typed (the checks read them as they are, see
    :func:`tenure.ingestion.coerce.parse_typed`); the others become the text
    the checks read."""
    return ", ".join(
        q(c) if coerce.kept_type(t) else f"CAST({q(c)} AS VARCHAR) AS {q(c)}"
        for c, t in types.items()
    )


def empty_broken(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE OR REPLACE TEMP TABLE broken (_line BIGINT, _raw VARCHAR, _reason VARCHAR)")


def _read_text(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    fmt: str,
    encoding: str | None,
    delimiter: str | None,
    workdir: Path | None,
    *,
    name: str | None = None,
) -> Source:
    name = name or path.name
    if sniff.looks_binary(unpack.head(path, sniff.SAMPLE_BYTES)):
        raise InputError(
            "this is not a text file: most of its first lines hold control bytes.",
            hint="Export the data as CSV, JSON lines, Parquet or Excel (.xlsx); "
            "if it is one of those, pass --format.",
            source=name,
            code="not_text",
        )
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
    try:
        return _scan_text(con, scan_path, fmt, dialect, enc, notes, name)
    finally:
        if scan_path != path:
            scan_path.unlink(missing_ok=True)


def _scan_text(
    con: duckdb.DuckDBPyConnection,
    scan_path: Path,
    fmt: str,
    dialect: sniff.Dialect,
    enc: str,
    notes: list[str],
    name: str,
) -> Source:
    by_space = fmt == "csv" and dialect.delimiter == sniff.WHITESPACE
    first = _first_fields(scan_path, dialect.delimiter, enc, name) if fmt == "csv" else None
    if fmt == "csv" and first is None:
        raise InputError(
            "the file has no header row.",
            hint="The first line must name the columns.",
            source=name,
        )
    has_header = first is not None and not all(DATA_LIKE.match(f.strip()) for f in first)
    if first is not None:
        header = (
            unique_names([f.strip() for f in first])
            if has_header
            else [f"column{i + 1}" for i in range(len(first))]
        )
        if not has_header:
            notes.append(
                "the first line holds data, not column names: the columns are called "
                f"{', '.join(header)}; map them with --map, e.g. --map column1=customer_id"
            )
        if by_space:
            notes.append("columns are separated by runs of spaces")
    if fmt == "jsonl" or by_space:
        options = (
            "delim = '\x01', quote = '', escape = '', header = false, "
            "columns = {'_text': 'VARCHAR'}"
        )
        first_line = 1
    else:
        options = (
            f"delim = {lit(dialect.delimiter)}, quote = '\"', escape = '\"', "
            f"header = {'true' if has_header else 'false'}, all_varchar = true, "
            "auto_detect = false"
        )
        cols = ", ".join(f"{lit(c)}: 'VARCHAR'" for c in header)
        options += f", columns = {{{cols}}}"
        first_line = 2 if has_header else 1
    scan = (
        # compression 'none': a compressed file was unpacked before; a name
        # ending in .gz alone does not make a file compressed
        f"read_csv({lit(str(scan_path))}, {options}, encoding = {lit(enc)}, compression = 'none', "
        "store_rejects = true, rejects_scan = '_scans', rejects_table = '_errors', "
        "null_padding = false, strict_mode = true, max_line_size = 10000000)"
    )
    try:
        # The records are read in parallel into a table that keeps the file's
        # order (preserve_insertion_order), so a record's row id is its index
        # and ``raw`` numbers it without a copy. row_number() OVER () would
        # run the whole read, parsing included, on one thread.
        drop_raw(con)
        if fmt == "jsonl" or by_space:  # split below into a new table: numbered as read
            con.execute(
                f"CREATE TEMP TABLE raw AS SELECT row_number() OVER () "
                f"+ {first_line - 1} AS _line, * FROM {scan}"
            )
        else:
            con.execute(f"CREATE TEMP TABLE {READ} AS SELECT * FROM {scan}")
            con.execute(
                f"CREATE TEMP VIEW raw AS SELECT rowid + {first_line} AS _line, * FROM {READ}"
            )
    except duckdb.Error as exc:
        raise InputError(
            f"cannot read it as {fmt.upper()}: {str(exc).splitlines()[0]}",
            hint="Check the file, or pass --delimiter / --encoding / --format.",
            source=name,
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
            "CREATE OR REPLACE TEMP TABLE _raw_lines AS SELECT r._line + (SELECT count(*) "
            f"FROM _gaps g WHERE g.before_n < r._line - {first_line - 1}) AS _line, "
            "r.* EXCLUDE (_line) FROM raw r"
        )
        drop_raw(con)
        con.execute("ALTER TABLE _raw_lines RENAME TO raw")
    # in UTF-8 and Latin-1 each control byte is that character and no part of
    # another: a file without such bytes has no such line to look for
    if enc not in ("utf-8", "latin-1") or _holds_control_bytes(scan_path):
        _reject_binary(con, "_text" if fmt == "jsonl" or by_space else None)
    if fmt == "jsonl":
        columns = _explode_json(con)
    elif by_space:
        columns = _split_on_spaces(con, header, has_header)
    else:
        columns = header
    broken = int(scalar(con, "SELECT count(*) FROM broken"))
    total = int(scalar(con, "SELECT count(*) FROM raw")) + broken
    return Source(name, fmt, columns, total, broken, notes)


def materialize_raw(con: duckdb.DuckDBPyConnection) -> None:
    """Make ``raw`` a table of its own when it is the view of the rows as read
    (see :func:`_scan_text`), for the steps that change it; else nothing."""
    if not scalar(con, READ_TABLE_EXISTS):
        return
    con.execute("CREATE OR REPLACE TEMP TABLE _raw_table AS SELECT * FROM raw")
    drop_raw(con)
    con.execute("ALTER TABLE _raw_table RENAME TO raw")


def drop_raw(con: duckdb.DuckDBPyConnection) -> None:
    """Drop ``raw``, a table or a view, with the table of the rows as read
    that it may be a view of."""
    viewed = scalar(
        con, "SELECT count(*) FROM duckdb_views() WHERE temporary AND view_name = 'raw'"
    )
    con.execute(f"DROP {'VIEW' if viewed else 'TABLE'} IF EXISTS raw")
    con.execute(f"DROP TABLE IF EXISTS {READ}")


# every byte but those of CONTROL (see _holds_control_bytes)
_OTHER_BYTES = bytes(b for b in range(256) if not (b < 0x09 or 0x0E <= b <= 0x1F or b == 0x7F))


def _holds_control_bytes(path: Path) -> bool:
    """Whether the file holds a byte of :data:`CONTROL`. Read in blocks of
    which every other byte is deleted (what is left, nothing in most files,
    is all that is copied), it costs about a seventh of the regular
    expression over every line's cells (2M orders: 0.09 against 0.68 CPU s;
    0.13 to 0.23 with every byte mapped through a table)."""
    with open(path, "rb") as fh:
        while block := fh.read(1 << 24):
            if block.translate(None, _OTHER_BYTES):
                return True
    return False


def _reject_binary(con: duckdb.DuckDBPyConnection, text_column: str | None) -> None:
    """Lines holding control characters (a NUL, say) are binary junk: each one
    is rejected with its line, the rest of the file is read."""
    if text_column:
        cells = [text_column]
    else:
        cells = [c[0] for c in con.execute("DESCRIBE raw").fetchall() if c[0] != "_line"]
    if not cells:
        return
    # the class matches one character, so it matches the cells joined (concat
    # skips NULLs) exactly when it matches one of them: one regex per row
    # instead of one per cell, and the common case (no such row) scans once
    junk = f"regexp_matches(concat({', '.join(q(c) for c in cells)}), '{CONTROL}')"
    if not scalar(con, f"SELECT count(*) FROM raw WHERE {junk}"):
        return
    materialize_raw(con)
    shown = " || ',' || ".join(f"coalesce({q(c)}, '')" for c in cells)
    con.execute(
        f"INSERT INTO broken SELECT _line, regexp_replace({shown}, '{CONTROL}', '?', 'g'), "
        "'holds control characters or binary data, not text; fix or remove the line' "
        f"FROM raw WHERE {junk}"
    )
    con.execute(f"DELETE FROM raw WHERE {junk}")


def _split_on_spaces(
    con: duckdb.DuckDBPyConnection, header: list[str], has_header: bool
) -> list[str]:
    """Whitespace-separated lines into columns; a line with another number of
    fields than the first is broken."""
    blank = "_text IS NULL OR trim(_text, ' \t\r') = ''"
    if has_header:
        con.execute(
            f"DELETE FROM raw WHERE _line = (SELECT min(_line) FROM raw WHERE NOT ({blank}))"
        )
    con.execute(f"DELETE FROM raw WHERE {blank}")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _split AS SELECT _line, _text, "
        "regexp_split_to_array(trim(_text, ' \t\r'), '[ \t]+') AS _f FROM raw"
    )
    n = len(header)
    con.execute(
        f"INSERT INTO broken SELECT _line, _text, len(_f) || ' fields where the first line has "
        f"{n} (fields are separated by runs of spaces)' FROM _split WHERE len(_f) <> {n}"
    )
    select = ", ".join(f"_f[{i + 1}] AS {q(c)}" for i, c in enumerate(header))
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE raw AS SELECT _line, {select} FROM _split "
        f"WHERE len(_f) = {n} ORDER BY _line"
    )
    con.execute("DROP TABLE _split")
    return header


def _first_fields(
    path: Path, delimiter: str, enc: str, name: str | None = None
) -> list[str] | None:
    """The first non-blank line's fields, read here because DuckDB needs the
    column list up front."""
    import csv
    import io

    with open(path, "rb") as fh:
        block = fh.read(1024 * 1024)
    text = block.decode("utf-16" if enc == "utf-16" else enc, errors="replace").lstrip("\ufeff")
    if delimiter == sniff.WHITESPACE:
        for line in text.splitlines():
            if line.strip():
                return line.split()
        return None
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        for fields in reader:
            if any(f.strip() for f in fields):
                return fields
            return None
    except csv.Error as exc:
        raise InputError(
            f"the first line cannot be read as delimited text: {exc}.",
            hint="Check that the file is a CSV export, or pass --format / --delimiter.",
            source=name or path.name,
        ) from None
    return None


def _header(path: Path, delimiter: str, enc: str) -> list[str] | None:
    """The header line's column names (kept for callers of earlier versions)."""
    fields = _first_fields(path, delimiter, enc)
    return None if fields is None else unique_names([f.strip() for f in fields])


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
