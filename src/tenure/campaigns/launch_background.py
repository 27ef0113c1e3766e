"""Launches run in a server's background: ``POST /api/v1/campaigns/{name}/launch``.

A launch assigns and queues a whole audience, longer than a request should
wait. :class:`Launches` runs :func:`tenure.campaigns.launch.launch` in a
thread of the server process, one per campaign at a time, and remembers
how the last one of each campaign ended (its document, or its error), for
``GET /api/v1/campaigns/{name}``.

Nothing here is needed for the launch to be right: a launch is safe to
repeat and completes after a kill (see :mod:`.launch`), so a server that
stops in the middle of one leaves the campaign ``running`` with customers
not yet queued, and the next launch request (or ``tenure campaign launch``)
queues the rest, never a message twice. Two servers launching the same
campaign at once write each message once: the outbox's dedup key holds.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from tenure.campaigns.consent import now
from tenure.errors import TenureError
from tenure.store.ops import OpsStore

_log = logging.getLogger(__name__)


class Launches:
    """The launches of one server process."""

    def __init__(self, settings: Any, ops: OpsStore) -> None:
        self.settings, self.ops = settings, ops
        self._lock = threading.Lock()
        self._running: dict[str, threading.Thread] = {}
        self._last: dict[str, dict[str, Any]] = {}

    def start(self, name: str, *, batch: int, baseline: float) -> bool:
        """Launch ``name`` in a thread unless one is launching it here
        already; True when this call started it."""
        with self._lock:
            if name in self._running:
                return False
            record = {"running": True, "started_at": now().isoformat(), "finished_at": None,
                      "result": None, "error": None}  # fmt: skip
            thread = threading.Thread(target=self._run, args=(name, batch, baseline, record),
                                      name=f"tenure-launch-{name}", daemon=True)  # fmt: skip
            self._running[name], self._last[name] = thread, dict(record)
        thread.start()
        return True

    def _run(self, name: str, batch: int, baseline: float, record: dict[str, Any]) -> None:
        from tenure.campaigns.launch import launch

        try:
            record["result"] = launch(self.settings, self.ops, name, batch=batch,
                                      baseline=baseline)  # fmt: skip
        except TenureError as exc:
            record["error"] = {"code": exc.code, "message": exc.what, "hint": exc.hint}
        except Exception as exc:  # noqa: BLE001 - kept for the status, the launch can be retried
            _log.exception("the launch of the campaign %r failed", name)
            record["error"] = {"code": "launch_failed", "message": f"{type(exc).__name__}: {exc}",
                               "hint": "Launch it again: what was queued stays queued."}  # fmt: skip
        record["running"], record["finished_at"] = False, now().isoformat()
        with self._lock:
            self._last[name] = record
            self._running.pop(name, None)

    def of(self, name: str) -> dict[str, Any] | None:
        """The last launch of ``name`` in this process: ``running``,
        ``started_at``, ``finished_at``, ``result`` (the document of
        ``tenure campaign launch --json``) or ``error``; None if none."""
        with self._lock:
            found = self._last.get(name)
            return None if found is None else dict(found)

    def wait(self, name: str, timeout: float | None = None) -> None:
        """Until the launch of ``name`` running here ends (for a server's
        shutdown, and for tests)."""
        with self._lock:
            thread = self._running.get(name)
        if thread is not None:
            thread.join(timeout)
