"""An ingest stopped midway (kill -9, Ctrl-C) leaves the store exactly as before.

The ingest is stopped at named points of its write path (``tenure.faults``),
never by timing a kill: the same point is hit on an idle laptop and on a
loaded CI machine.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tenure.config import load_settings
from tenure.faults import POINTS
from tenure.ingestion.pipeline import ingest
from tenure.store.workspace import Workspace
from tests.conftest import query, write

# B7 changes its amount (an update), B8 is new, the last row is rejected
# (so a quarantine file is written), C9 is a customer to create.
ORDERS = (
    "order_id,customer_id,placed_at,amount\n"
    "B7,C7,2024-01-02,2\n"
    "B8,C9,2024-01-03,3\n"
    "B9,C9,2024-02-30,4\n"
)


def _snapshot(store: Path):
    return [
        query(store, f"SELECT count(*), sum(hash(columns(*))) FROM {t}")[0]
        for t in ("customers", "orders", "_ingest_batches")
    ]


def _seed(store: Path) -> Path:
    first = store.parent / "first.csv"
    write(first, "order_id,customer_id,placed_at,amount\nA1,C1,2024-01-01,5\nB7,C7,2024-01-02,1\n")
    with Workspace.open(load_settings(store=store)) as ws:
        ingest("orders", first, workspace=ws)
    return store


def _ingest(store: Path, orders: Path, *flags: str, **env: str) -> subprocess.CompletedProcess:
    """``tenure ingest`` in its own process; run() closes its pipes."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TENURE_FAULT")}
    command = ["ingest", "orders", str(orders), "--store", str(store), *flags]
    return subprocess.run(
        [sys.executable, "-m", "tenure", *command],
        capture_output=True,
        text=True,
        env={**environ, **env},
        timeout=300,
        check=False,
    )


def _last_run(store: Path) -> dict:
    with Workspace.open(load_settings(store=store)) as ws:
        return ws.ops.runs()[0]


@pytest.fixture
def seeded(tmp_path) -> tuple[Path, Path]:
    store = _seed(tmp_path / "store")
    return store, write(tmp_path / "orders.csv", ORDERS)


@pytest.fixture(scope="module")
def complete(tmp_path_factory):
    """The store after the same ingest, not stopped."""
    folder = tmp_path_factory.mktemp("complete")
    store = _seed(folder / "store")
    done = _ingest(store, write(folder / "orders.csv", ORDERS))
    assert done.returncode == 0, done.stderr
    return _snapshot(store)


@pytest.mark.parametrize("point", ["rows staged", "quarantine written", "before commit"])
def test_kill_9_at_a_point_before_the_commit_leaves_the_store_unchanged(seeded, point):
    store, orders = seeded
    before = _snapshot(store)
    done = _ingest(store, orders, TENURE_FAULT_AT=point)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert _snapshot(store) == before
    # no quarantine file was published for the killed run
    assert list(store.glob("quarantine/*.csv")) == []
    # the next command sees that the run was interrupted
    assert _last_run(store)["status"] == "interrupted"


def test_kill_9_as_a_written_copy_is_about_to_replace_the_store_leaves_it_unchanged(seeded):
    """A large ingest writes a copy of the store and swaps it in; killed just
    before the swap, the store is as it was, and the copy goes on next open."""
    store, orders = seeded
    before = _snapshot(store)
    done = _ingest(store, orders, TENURE_FAULT_AT="swap", TENURE_SWAP_ROWS="0")
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert len(list(store.glob(".tmp/next-*.duckdb"))) == 1
    assert _snapshot(store) == before
    assert _last_run(store)["status"] == "interrupted"
    assert list(store.glob(".tmp/next-*")) == []


def test_the_same_ingest_through_a_copy_of_the_store_writes_the_same(seeded, complete):
    store, orders = seeded
    done = _ingest(store, orders, TENURE_SWAP_ROWS="0")
    assert done.returncode == 0, done.stderr
    after = _snapshot(store)
    assert after[:2] == complete[:2]
    assert after[2][0] == complete[2][0]
    assert list(store.glob(".tmp/*.duckdb*")) == []


def test_a_partial_quarantine_file_of_a_killed_run_is_removed_on_the_next_open(seeded):
    store, orders = seeded
    done = _ingest(store, orders, TENURE_FAULT_AT="before commit")
    assert done.returncode == -signal.SIGKILL, done.stderr
    # the rejected row's file, never published, and the run's scratch database
    assert len(list(store.glob("quarantine/*.csv.partial"))) == 1
    assert list(store.glob(".tmp/ingest-*.duckdb"))
    Workspace.open(load_settings(store=store)).close()
    assert list(store.glob("quarantine/*")) == []
    assert list(store.glob(".tmp/ingest-*")) == []


def test_the_partial_file_of_a_run_still_going_is_kept(seeded, tmp_path):
    store, orders = seeded
    release = tmp_path / "release"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TENURE_FAULT")}
    going = subprocess.Popen(
        [sys.executable, "-m", "tenure", "ingest", "orders", str(orders), "--store", str(store)],
        env={**environ, "TENURE_FAULT_AT": "rows staged", "TENURE_FAULT_SIGNAL": "PAUSE",
             "TENURE_FAULT_RELEASE": str(release)},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        while not Path(f"{release}.reached").exists():
            assert going.poll() is None, going.communicate()[1]
            time.sleep(0.01)  # waiting for the ingest to get there
        Workspace.open(load_settings(store=store)).close()
        assert len(list(store.glob("quarantine/*.csv.partial"))) == 1
    finally:
        release.touch()
        _, err = going.communicate(timeout=300)
    assert going.returncode == 0, err
    assert len(list(store.glob("quarantine/*.csv"))) == 1


def test_kill_9_after_the_commit_leaves_the_whole_import(seeded, complete):
    store, orders = seeded
    done = _ingest(store, orders, TENURE_FAULT_AT="after commit")
    assert done.returncode == -signal.SIGKILL, done.stderr
    after = _snapshot(store)
    # the batch record holds the time of its commit; its count is compared
    assert after[:2] == complete[:2]
    assert after[2][0] == complete[2][0]


@pytest.mark.parametrize("point", ["rows staged", "before commit"])
def test_ctrl_c_at_a_point_leaves_the_store_unchanged(seeded, point):
    store, orders = seeded
    before = _snapshot(store)
    done = _ingest(store, orders, "--json", TENURE_FAULT_AT=point, TENURE_FAULT_SIGNAL="INT")
    assert done.returncode == 130, done.stderr
    assert "Interrupted: the store was left as it was." in done.stderr
    assert json.loads(done.stdout)["error"]["code"] == "interrupted"
    assert _snapshot(store) == before
    assert _last_run(store)["status"] == "interrupted"


def test_the_same_ingest_uninterrupted_does_change_the_store(seeded, complete):
    """The control: without a fault, the store does change, by exactly the file."""
    store, _ = seeded
    assert complete != _snapshot(store)
    assert complete[1][0] == 3  # A1, B7 updated in place, B8; B9 rejected
    assert complete[0][0] == 3  # C1, C7, and C9 created


def test_every_named_point_is_on_the_write_path():
    """A point renamed in the code but not here would make a test above pass vacuously."""
    src = Path(__file__).parents[2] / "src" / "tenure"
    text = "".join(p.read_text() for p in src.rglob("*.py"))
    for point in POINTS:
        assert f'checkpoint("{point}")' in text
