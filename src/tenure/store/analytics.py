"""The analytics store: one DuckDB file of facts about customers.

One table per kind of :mod:`tenure.datamodel`, written in bulk inside one
transaction per ingest, so an interrupted command leaves it as it was.
``_tenure_meta`` holds the schema version and the reporting currency.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from tenure._version import __version__
from tenure.config import active_memory_limit
from tenure.datamodel import KINDS, column_definitions
from tenure.errors import ConfigError, StoreBusyError, StoreVersionError
from tenure.faults import checkpoint
from tenure.store import locks
from tenure.store.missing import no_store_error

SCHEMA_VERSION = 2

# version -> statements that upgrade a store from version-1 to version
MIGRATIONS: dict[int, list[str]] = {
    # orders' refunded_amount (a partial refund's share of the loyalty points)
    2: [
        "ALTER TABLE orders ADD COLUMN IF NOT EXISTS refunded_amount DECIMAL(18,4)",
        "ALTER TABLE orders ADD COLUMN IF NOT EXISTS refunded_amount_reporting DECIMAL(18,4)",
    ],
}


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None):
    """The single value of a query (fetching every row, as DuckDB requires)."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0][0] if rows else None


# how long an open waits for a DuckDB file lock held outside tenure's own
# locks (another program, or a tenure without them) before saying so
FOREIGN_WAIT = 3.0


# the name of the store in a connection from :func:`attached`
ATTACHED = "store"


def _open(path: Path | str, read_only: bool, *, attach: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection in UTC, retried a moment while another program
    holds the file, then refused with a clear message. With ``attach``, an
    in-memory database with the store attached read-only as ``store``."""
    deadline = time.monotonic() + FOREIGN_WAIT
    while True:
        try:
            if attach:
                con = duckdb.connect()
                try:
                    con.execute(f"ATTACH '{_quoted(path)}' AS {ATTACHED} (READ_ONLY)")
                except BaseException:
                    con.close()
                    raise
            else:
                con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as exc:
            text = str(exc)
            if "lock" not in text.lower():
                raise ConfigError(f"cannot open the store {path}: {text}") from None
            if time.monotonic() < deadline:
                time.sleep(0.05)
                continue
            raise StoreBusyError(
                f"the store {path} is in use by another process.",
                hint="Another program (a DuckDB shell, a notebook) has the file open: close "
                "it there, then try again. tenure's own commands wait for each other.",
                retry_after=int(FOREIGN_WAIT),
            ) from None
        except duckdb.Error as exc:
            raise ConfigError(
                f"{path} is not a tenure analytics store ({exc}).",
                hint="Point --store at a tenure workspace folder, or at an empty folder.",
            ) from None
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    limit = active_memory_limit()
    if limit:
        con.execute(f"SET memory_limit = '{_quoted(limit)}'")
    return con


def _quoted(path: Path | str) -> str:
    return str(path).replace("'", "''")


def attached(path: Path | str) -> duckdb.DuckDBPyConnection:
    """A connection of its own (not shared with other readers of the file in
    this process) with the store attached read-only as ``store``: for work
    beside the store, such as an ingest's staging. Take the read lock
    first."""
    return _open(path, True, attach=True)


class ReadConnection:
    """A read-only DuckDB connection that holds the store's read lock (see
    :mod:`tenure.store.locks`) until it is closed; otherwise used as the
    connection itself."""

    __slots__ = ("_con", "_release")

    def __init__(self, con: duckdb.DuckDBPyConnection, release) -> None:
        self._con = con
        self._release = release

    def __getattr__(self, name: str):
        return getattr(self._con, name)

    def close(self) -> None:
        release, self._release = self._release, None
        try:
            self._con.close()
        finally:
            if release is not None:
                release()

    def __enter__(self) -> ReadConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if self._release is not None:
            self.close()


def connect(path: Path | str, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection to the analytics store at ``path``, in UTC.

    Read-only, it holds the store's read lock until closed, so it waits for
    a commit in progress (and raises StoreBusyError when that takes too
    long). For writing, use :func:`writing`, which takes the writers' and
    the commit locks first.
    """
    if not read_only:
        return _open(path, False)
    release = locks.acquire_read(Path(path).parent)
    try:
        con = _open(path, True)
    except BaseException:
        release()
        raise
    return ReadConnection(con, release)  # type: ignore[return-value]


# from this many rows to write on, a writer works on a copy of the store and
# swaps it in: readers then wait for a rename, not for the rows to be written
# (measured on 2 busy cores: in place, 10k new orders held readers 0.3 s,
# 50k 0.7 s, 200k 1.2 s, 2M 5 s; through a copy, 8 to 110 ms whatever the
# size). A copy costs the store's size in disk writes and room, outside any
# pause, which for small writes to a large store is the worse trade.
SWAP_ROWS = 20_000


def swap_rows() -> int:
    """:data:`SWAP_ROWS`, or ``TENURE_SWAP_ROWS`` (tests take both ways with little data)."""
    return int(os.environ.get("TENURE_SWAP_ROWS") or SWAP_ROWS)


@contextmanager
def writing(
    path: Path | str, what: str, *, copy: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """The store at ``path`` open for writing, for a short block: ``what``
    (say ``tenure predict``) queues behind other writers; see
    :func:`committing` for ``copy``."""
    store = Path(path).parent
    with locks.writing(store, what), committing(path, copy=copy) as con:
        yield con


@contextmanager
def committing(path: Path | str, *, copy: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """The store open for writing, for a writer that holds the writers' lock
    (an ingest). In place, the block holds the commit lock: readers wait for
    all of it. With ``copy``, the block writes a copy of the store while
    readers go on reading the original, and the copy replaces it under the
    commit lock when the block ends without an error: readers wait only for
    that rename."""
    path = Path(path)
    store = path.parent
    if not copy:
        with locks.committing(store):
            con = _open(path, False)
            try:
                yield con
                _vacuum_when_due(con)
            finally:
                con.close()
        return
    _fold_wal(path)
    with next_copy(path) as target:
        con = _open(target, False)
        try:
            yield con
            _vacuum_when_due(con)
        finally:
            con.close()  # a checkpoint: the copy holds every change, and no WAL
        swap_in(target, path)


# A table's deleted rows stay in its row groups until a checkpoint merges
# row groups that then fit in fewer ("vacuum"). An ingest replaces the
# summary rows and kept scores of the customers it touched: the first few
# thousand deletions in a table written whole (whose last row group is part
# full) let every row group merge, and the checkpoint rewrote the whole
# table (a million kept scores: 0.4 CPU s and 1 s of disk writes, after a
# commit of 0.05 s). Deleted rows are left in place until they are this
# share of a table's stored rows, then reclaimed at the next commit.
VACUUM_SHARE = 0.1


def _vacuum_when_due(con: duckdb.DuckDBPyConnection) -> None:
    """Before the checkpoint of a writer's close: no merging of row groups
    unless some table's deleted rows reach :data:`VACUUM_SHARE` of it."""
    # the store's own tables, not those of a database attached beside it
    # (an ingest's staged rows)
    tables = con.execute(
        "SELECT database_name, table_name, estimated_size FROM duckdb_tables() "
        "WHERE database_name = current_database() AND schema_name = 'main' "
        "AND NOT temporary AND estimated_size > 0"
    ).fetchall()
    if not tables:
        return
    # estimated_size counts the stored rows, deleted ones included
    live = dict(
        con.execute(
            " UNION ALL ".join(
                f'SELECT \'{name}\', count(*) FROM "{db}".main."{name}"' for db, name, _ in tables
            )
        ).fetchall()
    )
    if not any(stored - live[name] >= VACUUM_SHARE * stored for _, name, stored in tables):
        try:
            con.execute("SET max_vacuum_tasks = 0")
        except duckdb.CatalogException:  # a DuckDB without the setting: it vacuums as before
            pass


@contextmanager
def next_copy(path: Path) -> Iterator[Path]:
    """A copy of the store file at ``path`` in its ``.tmp`` folder, for a
    writer (holding the writers' lock) to write and then :func:`swap_in`;
    removed when the block ends, swapped in or not."""
    target = path.parent / ".tmp" / f"next-{os.getpid()}-{threading.get_ident()}.duckdb"
    target.parent.mkdir(exist_ok=True)
    try:
        shutil.copyfile(path, target)
        shutil.copymode(path, target)
        yield target
    finally:
        for leftover in (target, target.with_name(target.name + ".wal")):
            leftover.unlink(missing_ok=True)


def swap_in(target: Path, path: Path) -> None:
    """Replace the store file at ``path`` by the written copy ``target``
    (closed, with no WAL), under the commit lock: readers wait for a rename."""
    with locks.committing(path.parent):
        checkpoint("swap")
        os.replace(target, path)


def has_wal(path: Path) -> bool:
    """Whether a write-ahead log sits beside the store file (left by a
    writer that died after its commit)."""
    return Path(f"{path}.wal").exists()


def _fold_wal(path: Path) -> None:
    """A write-ahead log left by a writer that died after its commit belongs
    to the file: fold it in before the file is copied."""
    if has_wal(path):
        with locks.committing(path.parent):
            _open(path, False).close()


def create_schema(con: duckdb.DuckDBPyConnection, reporting_currency: str) -> None:
    con.execute("CREATE TABLE IF NOT EXISTS _tenure_meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute(
        "INSERT INTO _tenure_meta VALUES ('schema_version', ?), ('reporting_currency', ?), "
        "('created_by', ?) ON CONFLICT DO NOTHING",
        [str(SCHEMA_VERSION), reporting_currency, __version__],
    )
    for kind in KINDS.values():
        con.execute(f'CREATE TABLE IF NOT EXISTS "{kind.name}" ({column_definitions(kind)})')
    con.execute(
        "CREATE TABLE IF NOT EXISTS _ingest_batches (ingest_id BIGINT, kind VARCHAR, "
        "source VARCHAR, committed_at TIMESTAMP)"
    )


def meta(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(con.execute("SELECT key, value FROM _tenure_meta").fetchall())


def has_schema(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(
        scalar(
            con, "SELECT count(*) FROM information_schema.tables WHERE table_name = '_tenure_meta'"
        )
    )


def check_version(con: duckdb.DuckDBPyConnection, path: Path, store_hint: str = "") -> None:
    version = int(meta(con).get("schema_version", "0"))
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise StoreVersionError(
            f"the analytics store {path} has schema version {version}, written by a newer "
            f"tenure; this tenure ({__version__}) reads version {SCHEMA_VERSION}.",
            hint="Upgrade tenure: pip install --upgrade tenure",
        )
    raise StoreVersionError(
        f"the analytics store {path} has schema version {version}; this tenure uses "
        f"version {SCHEMA_VERSION}.",
        hint=f"Back up the folder, then run: tenure migrate{store_hint}",
    )


def open_read_only(path: Path, store: Path) -> tuple[duckdb.DuckDBPyConnection, str]:
    """The analytics store at ``path`` of the workspace ``store``, read-only,
    checked to be a tenure store of this version; (connection, reporting
    currency)."""
    if not Path(path).exists():
        raise no_store_error(store)
    con = connect(path, read_only=True)
    try:
        if not has_schema(con):
            raise ConfigError(f"{store} is not a tenure store.", hint="Pass --store.")
        check_version(con, Path(path), f" --store {store}")
        currency = meta(con).get("reporting_currency") or "EUR"
    except BaseException:
        con.close()
        raise
    return con, currency


def migrate(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """Apply the steps from the store's version to SCHEMA_VERSION in one transaction."""
    before = int(meta(con).get("schema_version", "0"))
    if before > SCHEMA_VERSION:
        raise StoreVersionError(
            f"the analytics store has schema version {before}, newer than this tenure.",
            hint="Upgrade tenure: pip install --upgrade tenure",
        )
    con.execute("BEGIN")
    try:
        for version in range(before + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS.get(version, []):
                con.execute(statement)
        con.execute(
            "UPDATE _tenure_meta SET value = ? WHERE key = 'schema_version'",
            [str(SCHEMA_VERSION)],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return before, SCHEMA_VERSION


def table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return {name: int(scalar(con, f'SELECT count(*) FROM "{name}"')) for name in KINDS}


def headline(con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    """A few totals that show what the store holds, in the reporting currency."""
    row = con.execute(
        "SELECT (SELECT count(*) FROM customers), count(*), "
        "coalesce(sum(amount_reporting) FILTER (WHERE status = 'completed'), 0), "
        "count(*) FILTER (WHERE status IN ('refunded', 'cancelled')), "
        "CAST(min(placed_at) AS DATE), CAST(max(placed_at) AS DATE) FROM orders"
    ).fetchall()[0]
    from tenure.store import summary

    # orders per customer: kept in the customer summary (any status), when there is one
    per_customer = (
        f"SELECT all_orders AS n FROM {summary.TABLE}"
        if summary.current(con)
        else "SELECT count(*) AS n FROM orders GROUP BY customer_id"
    )
    repeat = con.execute(
        f"SELECT count(*) FILTER (WHERE n >= 2), count(*) FROM ({per_customer})"
    ).fetchall()[0]
    active = scalar(con, "SELECT count(*) FROM subscriptions WHERE ended_at IS NULL")
    answers = scalar(con, "SELECT count(*) FROM survey_responses")
    customers, orders, revenue, refunded, first, last = row
    return {
        "currency": meta(con).get("reporting_currency"),
        "customers": int(customers),
        "orders": int(orders),
        "revenue": float(revenue),
        "refunded_share": (refunded / orders) if orders else 0.0,
        "repeat_customers_share": (repeat[0] / repeat[1]) if repeat[1] else 0.0,
        "first_order": str(first) if first else None,
        "last_order": str(last) if last else None,
        "active_subscriptions": int(active or 0),
        "survey_responses": int(answers or 0),
    }
