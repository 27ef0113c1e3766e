"""Computations of answers after a commit (:mod:`tenure.web.flights`): at
most two at once, and of those waiting the kind that took the least time
the last time goes first. Real worker threads, held by events (no sleeps);
the server's behaviour around them (one computation per answer, the
version before meanwhile) is in test_recompute.py and test_kept_answers.py."""

from __future__ import annotations

import asyncio
import threading

from tests.web.conftest import needs_web

RUNNING = {"now": 0, "most": 0}
GUARD = threading.Lock()


def _held(started: list[str], name: str, release: threading.Event):
    def work():
        with GUARD:
            started.append(name)
            RUNNING["now"] += 1
            RUNNING["most"] = max(RUNNING["most"], RUNNING["now"])
        try:
            assert release.wait(60), "never released"
        finally:
            with GUARD:
                RUNNING["now"] -= 1
        return 1, name

    return work


async def _until(check) -> None:
    for _ in range(6000):  # waiting for worker threads to get there, not making a fault
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the computations never got there")


def test_two_run_at_once_and_the_quickest_kind_goes_first():
    needs_web()
    from tenure.web.flights import Flights

    async def scenario() -> list[str]:
        flights = Flights()
        started: list[str] = []
        # the kinds' times: "slow" is held until "quick" has finished
        hold_slow, free = threading.Event(), threading.Event()
        free.set()
        slow = flights.start("slow", "slow", _held(started, "slow", hold_slow))
        await _until(lambda: "slow" in started)
        await flights.start("quick", "quick", _held(started, "quick", free))
        hold_slow.set()
        await slow
        # both lanes taken, then a slow and a quick one wait, the slow first
        hold_a, hold_b = threading.Event(), threading.Event()
        a = flights.start("a", "other", _held(started, "a", hold_a))
        b = flights.start("b", "other", _held(started, "b", hold_b))
        await _until(lambda: {"a", "b"} <= set(started))
        later_slow = flights.start("slow", "slow", _held(started, "slow again", free))
        later_quick = flights.start("quick", "quick", _held(started, "quick again", free))
        hold_a.set()
        await asyncio.gather(a, later_quick, later_slow)
        hold_b.set()
        await b
        assert flights.busy == 0
        return started

    started = asyncio.run(scenario())
    # the quick kind started before the slow one that had waited longer
    assert started[:2] == ["slow", "quick"] and set(started[2:4]) == {"a", "b"}
    assert started[4:] == ["quick again", "slow again"]
    # while a and b were held, neither later one ran beside them
    assert RUNNING["most"] == 2
