"""Named points of the write path where a test can stop the process.

Crash safety is tested by stopping an ingest at a known point rather than
by timing a kill, which a busy machine turns into a race. With
``TENURE_FAULT_AT`` set to a point's name, :func:`checkpoint` of that name
stops the process there:

- ``TENURE_FAULT_SIGNAL=KILL`` (the default) sends SIGKILL to itself: the
  process ends at once, as after ``kill -9`` or a power cut;
- ``TENURE_FAULT_SIGNAL=INT`` sends SIGINT to itself, as a Ctrl-C;
- ``TENURE_FAULT_SIGNAL=PAUSE`` holds the process there until the file
  named by ``TENURE_FAULT_RELEASE`` exists, after writing that name plus
  ``.reached``: a test holds an ingest inside its commit window, does what
  it wants to see happen meanwhile, then lets it go, without a sleep.

The points of an ingest, in order: ``rows staged`` (checked rows held in
the scratch database), ``quarantine written`` (under its temporary name),
``before commit`` (inside the store's transaction), ``swap`` (when the
rows were written to a copy of the store: the copy is complete and about to
replace the store, under the commit lock), ``after commit``. A small ingest
writes in place, holding the commit lock from ``before commit`` on;
readers wait at either point (see :mod:`tenure.store.locks`). Without the variable a checkpoint does
nothing.

Elsewhere: ``trigger watermark`` (:mod:`tenure.campaigns.triggers`), after
a trigger's entries are found and before its watermark commits.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

POINTS = ("rows staged", "quarantine written", "before commit", "swap", "after commit")

# a paused process goes on by itself after this long, so that a test that
# failed before releasing it leaves no process behind for ever
PAUSE_LIMIT = 600.0


def checkpoint(name: str) -> None:
    if os.environ.get("TENURE_FAULT_AT") != name:
        return
    how = os.environ.get("TENURE_FAULT_SIGNAL", "KILL").upper()
    if how == "PAUSE":
        _pause(Path(os.environ["TENURE_FAULT_RELEASE"]))
        return
    signal.raise_signal(signal.SIGINT if how == "INT" else signal.SIGKILL)


def _pause(release: Path) -> None:
    Path(f"{release}.reached").write_text(str(os.getpid()))
    deadline = time.monotonic() + PAUSE_LIMIT
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
