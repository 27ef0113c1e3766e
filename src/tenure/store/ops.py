"""The operational store: SQLite by default, PostgreSQL by database URL.

It holds what tenure itself writes and must keep transactional: the record
of ingest runs now; the loyalty ledger, campaign outbox and consent later.
Its schema is created and upgraded by the Alembic revisions in
``migrations/``; a store at another revision is refused with the command
that migrates it.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tenure.errors import ConfigError, MissingExtraError, StoreVersionError
from tenure.store.missing import no_store_error
from tenure.store.ops_schema import ingest_runs


def _alembic_config(connection: sa.Connection):
    from alembic.config import Config

    ini = resources.files("tenure.store") / "alembic.ini"
    config = Config(str(ini))
    config.set_main_option("script_location", str(resources.files("tenure.store") / "migrations"))
    config.attributes["connection"] = connection
    return config


def _script_directory():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(resources.files("tenure.store") / "migrations"))
    return ScriptDirectory.from_config(config)


_REVISION_LINE = re.compile(r"^(down_revision|revision)\b[^=]*=\s*(.+)$", re.MULTILINE)


def head_revision() -> str:
    """The newest revision of ``migrations/``.

    Read from the ``revision`` and ``down_revision`` lines of the revision
    files: every command that opens a store asks, and importing Alembic to
    answer took most of a second. A history this reading cannot settle (a
    branch, a line it does not understand) is left to Alembic."""
    versions = resources.files("tenure.store") / "migrations" / "versions"
    revisions: set[str] = set()
    earlier: set[str] = set()
    for entry in versions.iterdir():
        if not entry.name.endswith(".py") or entry.name.startswith("_"):
            continue
        found = dict((k, v.strip()) for k, v in _REVISION_LINE.findall(entry.read_text("utf-8")))
        if "revision" not in found or "down_revision" not in found:
            return _alembic_head()
        revisions.update(re.findall(r"[\"']([^\"']+)[\"']", found["revision"]))
        earlier.update(re.findall(r"[\"']([^\"']+)[\"']", found["down_revision"]))
    heads = revisions - earlier
    return heads.pop() if len(heads) == 1 else _alembic_head()


def _alembic_head() -> str:
    head = _script_directory().get_current_head()
    assert head is not None, "the migrations folder has no revision"
    return head


def known_revisions() -> set[str]:
    return {rev.revision for rev in _script_directory().walk_revisions()}


def _make_engine(url: str) -> sa.Engine:
    try:
        # a served store answers from up to 40 worker threads: connections
        # beyond the pool were closed on return and made again (with their
        # pragmas) for the next request, a sixth of a loyalty write's time
        sized = {"pool_size": 20, "max_overflow": 20} if url.startswith("sqlite:///") else {}
        engine = sa.create_engine(url, future=True, **sized)
    except ModuleNotFoundError as exc:
        raise MissingExtraError.for_extra("postgres", exc.name or "psycopg") from None
    except sa.exc.ArgumentError as exc:
        raise ConfigError(
            f"the operational store URL {url!r} is not a database URL ({exc}).",
            hint="Use sqlite:///path/ops.sqlite or postgresql+psycopg://user@host/db.",
        ) from None
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

    return engine


class OpsStore:
    """Handle on the operational store; create with :meth:`open`."""

    def __init__(self, engine: sa.Engine, url: str) -> None:
        self.engine = engine
        self.url = url

    @classmethod
    def open(cls, url: str, *, create: bool = True, store_hint: str = "") -> OpsStore:
        engine = _make_engine(url)
        try:
            cls._prepare(engine, url, create=create, store_hint=store_hint)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, url)

    @staticmethod
    def _prepare(engine: sa.Engine, url: str, *, create: bool, store_hint: str) -> None:
        database = engine.url.database
        if (
            not create
            and engine.url.get_backend_name() == "sqlite"
            and database not in (None, "", ":memory:")
            and not Path(database).exists()
        ):  # SQLite would say "unable to open database file"; say what is missing
            raise no_store_error(Path(database).parent)
        try:
            with engine.connect() as conn:
                current = _current_revision(conn)
        except sa.exc.OperationalError as exc:
            raise ConfigError(
                f"cannot open the operational store at {safe_url(url)}: {exc.orig}",
                hint="Check the URL, that the server is running, and your credentials.",
            ) from None
        head = head_revision()
        if current is None:
            if not create:
                raise no_store_error(safe_url(url))
            with engine.begin() as conn:
                from alembic import command

                command.upgrade(_alembic_config(conn), "head")
        elif current != head:
            if current in known_revisions():
                raise StoreVersionError(
                    f"the operational store at {safe_url(url)} is at schema revision {current}; "
                    f"this tenure uses {head}.",
                    hint=f"Back it up, then run: tenure migrate{store_hint}",
                )
            raise StoreVersionError(
                f"the operational store at {safe_url(url)} was written by a newer tenure "
                f"(schema revision {current}, unknown here).",
                hint="Upgrade tenure: pip install --upgrade tenure",
            )

    @classmethod
    def migrate(cls, url: str) -> tuple[str | None, str]:
        """Upgrade the schema to this tenure's head; returns (before, after)."""
        engine = _make_engine(url)
        try:
            return cls._migrate(engine)
        finally:
            engine.dispose()

    @staticmethod
    def _migrate(engine: sa.Engine) -> tuple[str | None, str]:
        with engine.begin() as conn:
            before = _current_revision(conn)
            if before is not None and before not in known_revisions():
                raise StoreVersionError(
                    f"the operational store is at revision {before}, newer than this tenure.",
                    hint="Upgrade tenure: pip install --upgrade tenure",
                )
            from alembic import command

            command.upgrade(_alembic_config(conn), "head")
        return before, head_revision()

    def revision(self) -> str | None:
        with self.engine.connect() as conn:
            return _current_revision(conn)

    def close(self) -> None:
        self.engine.dispose()

    # ingest runs -------------------------------------------------------
    def start_run(self, kind: str, source: str) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(
                ingest_runs.insert().values(
                    kind=kind,
                    source=source,
                    status="running",
                    started_at=datetime.now(UTC),
                    pid=os.getpid(),
                )
            )
            return int(result.inserted_primary_key[0])

    def finish_run(self, run_id: int, status: str, **counts: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                ingest_runs.update()
                .where(ingest_runs.c.id == run_id)
                .values(status=status, finished_at=datetime.now(UTC), **counts)
            )

    def runs(self, limit: int = 50) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(ingest_runs).order_by(ingest_runs.c.id.desc()).limit(limit)
            ).mappings()
            return [dict(r) for r in rows]

    def running_runs(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(ingest_runs).where(ingest_runs.c.status == "running")
            ).mappings()
            return [dict(r) for r in rows]


def _current_revision(conn: sa.Connection) -> str | None:
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url
