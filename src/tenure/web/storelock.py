"""The server's side of :mod:`tenure.store.locks`.

A request that reads the store holds the store's read lock across
processes, so it reads one committed version throughout, however many
connections it opens (the lock is re-entrant within a thread); a commit,
by this server's ingest route or by a ``tenure`` command beside it, waits
for the requests inside and holds new ones back for its short window.
A request that cannot get in within :data:`READ_WAIT` seconds is answered
503 with Retry-After. Writes take their own locks (see
:mod:`tenure.ingestion.pipeline` and :func:`tenure.store.analytics.writing`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tenure.store import locks

# seconds a request waits for a commit before a 503; a commit of a 2M-row
# ingest holds readers well under a second (docs/workspace.md)
READ_WAIT = 5.0
# seconds an ingest sent to the server waits for another writer (say a
# CLI ingest) before a 503: a request should not hang for minutes
WRITE_WAIT = 30.0


class StoreLock:
    def __init__(self, store: Path) -> None:
        self.store = Path(store)

    @contextmanager
    def read(self) -> Iterator[None]:
        with locks.reading(self.store):
            yield


def configure() -> None:
    """This process serves: its readers and writers give up soon."""
    locks.configure(read=READ_WAIT, write=WRITE_WAIT)
