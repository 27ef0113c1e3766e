"""A token bucket: at most ``rate`` events a second on average, with
bursts of up to ``burst``. The web server takes one token per password
check of a login, over all accounts and addresses together, so no number
of clients can make it hash more than ``rate`` passwords a second; an
attempt without a token is refused at once (503 with ``Retry-After``),
before any hashing.

>>> bucket = TokenBucket(rate=5, burst=20)
>>> bucket.take()   # 0.0: go ahead; otherwise the seconds to wait
0.0
"""

from __future__ import annotations

import threading
import time


class TokenBucket:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate = float(rate)
        self.burst = max(1, int(burst))
        self._tokens = float(self.burst)
        self._at = time.monotonic()
        self._guard = threading.Lock()

    def take(self) -> float:
        """Take a token: 0.0 when there was one, else the seconds until the
        next one (nothing is taken then)."""
        with self._guard:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens >= 1:
                self._tokens -= 1
                return 0.0
            if self.rate <= 0:
                return 60.0
            return (1 - self._tokens) / self.rate
