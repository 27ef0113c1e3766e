"""``ingest``: one file (or table, or DataFrame) of one kind into the store.

Every row read ends as exactly one of: accepted (then inserted, updated or
unchanged), rejected (written to the quarantine file with its reason) or a
duplicate of an earlier row of the same file. The counts add up, and the
store changes in one transaction or not at all.

>>> from tenure import ingest
>>> result = ingest("orders", "orders.csv", store="tenure-data")  # doctest: +SKIP
>>> result.read == result.accepted + result.rejected + result.duplicates  # doctest: +SKIP
True
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from tenure.config import Settings, load_settings
from tenure.datamodel import KINDS, Kind
from tenure.errors import InputError, TenureError, TooManyErrorsError
from tenure.faults import checkpoint
from tenure.ingestion import distinct, flags, quarantine, readers, sources
from tenure.ingestion import mapping as mapping_mod
from tenure.ingestion.validate import build_checked
from tenure.sqltext import lit, q
from tenure.store import analytics, locks, writer
from tenure.store.analytics import scalar

if TYPE_CHECKING:  # imported where a store is opened: a fit from a file opens none
    from tenure.store.workspace import Workspace

Progress = Callable[[str], None]


@dataclass
class IngestResult:
    kind: str
    source: str
    read: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    customers_created: int = 0
    quarantine: str | None = None
    ingest_id: int | None = None
    seconds: float = 0.0
    mapping: dict[str, str] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)  # the first few rejected rows
    reasons: list[dict[str, Any]] = field(default_factory=list)  # rejected rows by reason

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def balanced(self) -> bool:
        return self.read == self.accepted + self.rejected + self.duplicates


def ingest(
    kind: str,
    source: Any,
    *,
    workspace: Workspace | None = None,
    store: str | Path | None = None,
    map: list[str] | dict[str, str] | None = None,  # noqa: A002 - the CLI's word
    mapping: str | Path | None = None,
    preset: str | None = None,
    max_errors: int | None = None,
    fmt: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    date_format: str | None = None,
    date_order: str | None = None,
    timezone: str | None = None,
    currency: str | None = None,
    create_customers: bool | None = None,
    table: str | None = None,
    query: str | None = None,
    progress: Progress | None = None,
) -> IngestResult:
    """Ingest ``source`` as ``kind`` into the workspace's store.

    ``source`` is a path (CSV, Parquet, JSON lines), a database URL with
    ``table`` or ``query``, or a pandas / polars / Arrow table.
    ``map`` is ``["Source column=field", ...]`` or ``{"Source column": "field"}``.
    """
    started = time.perf_counter()
    the_kind = mapping_mod.kind_named(kind)
    opts: dict[str, Any] = {
        "map": map,
        "mapping": mapping,
        "preset": preset,
        "max_errors": max_errors,
        "fmt": fmt,
        "encoding": encoding,
        "delimiter": delimiter,
        "date_format": date_format,
        "date_order": date_order,
        "timezone": timezone,
        "currency": currency,
        "create_customers": create_customers,
        "table": table,
        "query": query,
        "progress": progress or (lambda _stage: None),
    }
    if workspace is not None:
        return _run(workspace, the_kind, source, started=started, **opts)
    from tenure.store.workspace import Workspace, removed_if_failed

    settings = load_settings(store=store)
    with removed_if_failed(settings.store), Workspace.open(settings) as ws:
        return _run(ws, the_kind, source, started=started, **opts)


def _mapping(kind: Kind, map_: Any, mapping_file: Any, preset: str | None) -> mapping_mod.Mapping:
    base = mapping_mod.load_preset(preset, kind) if preset else mapping_mod.Mapping()
    if mapping_file:
        base = mapping_mod.load_mapping_file(Path(mapping_file), kind).merged_over(base)
    if map_:
        flags = [f"{s}={t}" for s, t in map_.items()] if isinstance(map_, dict) else list(map_)
        base = mapping_mod.parse_map_flags(flags, kind).merged_over(base)
    return base


def _run(
    ws: Workspace, kind: Kind, source: Any, *, progress: Progress, started: float, **opts: Any
) -> IngestResult:
    settings: Settings = ws.settings
    wanted = _mapping(kind, opts["map"], opts["mapping"], opts["preset"])
    option = wanted.options.get
    tz = opts["timezone"] or option("timezone") or settings.timezone
    date_format = opts["date_format"] or option("date_format")
    date_order = opts["date_order"] or option("date_order") or settings.date_order
    if date_order not in ("auto", "dmy", "mdy", "ymd"):
        raise InputError(
            f"--date-order {date_order!r} is not a date order.",
            hint="Use dmy (31/01/2024), mdy (01/31/2024), ymd or auto.",
            value=date_order,
        )
    default_currency = (
        opts["currency"] or option("currency") or settings.reporting_currency
    ).upper()
    create = (
        settings.create_customers if opts["create_customers"] is None else opts["create_customers"]
    )
    max_errors = opts["max_errors"] if opts["max_errors"] is not None else settings.max_errors
    name = sources.describe(source, opts["table"], opts["query"])
    tmp = settings.store / ".tmp"
    tmp.mkdir(exist_ok=True)
    # one writer at a time; readers go on reading the last committed version
    with locks.writing(settings.store, f"tenure ingest {kind.name} {name}"):
        chosen = {
            "tz": tz, "date_format": date_format, "date_order": date_order,
            "default_currency": default_currency, "create": create, "max_errors": max_errors,
            "wanted": wanted,
        }  # fmt: skip
        return _write(ws, kind, source, name, tmp, chosen, opts, progress=progress, started=started)


def _write(
    ws: Workspace,
    kind: Kind,
    source: Any,
    name: str,
    tmp: Path,
    chosen: dict[str, Any],
    opts: dict[str, Any],
    *,
    progress: Progress,
    started: float,
) -> IngestResult:
    """The ingest proper, under the writers' lock: everything but the commit
    is done beside the store (read-only, see :func:`writer.staging`); the
    store is open for writing only for :func:`writer.commit`."""
    settings: Settings = ws.settings
    wanted = chosen["wanted"]
    option = wanted.options.get
    tz, date_format, date_order = chosen["tz"], chosen["date_format"], chosen["date_order"]
    default_currency = chosen["default_currency"]
    create, max_errors = chosen["create"], chosen["max_errors"]
    run_id = ws.ops.start_run(kind.name, name)
    result = IngestResult(kind.name, name, ingest_id=run_id)
    scratch = tmp / f"ingest-{run_id}-{os.getpid()}.duckdb"
    try:
        with ExitStack() as copies:
            with writer.staging(settings.analytics_path, scratch) as con:
                _check_timezone(con, tz)
                progress("reading")
                src = sources.read(
                    con,
                    source,
                    fmt=opts["fmt"],
                    encoding=opts["encoding"] or option("encoding"),
                    delimiter=opts["delimiter"] or option("delimiter"),
                    table=opts["table"],
                    query=opts["query"],
                    workdir=tmp,
                    lazy=True,
                )
                result.source = src.name
                result.read = src.read
                result.warnings += [f"{src.name}: {n}" for n in src.notes]
                if src.read == 0:
                    result.warnings.append(
                        f"{src.name} has a header but no rows: nothing to ingest."
                    )
                    _finish(ws, run_id, result, started, "succeeded")
                    return result
                # columns starting with "_" are tenure's own (a quarantine file's, say)
                usable = [c for c in src.columns if not c.startswith("_")]
                resolved = mapping_mod.resolve(kind, usable, wanted, src.name)
                reporting = settings.reporting_currency
                adopted = _currency_to_adopt(con, kind, resolved, default_currency, reporting)
                if adopted:
                    result.warnings.append(
                        f"the store had no reporting currency chosen and this first data is all in "
                        f"{adopted}: it now reports in {adopted}. To report in another currency, "
                        "start a store with --reporting-currency (or reporting_currency in tenure.toml)"
                    )
                    reporting = adopted
                progress("checking")
                plan = build_checked(
                    con,
                    kind,
                    resolved,
                    usable,
                    source=src.name,
                    tz=tz,
                    date_format=date_format,
                    date_order=date_order,
                    default_currency=default_currency,
                    reporting_currency=reporting,
                )
                result.mapping = plan.mapped
                result.ignored_columns = plan.ignored_columns
                result.warnings += plan.warnings
                classify(con, kind, plan.mapped, create=create, lazy=True)
                _count(con, result, src.broken)
                _keep_rejected_raw(con)
                result.warnings += flags.amount_outliers(con, kind, plan.mapped, src.name)
                result.warnings += flags.before_created(con, kind, plan.mapped, src.name)
                if not result.balanced:  # pragma: no cover - an invariant, kept honest
                    raise TenureError(
                        f"internal error: {result.read} rows read but {result.accepted} accepted + "
                        f"{result.rejected} rejected + {result.duplicates} duplicates."
                    )
                progress("quarantine")
                pending = None
                if result.rejected:
                    labels = {f: c for f, c in resolved.columns.items()}
                    pending = quarantine.write(
                        con,
                        settings.quarantine_dir,
                        run_id,
                        kind.name,
                        src.name,
                        src.columns,
                        labels,
                    )
                    result.quarantine = str(pending.final.resolve())
                    result.errors, result.reasons = quarantine.summary(con)
                    checkpoint("quarantine written")
                if max_errors is not None and result.rejected > max_errors:
                    if pending:
                        pending.publish()
                    raise TooManyErrorsError(
                        f"{result.rejected:,} of {result.read:,} rows were rejected, more than "
                        f"the {max_errors:,} allowed (--max-errors); nothing was written to the store.",
                        hint=_first_reasons(result) + f"\nAll rejected rows: {result.quarantine}",
                        source=src.name,
                    )
                if result.accepted == 0 and result.rejected:
                    if pending:
                        pending.publish()
                    raise InputError(
                        f"every one of the {result.read:,} rows was rejected; nothing was written.",
                        hint=_first_reasons(result)
                        + _fx_advice(result, reporting)
                        + f"\nAll rejected rows: {result.quarantine}",
                        source=src.name,
                    )
                progress("writing")
                path = settings.analytics_path
                # a large write goes to a copy of the store (see writer.commit_into)
                copyable = not analytics.has_wal(path)
                big = copyable and result.accepted > analytics.swap_rows()
                lazy = writer.prepare(con, kind, set(plan.mapped), lazy=big)
                with_stubs = kind.has_customer and create
                time_field = next((f.name for f in kind.fields if f.type == "timestamp"), None)
                # a first load of orders creates its customers once the rows
                # are written (see writer.stubs_from_store)
                stubs_after = lazy and with_stubs and kind.name == "orders"
                if with_stubs and not stubs_after:
                    # a lazy write commits in this connection: no scratch copy
                    writer.stub_customers(con, kind, time_field, staged=not lazy)
                checkpoint("rows staged")
                rows = writer.to_write(con, with_stubs and not stubs_after)
                commit_args: dict[str, Any] = {
                    "ingest_id": run_id,
                    "source": src.name,
                    "with_stubs": with_stubs,
                    "meta": {"reporting_currency": adopted, "reporting_currency_chosen": "adopted"}
                    if adopted
                    else None,
                }
                copied = lazy or (copyable and rows > analytics.swap_rows())
                if copied:
                    progress("committing")
                    target = copies.enter_context(analytics.next_copy(path))
                    written = writer.commit_into(
                        con,
                        target,
                        kind,
                        stubs_after=stubs_after,
                        time_field=time_field,
                        **commit_args,
                    )
            if copied:
                analytics.swap_in(target, path)
            else:
                progress("committing")
                with writer.committing(path, scratch, rows=rows) as con:
                    written = writer.commit(con, kind, **commit_args)
        if adopted:
            ws.settings = replace(ws.settings, reporting_currency=adopted)
        checkpoint("after commit")
        if pending:
            pending.publish()
        result.inserted = written.inserted
        result.updated = written.updated
        result.unchanged = written.unchanged
        result.customers_created = written.customers_created
    except TenureError as exc:
        _finish(ws, run_id, result, started, "failed", message=str(exc))
        raise
    except (KeyboardInterrupt, duckdb.InterruptException):
        # DuckDB turns Ctrl-C during a query into "Query interrupted"
        _finish(ws, run_id, result, started, "interrupted", message="interrupted (Ctrl-C)")
        raise KeyboardInterrupt from None
    except duckdb.Error as exc:
        _finish(ws, run_id, result, started, "failed", message=str(exc))
        raise InputError(
            f"the data could not be processed: {str(exc).splitlines()[0]}",
            hint="Check the file and the mapping; the store was not changed.",
            source=result.source,
        ) from None
    except Exception as exc:
        if isinstance(exc, RuntimeError) and "interrupted" in str(exc).lower():
            _finish(ws, run_id, result, started, "interrupted", message="interrupted (Ctrl-C)")
            raise KeyboardInterrupt from None
        # not a refusal tenure meant to make, but the run failed all the same:
        # the history says so, with the reason, instead of "interrupted" later
        _finish(ws, run_id, result, started, "failed", message=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        for leftover in (scratch, scratch.with_name(scratch.name + ".wal")):
            leftover.unlink(missing_ok=True)
    _finish(ws, run_id, result, started, "succeeded")
    return result


def _currency_to_adopt(
    con: duckdb.DuckDBPyConnection,
    kind: Kind,
    resolved: mapping_mod.Mapping,
    default_currency: str,
    reporting: str,
) -> str | None:
    """The one currency of a new store's first data, when nobody chose the
    store's reporting currency; None otherwise."""
    if not kind.converted or "currency" in resolved.sql:
        return None
    meta = dict(con.execute("SELECT key, value FROM _tenure_meta").fetchall())
    if meta.get("reporting_currency_chosen") != "no":
        return None  # chosen, adopted before, or a store older than the choice
    # customers may come first; money or exchange rates already stored settle it
    money = [k.name for k in KINDS.values() if k.converted] + ["fx_rates"]
    if scalar(con, "SELECT " + " + ".join(f"(SELECT count(*) FROM {q(t)})" for t in money)):
        return None
    column = resolved.columns.get("currency")
    if column is None:
        found = {default_currency}
    else:
        # read once per distinct text, not per row (2M orders from CSV: 0.03
        # CPU s against 0.11)
        cell = "upper(nullif(trim(CAST(c AS VARCHAR)), ''))"
        texts = f"(SELECT DISTINCT {q(column)} AS c FROM raw)"
        found = {
            row[0] or default_currency
            for row in con.execute(f"SELECT DISTINCT {cell} FROM {texts} LIMIT 3").fetchall()
        }
    if len(found) != 1:
        return None
    (currency,) = found
    if currency == reporting or len(currency) != 3 or not currency.isalpha():
        return None
    return currency


def _fx_advice(result: IngestResult, reporting: str) -> str:
    """When every row wants an FX rate: how to report in their currency instead."""
    reasons = [r for r in result.reasons if "has no FX rate" in str(r.get("reason", ""))]
    if not reasons or sum(int(r.get("count", 0)) for r in reasons) < result.rejected:
        return ""
    return (
        f"\nEvery row is in a currency without an FX rate into {reporting}, the store's "
        "reporting currency. Either ingest fx_rates for those currencies, or report in the "
        "data's currency: start a new store with --reporting-currency CODE (or set "
        "reporting_currency in tenure.toml before the first ingest)."
    )


def _check_timezone(con: duckdb.DuckDBPyConnection, tz: str) -> None:
    if not scalar(con, "SELECT count(*) FROM pg_timezone_names() WHERE name = ?", [tz]):
        raise InputError(
            f"the time zone {tz!r} is not an IANA time zone.",
            hint="Pass --timezone with a name such as UTC or Europe/Berlin.",
            value=tz,
        )


def classify(
    con: duckdb.DuckDBPyConnection,
    kind: Kind,
    mapped: dict[str, str],
    *,
    create: bool,
    lazy: bool = False,
) -> None:
    """From ``checked`` to ``accepted``, ``dupes`` and ``rejected_rows``: the first row of
    each key is accepted, a later one identical to it is a duplicate, one that differs
    is rejected (it conflicts). Also used for data read for a fit without a store.

    With ``lazy``, ``accepted`` may be a view over ``checked`` (which is then
    kept): when no key repeats and no row is taken out afterwards, the rows
    are not copied once more only to drop the error columns."""
    key = ", ".join(q(k) for k in kind.key)
    errs = "_err_field, _err_value, _err_reason, _err_missing"
    orphans = (kind.has_customer and not create) or kind.name == "order_items"
    # the window below costs a sort and a copy of every column: most files
    # repeat no key, so it runs only on the rows whose key repeats (a key
    # with a NULL part groups with its like, as in the window's partitions)
    _find_repeated(con, key)
    if not scalar(con, "SELECT count(*) FROM repeated"):
        con.execute(
            "CREATE OR REPLACE TEMP TABLE rejected_rows AS SELECT _line, _err_field, "
            "_err_value, _err_reason FROM checked WHERE _err_reason IS NOT NULL"
        )
        con.execute("CREATE OR REPLACE TEMP TABLE dupes AS SELECT _line FROM checked LIMIT 0")
        what = "VIEW" if lazy and not orphans else "TABLE"
        con.execute(
            f"CREATE OR REPLACE TEMP {what} accepted AS SELECT * EXCLUDE ({errs}) "
            "FROM checked WHERE _err_reason IS NULL"
        )
        if what == "TABLE":
            con.execute("DROP TABLE checked")
    else:
        _classify_repeated(con, kind)
        con.execute("DROP TABLE checked")
    con.execute("DROP TABLE repeated")
    if kind.has_customer and not create:
        _reject_orphans(
            con,
            "customer_id",
            "customers",
            "'is not a customer in the store; ingest customers first, or pass --create-customers'",
        )
    if kind.name == "order_items":
        _reject_orphans(
            con, "order_id", "orders", "'is not an order in the store; ingest the orders first'"
        )


def _find_repeated(con: duckdb.DuckDBPyConnection, key: str) -> None:
    """``repeated``: each key of ``checked`` held by more than one row.

    Equal keys have equal hashes, so the rows are first grouped by the hash of
    their key, a number, which is cheaper than grouping the texts; only the
    rows whose hash repeats (none in most files, a few more than the repeated
    keys when two keys share a hash) are then grouped by the key itself
    (see :func:`tenure.ingestion.distinct.repeated_hashes`)."""
    # sorted here: the engine's grouping of as many distinct hashes as rows
    # costs more, the more so the more rows (2M orders: 0.29 against 0.18
    # CPU s; 10M: 2.6 against 1.2)
    some = distinct.repeated_hashes(con, key, "checked", "_repeated_hashes", narrow=True)
    hashed = distinct.key_hash(key, narrow=True)
    among = f"WHERE {hashed} IN (SELECT _h FROM _repeated_hashes) " if some else "WHERE false "
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE repeated AS SELECT {key} FROM checked "
        f"{among}GROUP BY {key} HAVING count(*) > 1"
    )
    con.execute("DROP TABLE _repeated_hashes")


def _classify_repeated(con: duckdb.DuckDBPyConnection, kind: Kind) -> None:
    """:func:`classify` when some key repeats: the first row of each key in
    ``ranked``, from the rows whose key is in ``repeated``; the rest as is."""
    key = ", ".join(q(k) for k in kind.key)
    errs = "_err_field, _err_value, _err_reason, _err_missing"
    fields = [c[0] for c in con.execute("DESCRIBE checked").fetchall() if not c[0].startswith("_")]
    among = " AND ".join(f"c.{q(k)} IS NOT DISTINCT FROM p.{q(k)}" for k in kind.key)
    repeats = f"EXISTS (SELECT 1 FROM repeated p WHERE {among})"
    con.execute(
        "CREATE OR REPLACE TEMP TABLE ranked AS SELECT *, "
        f"row_number() OVER (PARTITION BY {key} ORDER BY _line) AS _rn FROM checked c "
        f"WHERE {repeats}"
    )
    key_ok = " AND ".join(f"r.{q(k)} IS NOT NULL" for k in kind.key)
    join = " AND ".join(f"f.{q(k)} = r.{q(k)}" for k in kind.key)
    same = [f"(r.{q(c)} IS NULL OR r.{q(c)} IS NOT DISTINCT FROM f.{q(c)})" for c in fields]
    first_diff = " ".join(f"WHEN NOT {s} THEN {lit(c)}" for s, c in zip(same, fields, strict=True))
    diff_val = " ".join(
        f"WHEN NOT {s} THEN CAST(r.{q(c)} AS VARCHAR)" for s, c in zip(same, fields, strict=True)
    )
    diff_old = " ".join(
        f"WHEN NOT {s} THEN CAST(f.{q(c)} AS VARCHAR)" for s, c in zip(same, fields, strict=True)
    )
    key_text = " || '/' || ".join(f"CAST(r.{q(k)} AS VARCHAR)" for k in kind.key)
    key_name = "/".join(kind.key)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE later AS SELECT r._line, "
        f"(r._err_reason IS NULL OR r._err_missing) AND {' AND '.join(same)} AS _dup, "
        f"CASE WHEN r._err_reason IS NOT NULL AND NOT r._err_missing THEN r._err_field "
        f"ELSE CASE {first_diff} END END AS _err_field, "
        f"CASE WHEN r._err_reason IS NOT NULL AND NOT r._err_missing THEN r._err_value "
        f"ELSE CASE {diff_val} END END AS _err_value, "
        f"CASE WHEN r._err_reason IS NOT NULL AND NOT r._err_missing THEN r._err_reason "
        f"ELSE 'conflicts with line ' || f._line || ', which has the same {key_name} ' || "
        f"{key_text} || ' and ' || coalesce(CASE {diff_old} END, 'no value') || ' here; "
        f"keep one of the two rows' END AS _err_reason "
        f"FROM ranked r JOIN ranked f ON {join} AND f._rn = 1 WHERE r._rn > 1 AND {key_ok}"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE rejected_rows AS "
        "SELECT _line, _err_field, _err_value, _err_reason FROM checked c "
        f"WHERE _err_reason IS NOT NULL AND NOT {repeats} "
        "UNION ALL SELECT _line, _err_field, _err_value, _err_reason FROM ranked "
        f"WHERE _err_reason IS NOT NULL AND (_rn = 1 OR NOT ({' AND '.join(_bare_key_ok(kind))})) "
        "UNION ALL SELECT _line, _err_field, _err_value, _err_reason FROM later WHERE NOT _dup"
    )
    con.execute("CREATE OR REPLACE TEMP TABLE dupes AS SELECT _line FROM later WHERE _dup")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE accepted AS SELECT * EXCLUDE ({errs}) FROM checked c "
        f"WHERE _err_reason IS NULL AND NOT {repeats} "
        f"UNION ALL SELECT * EXCLUDE (_rn, {errs}) FROM ranked "
        "WHERE _rn = 1 AND _err_reason IS NULL"
    )
    con.execute("DROP TABLE ranked")
    con.execute("DROP TABLE later")


def _bare_key_ok(kind: Kind) -> list[str]:
    return [f"{q(k)} IS NOT NULL" for k in kind.key]


def _reject_orphans(con: duckdb.DuckDBPyConnection, column: str, table: str, reason: str) -> None:
    orphan = f"NOT EXISTS (SELECT 1 FROM {table} s WHERE s.{column} = a.{column})"
    con.execute(
        f"INSERT INTO rejected_rows SELECT _line, '{column}', {column}, {reason} "
        f"FROM accepted a WHERE {orphan}"
    )
    con.execute(f"DELETE FROM accepted a WHERE {orphan}")


def _keep_rejected_raw(con: duckdb.DuckDBPyConnection) -> None:
    """Keep of the rows as read (``raw``) only the rejected ones, which the
    quarantine file shows as they were: the others are all in ``checked``.
    A file read into memory is then not held beside its checked copy while
    the rows are grouped and written (10M orders: 1.2 GB that a 2 GB
    memory limit otherwise spilled to disk and read back at each step)."""
    table = scalar(
        con,
        "SELECT count(*) FROM duckdb_tables() WHERE temporary "
        f"AND table_name IN ('raw', '{readers.READ}')",
    )
    if not table:
        return  # a view of a file read where it lies (Parquet): nothing held
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _raw_rejected AS SELECT * FROM raw "
        "WHERE _line IN (SELECT _line FROM rejected_rows)"
    )
    readers.drop_raw(con)
    con.execute("ALTER TABLE _raw_rejected RENAME TO raw")


def _count(con: duckdb.DuckDBPyConnection, result: IngestResult, broken: int) -> None:
    row = con.execute(
        "SELECT (SELECT count(*) FROM accepted), (SELECT count(*) FROM rejected_rows), "
        "(SELECT count(*) FROM dupes)"
    ).fetchall()[0]
    result.accepted, result.rejected, result.duplicates = (
        int(row[0]),
        int(row[1]) + broken,
        int(row[2]),
    )


def _first_reasons(result: IngestResult) -> str:
    lines = ["First rejected rows:"]
    for e in result.errors[:5]:
        lines.append("  " + quarantine.describe(result.source, e))
    return "\n".join(lines)


def _finish(
    ws: Workspace,
    run_id: int,
    result: IngestResult,
    started: float,
    status: str,
    message: str | None = None,
) -> None:
    result.seconds = round(time.perf_counter() - started, 3)
    ws.ops.finish_run(
        run_id,
        status,
        read=result.read,
        accepted=result.accepted,
        rejected=result.rejected,
        duplicates=result.duplicates,
        inserted=result.inserted,
        updated=result.updated,
        unchanged=result.unchanged,
        customers_created=result.customers_created,
        quarantine_path=result.quarantine,
        message=message,
    )
