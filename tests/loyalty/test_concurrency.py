"""Fifty redemptions of one balance, from fifty processes at once, never
overdraw it: on SQLite (BEGIN IMMEDIATE) and on PostgreSQL (a lock on the
member's row), with real processes and a real server."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime

import sqlalchemy as sa

from tenure.errors import InsufficientPointsError, StoreBusyError
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
