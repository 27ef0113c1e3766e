"""Whether a store is being served, and writers that make way for the server.

``tenure serve`` holds a shared ``flock`` on ``<store>/.locks/served`` for
as long as it runs (the lock goes with the process, however it ends). A
writing command (``tenure ingest``, ``fit``, ``predict``; not a program
calling the library, unless it asks to) that finds it held lowers its own
priority (``nice`` 10, every thread of the process, DuckDB's
included) before it writes: the server's readers, whose answers take a
millisecond of CPU each, then come first on the cores, and the writer gets
all the rest. On a 2-core machine, an ingest at the same priority as the
server took the cores from it and made a kept answer wait hundreds of
milliseconds; the ingest, for its part, loses only what the server uses.
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Callable
from pathlib import Path

from tenure.store import locks

NICE = 10
_served_here: list[int] = []  # this process serves: its descriptors
_makes_way = [False]


def make_way_for_servers(on: bool = True) -> None:
    """Let this process's writes make way for a server of their store
    (``on``), or no longer. The command line does while a command runs; a
    long-lived program that calls the library may, if it can live with the
    lower priority from then on (a process cannot raise its priority back
    without privileges: ``on=False`` stops later writes from lowering it,
    and leaves it as it is)."""
    _makes_way[0] = on


def hold(store: Path) -> Callable[[], None]:
    """Mark ``store`` as served by this process (until it ends, or the
    function returned is called)."""
    fd = locks._open(locks.folder(store) / "served")
    if fd is None:  # a read-only store: nobody writes to it either
        return lambda: None
    fcntl.flock(fd, fcntl.LOCK_SH)
    _served_here.append(fd)

    def release() -> None:
        if fd in _served_here:
            _served_here.remove(fd)
            os.close(fd)

    return release


def is_served(store: Path) -> bool:
    """Whether a server holds ``store`` now."""
    path = locks.folder(store) / "served"
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # and with it the lock, had it been taken
    return False


def make_way(store: Path) -> bool:
    """Lower this process's priority when another process serves
    ``store`` (and this one makes way, see :func:`make_way_for_servers`);
    whether it did."""
    if not _makes_way[0] or _served_here or not is_served(store):
        return False
    _lower_priority()
    return True


def _lower_priority() -> None:
    if sys.platform != "linux":  # elsewhere the process's threads share one priority
        try:
            os.setpriority(os.PRIO_PROCESS, 0, max(NICE, os.getpriority(os.PRIO_PROCESS, 0)))
        except OSError:
            pass
        return
    # on Linux a priority is a thread's: every thread that runs now (DuckDB's
    # workers among them); threads started later inherit their starter's
    for task in os.listdir("/proc/self/task"):
        try:
            tid = int(task)
            os.setpriority(os.PRIO_PROCESS, tid, max(NICE, os.getpriority(os.PRIO_PROCESS, tid)))
        except (OSError, ValueError):
            pass
