"""A write that lifts a member to a tier posts its entry and its tier row
together or not at all: killed (SIGKILL at a named fault point, never a
timed kill) after the entry and before the tier row, or after the tier row
and before the commit, it leaves neither; its retry posts both, once."""

from __future__ import annotations

import multiprocessing
import os
import signal
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from tenure.loyalty import Policy, Tier, TierProgram, check_invariant, earn
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import loyalty_entries, loyalty_lots, loyalty_tier_changes

POLICY = Policy(tiers=TierProgram((Tier("Silver", 500),)))
AT = datetime(2026, 2, 1, tzinfo=UTC)


def _child(url: str, point: str) -> None:
    os.environ["TENURE_FAULT_AT"] = point
    ops = OpsStore.open(url, create=False)
    earn(ops, "C1", 250, key="order-2", at=AT, policy=POLICY)
    os._exit(0)


def counts(ops) -> tuple[int, int, int]:
    with ops.engine.connect() as conn:
        return tuple(
            conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in (loyalty_entries, loyalty_lots, loyalty_tier_changes)
        )  # fmt: skip


@pytest.mark.parametrize(
    "point", ["loyalty entry written", "loyalty tier written", "loyalty before commit"]
)
def test_a_write_killed_between_its_entry_and_its_tier_row_leaves_neither(ops, point):
    earn(ops, "C1", 300, key="order-1", at=datetime(2026, 1, 10, tzinfo=UTC), policy=POLICY)
    assert counts(ops) == (1, 1, 0)
    ops.engine.dispose()  # the child opens its own connections
    child = multiprocessing.get_context("fork").Process(target=_child, args=(ops.url, point))
    child.start()
    child.join(timeout=120)
    assert child.exitcode == -signal.SIGKILL
    # neither the entry of the 250 points nor the upgrade it made
    assert counts(ops) == (1, 1, 0)
    check_invariant(ops)
    # the retry with the same key posts both, and a second retry nothing more
    done = earn(ops, "C1", 250, key="order-2", at=AT, policy=POLICY)
    again = earn(ops, "C1", 250, key="order-2", at=AT, policy=POLICY)
    assert (done.doc["tier"], again.replayed, again.doc == done.doc) == ("Silver", True, True)
    with ops.engine.connect() as conn:
        row = conn.execute(sa.select(loyalty_tier_changes.c.entry_id,
                                     loyalty_tier_changes.c.tier)).one()  # fmt: skip
    assert tuple(row) == (done.entry_id, "Silver")
    assert counts(ops) == (2, 2, 1)
