"""The analytics store: one DuckDB file of facts about customers.

One table per kind of :mod:`tenure.datamodel`, written in bulk inside one
transaction per ingest, so an interrupted command leaves it as it was.
``_tenure_meta`` holds the schema version and the reporting currency.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from tenure._version import __version__
from tenure.datamodel import KINDS, stored_columns
from tenure.errors import ConfigError, StoreVersionError
from tenure.store.missing import no_store_error

SCHEMA_VERSION = 1

# version -> statements that upgrade a store from version-1 to version
MIGRATIONS: dict[int, list[str]] = {}


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None):
    """The single value of a query (fetching every row, as DuckDB requires)."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0][0] if rows else None


def connect(path: Path | str, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection in UTC, with a clear message when the file is busy."""
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" in text.lower():
            raise ConfigError(
                f"the store {path} is in use by another process.",
                hint="Wait for the other tenure command to finish, then try again.",
            ) from None
        raise ConfigError(f"cannot open the store {path}: {text}") from None
    except duckdb.Error as exc:
        raise ConfigError(
            f"{path} is not a tenure analytics store ({exc}).",
            hint="Point --store at a tenure workspace folder, or at an empty folder.",
        ) from None
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    return con


def create_schema(con: duckdb.DuckDBPyConnection, reporting_currency: str) -> None:
    con.execute("CREATE TABLE IF NOT EXISTS _tenure_meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute(
        "INSERT INTO _tenure_meta VALUES ('schema_version', ?), ('reporting_currency', ?), "
        "('created_by', ?) ON CONFLICT DO NOTHING",
        [str(SCHEMA_VERSION), reporting_currency, __version__],
    )
    for kind in KINDS.values():
        cols = ", ".join(f'"{name}" {sql}' for name, sql in stored_columns(kind))
        con.execute(f'CREATE TABLE IF NOT EXISTS "{kind.name}" ({cols})')
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
