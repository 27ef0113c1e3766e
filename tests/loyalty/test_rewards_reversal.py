"""Reversing a catalogue redemption gives its reward's stock back: once,
when all its points are back, on SQLite and on a real PostgreSQL server,
and under reversals sent at the same moment from real processes. The
stock left is worked by hand: the declared stock less the redemptions
standing."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from tenure.errors import LedgerError
from tenure.loyalty import balance, check_invariant, earn, reverse
from tenure.loyalty.rewards import catalogue, redeem_reward
from tenure.loyalty_settings import Program, Reward
from tenure.store.ops_schema import loyalty_reward_stock

from .conftest import retried_in_child

AT = datetime(2026, 3, 1, tzinfo=UTC)
PROGRAM = Program(rewards=(
    Reward("mug", "product", "Mug", points=800, product_id="SKU-MUG", stock=2, per_member=1),
    Reward("5off", "discount", "5.00 off", points=500, value=5.0),
))  # fmt: skip


def _left(ops, program: Program = PROGRAM) -> int | None:
    return _mug(ops, program)["left"]


def _mug(ops, program: Program = PROGRAM) -> dict:
    return {r["id"]: r for r in catalogue(ops, program=program)["rewards"]}["mug"]


def test_a_reversed_redemption_gives_its_stock_back_once(ops):
    earn(ops, "C1", 2000, at=AT)
    mug = redeem_reward(ops, "C1", "mug", program=PROGRAM, at=AT)
    assert _left(ops) == 1  # 2 declared, 1 redeemed
    back = reverse(ops, "C1", mug.entry_id, key="undo-mug")
    assert back.doc["balance"] == 2000  # 2000 - 800 + 800
    assert _left(ops) == 2
    # the same key again: the stored answer, nothing given back again
    assert reverse(ops, "C1", mug.entry_id, key="undo-mug").replayed
    # another reversal of it: nothing left to reverse, and the stock stays
    with pytest.raises(LedgerError) as refused:
        reverse(ops, "C1", mug.entry_id)
    assert refused.value.code == "over_reversal"
    assert _left(ops) == 2
    assert (_mug(ops)["redeemed"], _mug(ops)["reversed"]) == (0, 1)
    # reversed in full, it no longer counts against the limit of one per member
    again = redeem_reward(ops, "C1", "mug", program=PROGRAM, at=AT)
    assert again.doc["balance"] == 1200
    assert _left(ops) == 1
    with pytest.raises(LedgerError) as limit:
        redeem_reward(ops, "C1", "mug", program=PROGRAM, at=AT)
    assert limit.value.code == "reward_limit"
    check_invariant(ops)


def test_a_reversal_of_part_of_its_points_keeps_the_reward_taken(ops):
    earn(ops, "C2", 1000, at=AT)
    mug = redeem_reward(ops, "C2", "mug", program=PROGRAM, at=AT)
    reverse(ops, "C2", mug.entry_id, points=300)
    assert _left(ops) == 1  # 300 of 800 back: the member keeps the mug
    assert (_mug(ops)["redeemed"], _mug(ops)["reversed"]) == (1, 0)
    with pytest.raises(LedgerError) as limit:
        redeem_reward(ops, "C2", "mug", program=PROGRAM, at=AT)
    assert limit.value.code == "reward_limit"
    last = reverse(ops, "C2", mug.entry_id)  # the other 500
    assert last.doc["entry"]["points"] == 500
    assert last.doc["balance"] == 1000
    assert _left(ops) == 2
    assert (_mug(ops)["redeemed"], _mug(ops)["reversed"]) == (0, 1)


def test_reversing_other_redemptions_gives_back_no_stock(ops):
    """A discount without a stock, a plain redemption, an earning: the
    mug's stock is untouched."""
    earn(ops, "C3", 3000, at=AT)
    redeem_reward(ops, "C3", "mug", program=PROGRAM, at=AT)
    off = redeem_reward(ops, "C3", "5off", program=PROGRAM, at=AT)
    plain = redeem_reward(ops, "C3", "5off", program=PROGRAM, at=AT)
    from tenure.loyalty import redeem

    loose = redeem(ops, "C3", 100, reward="mug")  # a text, not the catalogue's reward
    for entry_id in (off.entry_id, plain.entry_id, loose.entry_id):
        reverse(ops, "C3", entry_id)
    assert _left(ops) == 1
    assert balance(ops, "C3")["balance"] == 2200  # 3000 - 800


def test_a_stock_declared_later_never_goes_above_itself(ops):
    """Redeemed while the reward had no stock, then a stock of 2 declared:
    the reversal of that first redemption has nothing to give back."""
    unlimited = Program(rewards=(Reward("mug", "product", "Mug", points=800,
                                        product_id="SKU-MUG"),))  # fmt: skip
    earn(ops, "C4", 800, at=AT)
    first = redeem_reward(ops, "C4", "mug", program=unlimited, at=AT)
    assert _left(ops, unlimited) is None
    reverse(ops, "C4", first.entry_id)
    assert _left(ops) == 2


def _undo(url: str, start, results, customer: str, entry_id: int) -> None:
    retried_in_child(url, start, results, lambda ops: reverse(ops, customer, entry_id),
                     "reversed", tries=50)  # fmt: skip


def test_reversals_at_the_same_moment_give_each_redemption_back_once(ops):
    """Six members took all six mugs; each redemption is reversed by two
    processes at once (twelve in all): six reverse, six find nothing left,
    and all six mugs are back."""
    program = Program(rewards=(Reward("mug", "product", "Mug", points=800,
                                      product_id="SKU-MUG", stock=6),))  # fmt: skip
    taken = {}
    for i in range(6):
        earn(ops, f"M{i}", 1000, at=AT)
        taken[f"M{i}"] = redeem_reward(ops, f"M{i}", "mug", program=program, at=AT).entry_id
    assert _left(ops, program) == 0
    ops.engine.dispose()  # the children open their own connections
    ctx = multiprocessing.get_context("fork")
    start, results = ctx.Barrier(12), ctx.Queue()
    workers = [ctx.Process(target=_undo, args=(ops.url, start, results, member, entry_id))
               for member, entry_id in taken.items() for _ in range(2)]  # fmt: skip
    for w in workers:
        w.start()
    got = sorted(results.get(timeout=300) for _ in workers)
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
    assert got == ["over_reversal"] * 6 + ["reversed"] * 6
    assert _left(ops, program) == 6
    with ops.engine.connect() as conn:
        assert conn.execute(sa.select(loyalty_reward_stock.c.redeemed)).scalar_one() == 0
    assert [balance(ops, m)["balance"] for m in taken] == [1000] * 6
    check_invariant(ops)
