"""Answers of the operational store looked up lately (an API key's record,
a session's user), each kept for ``ttl`` seconds: a server answering many
requests of one caller reads the store once per ``ttl``, not per request.
What this server changes it forgets at once; what another process changes
(the CLI revoking a key) is seen within ``ttl``."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any


class Recent:
    def __init__(self, ttl: float, size: int = 10_000) -> None:
        self.ttl = ttl
        self.size = size
        self._known: dict[Hashable, tuple[float, Any]] = {}
        self._guard = threading.Lock()

    def get(self, key: Hashable, default: Any = None) -> Any:
        hit = self._known.get(key)
        if hit is None or time.monotonic() - hit[0] >= self.ttl:
            return default
        return hit[1]

    def put(self, key: Hashable, value: Any) -> None:
        with self._guard:
            if len(self._known) >= self.size:  # callers come and go: start again, not grow
                self._known.clear()
            self._known[key] = (time.monotonic(), value)

    def forget(self, match: Callable[[Hashable, Any], bool]) -> None:
        """Forget every entry for which ``match(key, value)`` is true."""
        with self._guard:
            for key, (_, value) in list(self._known.items()):
                if match(key, value):
                    self._known.pop(key, None)

    def clear(self) -> None:
        with self._guard:
            self._known.clear()
