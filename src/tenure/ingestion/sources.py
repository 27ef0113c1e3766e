"""Where rows come from: a file, a database table or query, or a DataFrame.

All of them end in the ``raw`` and ``broken`` temp tables of
:mod:`tenure.ingestion.readers`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from tenure.errors import InputError, MissingExtraError
from tenure.ingestion.readers import Source, empty_broken, kept_as_typed, read_file
from tenure.sqltext import q

BATCH_ROWS = 100_000


def is_url(source: Any) -> bool:
    return isinstance(source, str) and "://" in source


def describe(source: Any, table: str | None, query: str | None) -> str:
    if is_url(source):
        import sqlalchemy as sa

        try:
            url = sa.engine.make_url(source).render_as_string(hide_password=True)
        except sa.exc.ArgumentError:
            url = source
        return f"{url} {'table ' + table if table else 'query'}"
    if isinstance(source, str | Path):
        return str(source)
    return f"{type(source).__module__.split('.')[0]}.{type(source).__name__}"


def read(
    con: duckdb.DuckDBPyConnection,
    source: Any,
    *,
    fmt: str | None,
    encoding: str | None,
    delimiter: str | None,
    table: str | None,
    query: str | None,
    workdir: Path,
    stage_only: bool = False,
) -> Source:
    if is_url(source):
        return read_database(con, source, table=table, query=query)
    if isinstance(source, str | Path):
        if table or query:
            raise InputError(
                "--table and --query go with a database URL, not a file.",
                hint="Pass a URL such as postgresql://user@host/db, or drop --table/--query.",
            )
        return read_file(
            con, Path(source), fmt=fmt, encoding=encoding, delimiter=delimiter, workdir=workdir,
            stage_only=stage_only,
        )  # fmt: skip
    return read_frame(con, source)


def _to_arrow(frame: Any):
    import pyarrow as pa

    if isinstance(frame, pa.Table):
        return frame
    if hasattr(frame, "to_arrow"):  # polars
        return frame.to_arrow()
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover
        pd = None
    # before the Arrow stream, which pandas also offers: that one would keep a
    # filtered frame's index as a column of its own (__index_level_0__)
    if pd is not None and isinstance(frame, pd.DataFrame):
        return pa.Table.from_pandas(frame, preserve_index=False)
    if hasattr(frame, "__arrow_c_stream__"):
        return pa.table(frame)
    raise InputError(
        f"cannot ingest a {type(frame).__name__}.",
        hint="Pass a file path, a database URL, or a pandas, polars or Arrow table.",
    )


def read_frame(con: duckdb.DuckDBPyConnection, frame: Any) -> Source:
    table = _to_arrow(frame)
    con.register("_frame", table)
    columns = list(table.column_names)
    for i, c in enumerate(columns, 1):
        if not c.strip():
            raise InputError(
                f"column {i} of the data has no name.",
                hint="Name every column (or drop the unnamed ones) before ingesting.",
                column=c,
            )
    # by position: DuckDB renames a column it cannot name as is ("" or a
    # name repeated in another case), which the select below then refuses
    types = [t for _, t in con.execute("SELECT column_name, column_type FROM (DESCRIBE _frame)")
             .fetchall()]  # fmt: skip
    cols = kept_as_typed(dict(zip(columns, types, strict=True)))
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE raw AS SELECT row_number() OVER () AS _line, {cols} "
        "FROM _frame"
    )
    con.unregister("_frame")
    empty_broken(con)
    return Source(f"{type(frame).__name__}", "frame", columns, table.num_rows, 0)


def read_database(
    con: duckdb.DuckDBPyConnection, url: str, *, table: str | None, query: str | None
) -> Source:
    """Stream a table or query through SQLAlchemy in Arrow batches."""
    import pyarrow as pa
    import sqlalchemy as sa

    if bool(table) == bool(query):
        raise InputError(
            "a database source needs exactly one of --table or --query.",
            hint="Example: tenure ingest orders postgresql://me@db/shop --table orders",
        )
    try:
        engine = sa.create_engine(url)
    except ModuleNotFoundError as exc:
        raise MissingExtraError.for_extra("postgres", exc.name or "a database driver") from None
    except sa.exc.ArgumentError as exc:
        raise InputError(f"{url!r} is not a database URL ({exc}).") from None
    name = describe(url, table, query)
    if table:
        stmt = sa.select(sa.text("*")).select_from(sa.table(table))
    else:
        stmt = sa.text(query or "")
    created = False
    rows = 0
    try:
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True).execute(stmt)
            columns = list(result.keys())
            while batch := result.fetchmany(BATCH_ROWS):
                arrays = [
                    pa.array([None if v is None else str(v) for v in col], type=pa.string())
                    for col in zip(*batch, strict=True)
                ]
                part = pa.table(arrays, names=columns)
                con.register("_batch", part)
                select = ", ".join(q(c) for c in columns)
                if not created:
                    con.execute(
                        f"CREATE OR REPLACE TEMP TABLE raw AS SELECT {rows} + row_number() "
                        f"OVER () AS _line, {select} FROM _batch"
                    )
                    created = True
                else:
                    con.execute(
                        f"INSERT INTO raw SELECT {rows} + row_number() OVER () AS _line, "
                        f"{select} FROM _batch"
                    )
                con.unregister("_batch")
                rows += len(batch)
    except sa.exc.SQLAlchemyError as exc:
        raise InputError(
            f"the database source failed: {str(exc.orig if hasattr(exc, 'orig') else exc)}",
            hint="Check the URL, the table name or the query.",
            source=name,
        ) from None
    finally:
        engine.dispose()
    if not created:
        cols = ", ".join(f"{q(c)} VARCHAR" for c in columns)
        con.execute(f"CREATE OR REPLACE TEMP TABLE raw (_line BIGINT{', ' + cols if cols else ''})")
    empty_broken(con)
    return Source(name, "database", columns, rows, 0)
