"""A workspace: the analytics store and the operational store together.

By default both live in one folder (``./tenure-data``)::

    tenure-data/
      analytics.duckdb   facts about customers (DuckDB)
      ops.sqlite         tenure's own state (SQLite; PostgreSQL by URL)
      quarantine/        rejected rows of each ingest, with their reasons
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb

from tenure.config import Settings, load_settings, use_memory_limit
from tenure.errors import ConfigError
from tenure.store import analytics
from tenure.store.missing import no_store_error
from tenure.store.ops import OpsStore, safe_url

DEFAULT_CURRENCY = "EUR"


class Workspace:
    """Open with :meth:`open`; use as a context manager to close both stores."""

    def __init__(self, settings: Settings, ops: OpsStore) -> None:
        self.settings = settings
        self.ops = ops
        self._reconcile_runs()
        self._clear_partials()

    @classmethod
    def open(
        cls, settings: Settings | None = None, *, create: bool = True, **flags: Any
    ) -> Workspace:
        settings = settings or load_settings(**flags)
        use_memory_limit(settings.memory_limit)  # settings given, not loaded, too
        store = settings.store
        if store.exists() and not store.is_dir():
            raise ConfigError(
                f"the store path {store} is a file, not a folder.",
                hint="Pass --store with a folder (it is created when missing).",
            )
        made = not store.exists()
        if made:
            if not create:
                raise no_store_error(store)
            store.mkdir(parents=True, mode=0o700)  # customers' data: the owner's only
        fresh = not settings.analytics_path.exists()
        hint = f" --store {store}"
        settings = _checked(settings, create=create, hint=hint)
        ops = OpsStore.open(settings.ops_database_url, create=create, store_hint=hint)
        if fresh:
            _owner_only(store, made)
        return cls(settings, ops)

    @contextmanager
    def analytics(
        self, *, read_only: bool = False, what: str = "a tenure command", rows: int = 0
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """The analytics store: read-only under the read lock, or open for
        writing as ``what`` for a short block under the writers' lock; a
        block that writes more than ``analytics.SWAP_ROWS`` ``rows`` writes
        a copy that replaces the store (see :mod:`tenure.store.locks`)."""
        if not read_only:
            path = self.settings.analytics_path
            with analytics.writing(path, what, copy=rows > analytics.swap_rows()) as con:
                yield con
            return
        con = analytics.connect(self.settings.analytics_path, read_only=True)
        try:
            yield con
        finally:
            con.close()

    def _reconcile_runs(self) -> None:
        """Runs still marked 'running' whose process is gone were interrupted
        (or committed just before dying): the analytics store says which."""
        stale = [r for r in self.ops.running_runs() if not _pid_alive(r.get("pid"))]
        if not stale:
            return
        with self.analytics(read_only=True) as con:
            committed = {
                int(row[0])
                for row in con.execute("SELECT ingest_id FROM _ingest_batches").fetchall()
            }
        for run in stale:
            if run["id"] in committed:
                self.ops.finish_run(run["id"], "succeeded", message="recorded after restart")
            else:
                self.ops.finish_run(
                    run["id"], "interrupted", message="the process stopped before committing"
                )

    def _clear_partials(self) -> None:
        """What a killed writer left: an ingest's quarantine file under its
        temporary name (``.csv.partial``) and its scratch database, and a
        copy of the store being written (see ``analytics.committing``);
        removed, unless their run or process is still going."""
        going = {int(r["id"]) for r in self.ops.running_runs()}
        store = self.settings.store
        for path in [*self.settings.quarantine_dir.glob("*.partial"), *store.glob(".tmp/ingest-*")]:
            run = path.name.removeprefix("ingest-").split("-", 1)[0]
            if not (run.isdigit() and int(run) in going):
                path.unlink(missing_ok=True)
        for path in store.glob(".tmp/next-*"):
            pid = path.name.split("-")[1]
            if not (pid.isdigit() and _pid_alive(int(pid))):
                path.unlink(missing_ok=True)

    def status(self) -> dict[str, Any]:
        return status(self.settings, self.ops)

    def close(self) -> None:
        self.ops.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def removed_if_failed(store: Path) -> Iterator[None]:
    """A store that the block creates is removed again when the block fails,
    so that a mistyped path or a refused file leaves no empty store behind.
    It is kept when the failure left rejected rows in its quarantine folder:
    the message points there."""
    existed = store.exists()
    try:
        yield
    except BaseException:
        if not existed and store.is_dir() and not any(store.glob("quarantine/*.csv")):
            shutil.rmtree(store, ignore_errors=True)
        raise


def _owner_only(store: Path, folder: bool) -> None:
    """A new store's files (and its folder, when tenure made it) are its
    owner's only: 0600 files, 0700 folders, whatever the umask."""
    if folder:
        store.chmod(0o700)
    for sub in (".tmp", "quarantine"):
        (store / sub).mkdir(mode=0o700, exist_ok=True)
    for path in store.iterdir():
        path.chmod(0o700 if path.is_dir() else 0o600)


def _checked(settings: Settings, *, create: bool, hint: str) -> Settings:
    """The settings with the store's reporting currency, after checking the
    analytics store's version (read-only: the server may be reading it); a
    missing schema is created when ``create``, as the one writer."""
    path = settings.analytics_path
    if path.exists():
        con = analytics.connect(path, read_only=True)
        try:
            found = analytics.has_schema(con)
            if found:
                analytics.check_version(con, path, hint)
                stored = analytics.meta(con).get("reporting_currency") or DEFAULT_CURRENCY
        finally:
            con.close()
        if found:
            wanted = settings.reporting_currency
            if wanted and wanted != stored:
                raise ConfigError(
                    f"the store {settings.store} reports in {stored}, but the settings ask "
                    f"for {wanted}.",
                    hint=f"Drop --reporting-currency (the store's own is used), or start a "
                    f"new store for {wanted} with --store.",
                )
            return replace(settings, reporting_currency=stored)
    if not create:
        raise no_store_error(settings.store)
    chosen = settings.reporting_currency is not None
    with analytics.writing(path, "tenure (creating the store)") as con:
        if analytics.has_schema(con):  # another command created it meanwhile
            created = True
        else:
            created = False
            con.execute("BEGIN")
            analytics.create_schema(con, settings.reporting_currency or DEFAULT_CURRENCY)
            # a store whose currency nobody chose takes that of its first data
            # (see tenure.ingestion.pipeline)
            con.execute(
                "INSERT INTO _tenure_meta VALUES ('reporting_currency_chosen', ?) "
                "ON CONFLICT DO NOTHING",
                ["yes" if chosen else "no"],
            )
            con.execute("COMMIT")
    if created:
        return _checked(settings, create=False, hint=hint)
    return replace(settings, reporting_currency=settings.reporting_currency or DEFAULT_CURRENCY)


def _pid_alive(pid: int | None) -> bool:
    import os

    if not pid:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def status(settings: Settings, ops: OpsStore) -> dict[str, Any]:
    """The JSON of ``tenure status --json`` and of ``GET /api/v1/status``:
    where the stores are, their versions and the rows of each table (the
    analytics store is opened read-only)."""
    con = analytics.connect(settings.analytics_path, read_only=True)
    try:
        counts = analytics.table_counts(con)
        meta = analytics.meta(con)
    finally:
        con.close()
    return {
        "store": str(settings.store),
        "analytics": str(settings.analytics_path),
        "ops": safe_url(settings.ops_database_url),
        "schema_version": int(meta.get("schema_version", 0)),
        "ops_revision": ops.revision(),
        "reporting_currency": meta.get("reporting_currency"),
        "tables": counts,
    }
