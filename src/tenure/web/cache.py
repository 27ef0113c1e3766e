"""What the server computed, kept until the store changes.

Numbers only change when the store does, so an answer is kept under its
question and the store's :func:`data_version`, and a repeated request is
answered from memory, without touching the store: not even while another
process commits to it. The version counts commits (a small file each
commit bumps, see :mod:`tenure.store.locks`), so a commit by a ``tenure``
command beside the server makes the next request recompute. Two ways in:

* :func:`cached`, from a worker thread: the kept value, or ``compute()``
  run under the store's read lock, kept under the version read inside it;
  what a computation reads through it is of one version throughout;
* :func:`kept` and :func:`kept_json`, from the event loop, for a route's
  answer: a kept answer is returned at once, without a thread. After a
  commit, the first request starts the one computation of the new answer
  (:mod:`tenure.web.flights`) and, like every request until it is done,
  gets the answer of the version before, marked with the header
  ``X-Tenure-Stale`` (docs/workspace.md). A request that sends
  ``Cache-Control: no-cache``, or finds no earlier answer, waits for the
  new one instead.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from fastapi.responses import Response

from tenure.config import Settings
from tenure.jsondoc import dumps
from tenure.store import locks

_MISSING = object()


def data_version(settings: Settings) -> tuple[int, ...]:
    """Changes whenever the analytics store is written (an ingest, a fit):
    its commit counter, and the modification times of its file and
    write-ahead log (for a write made outside tenure's locks)."""
    path = os.fspath(settings.analytics_path)
    out = [_commits(settings)]
    for p in (path, path + ".wal"):
        try:
            out.append(os.stat(p).st_mtime_ns)
        except FileNotFoundError:
            out.append(0)
    return tuple(out)


def _commits(settings: Settings) -> int:
    """:func:`tenure.store.locks.version`, read with two system calls: every
    request reads it, and a text file opened through ``pathlib`` cost each
    one more than all of the rest of this function."""
    try:
        fd = os.open(locks.folder(settings.store) / "version", os.O_RDONLY)
    except FileNotFoundError:
        return 0
    try:
        text = os.read(fd, 32)
    finally:
        os.close(fd)
    try:
        return int(text or 0)
    except ValueError:
        return 0


class PageCache:
    """What the server computed (pages, documents, tables), by key; the least
    lately used go first beyond ``size`` entries or ``max_bytes`` (each
    value's size estimated by :func:`size_of`). A value larger than
    ``max_bytes // 8`` is kept only when ``keep_large`` (a computed table,
    which must be kept whatever its size, pushes out the others instead).
    A page being computed is computed once: other requests for it wait for
    it.

    Keys are made of validated query parameters only (the routes check each
    against its allowed values first), so distinct requests cannot add
    entries without end; the bounds hold whatever the keys."""

    def __init__(
        self, size: int = 32, max_bytes: int | None = None, *, keep_large: bool = False
    ) -> None:
        self._pages: OrderedDict[tuple, tuple[Any, int]] = OrderedDict()
        # a key without its version (the last part) -> the key last kept
        self._latest: dict[tuple, tuple] = {}
        self._locks: dict[tuple, threading.Lock] = {}
        self._guard = threading.Lock()
        self.size = size
        self.max_bytes = max_bytes
        self.keep_large = keep_large
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._pages)

    @property
    def bytes(self) -> int:
        """The estimated size of what is kept."""
        return self._bytes

    def peek(self, key: tuple) -> Any:
        """The kept value, or ``_MISSING``; never waits for a computation."""
        with self._guard:
            if key in self._pages:
                self._pages.move_to_end(key)
                return self._pages[key][0]
        return _MISSING

    def previous(self, what: tuple) -> Any:
        """The value last kept under ``what`` and any version (the last part
        of a key), or ``_MISSING``."""
        with self._guard:
            key = self._latest.get(what)
            if key is not None and key in self._pages:
                return self._pages[key][0]
        return _MISSING

    def forget_previous(self) -> None:
        """Give no value of an earlier version any more (:meth:`previous`)."""
        with self._guard:
            self._latest.clear()

    def get(self, key: tuple, compute: Callable[[], Any]) -> Any:
        found = self.peek(key)
        if found is not _MISSING:
            return found
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            with self._guard:
                if key in self._pages:
                    return self._pages[key][0]
            try:
                page = compute()
            except BaseException:
                with self._guard:
                    self._locks.pop(key, None)
                raise
            size = size_of(page) if self.max_bytes is not None else 0
            if self.max_bytes is not None and size > self.max_bytes // 8 and not self.keep_large:
                with self._guard:  # too big to keep without pushing out most others
                    self._locks.pop(key, None)
                return page
            with self._guard:
                self._pages[key] = (page, size)
                self._bytes += size
                self._latest[key[:-1]] = key
                while len(self._pages) > 1 and (
                    len(self._pages) > self.size
                    or (self.max_bytes is not None and self._bytes > self.max_bytes)
                ):
                    gone, (_, old) = self._pages.popitem(last=False)
                    self._bytes -= old
                    if self._latest.get(gone[:-1]) == gone:
                        del self._latest[gone[:-1]]
                self._locks.pop(key, None)
            return page


def size_of(value: Any, depth: int = 0) -> int:
    """About how many bytes ``value`` holds: exact for bytes and text, the
    buffers of arrays and frames (text columns from a sample), and the sum
    of the parts of dicts, lists and tuples."""
    import sys

    import numpy as np
    import pandas as pd

    if isinstance(value, bytes | str):
        return len(value) + 50
    if isinstance(value, np.ndarray):
        return int(value.nbytes) + 100
    if isinstance(value, pd.DataFrame | pd.Series):
        frame = value.to_frame() if isinstance(value, pd.Series) else value
        total = int(frame.memory_usage(index=True, deep=False).sum())
        for name, kind in frame.dtypes.items():
            if not pd.api.types.is_object_dtype(kind):
                continue
            column = frame[name]
            sample = column.iloc[:1000]
            if len(sample):
                each = sum(sys.getsizeof(v) for v in sample) / len(sample)
                total += int(each * len(column))
        return total
    if depth > 8:
        return sys.getsizeof(value)
    if isinstance(value, dict):
        return sys.getsizeof(value) + sum(
            size_of(k, depth + 1) + size_of(v, depth + 1) for k, v in value.items()
        )
    if isinstance(value, list | tuple | set | frozenset):
        return sys.getsizeof(value) + sum(size_of(v, depth + 1) for v in value)
    return sys.getsizeof(value)


def _key(request: Any, what: tuple) -> tuple:
    return (*what, data_version(request.app.state.settings))


def _computed(
    request: Any, cache: PageCache, what: tuple, compute: Callable[[], Any]
) -> tuple[tuple, Any]:
    """``compute()`` under the store's read lock, kept under the version
    read inside it: what it reads is that version, even when a commit
    happened since the request looked in the cache. Returns the version
    and the value."""
    with request.app.state.store_lock.read():
        key = _key(request, what)
        return key[-1], cache.get(key, compute)


def cached(request: Any, what: tuple, compute: Callable[[], Any]) -> Any:
    """``compute()``, kept in the app's cache under ``what`` until the store
    changes. The computation reads the store under the read lock (re-entrant
    within a thread, so it may call :func:`cached` itself)."""
    cache = request.app.state.cache
    found = cache.peek(_key(request, what))
    if found is not _MISSING:
        return found
    return _computed(request, cache, what, compute)[1]


STALE = "X-Tenure-Stale"  # on an answer of the version before the last commit


def written(request: Any) -> None:
    """This server has just committed to the store (its ingest endpoints):
    no answer of an earlier version is given any more, so that a client
    that writes through the server reads its write on its next request."""
    for cache in (request.app.state.cache, request.app.state.answers):
        cache.forget_previous()


def wants_fresh(request: Any) -> bool:
    """Whether the request asked for the store as it is now
    (``Cache-Control: no-cache``), not for the answer of the version
    before while the new one is being computed."""
    return "no-cache" in request.headers.get("cache-control", "").lower()


def is_stale(request: Any) -> bool:
    """Whether :func:`kept` answered the request from the version before."""
    return bool(getattr(request.state, "stale", False))


async def kept(
    request: Any,
    what: tuple,
    compute: Callable[[], Any],
    *,
    cache: PageCache | None = None,
) -> Any:
    """:func:`cached` for an ``async`` route: a kept value is returned in the
    event loop. Otherwise ``compute()`` runs once, in a worker thread, under
    the read lock (a computation made of :func:`cached` calls reads one
    version throughout), whoever asks meanwhile (:mod:`tenure.web.flights`);
    they get the value kept for the version before, if there is one, or
    else wait for the new one. A request that wants the store as it is now
    (:func:`wants_fresh`) always waits, and so does every request once the
    last computation of the answer failed (so that its error is seen)."""
    if cache is None:  # not `cache or`: an empty cache is false (it has a length)
        cache = request.app.state.cache
    seen = data_version(request.app.state.settings)
    found = cache.peek((*what, seen))
    if found is not _MISSING:
        request.state.kept_key = (*what, seen)
        return found
    flights = request.app.state.flights
    flight = (id(cache), what)
    name = str(what[0]) if what else "?"

    def work() -> tuple[tuple, Any]:
        return _computed(request, cache, what, compute)

    if not wants_fresh(request) and not flights.failed(flight):
        before = cache.previous(what)
        if before is not _MISSING:
            flights.start(flight, name, work)
            request.state.stale = True
            return before
    for _ in range(3):
        version, value = await flights.wait(flight, name, work)
        # a computation that had started before this request came may be
        # of a version older than the one the request saw: then one more
        if version >= seen:
            break
    request.state.kept_key = (*what, version)
    return value


async def kept_json(
    request: Any,
    what: tuple,
    compute: Callable[[], Any],
    *,
    audit: tuple[str, str | None, dict[str, Any] | None] | None = None,
) -> Response:
    """A JSON response of ``compute()``'s document, kept as bytes in the
    app's cache of answers (bounded in bytes, apart from the computed tables
    the answers come from): a repeated request costs neither the
    computation nor the serialisation. ``audit`` (kind, target, detail) is
    recorded for the caller before the answer goes (:mod:`tenure.web.audit`).

    An answer of the store's current version is noted under the request's
    path and query, so that the same request again is answered before the
    router (:mod:`tenure.web.fastpath`)."""
    from tenure.web import fastpath
    from tenure.web.audit import record_soon

    def body() -> bytes:
        return dumps(compute(), indent=None).encode()

    data = await kept(request, what, body, cache=request.app.state.answers)
    if audit is not None:
        kind, target, detail = audit
        await record_soon(request, kind, target=target, detail=detail)
    if is_stale(request):
        return Response(data, media_type="application/json", headers={STALE: "1"})
    key = getattr(request.state, "kept_key", None)
    if key is not None and request.app.state.answers.peek(key) is data:
        fastpath.remember(request, key, audit)
    return Response(data, media_type="application/json")
