"""The store's locks between threads (each acquisition is its own file
descriptor, so threads exclude each other as processes do)."""

from __future__ import annotations

import fcntl
import os
import threading

import pytest

from tenure.errors import StoreBusyError
from tenure.store import locks


def _in_thread(target) -> tuple[threading.Thread, list]:
    out: list = []

    def run() -> None:
        try:
            out.append(target())
        except BaseException as exc:  # handed to the test
            out.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def test_readers_share_and_a_commit_waits_for_them(tmp_path):
    first = locks.acquire_read(tmp_path)
    second, got = _in_thread(lambda: locks.acquire_read(tmp_path, wait=5)())
    second.join()
    assert got == [None]  # two readers at once

    def commit() -> int:
        with locks.writing(tmp_path, "tenure test"), locks.committing(tmp_path, wait=60):
            return locks.version(tmp_path)

    committer, done = _in_thread(commit)
    committer.join(timeout=0.5)
    assert committer.is_alive() and done == []  # held by the first reader
    first()
    committer.join(timeout=60)
    assert done == [0] and locks.version(tmp_path) == 1  # bumped on leaving


def test_a_waiting_commit_goes_before_new_readers(tmp_path):
    """Writer preference: with a commit waiting, a new reader is not let in
    beside the old one, so readers in turn cannot starve the commit."""
    old = locks.acquire_read(tmp_path)
    # enters the commit, and leaves it at once once in
    committer, _ = _in_thread(lambda: locks.committing(tmp_path, wait=60).__enter__())
    # the committer holds the gate once it waits for the data lock
    while not _gate_taken(tmp_path):
        committer.join(timeout=0.01)
    reader, got = _in_thread(lambda: locks.acquire_read(tmp_path, wait=0.3))
    reader.join(timeout=60)
    (busy,) = got
    assert isinstance(busy, StoreBusyError) and busy.retry_after >= 1
    assert "busy: a commit to it took more than 0.3 s" in str(busy)
    old()
    committer.join(timeout=60)


def _gate_taken(store) -> bool:
    fd = os.open(locks.folder(store) / "gate", os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def test_a_thread_that_reads_may_read_again_while_a_commit_waits(tmp_path):
    """Re-entrant within a thread: the second read does not queue behind the
    commit that waits for the first."""
    outer = locks.acquire_read(tmp_path)
    committer, _ = _in_thread(lambda: locks.committing(tmp_path, wait=60).__enter__())
    while not _gate_taken(tmp_path):
        committer.join(timeout=0.01)
    inner = locks.acquire_read(tmp_path, wait=0.3)  # would time out behind the gate
    inner()
    assert locks.reads_now(tmp_path)
    outer()
    assert not locks.reads_now(tmp_path)
    committer.join(timeout=60)


def test_writers_take_turns_and_a_waiting_one_says_for_whom(tmp_path, monkeypatch):
    said: list[str] = []
    monkeypatch.setattr(locks.WAITS, "notice", said.append)
    with locks.writing(tmp_path, "tenure ingest orders a.csv"):
        with pytest.raises(StoreBusyError, match="has been writing to it for more than 0.2 s"):
            with locks.writing(tmp_path, "tenure predict", wait=0.2):
                pass
    assert said == [
        f"waiting for tenure ingest orders a.csv (pid {os.getpid()}) to finish "
        f"writing to {tmp_path} (giving up after 0.2 s)"
    ]
    with locks.writing(tmp_path, "tenure predict", wait=0.2):  # free again
        pass


def test_another_program_holding_the_file_is_named_after_a_few_tries(store, cli):
    """A DuckDB shell or notebook with the file open for writing is outside
    tenure's locks: tenure retries a moment, then says so plainly."""
    import json
    import subprocess
    import sys

    from tenure.config import load_settings
    from tenure.store.workspace import Workspace

    Workspace.open(load_settings(store=store)).close()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); "
         "sys.stdin.readline()", str(store / "analytics.duckdb")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "ready"
        out = cli("status", "--store", str(store), "--json")
    finally:
        holder.communicate("\n", timeout=60)
    assert out.code == 1
    error = json.loads(out.out)["error"]
    assert error["code"] == "store_busy"
    assert (
        error["message"] == f"the store {store / 'analytics.duckdb'} is in use by another process."
    )
    assert "close it there" in error["hint"]
    assert cli("status", "--store", str(store), "--json").code == 0  # free again
