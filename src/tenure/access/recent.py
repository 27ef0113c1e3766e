"""Answers of the operational store looked up lately (an API key's record,
a session's user), each kept for ``ttl`` seconds and only under the access
stamp (:mod:`tenure.access.stamp`) that was read before it: a change of
access made by any process (the CLI revoking a key, disabling a user)
changes the stamp, and so is seen on the next request."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any


class Recent:
    def __init__(self, ttl: float, size: int = 10_000) -> None:
        self.ttl = ttl
        self.size = size
        self._known: dict[Hashable, tuple[float, object, Any]] = {}
        self._guard = threading.Lock()

    def get(self, key: Hashable, stamp: object, default: Any = None) -> Any:
        """The value kept for ``key`` under this ``stamp``, if still fresh."""
        hit = self._known.get(key)
        if hit is None or hit[1] != stamp or time.monotonic() - hit[0] >= self.ttl:
            return default
        return hit[2]

    def put(self, key: Hashable, value: Any, stamp: object) -> None:
        """Keep ``value``, read after ``stamp`` was (so a change made in
        between, which changed the stamp, is never hidden by it)."""
        with self._guard:
            if len(self._known) >= self.size:  # callers come and go: start again, not grow
                self._known.clear()
            self._known[key] = (time.monotonic(), stamp, value)

    def forget(self, match: Callable[[Hashable, Any], bool]) -> None:
        """Forget every entry for which ``match(key, value)`` is true."""
        with self._guard:
            for key, (_, _, value) in list(self._known.items()):
                if match(key, value):
                    self._known.pop(key, None)

    def clear(self) -> None:
        with self._guard:
            self._known.clear()
