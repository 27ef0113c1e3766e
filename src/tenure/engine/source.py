"""Where the engine reads from: an Ibis connection and one table per kind.

Three ways in:

* :func:`open_store` reads a tenure workspace (DuckDB, read-only);
* :func:`open_source` runs the same expressions on Spark
  (:mod:`tenure.engine.spark`);
* :meth:`Source.from_ibis` points at tables of any Ibis backend (a
  warehouse), named with the data model's columns.

DataFrames and files given directly are ingested into a temporary workspace
first (:mod:`tenure.given`): the engine reads stores only and
never imports ingestion.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import ibis
import ibis.expr.types as ir

from tenure.config import Settings, load_settings
from tenure.datamodel import KINDS
from tenure.errors import ConfigError, InputError

# The columns the engine reads, per kind; others are optional. Orders without
# a status are completed orders.
NEEDED = {
    "orders": ("order_id", "customer_id", "placed_at", "amount_reporting"),
    "customers": ("customer_id",),
    "order_items": ("order_id",),
    "subscriptions": ("subscription_id", "customer_id", "started_at", "ended_at"),
    "survey_responses": ("customer_id", "kind", "score", "answered_at"),
}


def rows(expr: ir.Expr) -> list[tuple[Any, ...]]:
    """The rows of a small result (a table or a scalar expression) as tuples
    of Python values: dates as ``date``, decimals as ``Decimal``, missing
    values as None.

    On DuckDB the relation Ibis builds (memtables and parameters bound as
    Ibis binds them) is fetched by DuckDB's own client: Ibis' results go
    through pandas, whose import alone costs more than the query of a
    command such as ``tenure segments``. Other engines go through Arrow."""
    con = ibis.get_backend(expr)
    relation = getattr(con, "_to_duckdb_relation", None)
    if relation is not None:
        return relation(expr).fetchall()
    table = expr.as_table().to_pyarrow()
    return [tuple(row.values()) for row in table.to_pylist()]


def value(expr: ir.Expr) -> Any:
    """The value of a scalar expression, as :func:`rows` gives it."""
    return rows(expr)[0][0]


def _check_columns(kind: str, table: ir.Table, where: str) -> None:
    import difflib

    from tenure.errors import ColumnNotFoundError

    have = list(table.columns)
    for col in NEEDED.get(kind, ()):
        if col not in have:
            close = difflib.get_close_matches(col, have, n=1, cutoff=0.5)
            raise ColumnNotFoundError(
                f"the {kind} table of {where} has no column {col!r}; it has {', '.join(have)}.",
                column=col,
                hint=(f"Did you mean {close[0]!r}? " if close else "")
                + f"Rename the column, or pass a view that selects it as {col} "
                "(see docs/engine.md for the columns each kind needs).",
            )


class Source:
    """The tables the engine computes from.

    Parameters
    ----------
    con
        An Ibis backend.
    tables
        Kind name (``orders``, ``customers``...) to an Ibis table or a table
        name in ``con``. Kinds left out are treated as absent.
    currency
        The currency amounts are reported in (``amount_reporting``).
    activity
        The store's persisted per-customer summary (:mod:`tenure.store.summary`)
        and the time zone it was built in, when the source is a store that
        has one: contexts that it answers read it instead of the order log.
    """

    def __init__(
        self,
        con: ibis.BaseBackend,
        tables: Mapping[str, ir.Table | str],
        *,
        currency: str = "EUR",
        description: str = "",
        closer: Callable[[], None] | None = None,
        activity: tuple[ir.Table | str, str] | None = None,
    ) -> None:
        unknown = set(tables) - set(KINDS)
        if unknown:
            raise ConfigError(
                f"unknown kinds of table: {', '.join(sorted(unknown))}.",
                hint=f"Use the kinds of the data model: {', '.join(KINDS)}.",
            )
        self.con = con
        self.currency = currency
        self.description = description or con.name
        self._tables = {k: (con.table(v) if isinstance(v, str) else v) for k, v in tables.items()}
        for kind, table in self._tables.items():
            _check_columns(kind, table, self.description)
        self.rejected: dict[str, int] = {}
        self._contexts: list = []  # what they keep in the engine goes before the connection
        self._counts: dict[str, int] = {}
        self._closer = closer
        self.activity: ir.Table | None = None
        self.activity_timezone: str | None = None
        if activity is not None:
            table, self.activity_timezone = activity
            self.activity = con.table(table) if isinstance(table, str) else table

    @property
    def engine(self) -> str:
        return "spark" if self.con.name == "pyspark" else self.con.name

    def get(self, kind: str) -> ir.Table | None:
        """The table of ``kind``, or None when the source has no rows of it."""
        table = self._tables.get(kind)
        if table is None or self.count(kind) == 0:
            return None
        return table

    def table(self, kind: str, needed_for: str = "this") -> ir.Table:
        table = self.get(kind)
        if table is None:
            raise InputError(
                f"there are no {kind} in {self.description}, and {needed_for} needs them.",
                hint=f"Ingest them first: tenure ingest {kind} FILE.",
            )
        return table

    def count(self, kind: str) -> int:
        if kind not in self._counts:
            table = self._tables.get(kind)
            self._counts[kind] = 0 if table is None else int(self.value(table.count()))
        return self._counts[kind]

    def has_column_values(self, kind: str, column: str) -> bool:
        table = self.get(kind)
        if table is None or column not in table.columns:
            return False
        return int(self.value(table[column].count())) > 0

    def rows(self, expr: ir.Expr) -> list[tuple[Any, ...]]:
        """:func:`rows` of ``expr``."""
        return rows(expr)

    def value(self, expr: ir.Expr) -> Any:
        """:func:`value` of ``expr``."""
        return value(expr)

    def close(self) -> None:
        for ctx in self._contexts:
            ctx.close()
        self._contexts.clear()
        if self._closer is not None:
            self._closer()
            self._closer = None

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- other ways in -----------------------------------------------------

    @classmethod
    def from_ibis(
        cls, con: ibis.BaseBackend, tables: Mapping[str, ir.Table | str], **kw: Any
    ) -> Source:
        """Tables of any Ibis backend whose columns follow the data model.

        >>> con = ibis.duckdb.connect("warehouse.duckdb")             # doctest: +SKIP
        >>> orders = con.table("orders", database="sales")           # doctest: +SKIP
        >>> Source.from_ibis(con, {"orders": orders}, currency="USD")  # doctest: +SKIP
        """
        return cls(con, tables, **kw)


def open_store(
    settings: Settings | None = None,
    *,
    description: str | None = None,
    on_close: Callable[[], None] | None = None,
) -> Source:
    """The workspace's analytics store, read-only, through Ibis on DuckDB."""
    from tenure.store import analytics, summary

    settings = settings or load_settings()
    raw, currency = analytics.open_read_only(settings.analytics_path, settings.store)
    con = ibis.duckdb.from_connection(raw)
    timezone = summary.current(raw)
    tables = store_tables(con, raw, (*KINDS, summary.TABLE))

    def close() -> None:
        raw.close()
        if on_close is not None:
            on_close()

    return Source(
        con,
        {k: tables[k] for k in KINDS if k in tables},
        currency=currency,
        description=description or f"the store {settings.store}",
        closer=close,
        activity=(tables[summary.TABLE], timezone) if timezone else None,
    )


def store_tables(
    con: Any, raw: Any, names: tuple[str, ...], *, temp: bool = False
) -> dict[str, ir.Table]:
    """The tables ``names`` of the DuckDB database of ``raw`` (which the Ibis
    backend ``con`` wraps) that it has, as Ibis tables: what ``con.table``
    gives, with every schema read in one query. ``temp``: the temporary
    tables and views of that name instead.

    Ibis reads each table's schema with a query of its own, fetched through
    Arrow: for a command that reads a few numbers of the store, importing
    Arrow and the queries cost more than its answer."""
    import ibis.expr.operations as ops
    import ibis.expr.schema as sch

    marks = ", ".join("?" for _ in names)
    found = raw.execute(
        "SELECT table_name, column_name, data_type, is_nullable = 'YES' "
        "FROM information_schema.columns WHERE "
        + (
            "table_catalog = 'temp' "
            if temp
            else "table_catalog = current_database() AND table_schema = current_schema() "
        )
        + f"AND table_name IN ({marks}) "
        "ORDER BY table_name, ordinal_position",
        list(names),
    ).fetchall()
    columns: dict[str, dict[str, Any]] = {}
    types = con.compiler.type_mapper
    for table, column, kind, nullable in found:
        columns.setdefault(table, {})[column] = types.from_string(kind, nullable=nullable)
    space = ops.Namespace(catalog=None, database=None)
    return {
        name: ops.DatabaseTable(
            name, schema=sch.Schema(cols), source=con, namespace=space
        ).to_expr()
        for name, cols in columns.items()
    }


def open_source(
    settings: Settings | None = None, *, engine: str = "duckdb", master: str | None = None
) -> Source:
    """The store through the chosen engine: ``duckdb`` (default) or ``spark``."""
    settings = settings or load_settings()
    if engine == "duckdb":
        return open_store(settings)  # a Spark master (say from TENURE_SPARK_MASTER) is not needed
    if engine == "spark":
        from tenure.engine.spark import spark_tables

        con, tables, currency, description, activity = spark_tables(settings, master=master)
        return Source(con, tables, currency=currency, description=description, activity=activity)
    raise ConfigError(
        f"the engine {engine!r} is not one tenure runs on.", hint="Use duckdb or spark."
    )
