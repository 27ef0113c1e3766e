"""A referral's or a badge's settlement killed at any point (SIGKILL at a
named point, never a timed kill) pays everything exactly once when settled
again: on SQLite and on PostgreSQL."""

from __future__ import annotations

import multiprocessing
import os
import signal
from datetime import UTC, datetime

import sqlalchemy as sa

from tenure.loyalty import balance, check_invariant
from tenure.loyalty.challenges import settle_challenges
from tenure.loyalty.referrals import POINTS, refer, referral_code, settle_referrals
from tenure.loyalty_settings import Challenge, Program, Referrals
from tenure.refresh import ingest
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import loyalty_awards, loyalty_badges

AT = datetime(2026, 3, 1, tzinfo=UTC)
LATER = datetime(2026, 6, 1, tzinfo=UTC)
PROGRAM = Program(
    referrals=Referrals(advocate_points=500, friend_points=250),
    challenges=(Challenge("two", "orders", "Two", count=2, days=7, points=40),),
)
LEDGER = ("loyalty locked", "loyalty before commit", "loyalty after commit")
TRIALS = (*LEDGER, *POINTS, "badge given")


def _settle(url: str, store, friend: str, point: str) -> None:
    os.environ["TENURE_FAULT_AT"] = point
    ops = OpsStore.open(url, create=False)
    settle_referrals(ops, store, [friend], at=LATER, program=PROGRAM)
    settle_challenges(ops, store, [friend], at=LATER, program=PROGRAM)
    os._exit(0)


def _awards(ops: OpsStore, customer: str) -> list[tuple[str, str, int]]:
    a = loyalty_awards
    with ops.engine.connect() as conn:
        return sorted(conn.execute(sa.select(a.c.source, a.c.role, a.c.points)
                                   .where(a.c.customer_id == customer)).all())  # fmt: skip


def test_a_settlement_killed_at_any_point_pays_once_when_run_again(ops, tmp_path):
    store = tmp_path / "store"
    rows = []
    for i in range(len(TRIALS)):
        refer(ops, referral_code(ops, f"A{i}", at=AT)["code"], f"F{i}", at=AT)
        rows += [f"X{i},F{i},2026-03-02,30,completed", f"Y{i},F{i},2026-03-04,30,completed"]
    path = tmp_path / "orders.csv"
    path.write_text("order_id,customer_id,placed_at,amount,status\n" + "\n".join(rows) + "\n")
    ingest("orders", path, store=store)
    ctx = multiprocessing.get_context("fork")
    killed = 0
    for i, point in enumerate(TRIALS):
        ops.engine.dispose()  # the child opens its own connections
        child = ctx.Process(target=_settle, args=(ops.url, store, f"F{i}", point))
        child.start()
        child.join(timeout=120)
        killed += child.exitcode == -signal.SIGKILL
        check_invariant(ops)
        for _ in range(2):  # settled again, and once more: nothing more is paid
            settle_referrals(ops, store, [f"F{i}"], at=LATER, program=PROGRAM)
            settle_challenges(ops, store, [f"F{i}"], at=LATER, program=PROGRAM)
        # the advocate 500; the friend 250 for the referral and 40 for two orders in 7 days
        assert balance(ops, f"A{i}", at=LATER)["balance"] == 500, point
        assert balance(ops, f"F{i}", at=LATER)["balance"] == 290, point
        assert _awards(ops, f"A{i}") == [("referral", "advocate", 500)], point
        assert _awards(ops, f"F{i}") == [("badge", "member", 40), ("referral", "friend", 250)]
    assert killed == len(TRIALS)
    with ops.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(loyalty_badges)
                            ).scalar_one() == len(TRIALS)  # fmt: skip
    check_invariant(ops)
