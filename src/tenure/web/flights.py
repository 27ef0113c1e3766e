"""Answers being computed: one computation per answer, however many ask.

After a commit every kept answer is of an older version of the store. The
first request for an answer starts its computation in a worker thread; the
requests that come while it runs start no other. They are answered from
the version before at once (:func:`tenure.web.cache.kept`), or, where
there is none or they asked for a fresh answer, wait for this one: in the
event loop, holding no worker thread. (Waiting in worker threads, 50
readers of five answers took every thread of the pool, and so held back
even the requests whose answers were kept: their API key is checked in a
worker thread.)

Distinct answers are computed side by side, but at most :data:`LANES` at
once, the quickest first. With one at a time, the store's status (a few
milliseconds) waited behind a customer's page of a 3-million-order store
(tens of seconds), and was still of the version before 10 s after the
commit. With every one at once (five after a commit, under 50 readers),
the computations held the interpreter's lock nearly all the time, and the
event loop, which answers every request, got its turn after each of
them: the answers of the version before took up to 0.6 s. So two run at
once, and of the computations waiting for a lane the one whose kind of
answer took the least time the last time goes first (one never computed
counts as quick): the status does not wait for a customer's page.

Each computation is logged (``tenure.web``, INFO) with the kind of answer
and the store's version, never its query values (a search may name a
customer). Tests hold a computation with the fault point ``kept answer``
(:mod:`tenure.faults`, ``TENURE_FAULT_SIGNAL=PAUSE``).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections.abc import Callable, Hashable
from typing import Any

from starlette.concurrency import run_in_threadpool

from tenure.errors import StoreBusyError
from tenure.faults import checkpoint

log = logging.getLogger("tenure.web")

# failures remembered at most; past it they are forgotten (each is then
# tried again, which is what a forgotten failure costs)
FAILURES_KEPT = 1024
LANES = 2  # computations running at once


class Flights:
    """The computations in progress, by answer."""

    def __init__(self, lanes: int = LANES) -> None:
        self._running: dict[Hashable, asyncio.Future] = {}
        self._failed: set[Hashable] = set()
        self.computed = 0  # computations finished, for the log and the tests
        self.lanes = lanes
        self.busy = 0  # lanes taken
        # computations waiting for a lane: (seconds the last one of its kind took, order, go)
        self._waiting: list[tuple[float, int, asyncio.Future]] = []
        self._order = itertools.count()
        self._took: dict[str, float] = {}  # seconds, by kind of answer

    def running(self, key: Hashable) -> bool:
        return key in self._running

    def failed(self, key: Hashable) -> bool:
        """Whether the last computation of ``key`` failed (not for a busy
        store): its previous answer is then no longer given."""
        return key in self._failed

    def start(
        self, key: Hashable, name: str, work: Callable[[], tuple[Any, Any]]
    ) -> asyncio.Future:
        """The computation of ``key``: ``work()`` in a worker thread, which
        returns ``(version, value)``; started unless it runs already."""
        found = self._running.get(key)
        if found is not None:
            return found
        task = asyncio.ensure_future(self._run(name, work))
        self._running[key] = task
        task.add_done_callback(lambda done: self._finished(key, done))
        return task

    async def wait(self, key: Hashable, name: str, work: Callable[[], tuple[Any, Any]]):
        """``(version, value)`` of the computation of ``key``, started
        unless it runs already; a request that goes away does not cancel
        it for the others."""
        return await asyncio.shield(self.start(key, name, work))

    async def _run(self, name: str, work: Callable[[], tuple[Any, Any]]) -> tuple[Any, Any]:
        await self._lane(name)
        started = time.perf_counter()
        try:
            version, value = await run_in_threadpool(_held, work)
        finally:
            self._took[name] = time.perf_counter() - started
            self._free()
        self.computed += 1
        log.info(
            "computed the answer %s of the store's version %s in %.2f s",
            name, version[0] if isinstance(version, tuple) else version,
            time.perf_counter() - started,
        )  # fmt: skip
        return version, value

    async def _lane(self, name: str) -> None:
        """Wait for a lane (see the module's text)."""
        if self.busy < self.lanes:
            self.busy += 1
        else:
            go = asyncio.get_running_loop().create_future()
            heapq.heappush(self._waiting, (self._took.get(name, 0.0), next(self._order), go))
            try:
                await go  # the lane is handed over by _free
            except asyncio.CancelledError:
                if go.done() and not go.cancelled():
                    self._free()  # handed over just as this was cancelled: pass it on
                raise

    def _free(self) -> None:
        """Hand the lane to the quickest computation waiting, or free it."""
        while self._waiting:
            _, _, go = heapq.heappop(self._waiting)
            if not go.done():
                go.set_result(None)
                return
        self.busy -= 1

    def _finished(self, key: Hashable, task: asyncio.Future) -> None:
        self._running.pop(key, None)
        error = None if task.cancelled() else task.exception()  # retrieved: no warning
        if error is None or isinstance(error, StoreBusyError):
            self._failed.discard(key)
            return
        if len(self._failed) >= FAILURES_KEPT:
            self._failed.clear()
        self._failed.add(key)
        log.info("could not compute an answer: %s", error)


def _held(work: Callable[[], tuple[Any, Any]]) -> tuple[Any, Any]:
    checkpoint("kept answer")
    return work()
