"""Who may use the analytics store when, across processes and threads.

DuckDB lets one process write a database file, or any number read it, never
both at once. tenure keeps readers and writers out of each other's way with
three locks (``flock`` on files in ``<store>/.locks/``), each taken on its
own file descriptor so that they hold between the threads of one process
(the server) as well as between processes:

``write``
    exclusive, held by a writing command from start to end (an ingest, the
    saving of a fit or of scores, a migration). Writers queue on it; it
    keeps nobody from reading.
``data``
    shared by every open read connection, exclusive while a writer commits.
    The commit is the only moment the file is opened for writing: an ingest
    reads, types, checks and stages its rows beside the store (read-only)
    and holds ``data`` for its DELETE/INSERT and COMMIT alone.
``gate``
    gives the commit precedence: a reader passes it with a brief shared
    lock before taking ``data``; a committer holds it exclusively while it
    waits for the readers inside to finish, so a stream of new readers
    cannot starve it.

Every wait polls with a deadline. A reader that cannot get in within
:data:`WAITS`'s ``read`` seconds raises :class:`~tenure.errors.StoreBusyError`
(a 503 with Retry-After in the server); a writer that waits tells
``WAITS.notice`` what it waits for. A thread that already reads the store
may open more read connections without passing the gate again (a waiting
commit would otherwise wait for it while it waits for the commit).

Each commit bumps a counter in ``.locks/version``: the server's caches
compare it, cheaply and without opening the store, to notice a commit made
by another process.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tenure.errors import StoreBusyError

FOLDER = ".locks"


@dataclass
class Waits:
    """How long a reader and a writer wait, in seconds, and where a waiting
    writer says what it waits for (the CLI: stderr). ``TENURE_READ_WAIT`` and
    ``TENURE_WRITE_WAIT`` override the numbers."""

    read: float = 30.0
    write: float = 600.0
    notice: Callable[[str], None] | None = None

    def for_reads(self) -> float:
        return float(os.environ.get("TENURE_READ_WAIT") or self.read)

    def for_writes(self) -> float:
        return float(os.environ.get("TENURE_WRITE_WAIT") or self.write)


WAITS = Waits()


def configure(*, read: float | None = None, write: float | None = None, notice=None) -> None:
    """Set this process's waits: the server answers a reader within seconds,
    a command line can wait for a long ingest."""
    if read is not None:
        WAITS.read = read
    if write is not None:
        WAITS.write = write
    if notice is not None:
        WAITS.notice = notice


def folder(store: Path) -> Path:
    return Path(store) / FOLDER


def _open(path: Path) -> int | None:
    """A new descriptor on the lock file (created when missing); None where
    the store's folder cannot hold one (a read-only copy: nothing to guard)."""
    try:
        path.parent.mkdir(exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except FileNotFoundError:
        return None  # no store folder: the open that follows says so
    except PermissionError:
        try:
            return os.open(path, os.O_RDONLY)
        except OSError:
            return None


def _try(fd: int, mode: int) -> bool:
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _wait(fd: int, mode: int, deadline: float, on_wait: Callable[[], None] | None = None) -> bool:
    """Poll for the lock until ``deadline`` (monotonic); False if it passed."""
    pause = 0.002
    told = False
    while not _try(fd, mode):
        if time.monotonic() >= deadline:
            return False
        if on_wait is not None and not told:
            on_wait()
            told = True
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
    return True


def _release(*fds: int | None) -> None:
    for fd in fds:
        if fd is not None:
            os.close(fd)  # closing the descriptor drops its flock


# -- reading ---------------------------------------------------------------

_local = threading.local()


def _reads() -> dict[str, list]:
    """This thread's read locks: store -> [depth, descriptor]."""
    if not hasattr(_local, "reads"):
        _local.reads = {}
    return _local.reads


def acquire_read(store: Path, *, wait: float | None = None) -> Callable[[], None]:
    """Take the shared read lock of ``store``; the function that releases it
    (from any thread: a connection may be closed by the garbage collector)."""
    key = os.fspath(Path(store).resolve())
    held = _reads()
    if key in held:  # this thread reads already: no gate (see the module's doc)
        held[key][0] += 1
        return lambda: _drop(held, key)
    base = folder(store)
    gate = _open(base / "gate")
    if gate is None:
        return lambda: None
    data = _open(base / "data")
    if data is None:
        _release(gate)
        return lambda: None
    limit = WAITS.for_reads() if wait is None else wait
    _take_both(
        gate, data, fcntl.LOCK_SH, store, limit, f"a commit to it took more than {limit:g} s"
    )
    _release(gate)
    held[key] = [1, data]
    return lambda: _drop(held, key)


def _drop(held: dict[str, list], key: str) -> None:
    entry = held[key]
    entry[0] -= 1
    if entry[0] == 0:
        del held[key]
        _release(entry[1])


@contextmanager
def reading(store: Path, *, wait: float | None = None) -> Iterator[None]:
    """The block reads the store: commits wait for it, it waits for a commit."""
    release = acquire_read(store, wait=wait)
    try:
        yield
    finally:
        release()


def reads_now(store: Path) -> bool:
    """Whether this thread holds the read lock of ``store``."""
    return bool(_reads().get(os.fspath(Path(store).resolve())))


# -- writing ---------------------------------------------------------------


def _holder(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


@contextmanager
def writing(store: Path, what: str, *, wait: float | None = None) -> Iterator[None]:
    """The block is ``what`` (say ``tenure ingest orders``), the one writer
    of the store; other writers queue behind it, readers go on reading."""
    path = folder(store) / "write"
    fd = _open(path)
    if fd is None:
        yield
        return
    limit = WAITS.for_writes() if wait is None else wait

    def tell() -> None:
        if WAITS.notice is not None:
            who = _holder(path) or "another tenure command"
            WAITS.notice(
                f"waiting for {who} to finish writing to {store} (giving up after {limit:g} s)"
            )

    try:
        if not _wait(fd, fcntl.LOCK_EX, time.monotonic() + limit, tell):
            who = _holder(path) or "another tenure command"
            raise _busy(store, f"{who} has been writing to it for more than {limit:g} s", limit)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{what} (pid {os.getpid()})".encode(), 0)
    except BaseException:
        _release(fd)
        raise
    from tenure.store import served

    served.make_way(store)  # beside a server, a writer comes second on the cores
    try:
        yield
    finally:
        os.ftruncate(fd, 0)
        _release(fd)


@contextmanager
def committing(store: Path, *, wait: float | None = None) -> Iterator[None]:
    """The block has the store to itself: new readers wait at the gate, the
    block starts once the readers inside have finished. Leaving it bumps the
    store's version. Take it inside :func:`writing`, and keep it short."""
    base = folder(store)
    gate = _open(base / "gate")
    data = _open(base / "data")
    if gate is None or data is None:
        _release(gate, data)
        yield
        return
    if reads_now(store):  # pragma: no cover - a programming error, said plainly
        _release(gate, data)
        raise RuntimeError("a thread that reads the store cannot commit to it")
    limit = WAITS.for_writes() if wait is None else wait
    _take_both(
        gate, data, fcntl.LOCK_EX, store, limit, f"its readers did not finish within {limit:g} s"
    )
    try:
        yield
    finally:
        try:
            _bump(base)
        finally:
            _release(data, gate)


def version(store: Path) -> int:
    """The store's commit counter (0 before the first commit under locks)."""
    try:
        return int((folder(store) / "version").read_text() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def _bump(base: Path) -> None:
    """Count a commit (also a failed one: a reader recomputing costs little)."""
    path = base / "version"
    try:
        now = int(path.read_text() or 0)
    except (FileNotFoundError, ValueError):
        now = 0
    temp = base / f"version.{os.getpid()}.{threading.get_ident()}"
    try:
        temp.write_text(str(now + 1))
        os.replace(temp, path)
    except OSError:  # a read-only store: nothing was written either
        pass


def _take_both(gate: int, data: int, mode: int, store: Path, limit: float, why: str) -> None:
    """The gate, then the data lock, both in ``mode`` within ``limit``
    seconds; both descriptors are closed when that fails."""
    deadline = time.monotonic() + limit
    try:
        if not _wait(gate, mode, deadline) or not _wait(data, mode, deadline):
            raise _busy(store, why, limit)
    except BaseException:
        _release(gate, data)
        raise


def _busy(store: Path, why: str, limit: float) -> StoreBusyError:
    return StoreBusyError(
        f"the store {store} is busy: {why}.",
        hint="Try again in a moment.",
        retry_after=max(1, min(30, round(limit / 4) or 1)),
    )
