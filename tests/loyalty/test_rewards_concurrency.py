"""A reward's stock under members redeeming it at the same moment, from
real processes, on SQLite and on a real PostgreSQL server: twelve members
want the last three mugs; three get one, nine are told it is out of stock."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime

import sqlalchemy as sa

from tenure.loyalty import balance, check_invariant, earn
from tenure.loyalty.rewards import redeem_reward
from tenure.loyalty_settings import Program, Reward
from tenure.store.ops_schema import loyalty_redemptions, loyalty_reward_stock

from .conftest import retried_in_child

MEMBERS = 12
PROGRAM = Program(rewards=(Reward("mug", "product", "Mug", points=800, product_id="SKU-MUG",
                                  stock=3),))  # fmt: skip


def _take(url: str, start, results, i: int) -> None:
    retried_in_child(url, start, results, lambda ops: redeem_reward(
        ops, f"M{i}", "mug", key=f"mug-{i}", program=PROGRAM), "redeemed", tries=20)  # fmt: skip


def test_the_last_of_a_rewards_stock_goes_once(ops):
    t = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(MEMBERS):
        earn(ops, f"M{i}", 1000, at=t)
    ops.engine.dispose()
    ctx = multiprocessing.get_context("fork")
    start, results = ctx.Barrier(MEMBERS), ctx.Queue()
    workers = [ctx.Process(target=_take, args=(ops.url, start, results, i))
               for i in range(MEMBERS)]  # fmt: skip
    for w in workers:
        w.start()
    got = sorted(results.get(timeout=300) for _ in workers)
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
    assert got == ["out_of_stock"] * 9 + ["redeemed"] * 3
    balances = sorted(balance(ops, f"M{i}")["balance"] for i in range(MEMBERS))
    assert balances == [200] * 3 + [1000] * 9
    with ops.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(loyalty_redemptions)
                            ).scalar_one() == 3  # fmt: skip
        assert conn.execute(sa.select(loyalty_reward_stock.c.redeemed)).scalar_one() == 3
    check_invariant(ops)
