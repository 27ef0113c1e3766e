"""Shared fixtures: a fresh workspace folder, the CLI in-process, PostgreSQL."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path

import pytest

from tenure.config import load_settings
from tenure.store.workspace import Workspace

IN_CI = (
    os.environ.get("CI", "").lower() == "true" or os.environ.get("TENURE_REQUIRE_SERVICES") == "1"
)


def lifetimes_dir() -> Path:
    """Where lifetimes (a test-only reference implementation, with the CDNOW
    data of the published estimates) is installed; skips (fails in CI) without it."""
    import importlib.util

    spec = importlib.util.find_spec("lifetimes")
    if spec is None:
        skip_or_fail("lifetimes is not installed (pip install 'tenure[test]')")
    return Path(next(iter(spec.submodule_search_locations)))


def cdnow_sample(customer: str = "customer"):
    """The CDNOW sample that lifetimes ships (6,919 transactions of 2,357
    customers, 1997-01 to 1998-06) as a pandas frame: the customer id (in a
    column named ``customer``), ``sample``, ``date`` (YYYYMMDD text),
    ``cds`` and ``amount``."""
    import pandas as pd

    return pd.read_csv(
        lifetimes_dir() / "datasets" / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=[customer, "sample", "date", "cds", "amount"],
        dtype={customer: str, "date": str},
    )


def import_lifetimes():
    """The lifetimes package, its import warnings silenced (lifetimes 0.11
    touches options that newer pandas deprecates)."""
    lifetimes_dir()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import lifetimes
        import lifetimes.utils  # noqa: F401

    return lifetimes


def skip_or_fail(reason: str) -> None:
    """A missing service skips locally and fails in CI, where .ci/run installs it."""
    if IN_CI:
        pytest.fail(f"{reason} (CI must provide it: see .ci/run)")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """No TENURE_* variable or tenure.toml from the developer's shell leaks in."""
    for name in list(os.environ):
        if name.startswith("TENURE_") and name != "TENURE_REQUIRE_SERVICES":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def store(tmp_path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def ws(store):
    with Workspace.open(load_settings(store=store)) as workspace:
        yield workspace


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


@pytest.fixture
def cli(capsys):
    """Run ``tenure ARGS`` in this process, as the entry point does."""
    from tenure.cli.app import main

    def run(*args: str) -> CliResult:
        old = sys.argv
        sys.argv = ["tenure", *map(str, args)]
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = int(exc.code or 0)
        finally:
            sys.argv = old
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def query(store: Path, sql: str):
    import duckdb

    con = duckdb.connect(str(store / "analytics.duckdb"), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        return con.execute(sql).fetchall()
    finally:
        con.close()


# PostgreSQL ---------------------------------------------------------------


def _pg_bin() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url():
    """A throwaway PostgreSQL cluster on loopback, from Debian's binaries."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        skip_or_fail("psycopg is not installed (pip install 'tenure[postgres]')")
    bindir = _pg_bin()
    if bindir is None:
        skip_or_fail("PostgreSQL server binaries (initdb) not found: apt-get install postgresql")
    import tempfile

    # not under pytest's tmp folder: that one is private to this user, and the
    # server may run as the postgres user
    root = Path(tempfile.mkdtemp(prefix="tenure-pg-"))
    data = root / "data"
    port = _free_port()
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        runuser = shutil.which("runuser")
        if runuser is None:
            skip_or_fail("running as root and runuser is missing")
        prefix = [runuser, "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
        os.chmod(root, 0o777)
    subprocess.run(
        [
            *prefix,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "tenure",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-locale",
        ],
        check=True,
        capture_output=True,
    )
    log = root / "pg.log"
    subprocess.run(
        [
            *prefix,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(log),
            "-w",
            "start",
            "-o",
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root} "
            "-c fsync=off",
        ],
        check=True,
        capture_output=True,
    )
    url = f"postgresql+psycopg://tenure@127.0.0.1:{port}/postgres"
    import sqlalchemy as sa

    deadline = time.time() + 30
    while True:
        engine = sa.create_engine(url)
        try:
            with engine.connect():
                pass
            break
        except sa.exc.OperationalError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)
        finally:
            engine.dispose()
    yield url
    subprocess.run(
        [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
        capture_output=True,
    )
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_database(postgres_url):
    """A fresh database in the throwaway cluster, for one test."""
    import uuid

    import sqlalchemy as sa

    name = "t_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    yield postgres_url.rsplit("/", 1)[0] + "/" + name


# Stores built once per run --------------------------------------------------

# key -> the folder a builder filled, in a folder of this run's own
_BUILT: dict[tuple, Path] = {}
_BUILT_ROOT: list[Path] = []


def copy_built(folder: Path, key: tuple, build: Callable[[Path], None]) -> Path:
    """Fill ``folder`` with what ``build(folder)`` writes there. ``build`` runs
    once per run for each ``key`` (seeded data and a deterministic ingest
    give the same files every time), in a folder of its own; each call copies
    that folder and moves the paths the operational stores recorded (ingest
    sources, quarantine files) to ``folder``. Returns the folder built."""
    source = _BUILT.get(key)
    if source is None:
        if not _BUILT_ROOT:
            _BUILT_ROOT.append(Path(tempfile.mkdtemp(prefix="tenure-built-")))
            atexit.register(_remove_built, os.getpid())
        source = Path(tempfile.mkdtemp(dir=_BUILT_ROOT[0]))  # builders may nest
        try:
            build(source)
        except BaseException:
            shutil.rmtree(source, ignore_errors=True)
            raise
        _BUILT[key] = source
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, folder, dirs_exist_ok=True)
    for ops in folder.rglob("ops.sqlite"):
        _move_paths(ops, str(source), str(folder))
    return source


def _remove_built(owner: int) -> None:
    if os.getpid() == owner:  # not a forked child's exit
        shutil.rmtree(_BUILT_ROOT[0], ignore_errors=True)


def _move_paths(database: Path, old: str, new: str) -> None:
    """Every text value under the folder ``old`` in a SQLite file, moved under ``new``."""
    con = sqlite3.connect(database)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for column in con.execute(f'PRAGMA table_info("{table}")').fetchall():
                name = column[1]
                con.execute(
                    f'UPDATE "{table}" SET "{name}" = replace("{name}", ?, ?) '
                    f'WHERE typeof("{name}") = \'text\' AND instr("{name}", ?) > 0',
                    (old + os.sep, new + os.sep, old + os.sep),
                )
        con.commit()
    finally:
        con.close()


def moved(files, old: Path, new: Path):
    """``files`` (a dataclass of paths under ``old``) with its paths under ``new``."""
    return replace(files, **{
        f.name: new / getattr(files, f.name).relative_to(old)
        for f in fields(files) if isinstance(getattr(files, f.name), Path)
    })  # fmt: skip


# Operational stores at the head revision ------------------------------------


@pytest.fixture(scope="session")
def _sqlite_at_head(tmp_path_factory) -> Path:
    """An operational store on SQLite, migrated to the head revision once per run."""
    from tenure.store.ops import OpsStore

    path = tmp_path_factory.mktemp("ops-head") / "ops.sqlite"
    OpsStore.open(f"sqlite:///{path}").close()
    return path


@pytest.fixture
def sqlite_at_head(_sqlite_at_head, tmp_path) -> str:
    """The URL of a new SQLite operational store at the head revision, as
    ``OpsStore.open`` creates one (a copy of one it created)."""
    path = tmp_path / "ops.sqlite"
    shutil.copyfile(_sqlite_at_head, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def _pg_template(postgres_url) -> str:
    """A database migrated to the head revision once per run, for new
    databases to be copied from (PostgreSQL's CREATE DATABASE ... TEMPLATE)."""
    import sqlalchemy as sa

    from tenure.store.ops import OpsStore

    name = "tenure_head"
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    OpsStore.open(postgres_url.rsplit("/", 1)[0] + "/" + name).close()
    with admin.connect() as conn:
        conn.execute(sa.text(f"ALTER DATABASE {name} WITH is_template = true"))
    admin.dispose()
    return name


@pytest.fixture
def pg_at_head(postgres_url, _pg_template):
    """A new database in the throwaway cluster at the head revision, as
    ``OpsStore.open`` creates one (a copy of one it created), for one test."""
    import uuid

    import sqlalchemy as sa

    name = "t_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name} TEMPLATE {_pg_template}"))
    admin.dispose()
    yield postgres_url.rsplit("/", 1)[0] + "/" + name


def demo_store(folder: Path, *, customers: int, seed: int, currency: str = "EUR"):
    """A store of a seeded demo business, every kind ingested in the data
    model's order through the ingest pipeline: its settings and its files.
    Built once per run for each size, seed and currency, then copied."""
    from tenure.config import load_settings

    made = {}

    def build(where: Path) -> None:
        made["files"] = _build_demo_store(where, customers=customers, seed=seed, currency=currency)

    source = copy_built(folder, ("demo", customers, seed, currency), build)
    if "files" in made:
        _DEMO_FILES[source] = made["files"]
    settings = load_settings(store=folder / "store", reporting_currency=currency)
    return settings, moved(_DEMO_FILES[source], source, folder)


_DEMO_FILES: dict[Path, object] = {}


def _build_demo_store(folder: Path, *, customers: int, seed: int, currency: str):
    from tenure.config import load_settings
    from tenure.datamodel import INGEST_ORDER
    from tenure.datasets.demo import generate_demo
    from tenure.ingestion.pipeline import ingest
    from tenure.store.workspace import Workspace

    files = generate_demo(folder / "files", customers=customers, seed=seed)
    settings = load_settings(store=folder / "store", reporting_currency=currency)
    with Workspace.open(settings) as ws:
        for kind in INGEST_ORDER:
            ingest(kind, files.by_kind()[kind], workspace=ws)
    return files
