"""Named points of the write path where a test can stop the process.

Crash safety is tested by stopping an ingest at a known point rather than
by timing a kill, which a busy machine turns into a race. With
``TENURE_FAULT_AT`` set to a point's name, :func:`checkpoint` of that name
stops the process there:

- ``TENURE_FAULT_SIGNAL=KILL`` (the default) sends SIGKILL to itself: the
  process ends at once, as after ``kill -9`` or a power cut;
- ``TENURE_FAULT_SIGNAL=INT`` sends SIGINT to itself, as a Ctrl-C.

The points of an ingest, in order: ``rows staged`` (checked rows held in
temp tables), ``quarantine written`` (under its temporary name),
``before commit`` (inside the store's transaction), ``after commit``.
Without the variable a checkpoint does nothing.
"""

from __future__ import annotations

import os
import signal

POINTS = ("rows staged", "quarantine written", "before commit", "after commit")


def checkpoint(name: str) -> None:
    if os.environ.get("TENURE_FAULT_AT") != name:
        return
    how = os.environ.get("TENURE_FAULT_SIGNAL", "KILL").upper()
    signal.raise_signal(signal.SIGINT if how == "INT" else signal.SIGKILL)
