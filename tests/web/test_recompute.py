"""After a commit, a served store's kept answers are recomputed once, while
the answers of the version before are given; a writer beside a server
makes way for it.

A real ``tenure serve`` process and real ``tenure ingest`` processes. The
server's computation of an answer is held at the fault point ``kept
answer`` (no sleeps), and computations are counted by the server's own log
lines, not by timing.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from tests.web.test_live import (
    BASE_ORDERS,
    FRESH,
    _done,
    _orders,
    _paused,
    _start,
    _stop,
    _tenure,
)

NEW = 500  # new orders of as many new customers (see test_live._orders)


def _computations(served, kind: str) -> int:
    log = (served.store.parent / "serve.log").read_text()
    return log.count(f"computed the answer {kind} of")


def _counts(response) -> tuple[int, int]:
    tables = response.json()["tables"]
    return tables["orders"], tables["customers"]


def _wait_for(path: Path, process) -> None:
    while not path.exists():
        assert process.poll() is None, "the server ended"
        time.sleep(0.01)  # waiting for the server to get there, not making a fault


@pytest.fixture
def held(tmp_path):
    """A served store whose computations of answers pass the fault point
    ``kept answer`` while the release file exists, and stop there while it
    does not."""
    release = tmp_path / "release"
    release.touch()
    served = _start(
        tmp_path, TENURE_READ_WAIT="30", TENURE_FAULT_AT="kept answer",
        TENURE_FAULT_SIGNAL="PAUSE", TENURE_FAULT_RELEASE=str(release),
    )  # fmt: skip
    yield served, release
    release.touch()
    _stop(served)


def test_after_a_commit_many_requests_cause_one_computation_and_get_the_version_before(
    held, tmp_path
):
    served, release = held
    before = (BASE_ORDERS, BASE_ORDERS)
    after = (BASE_ORDERS + NEW, BASE_ORDERS + NEW)
    with served.client() as client:
        first = client.get("/api/v1/status")
        assert first.status_code == 200 and _counts(first) == before
        assert "X-Tenure-Stale" not in first.headers
    assert _computations(served, "status") == 1
    # the next computation stops at the fault point until the release file is back
    release.unlink()
    reached = Path(f"{release}.reached")
    reached.unlink()
    new, _ = _orders(tmp_path / "new.csv", BASE_ORDERS, NEW)
    code, _, err = _done(_tenure(served.store, "ingest", "orders", str(new), "--json"))
    assert code == 0, err

    answers: list = []
    lock = threading.Lock()

    def ask(headers=None) -> None:
        with served.client() as client:
            got = client.get("/api/v1/status", headers=headers)
        with lock:
            answers.append(got)

    readers = [threading.Thread(target=ask) for _ in range(20)]
    for t in readers:
        t.start()
    for t in readers:
        t.join(timeout=120)
    _wait_for(reached, served.process)  # the one computation started, and is held
    # while it is held, every request was answered, from the version before
    assert len(answers) == 20
    assert {(a.status_code, a.headers.get("X-Tenure-Stale")) for a in answers} == {(200, "1")}
    assert {_counts(a) for a in answers} == {before}
    # a request for the store as it is now waits for the computation
    fresh = threading.Thread(target=ask, args=(FRESH,))
    fresh.start()
    fresh.join(timeout=1.0)
    assert fresh.is_alive() and len(answers) == 20
    release.touch()
    fresh.join(timeout=120)
    assert answers[-1].status_code == 200 and _counts(answers[-1]) == after
    assert "X-Tenure-Stale" not in answers[-1].headers
    with served.client() as client:
        now = client.get("/api/v1/status")
    assert _counts(now) == after and "X-Tenure-Stale" not in now.headers
    # 22 requests after the commit, one computation
    assert _computations(served, "status") == 2


def _nice_of_threads(pid: int) -> set[int]:
    """The nice value of every thread of ``pid`` (field 19 of its stat)."""
    found = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            stat = Path(f"/proc/{pid}/task/{task}/stat").read_text()
        except OSError:
            continue  # the thread ended meanwhile
        found.add(int(stat.rsplit(")", 1)[1].split()[16]))
    return found


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux's /proc")
def test_a_writer_beside_a_server_lowers_its_priority_and_not_otherwise(cli, tmp_path):
    from tenure.store import served as marker

    # a command run inside this program first: the program's own writes
    # keep their priority all the same
    assert cli("--version").code == 0
    served = _start(tmp_path, TENURE_READ_WAIT="30")
    own = os.getpriority(os.PRIO_PROCESS, 0)
    try:
        assert marker.is_served(served.store)
        # a program calling the library keeps its priority unless it asks
        assert marker.make_way(served.store) is False
        assert os.getpriority(os.PRIO_PROCESS, 0) == own
        new, _ = _orders(tmp_path / "new.csv", BASE_ORDERS, NEW)
        process, release = _paused(served.store, new, "rows staged", tmp_path)
        try:
            beside = _nice_of_threads(process.pid)
        finally:
            release.touch()
            assert _done(process)[0] == 0
    finally:
        _stop(served)
    assert min(beside) >= max(marker.NICE, own)
    assert not marker.is_served(served.store)  # the server's mark went with it
    more, _ = _orders(tmp_path / "more.csv", BASE_ORDERS + NEW, NEW)
    process, release = _paused(served.store, more, "rows staged", tmp_path)
    try:
        alone = _nice_of_threads(process.pid)
    finally:
        release.touch()
        assert _done(process)[0] == 0
    assert alone == {own}
