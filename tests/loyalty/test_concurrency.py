"""Fifty redemptions of one balance, from fifty processes at once, never
overdraw it: on SQLite (BEGIN IMMEDIATE) and on PostgreSQL (a lock on the
member's row), with real processes and a real server. And duplicates under
one idempotency key, sent at the same moment, post once."""

from __future__ import annotations

import multiprocessing
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from tenure.errors import (
    IdempotencyKeyReusedError,
    InsufficientPointsError,
    StoreBusyError,
    TenureError,
)
from tenure.loyalty import check_invariant, earn, history, redeem
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import loyalty_allocations

PROCESSES = 50


def _redeem(url: str, start, results, i: int) -> None:
    """One client: waits for every other to be ready, then redeems 10
    points, retrying with the same key while the store is busy (a retry
    is what the key is for)."""
    ops = OpsStore.open(url, create=False)
    start.wait()
    try:
        for _ in range(20):
            try:
                posting = redeem(ops, "C1", 10, key=f"redeem-{i}")
                results.put(("redeemed", posting.doc["balance"]))
                return
            except StoreBusyError:
                continue
            except InsufficientPointsError:
                results.put(("refused", None))
                return
        results.put(("busy", None))
    except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on it
        results.put(("error", repr(exc)))
    finally:
        ops.close()


def _race(ops: OpsStore) -> list[tuple[str, int | None]]:
    # 300 points in two lots with different expiries: 30 redemptions of 10 fit
    t = datetime(2026, 1, 1, tzinfo=UTC)
    earn(ops, "C1", 200, at=t, expires_at=datetime(2027, 6, 1, tzinfo=UTC))
    earn(ops, "C1", 100, at=t, expires_at=datetime(2027, 3, 1, tzinfo=UTC))
    ops.engine.dispose()  # the children open their own connections
    ctx = multiprocessing.get_context("fork")
    start, results = ctx.Barrier(PROCESSES), ctx.Queue()
    workers = [
        ctx.Process(target=_redeem, args=(ops.url, start, results, i)) for i in range(PROCESSES)
    ]
    for w in workers:
        w.start()
    got = [results.get(timeout=300) for _ in workers]
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
    return got


def _check(ops: OpsStore, got: list[tuple[str, int | None]]) -> None:
    assert [g for g in got if g[0] not in ("redeemed", "refused")] == []
    balances = sorted((b for kind, b in got if kind == "redeemed"), reverse=True)
    # exactly 30 went through, each seeing the balance the one before left
    assert balances == list(range(290, -1, -10))
    assert sum(kind == "refused" for kind, _ in got) == PROCESSES - 30
    doc = history(ops, "C1")
    assert doc["balance"] == 0
    assert min(e["balance_after"] for e in doc["entries"]) == 0
    with ops.engine.connect() as conn:
        drawn = conn.execute(
            sa.select(loyalty_allocations.c.lot_id, sa.func.sum(loyalty_allocations.c.points))
            .group_by(loyalty_allocations.c.lot_id)
            .order_by(loyalty_allocations.c.lot_id)
        ).all()
    assert [int(points) for _, points in drawn] == [200, 100]
    totals = check_invariant(ops)
    assert (totals.issued, totals.redeemed, totals.outstanding) == (300, 300, 0)


def test_fifty_concurrent_redemptions_never_overdraw_on_sqlite(sqlite_ops):
    _check(sqlite_ops, _race(sqlite_ops))


def test_fifty_concurrent_redemptions_never_overdraw_on_postgresql(pg_database):
    ops = OpsStore.open(pg_database)
    try:
        _check(ops, _race(ops))
    finally:
        ops.close()


def _redeem_held(url: str, env: dict[str, str], results, customer: str = "C1") -> None:
    os.environ.update(env)
    ops = OpsStore.open(url, create=False)
    try:
        posting = redeem(ops, customer, 60, reward="voucher", key="dup-1")
        results.put((posting.replayed, posting.doc))
    except TenureError as exc:
        results.put((exc.code, None))
    ops.close()


def _hold_first_and_start_second(ops: OpsStore, tmp_path: Path, second_customer: str):
    """The first redemption held just before its commit, and a second with
    the same key waiting for a lock the first holds; released, their results."""
    release = tmp_path / "release"
    held = {"TENURE_FAULT_AT": "loyalty before commit", "TENURE_FAULT_SIGNAL": "PAUSE",
            "TENURE_FAULT_RELEASE": str(release)}  # fmt: skip
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    first = ctx.Process(target=_redeem_held, args=(ops.url, held, results))
    second = ctx.Process(target=_redeem_held, args=(ops.url, {}, results, second_customer))
    waiting = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND datname = current_database()"
    )
    deadline = time.monotonic() + 120
    try:
        first.start()
        while not Path(f"{release}.reached").exists():
            assert first.is_alive() and time.monotonic() < deadline
            time.sleep(0.01)
        second.start()
        with ops.engine.connect() as conn:
            while conn.execute(waiting).scalar_one() == 0:  # the second waits for a lock
                assert second.is_alive() and time.monotonic() < deadline
                # PostgreSQL keeps one view of pg_stat_activity per transaction
                conn.rollback()
                time.sleep(0.01)
        release.touch()
        got = [results.get(timeout=120) for _ in range(2)]
    finally:
        release.touch()  # a failed test leaves no process held
        for p in (first, second):
            if p.pid is not None:
                p.join(timeout=60)
                if p.exitcode is None:
                    p.kill()
                    p.join()
    assert (first.exitcode, second.exitcode) == (0, 0)
    return got


def test_a_concurrent_duplicate_waits_for_the_first_and_gets_its_response(pg_database, tmp_path):
    """The same request under the same key twice at once: the second waits
    for the member's lock while the first is held inside its transaction
    (just before its commit), then answers with the first's stored response
    instead of posting again."""
    ops = OpsStore.open(pg_database)
    earn(ops, "C1", 100, at=datetime(2026, 1, 1, tzinfo=UTC))
    ops.engine.dispose()
    got = _hold_first_and_start_second(ops, tmp_path, "C1")
    assert sorted(replayed for replayed, _ in got) == [False, True]
    assert got[0][1] == got[1][1]
    entries = history(ops, "C1")["entries"]
    assert [(e["kind"], e["points"]) for e in entries] == [("earn", 100), ("redeem", -60)]
    ops.close()


def test_one_key_for_two_members_at_once_is_a_conflict_then_a_reused_key(pg_database, tmp_path):
    """The same key sent for two members at once: the second cannot see the
    first's key until it commits, waits on its unique index, and is told it
    conflicted (the API's 409) without posting; sent again, it is a key
    reused for another request (422)."""
    ops = OpsStore.open(pg_database)
    earn(ops, "C1", 100, at=datetime(2026, 1, 1, tzinfo=UTC))
    earn(ops, "C2", 100, at=datetime(2026, 1, 1, tzinfo=UTC))
    ops.engine.dispose()
    got = _hold_first_and_start_second(ops, tmp_path, "C2")
    assert sorted(str(outcome) for outcome, _ in got) == ["False", "idempotency_conflict"]
    with pytest.raises(IdempotencyKeyReusedError):
        redeem(ops, "C2", 60, reward="voucher", key="dup-1")
    assert history(ops, "C2")["balance"] == 100
    assert history(ops, "C1")["balance"] == 40
    ops.close()
