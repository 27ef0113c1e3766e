"""Bulk upsert of validated rows into the analytics store, all or nothing.

The rows to write sit in the temp table ``accepted`` (one row per key).
A row whose key is new is inserted; a row whose key exists is compared by a
hash of its stored values and replaced only when something changed. Fields
the source did not map keep their stored value.

The hash of a stored row is computed from its values when it is compared,
for the few rows an ingest meets again, not stored with every row: a
column of random 64-bit numbers, which nothing compresses, cost every
large ingest (10M orders: 80 MB, 0.6 CPU s) to spare a later one
reading the values. Rows written before keep their stored ``_hash``,
which equals the hash of their values, and are compared by it. Everything, including the
customers created for unknown ids and the batch record, commits in one
transaction.

Two connections do it, so that readers of the store wait only for the
commit itself (see :mod:`tenure.store.locks`):

* :func:`staging` reads the store read-only, beside a scratch database
  file: :func:`prepare` and :func:`stub_customers` build ``merged`` and
  ``stubs`` there, as the rows would be stored;
* :func:`committing` opens the store for writing under the commit lock,
  with ``merged`` and ``stubs`` reachable under those names, and
  :func:`commit` writes them in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb

from tenure.config import active_memory_limit
from tenure.datamodel import KINDS, Kind, stored_columns
from tenure.faults import checkpoint
from tenure.sqltext import lit, q
from tenure.store import analytics, locks, summary
from tenure.store.analytics import scalar

# where the staged rows live: the scratch database, attached under this name
STAGED = "staged"

# an ingest's memory_limit when the settings give none
INGEST_MEMORY = "2GB"

# value given to a field when a new row does not carry it
DEFAULTS = {("orders", "status"): "'completed'", ("order_items", "quantity"): "1"}


@dataclass(frozen=True)
class Written:
    inserted: int
    updated: int
    unchanged: int
    customers_created: int


def _value_columns(kind: Kind) -> list[str]:
    """Stored columns that carry data (everything except bookkeeping)."""
    return [name for name, _ in stored_columns(kind) if not name.startswith("_")]


def prepare(
    con: duckdb.DuckDBPyConnection, kind: Kind, mapped: set[str], *, lazy: bool = False
) -> bool:
    """Build ``merged``: each accepted row as it would be stored, with its hash.

    ``merged`` is a temp view, of the table ``staged.merged``; with ``lazy``,
    when the store holds none of the kind yet, of the accepted rows
    themselves (nothing to compare with): the rows are then computed once,
    by the commit's INSERT, which must run in this connection (see
    :func:`commit_into`). Whether it did so."""
    if lazy and not scalar(con, f"SELECT count(*) FROM (SELECT 1 FROM {q(kind.name)} LIMIT 1)"):
        selects = _stored_values(kind, mapped, existing=False)
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW merged AS SELECT *, {_row_hash(kind)} AS _hash "
            "FROM (SELECT a._line, "
            + ", ".join(selects)
            + ", false AS _exists, CAST(NULL AS UBIGINT) AS _old_hash FROM accepted a)"
        )
        return True
    _prepare_table(con, kind, mapped)
    con.execute(f"CREATE OR REPLACE TEMP VIEW merged AS SELECT * FROM {STAGED}.merged")
    return False


def _stored_values(kind: Kind, mapped: set[str], *, existing: bool) -> list[str]:
    """SQL select list: each stored value column of an accepted row ``a``,
    the stored row ``e`` giving the fields the source did not map (with
    ``existing``; otherwise there is none)."""
    selects = []
    types = dict(stored_columns(kind))
    for name in _value_columns(kind):
        base = name.removesuffix("_reporting")
        default = DEFAULTS.get((kind.name, name), "NULL")
        if name == "is_stub":
            selects.append("false AS is_stub")
        elif (
            name in kind.key
            or name in mapped
            or (name == "fx_rate" and any(a in mapped for a in kind.converted))
            or (name.endswith("_reporting") and base in mapped)
            or (name == "event_id" and kind.name == "events")
        ):
            selects.append(f"coalesce(a.{q(name)}, {default}) AS {q(name)}")
        elif existing:
            selects.append(
                f"CASE WHEN e.{q(kind.key[0])} IS NOT NULL THEN e.{q(name)} "
                f"ELSE {default} END AS {q(name)}"
            )
        else:  # typed as the stored column is, as the hash of a stored row's is
            selects.append(f"CAST({default} AS {types[name]}) AS {q(name)}")
    return selects


def _row_hash(kind: Kind, row: str = "") -> str:
    """SQL: the hash of a row's value columns (of the row ``row``, an alias,
    or of the current one), each as the type it is stored as: the same for
    a row about to be written and for the row once stored."""
    types = dict(stored_columns(kind))
    cols = ", ".join(f"CAST({row}{q(c)} AS {types[c]})" for c in _value_columns(kind))
    return f"hash({cols})"


def _prepare_table(con: duckdb.DuckDBPyConnection, kind: Kind, mapped: set[str]) -> None:
    key_join = " AND ".join(f"e.{q(k)} = a.{q(k)}" for k in kind.key)
    selects = _stored_values(kind, mapped, existing=True)
    # a row stored without its hash (see the module's docstring) is hashed
    # here, only when its key is met again
    stored = (
        f"CASE WHEN e.{q(kind.key[0])} IS NOT NULL "
        f"THEN coalesce(e._hash, {_row_hash(kind, 'e.')}) END"
    )
    # one statement, so the rows are written once (a temp table of the join,
    # then a copy with the hash, cost twice the time)
    con.execute(
        f"CREATE OR REPLACE TABLE {STAGED}.merged AS SELECT *, {_row_hash(kind)} AS _hash "
        "FROM (SELECT a._line, "
        + ", ".join(selects)
        + f", e.{q(kind.key[0])} IS NOT NULL AS _exists, {stored} AS _old_hash "
        f"FROM accepted a LEFT JOIN {q(kind.name)} e ON {key_join})"
    )


def counts(con: duckdb.DuckDBPyConnection, table: str = "merged") -> tuple[int, int, int]:
    """(inserted, updated, unchanged) of the rows of ``table``."""
    # the hashes are compared only where a row exists: not computed for nothing
    total, existing = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE _exists) FROM {table}"
    ).fetchall()[0]
    if not existing:
        return int(total), 0, 0
    row = con.execute(
        "SELECT count(*) FILTER (WHERE NOT _exists), "
        "count(*) FILTER (WHERE _exists AND _hash <> _old_hash), "
        f"count(*) FILTER (WHERE _exists AND _hash = _old_hash) FROM {table}"
    ).fetchall()[0]
    return int(row[0]), int(row[1]), int(row[2])


def stub_customers(
    con: duckdb.DuckDBPyConnection, kind: Kind, time_field: str | None, *, staged: bool = True
) -> None:
    """``stubs``: customer ids the accepted rows name that the store lacks.

    With ``staged``, a view of a table in the scratch database, which the
    committing connection reads; without, a temp table of ``con``, for a
    commit in ``con`` itself (:func:`commit_into`): the rows are then not
    written to the scratch file only to be read back."""
    first = f"min({q(time_field)})" if time_field else "CAST(NULL AS TIMESTAMP)"
    table = f"TABLE {STAGED}.stubs" if staged else "TEMP TABLE stubs"
    # grouped first, then the customers (far fewer than the rows) looked up:
    # a lookup per row, as NOT EXISTS inside the grouping planned it, cost a
    # third more (2M orders: 0.36 against 0.23 CPU s)
    con.execute(
        f"CREATE OR REPLACE {table} AS SELECT * FROM (SELECT customer_id, "
        f"{first} AS created_at, min(_line) AS _line FROM accepted "
        "WHERE customer_id IS NOT NULL GROUP BY customer_id) a WHERE NOT EXISTS "
        "(SELECT 1 FROM customers c WHERE c.customer_id = a.customer_id)"
    )
    if staged:
        con.execute(f"CREATE OR REPLACE TEMP VIEW stubs AS SELECT * FROM {STAGED}.stubs")


def stubs_from_store(
    con: duckdb.DuckDBPyConnection,
    kind: Kind,
    time_field: str | None,
    *,
    ingest_id: int,
    source: str,
) -> int:
    """Create the customers that the rows of the ingest ``ingest_id``, as
    stored, name and the store lacks, as :func:`stub_customers` and
    :func:`commit` do from the staged rows; how many. For a first load of
    orders, the summary's rebuild kept each customer's first order
    (``_summary_first_seen``, see :func:`tenure.store.summary.build`): the
    rows are then not grouped per customer a second time (10M orders:
    1.1 CPU s)."""
    if con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = '_summary_first_seen'"
    ).fetchall()[0][0]:
        found = "_summary_first_seen"
    else:
        first = f"min({q(time_field)})" if time_field else "CAST(NULL AS TIMESTAMP)"
        found = (
            f"(SELECT customer_id, {first} AS created_at, min(_line) AS _line "
            f"FROM {q(kind.name)} WHERE _ingest_id = {int(ingest_id)} GROUP BY customer_id)"
        )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE stubs AS SELECT * FROM {found} a "
        "WHERE customer_id IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM customers c WHERE c.customer_id = a.customer_id)"
    )
    con.execute("DROP TABLE IF EXISTS _summary_first_seen")
    created = _insert_stubs(con, ingest_id, source)
    con.execute("DROP TABLE stubs")
    return created


def _insert_stubs(con: duckdb.DuckDBPyConnection, ingest_id: int, source: str) -> int:
    """Insert the customers of ``stubs`` (a stub each: an id, a creation
    time and a line); how many."""
    created = int(scalar(con, "SELECT count(*) FROM stubs"))
    if created:
        customer_cols = _value_columns(KINDS["customers"])
        nulls = ", ".join(
            "true" if c == "is_stub" else q(c) if c in ("customer_id", "created_at") else "NULL"
            for c in customer_cols
        )
        con.execute(
            f"INSERT INTO customers ({', '.join(q(c) for c in customer_cols)}, "
            "_ingest_id, _source, _line, _hash) "
            f"SELECT {nulls}, ?, ?, _line, 0 FROM stubs",
            [ingest_id, source],
        )
    return created


def _settings(con: duckdb.DuckDBPyConnection, workdir: Path) -> None:
    con.execute(f"SET temp_directory = {lit(workdir.as_posix())}")
    # an ingest spills beyond 2GB unless the settings say otherwise
    con.execute(f"SET memory_limit = {lit(active_memory_limit() or INGEST_MEMORY)}")
    con.execute("SET preserve_insertion_order = true")


@contextmanager
def staging(path: Path, scratch: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection whose tables are the store's at ``path``, read-only and
    under the read lock, and whose ``staged`` database is the new file
    ``scratch``; temp tables spill to the scratch file's folder."""
    with locks.reading(path.parent):
        con = analytics.attached(path)
        try:
            _settings(con, scratch.parent)
            # the scratch file lives for one ingest: compressing what it
            # stages cost more than writing it (2M orders: 1.6 CPU s against
            # 0.9), for three times the room on disk for a while (190 MB against 60)
            con.execute("SET force_compression = 'uncompressed'")
            con.execute(f"ATTACH {lit(str(scratch))} AS {STAGED}")
            con.execute(f"USE {analytics.ATTACHED}")
            yield con
        finally:
            con.close()


def to_write(con: duckdb.DuckDBPyConnection, with_stubs: bool) -> int:
    """The rows a commit of what :func:`staging` staged writes."""
    inserted, updated, _ = counts(con)
    stubs = scalar(con, "SELECT count(*) FROM stubs") if with_stubs else 0
    return inserted + updated + int(stubs)


def _drop_temps(con: duckdb.DuckDBPyConnection, keep: tuple[str, ...] = ()) -> None:
    """Drop the connection's temp views and tables but ``keep`` and the
    summary's own (``_summary_*``, read by its refresh)."""
    for what, listing in (("VIEW", "duckdb_views()"), ("TABLE", "duckdb_tables()")):
        names = con.execute(
            f"SELECT view_name FROM {listing} WHERE temporary AND NOT internal"
            if what == "VIEW"
            else f"SELECT table_name FROM {listing} WHERE temporary"
        ).fetchall()
        for (name,) in names:
            if name not in keep and not name.startswith("_summary"):
                con.execute(f"DROP {what} IF EXISTS temp.main.{q(name)}")


def commit_into(
    con: duckdb.DuckDBPyConnection,
    target: Path,
    kind: Kind,
    *,
    stubs_after: bool = False,
    time_field: str | None = None,
    **commit_args,
) -> Written:
    """:func:`commit` in the staging connection ``con``, into ``target``, a
    copy of the store (see :func:`tenure.store.analytics.next_copy`) that the
    caller swaps in once the staging block has ended. The staged rows are
    read where they are, without a copy to a scratch database first and from
    there to the store: the store's read-only attachment is replaced by the
    copy, open for writing under the same name.

    ``stubs_after`` (a first ingest of the kind ``with_stubs``, nothing
    staged for them): the customers the rows name that the store lacks are
    created once the rows are written, from the rows as stored, with the
    first ``time_field`` of each (see :func:`stubs_from_store`)."""
    con.execute("USE memory")
    con.execute(f"DETACH {analytics.ATTACHED}")
    con.execute("RESET force_compression")  # the store is compressed (see staging)
    con.execute(f"ATTACH {lit(str(target))} AS {analytics.ATTACHED}")
    con.execute(f"USE {analytics.ATTACHED}")
    try:
        # what the checks left and the commit does not read gives its memory
        # to the commit (beyond the memory limit, it would be spilled to disk)
        _drop_temps(con, keep=("checked", "accepted", "merged", "stubs"))
        # Nobody sees the copy before it is swapped in, so the summary may
        # follow in a transaction of its own: the staged rows are dropped
        # first, and the summary's grouping has the memory to itself.
        later = stubs_after and commit_args["with_stubs"]
        written = commit(
            con,
            kind,
            with_summary=False,
            **{**commit_args, "with_stubs": not later and commit_args["with_stubs"]},
        )
        _drop_temps(con)
        con.execute("BEGIN TRANSACTION")
        try:
            ingest_id = int(commit_args["ingest_id"])
            # the summary's groupings of a first load's orders per customer
            # give their customers' first orders too (see stubs_from_store)
            first_seen = later and kind.name == "orders" and time_field == "placed_at"
            summary.refresh(con, kind.name, ingest_id, first_seen=first_seen)
            if later:
                created = stubs_from_store(
                    con, kind, time_field, ingest_id=ingest_id, source=commit_args["source"]
                )
                written = replace(written, customers_created=created)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        # the copy holds every change, and no WAL, before it is swapped in
        con.execute(f"CHECKPOINT {analytics.ATTACHED}")
    finally:
        con.execute("USE memory")
        con.execute(f"DETACH {analytics.ATTACHED}")
    return written


@contextmanager
def committing(path: Path, scratch: Path, *, rows: int) -> Iterator[duckdb.DuckDBPyConnection]:
    """The store at ``path`` open for writing, with the rows staged in
    ``scratch`` reachable as ``merged`` and ``stubs``: the connection
    :func:`commit` runs in. Up to ``analytics.SWAP_ROWS`` rows to write, in
    place under the commit lock; more are written to a copy of the store
    that replaces it (see :func:`tenure.store.analytics.committing`)."""
    with analytics.committing(path, copy=rows > analytics.swap_rows()) as con:
        _settings(con, scratch.parent)
        con.execute(f"ATTACH {lit(str(scratch))} AS {STAGED} (READ_ONLY)")
        staged = con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = ?", [STAGED]
        ).fetchall()
        for (table,) in staged:
            con.execute(f"CREATE TEMP VIEW {q(table)} AS SELECT * FROM {STAGED}.{q(table)}")
        yield con


def commit(
    con: duckdb.DuckDBPyConnection,
    kind: Kind,
    *,
    ingest_id: int,
    source: str,
    with_stubs: bool,
    meta: dict[str, str] | None = None,
    with_summary: bool = True,
) -> Written:
    """Write ``merged`` (and ``stubs``) into the store in one transaction;
    ``meta`` (store settings such as an adopted reporting currency) with it."""
    inserted, updated, unchanged = counts(con)
    cols = _value_columns(kind)
    key_match = " AND ".join(f"{q(kind.name)}.{q(k)} = m.{q(k)}" for k in kind.key)
    col_list = ", ".join(q(c) for c in cols)
    created = 0
    con.execute("BEGIN TRANSACTION")
    try:
        if updated:
            summary.before_write(con, kind.name)
            con.execute(
                f"DELETE FROM {q(kind.name)} USING merged m WHERE {key_match} "
                "AND m._exists AND m._hash <> m._old_hash"
            )
        # the hash is not stored: see the module's docstring
        con.execute(
            f"INSERT INTO {q(kind.name)} ({col_list}, _ingest_id, _source, _line, _hash) "
            f"SELECT {col_list}, ?, ?, _line, NULL FROM merged "
            "WHERE NOT _exists OR _hash <> _old_hash",
            [ingest_id, source],
        )
        if with_stubs:
            created = _insert_stubs(con, ingest_id, source)
        con.execute(
            "INSERT INTO _ingest_batches VALUES (?, ?, ?, now() AT TIME ZONE 'UTC')",
            [ingest_id, kind.name, source],
        )
        for key, value in (meta or {}).items():
            con.execute(
                "INSERT INTO _tenure_meta VALUES (?, ?) ON CONFLICT DO UPDATE SET value = ?",
                [key, value, value],
            )
        if with_summary:
            summary.refresh(con, kind.name, ingest_id)
        checkpoint("before commit")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return Written(inserted, updated, unchanged, created)
