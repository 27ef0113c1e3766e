"""The access stamp (:mod:`tenure.access.stamp`), read for every request.

A request's API key or session is known from memory only while the stamp
is the one read when it was looked up, so that a change of access made by
any process counts from the next request on; every request reads it. With
the operational store in SQLite that is one row of a small, hot file:
read in the event loop, on a read-only connection of its own (in WAL mode
a reader never waits for a writer), it costs a few microseconds, where the
hop to a worker thread and back cost more than the rest of a kept answer.
With PostgreSQL it is read in a worker thread (a round trip over the
network must not hold the loop), and so it is in SQLite whenever the read
here fails (say, the file is being recovered).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from starlette.concurrency import run_in_threadpool

from tenure.access import stamp
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import ops_meta

_QUERY = f"SELECT value FROM {ops_meta.name} WHERE key = ?"


class StampReader:
    def __init__(self, ops: OpsStore) -> None:
        self.ops = ops
        url = ops.engine.url
        database = url.database if url.get_backend_name() == "sqlite" else None
        self._path = Path(database).resolve() if database not in (None, "", ":memory:") else None
        self._con: sqlite3.Connection | None = None

    async def read(self) -> str | None:
        """The stamp now: read after the call began."""
        if self._path is not None:
            try:
                return self._here()
            except sqlite3.Error:
                self.close()
        return await run_in_threadpool(stamp.read, self.ops)

    def _here(self) -> str | None:
        if self._con is None:
            # busy_timeout 0: never wait in the loop; a busy file goes to a thread
            self._con = sqlite3.connect(f"{self._path.as_uri()}?mode=ro", uri=True, timeout=0)
        row = self._con.execute(_QUERY, (stamp.KEY,)).fetchone()
        return None if row is None else row[0]

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None
