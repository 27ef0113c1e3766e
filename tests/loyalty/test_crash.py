"""A ledger write killed at any point leaves no partial posting.

A script of writes (earnings, pending points, redemptions, reversals,
adjustments, expiry runs) runs against a store; each write is first run in
a child process stopped with SIGKILL at each named point of the write path
(``tenure.faults``, never a timed kill), then retried with the same key.
After every kill the store is exactly as before the write (or, past the
commit, as after it) and the invariant holds; at the end the store equals
one where the same script ran without a fault.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from tenure.errors import TenureError
from tenure.loyalty import adjust, check_invariant, earn, expire, history, redeem, reverse
from tenure.loyalty.ledger import POINTS
from tenure.store import ops_schema
from tenure.store.ops import OpsStore

CUSTOMERS = ("C1", "C2", "C3")
STEPS = 50
START = datetime(2026, 1, 1, tzinfo=UTC)
TABLES = ("loyalty_members", "loyalty_entries", "loyalty_lots", "loyalty_allocations",
          "loyalty_keys")  # fmt: skip


def script(n: int, seed: int = 15) -> list[dict[str, Any]]:
    """``n`` writes, the same on every run; times move forward so that
    lots (which expire after 20 days here) expire and pending points get
    approved within the script."""
    rng = random.Random(seed)
    steps, posted = [], 0
    for i in range(n):
        at = START + timedelta(days=3 * i)
        customer = rng.choice(CUSTOMERS)
        kind = rng.choices(["earn", "redeem", "reverse", "adjust", "expire"], [4, 4, 2, 1, 1])[0]
        if kind == "reverse" and posted == 0:
            kind = "earn"
        step: dict[str, Any] = {"op": kind, "customer": customer, "at": at, "key": f"k{i}"}
        if kind == "earn":
            step.update(points=rng.randint(10, 200), pending=rng.random() < 0.3)
        elif kind == "redeem":
            step.update(points=rng.randint(10, 80))
        elif kind == "reverse":
            step.update(target=rng.randrange(posted))
        elif kind == "adjust":
            step.update(points=rng.choice([-1, 1]) * rng.randint(5, 60))
        steps.append(step)
        posted += kind != "expire"
    return steps


def apply(ops: OpsStore, step: dict[str, Any], entries: list[int | None]) -> int | None:
    """Run one step; the id of the entry it posted (None: refused, or an expiry run)."""
    at, who, key = step["at"], step["customer"], step["key"]
    try:
        if step["op"] == "earn":
            return earn(ops, who, step["points"], pending=step["pending"], key=key, at=at,
                        expires_at=at + timedelta(days=20) + (
                            timedelta(days=30) if step["pending"] else timedelta()),
                        reason=f"step {key}").entry_id  # fmt: skip
        if step["op"] == "redeem":
            return redeem(ops, who, step["points"], key=key, at=at, reward=key).entry_id
        if step["op"] == "reverse":
            target = entries[step["target"]]
            if target is None:
                return None
            return reverse(ops, who, target, key=key, at=at, reason=key).entry_id
        if step["op"] == "adjust":
            return adjust(ops, who, step["points"], key=key, at=at, reason=key).entry_id
        expire(ops, as_of=at)
        return None
    except TenureError:  # refused: not enough points, not a member, nothing to reverse
        return None


def _child(url: str, step: dict[str, Any], entries: list[int | None], point: str) -> None:
    os.environ["TENURE_FAULT_AT"] = point
    ops = OpsStore.open(url, create=False)
    apply(ops, step, entries)
    os._exit(0)


def snapshot(ops: OpsStore) -> tuple:
    with ops.engine.connect() as conn:
        return tuple(
            conn.execute(sa.select(sa.func.count()).select_from(ops_schema.metadata.tables[t]))
            .scalar_one() for t in TABLES
        )  # fmt: skip


def books(ops: OpsStore) -> dict[str, list[tuple]]:
    """Each member's entries, without the ids a database may number differently."""
    out = {}
    for who in CUSTOMERS:
        try:
            doc = history(ops, who)
        except TenureError:
            continue
        out[who] = [(e["kind"], e["points"], e["pending"], e["balance_after"], e["reason"],
                     e["reward"], [p["points"] for p in e["from_lots"]]) for e in doc["entries"]]  # fmt: skip
    return out


def test_a_write_killed_at_any_point_posts_all_or_nothing(ops, tmp_path):
    steps = script(STEPS)
    reference = OpsStore.open(f"sqlite:///{tmp_path / 'reference.sqlite'}")
    ref_entries: list[int | None] = []
    for step in steps:
        posted = apply(reference, step, ref_entries)
        if step["op"] != "expire":
            ref_entries.append(posted)

    ctx = multiprocessing.get_context("fork")
    entries: list[int | None] = []
    trials = killed = 0
    for step in steps:
        for point in POINTS:
            before = snapshot(ops)
            ops.engine.dispose()  # the child opens its own connections
            child = ctx.Process(target=_child, args=(ops.url, step, entries, point))
            child.start()
            child.join(timeout=120)
            trials += 1
            if child.exitcode == -signal.SIGKILL:
                killed += 1
                if point != "loyalty after commit":
                    assert snapshot(ops) == before, (step, point)
            else:
                assert child.exitcode == 0, (step, point)
            check_invariant(ops)
        posted = apply(ops, step, entries)  # the retry, with the same key
        check_invariant(ops)
        if step["op"] != "expire":
            entries.append(posted)
    assert trials == STEPS * len(POINTS)
    print(f"{trials} trials, {killed} killed")
    assert killed >= 100
    assert books(ops) == books(reference)
    reference.close()
