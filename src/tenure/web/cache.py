"""What the server computed, kept until the store changes.

Numbers only change when the store does, so an answer is kept under its
question and the store's :func:`data_version`, and a repeated request is
answered from memory, without touching the store: not even while another
process commits to it. The version counts commits (a small file each
commit bumps, see :mod:`tenure.store.locks`), so a commit by a ``tenure``
command beside the server makes the next request recompute. Two ways in:

* :func:`cached`, from a worker thread: the kept value, or ``compute()``
  run under the store's read lock, kept under the version read inside it;
* :func:`kept` and :func:`kept_json`, from the event loop: a kept answer
  is returned at once, without a thread; only a computation goes to a
  worker thread. Under load this is most requests, and it keeps them off
  the thread pool and its contention.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from tenure.config import Settings
from tenure.jsondoc import dumps
from tenure.store import locks

_MISSING = object()


def data_version(settings: Settings) -> tuple[int, ...]:
    """Changes whenever the analytics store is written (an ingest, a fit):
    its commit counter, and the modification times of its file and
    write-ahead log (for a write made outside tenure's locks)."""
    path = os.fspath(settings.analytics_path)
    out = [locks.version(settings.store)]
    for p in (path, path + ".wal"):
        try:
            out.append(os.stat(p).st_mtime_ns)
        except FileNotFoundError:
            out.append(0)
    return tuple(out)


class PageCache:
    """What the server computed (pages, documents, tables), by key; the least
    lately used go first beyond ``size`` entries or, for a cache of bytes,
    ``max_bytes``. A page being computed is computed once: other requests
    for it wait for it."""

    def __init__(self, size: int = 32, max_bytes: int | None = None) -> None:
        self._pages: OrderedDict[tuple, Any] = OrderedDict()
        self._locks: dict[tuple, threading.Lock] = {}
        self._guard = threading.Lock()
        self.size = size
        self.max_bytes = max_bytes
        self._bytes = 0

    def peek(self, key: tuple) -> Any:
        """The kept value, or ``_MISSING``; never waits for a computation."""
        with self._guard:
            if key in self._pages:
                self._pages.move_to_end(key)
                return self._pages[key]
        return _MISSING

    def get(self, key: tuple, compute: Callable[[], Any]) -> Any:
        found = self.peek(key)
        if found is not _MISSING:
            return found
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            with self._guard:
                if key in self._pages:
                    return self._pages[key]
            try:
                page = compute()
            except BaseException:
                with self._guard:
                    self._locks.pop(key, None)
                raise
            size = self._size_of(page)
            if self.max_bytes is not None and size > self.max_bytes // 8:
                with self._guard:  # too big to keep without pushing out most others
                    self._locks.pop(key, None)
                return page
            with self._guard:
                self._pages[key] = page
                self._bytes += size
                while len(self._pages) > self.size or (
                    self.max_bytes is not None and self._bytes > self.max_bytes
                ):
                    _, old = self._pages.popitem(last=False)
                    self._bytes -= self._size_of(old)
                self._locks.pop(key, None)
            return page

    def _size_of(self, value: Any) -> int:
        return len(value) if self.max_bytes is not None and isinstance(value, bytes) else 0


def _key(request: Any, what: tuple) -> tuple:
    return (*what, data_version(request.app.state.settings))


def _computed(request: Any, cache: PageCache, what: tuple, compute: Callable[[], Any]) -> Any:
    """``compute()`` under the store's read lock, kept under the version
    read inside it: what it reads is that version, even when a commit
    happened since the request looked in the cache."""
    with request.app.state.store_lock.read():
        return cache.get(_key(request, what), compute)


def cached(request: Any, what: tuple, compute: Callable[[], Any]) -> Any:
    """``compute()``, kept in the app's cache under ``what`` until the store
    changes. The computation reads the store under the read lock (re-entrant
    within a thread, so it may call :func:`cached` itself)."""
    cache = request.app.state.cache
    found = cache.peek(_key(request, what))
    if found is not _MISSING:
        return found
    return _computed(request, cache, what, compute)


async def kept(
    request: Any,
    what: tuple,
    compute: Callable[[], Any],
    *,
    lock: bool = True,
    cache: PageCache | None = None,
) -> Any:
    """:func:`cached` for an ``async`` route: a kept value is returned in the
    event loop; a computation runs in a worker thread, under the read lock
    (``lock`` is kept for callers; a computation made of :func:`cached`
    calls reads one version throughout either way)."""
    cache = cache or request.app.state.cache
    found = cache.peek(_key(request, what))
    if found is not _MISSING:
        return found
    return await run_in_threadpool(_computed, request, cache, what, compute)


async def kept_json(
    request: Any, what: tuple, compute: Callable[[], Any], *, lock: bool = True
) -> Response:
    """A JSON response of ``compute()``'s document, kept as bytes in the
    app's cache of answers (bounded in bytes, apart from the computed tables
    the answers come from): a repeated request costs neither the
    computation nor the serialisation."""

    def body() -> bytes:
        return dumps(compute(), indent=None).encode()

    data = await kept(request, what, body, lock=lock, cache=request.app.state.answers)
    return Response(data, media_type="application/json")
