"""Data given directly, read through the one input path: the readers,
column mapping, coercion, validation, duplicate rules and quarantine file
of ``tenure ingest`` (:mod:`tenure.ingestion`).

Two shapes:

* :func:`read_records` (and :func:`read_orders`, :func:`read_subscriptions`)
  reads one kind for a fit (``tenure fit MODEL --orders FILE``) into an
  in-memory DuckDB database and gives the engine a :class:`Source` over the
  rows that passed. The store is not touched. Amounts are not converted: a
  currency column is counted instead, and fits that add amounts up refuse
  several currencies (:meth:`RecordsData.check_one_currency`). An order
  without an id is an order of its own (its line stands in for the id).
* :func:`open_given` ingests several kinds (DataFrames, Arrow tables or
  files) into a temporary workspace with :func:`tenure.ingestion.pipeline.ingest`
  itself, amounts converted and customers linked, for the metrics of
  :mod:`tenure.analysis`.

This sits above the engine and ingestion, so that neither reaches into the
other: ingestion writes tables, the engine reads them.

>>> orders = read_orders("orders.csv", map={"Total": "amount"})  # doctest: +SKIP
>>> orders.read, orders.rejected, orders.duplicates              # doctest: +SKIP
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import ibis

from tenure.config import Settings, load_settings
from tenure.datamodel import KINDS
from tenure.engine.source import Source, open_store, store_tables
from tenure.errors import ConfigError, InputError
from tenure.sqltext import lit, q

# what each kind keeps for the engine, and the columns a fit reads as they are
# written rather than converted (amounts in several currencies are not added up)
KEPT = {
    "orders": ("order_id", "customer_id", "placed_at", "status", "amount_reporting"),
    "subscriptions": ("subscription_id", "customer_id", "started_at", "ended_at", "plan"),
}
NOT_CONVERTED = {"orders": ("currency",), "subscriptions": ("mrr", "currency")}
HINT = "Check the columns with --map SRC=FIELD, or the date format with --date-format."


class RejectedRowsWarning(UserWarning):
    """Rows of data given directly that did not pass validation."""


@dataclass
class RecordsData:
    """What a reader read: a :class:`Source` over the usable rows, and the
    counts and reasons of the rows left out (``read = accepted + rejected +
    duplicates``, as for ``tenure ingest``)."""

    source: Source
    name: str
    read: int
    rejected: int
    duplicates: int
    reasons: list[dict[str, Any]] = field(default_factory=list)
    quarantine: Path | None = None
    # the currencies of a currency column, with their numbers of rows
    currencies: dict[str, int] = field(default_factory=dict)
    # every row left out, as the quarantine file of `tenure ingest` has them
    rejected_file: Path = Path()

    def write_rejected(self, path: Path | str) -> Path:
        """Write the rejected rows to ``path``: the quarantine file's columns
        (``_file, _line, _column, _value, _reason``, then the row as read)."""
        path = Path(path)
        shutil.copyfile(self.rejected_file, path)
        return path

    def warn(self) -> None:
        if not self.rejected:
            return
        from tenure.ingestion.quarantine import describe

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


def read_orders(data: Any, *, summary: bool = False, **options: Any) -> RecordsData:
    """Orders from ``data`` (a path or a table) for a fit: at least a
    customer id, a date and an amount. See :func:`read_records`.

    ``summary``: what reads them needs mostly the per-customer summary
    (x, t_x, T and the amounts), as a fit on all the orders does. A file
    whose every row passes is then grouped per customer in one pass
    (:mod:`tenure.given_orders`), and the orders by day are read from the
    file again where something asks for them."""
    return read_records("orders", data, summary=summary, **options)


def read_subscriptions(data: Any, **options: Any) -> RecordsData:
    """Subscriptions from ``data`` for a fit: an id, a customer, a start and
    an end (empty while active). See :func:`read_records`."""
    return read_records("subscriptions", data, **options)


def read_records(
    kind_name: str,
    data: Any,
    *,
    map: MappingABC[str, str] | None = None,  # noqa: A002 - the CLI's word
    timezone: str = "UTC",
    currency: str = "EUR",
    date_format: str | None = None,
    date_order: str = "auto",
    summary: bool = False,
) -> RecordsData:
    """Read one kind from ``data`` (a file path or a table) as ``tenure
    ingest`` reads it, into an in-memory engine.

    ``map`` maps the file's columns to fields (``{"Order Date": "placed_at"}``).
    Timestamps without an offset are read in ``timezone``. The amounts are
    in ``currency``, or in the one currency of a currency column; a column
    with several makes the source's currency ``"mixed"``.
    """
    from tenure.ingestion import mapping as mapping_mod
    from tenure.ingestion import quarantine, readers, sources
    from tenure.ingestion.pipeline import classify
    from tenure.ingestion.validate import build_checked

    kind = KINDS[kind_name]
    work = tempfile.TemporaryDirectory(prefix="tenure-fit-")
    con = ibis.duckdb.connect()
    raw = con.con

    def close() -> None:
        con.disconnect()
        work.cleanup()

    try:
        raw.execute("SET TimeZone = 'UTC'")
        raw.execute("SET enable_progress_bar = false")
        raw.execute(f"SET temp_directory = {lit(work.name)}")
        raw.execute("SET preserve_insertion_order = true")
        src = sources.read(
            raw, data, fmt=None, encoding=None, delimiter=None, table=None, query=None,
            workdir=Path(work.name), lazy=True,
        )  # fmt: skip
        name = src.name if isinstance(data, str | Path) else f"the {type(data).__name__} given"
        if src.read == 0:
            raise InputError(
                f"there are no {kind.name} in it.",
                hint=f"Export the {kind.name} again.",
                source=name,
            )
        usable = [c for c in src.columns if not c.startswith("_")]
        wanted = mapping_mod.parse_map_flags([f"{c}={f}" for c, f in (map or {}).items()], kind)
        resolved = _resolve(kind, usable, wanted, name)
        currency_column = resolved.columns.get("currency")
        for f in NOT_CONVERTED[kind.name]:
            resolved.columns.pop(f, None)
        if summary and kind.name == "orders" and not wanted.sql and not src.broken:
            clean = _summarised(
                con, src, name, resolved, wanted, usable, currency_column, timezone=timezone,
                currency=currency, date_format=date_format, date_order=date_order, close=close,
            )  # fmt: skip
            if clean is not None:
                return clean
        # no conversion: every amount is taken in the one default currency
        raw.execute("CREATE TEMP TABLE fx_rates (date DATE, currency VARCHAR, rate DOUBLE)")
        plan = build_checked(
            raw, kind, resolved, usable, source=name, tz=timezone, date_format=date_format,
            date_order=date_order, default_currency=currency, reporting_currency=currency,
        )  # fmt: skip
        # staged, not copied: the fit reads the checked rows where they are
        classify(raw, kind, plan.mapped, create=True, lazy=True)
        accepted, rejected, duplicates = raw.execute(
            "SELECT (SELECT count(*) FROM accepted), (SELECT count(*) FROM rejected_rows), "
            "(SELECT count(*) FROM dupes)"
        ).fetchall()[0]
        rejected += src.broken
        pending = quarantine.write(
            raw, Path(work.name), 0, kind.name, name, src.columns, dict(resolved.columns)
        )
        pending.publish()
        reasons, _ = quarantine.summary(raw)
        if accepted == 0:
            raise InputError(
                f"none of the {src.read:,} rows can be used; the first: "
                f"{quarantine.describe(name, reasons[0])}",
                hint=HINT,
                source=name,
            )
        currencies = _currencies(raw, currency_column, int(accepted))
        if len(currencies) == 1:
            currency = next(iter(currencies))
        elif currencies:  # not converted: a fit that adds no amounts up says so
            currency = "mixed"
        have = {r[0] for r in raw.execute("DESCRIBE accepted").fetchall()}
        # as the store has them: an order without a status is a completed order
        kept = ", ".join(
            q(c) if c != "status" else
            ("coalesce(status, 'completed')" if c in have else "'completed'") + " AS status"
            for c in KEPT[kind.name] if c in have or c == "status"
        )  # fmt: skip
        # a view: the engine groups the accepted rows once, for the fit's
        # statistics, where a copy would write every row again first
        raw.execute(f"CREATE VIEW {q(kind.name)} AS SELECT {kept} FROM accepted")
        for table in ("rejected_rows", "dupes", "broken", "_quarantine"):
            raw.execute(f"DROP TABLE IF EXISTS {table}")
        # the rows read: a copy, or a view of a Parquet file (see readers.read_file)
        readers.drop_raw(raw)
    except BaseException:
        close()
        raise
    source = Source.from_ibis(
        con, {kind.name: kind.name}, currency=currency, description=name, closer=close
    )
    return RecordsData(
        source, name, int(src.read), int(rejected), int(duplicates), reasons,
        currencies=currencies, rejected_file=pending.final,
    )  # fmt: skip


def _summarised(
    con: Any,
    src: Any,
    name: str,
    resolved: Any,
    wanted: Any,
    usable: list[str],
    currency_column: str | None,
    *,
    timezone: str,
    currency: str,
    date_format: str | None,
    date_order: str,
    close: Any,
) -> RecordsData | None:
    """The orders as :func:`tenure.given_orders.summarise` reads them, when
    every row passes; None otherwise (nothing is left behind)."""
    from tenure import given_orders
    from tenure.ingestion import mapping as mapping_mod

    raw = con.con
    kind = KINDS["orders"]
    # the file's order id column, which _resolve turned into an expression
    order_column = mapping_mod.resolve(kind, usable, wanted, name).columns.get("order_id")
    found = given_orders.summarise(
        raw, kind, resolved, order_column=order_column, timezone=timezone,
        date_format=date_format, date_order=date_order,
    )  # fmt: skip
    if found is None:
        return None
    # every row is accepted: the currency column is read for all of them
    raw.execute("CREATE OR REPLACE TEMP VIEW accepted AS SELECT _line FROM raw")
    currencies = _currencies(raw, currency_column, int(src.read))
    raw.execute("DROP VIEW accepted")
    if len(currencies) == 1:
        currency = next(iter(currencies))
    elif currencies:
        currency = "mixed"
    tables = store_tables(con, raw, (given_orders.ORDERS, given_orders.ACTIVITY), temp=True)
    source = Source.from_ibis(
        con, {"orders": tables[given_orders.ORDERS]}, currency=currency, description=name,
        closer=close, activity=(tables[given_orders.ACTIVITY], timezone),
    )  # fmt: skip
    return RecordsData(source, name, int(src.read), 0, 0, [], currencies=currencies)


def _resolve(kind, columns: list[str], wanted, name: str):
    """The ingest's mapping. Without an order id column, orders get the
    ingest's derived ids (customer, date, amount and the place among rows
    alike); where an id column has an empty cell, the row's line stands in."""
    from tenure.ingestion import mapping as mapping_mod

    resolved = mapping_mod.resolve(kind, columns, wanted, name)
    if kind.name != "orders" or "order_id" not in resolved.columns:
        return resolved
    line = "'#' || CAST(_line AS VARCHAR)"
    col = resolved.columns.pop("order_id")
    resolved.sql["order_id"] = f"coalesce(nullif(trim(CAST({q(col)} AS VARCHAR)), ''), {line})"
    return resolved


def _currencies(raw: Any, column: str | None, accepted: int) -> dict[str, int]:
    """The codes of the accepted rows' currency column, most rows first."""
    if column is None:
        return {}
    # a file in one currency, every cell filled (the usual case): its code
    # counts every accepted row, without joining them to the rows read.
    # The cells are compared as they are (cheap), and trimmed only when
    # they all hold the same text
    cell = f"CAST({q(column)} AS VARCHAR)"
    low, high, filled, rows_read = raw.execute(
        f"SELECT min({cell}), max({cell}), count({cell}), count(*) FROM raw"
    ).fetchall()[0]
    if low is not None and low == high and filled == rows_read:
        code = raw.execute("SELECT upper(nullif(trim(?), ''))", [low]).fetchall()[0][0]
        if code is not None:
            return {code: accepted}
    code = f"upper(nullif(trim(CAST(r.{q(column)} AS VARCHAR)), ''))"
    rows = raw.execute(
        f"SELECT {code} AS c, count(*) AS n FROM accepted a JOIN raw r USING (_line) "
        "WHERE c IS NOT NULL GROUP BY c ORDER BY n DESC, c"
    ).fetchall()
    return {c: int(n) for c, n in rows}


# fx rates and customers first: orders are converted and linked on the way in
_FIRST = {"fx_rates": 0, "customers": 1, "orders": 2}


def open_given(settings: Settings | None = None, **data: Any) -> Source:
    """Ingest DataFrames, Arrow tables or files (by kind) into a temporary
    workspace, validated like ``tenure ingest``, and read from there. Rows
    that were rejected are counted in ``source.rejected`` and said in a
    :class:`RejectedRowsWarning`; the workspace goes when the source closes.
    """
    from tenure.ingestion import quarantine
    from tenure.ingestion.pipeline import ingest
    from tenure.store.workspace import Workspace

    if "orders" not in data or data["orders"] is None:
        raise ConfigError("no orders were given.", hint="Pass orders=DataFrame or a file path.")
    unknown = set(data) - set(KINDS)
    if unknown:
        raise ConfigError(
            f"unknown kinds of data: {', '.join(sorted(unknown))}.",
            hint=f"Use the kinds of the data model: {', '.join(KINDS)}.",
        )
    order = sorted((k for k in KINDS if data.get(k) is not None), key=lambda k: _FIRST.get(k, 3))
    tmp = tempfile.TemporaryDirectory(prefix="tenure-")
    base = settings or load_settings()
    settings = replace(base, store=Path(tmp.name) / "store", ops_url=None)
    rejected: dict[str, tuple[int, str]] = {}
    try:
        with Workspace.open(settings) as ws:
            for kind in order:
                result = ingest(kind, data[kind], workspace=ws)
                if result.rejected:
                    reasons = "; ".join(
                        quarantine.describe(result.source, e) for e in result.errors[:3]
                    )
                    rejected[kind] = (result.rejected, reasons)
            settings = ws.settings
        source = open_store(settings, description="the data given", on_close=tmp.cleanup)
    except BaseException:
        tmp.cleanup()
        raise
    source.rejected = {k: v[0] for k, v in rejected.items()}
    for kind, (count, reasons) in rejected.items():
        # nothing is lost silently: say what was left out and why
        warnings.warn(
            f"{count:,} {kind} rows were rejected and left out of the numbers: {reasons}. "
            f"Ingest them with `tenure ingest {kind}` to get the quarantine file.",
            RejectedRowsWarning,
            stacklevel=3,
        )
    return source
