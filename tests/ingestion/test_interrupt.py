"""An ingest killed midway (kill -9, Ctrl-C) leaves the store exactly as before."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from tenure.config import load_settings
from tenure.ingestion.pipeline import ingest
from tenure.store.workspace import Workspace
from tests.conftest import query, write

ROWS = 1_500_000


@pytest.fixture(scope="module")
def big_orders(tmp_path_factory) -> Path:
    """Enough orders that an ingest takes a few seconds."""
    import numpy as np

    n = ROWS
    ids = np.arange(n)
    table = pa.table(
        {
            "order_id": pa.array(np.char.add("B", ids.astype(str))),
            "customer_id": pa.array(np.char.add("C", (ids % 50_000).astype(str))),
            "placed_at": pa.array(
                np.datetime64("2024-01-01") + (ids % 700).astype("timedelta64[D]")
            ),
            "amount": pa.array((ids % 9973) / 100.0),
        }
    )
    path = tmp_path_factory.mktemp("big") / "orders.csv"
    pacsv.write_csv(table, path)
    return path


def _snapshot(store: Path):
    return [
        query(store, f"SELECT count(*), sum(hash(columns(*))) FROM {t}")[0]
        for t in ("customers", "orders", "_ingest_batches")
    ]


def _start(store: Path, path: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tenure",
            "ingest",
            "orders",
            str(path),
            "--store",
            str(store),
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _wait_until_running(ws_store: Path, proc: subprocess.Popen, timeout: float = 60) -> None:
    """Until the ingest has recorded its run as started (it then reads and writes)."""
    import sqlite3

    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode()
        con = sqlite3.connect(ws_store / "ops.sqlite")
        try:
            n = con.execute("SELECT count(*) FROM ingest_runs WHERE status = 'running'").fetchone()
        finally:
            con.close()
        if n[0]:
            return
        time.sleep(0.05)
    raise AssertionError("the ingest never started")


def _seed(store: Path) -> Path:
    first = store.parent / "first.csv"
    write(first, "order_id,customer_id,placed_at,amount\nA1,C1,2024-01-01,5\nB7,C7,2024-01-02,1\n")
    with Workspace.open(load_settings(store=store)) as ws:
        ingest("orders", first, workspace=ws)
    return store


@pytest.fixture
def seeded(tmp_path) -> Path:
    return _seed(tmp_path / "store")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, big_orders):
    """How long the ingest runs once started, and the store it leaves."""
    store = _seed(tmp_path_factory.mktemp("full") / "store")
    proc = _start(store, big_orders)
    _wait_until_running(store, proc)
    started = time.perf_counter()
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()
    return time.perf_counter() - started, _snapshot(store)


@pytest.mark.slow
@pytest.mark.parametrize("fraction", [0.1, 0.4, 0.7])
def test_kill_9_midway_leaves_the_store_unchanged(seeded, big_orders, uninterrupted, fraction):
    """Killed at a fraction of the ingest's own duration: early kills land while
    it reads and checks; a late one may land after the commit, when the store
    must hold the whole import, never a part of it."""
    seconds, complete = uninterrupted
    before = _snapshot(seeded)
    assert complete != before
    proc = _start(seeded, big_orders)
    _wait_until_running(seeded, proc)
    time.sleep(fraction * seconds)
    if proc.poll() is not None:
        pytest.fail(f"the ingest finished within {fraction:.0%} of its usual time")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    after = _snapshot(seeded)
    if fraction < 0.5:
        assert after == before
    else:
        assert after in (before, complete)
    if after == complete:
        return
    # the next command sees the run was interrupted and says so
    with Workspace.open(load_settings(store=seeded)) as ws:
        run = ws.ops.runs()[0]
    assert run["status"] == "interrupted"
    # no quarantine file was published for the killed run
    assert list(seeded.glob("quarantine/*.csv")) == []


@pytest.mark.slow
def test_ctrl_c_midway_leaves_the_store_unchanged(seeded, big_orders, uninterrupted):
    before = _snapshot(seeded)
    proc = _start(seeded, big_orders)
    _wait_until_running(seeded, proc)
    time.sleep(0.3 * uninterrupted[0])
    assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (proc.returncode, err.decode(), _.decode())
    assert "Interrupted: the store was left as it was." in err.decode()
    assert _snapshot(seeded) == before
    with Workspace.open(load_settings(store=seeded)) as ws:
        assert ws.ops.runs()[0]["status"] == "interrupted"


@pytest.mark.slow
def test_the_same_ingest_uninterrupted_does_change_the_store(uninterrupted, tmp_path):
    """The control: without the kill, the store does change."""
    _, complete = uninterrupted
    assert complete != _snapshot(_seed(tmp_path / "store"))
    assert complete[1][0] == ROWS + 1  # A1 plus the big file (B7 is updated in place)
