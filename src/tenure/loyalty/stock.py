"""A catalogue reward's stock: taken by a redemption, given back by its
reversal.

The stock is one row per reward (``loyalty_reward_stock``) counting the
redemptions that hold one; the catalogue shows ``stock - redeemed`` as
``left``. A redemption takes one with an update that holds only while
some is left, so two members taking the last one at the same moment get
it once. A redemption reversed in full gives its one back, in the
reversal's transaction under the member's lock: the reversal checks what
is left to reverse after taking that lock, so the same redemption is never
reversed in full twice, and its stock comes back once. A reversal of
part of its points keeps the reward taken (the member keeps it).
"""

from __future__ import annotations

import sqlalchemy as sa

from tenure.errors import LedgerError
from tenure.store.ops_schema import loyalty_entries, loyalty_redemptions, loyalty_reward_stock


def take(conn: sa.Connection, reward_id: str, stock: int) -> None:
    """Take one of a reward's ``stock``; refused when all are taken."""
    from tenure.loyalty.awards import (
        insert_ignoring,  # awards imports the ledger, which imports this
    )

    s = loyalty_reward_stock
    insert_ignoring(conn, s, {"reward_id": reward_id, "redeemed": 0}, ["reward_id"])
    taken = conn.execute(s.update().where(s.c.reward_id == reward_id, s.c.redeemed < stock)
                         .values(redeemed=s.c.redeemed + 1))  # fmt: skip
    if not taken.rowcount:
        raise LedgerError(f"the reward {reward_id!r} is out of stock (all {stock} "
                          "redeemed). Nothing was redeemed.",
                          hint="Choose another reward: tenure loyalty rewards",
                          value=reward_id, code="out_of_stock")  # fmt: skip


def give_back(conn: sa.Connection, entry_id: int) -> str | None:
    """Give back the stock the catalogue redemption ``entry_id`` took (the
    caller has reversed all of its points); the reward's id, or None when
    the redemption took none (not a catalogue redemption, or a reward
    without a stock)."""
    r, s = loyalty_redemptions, loyalty_reward_stock
    reward_id = conn.execute(sa.select(r.c.reward_id).where(r.c.entry_id == entry_id)).scalar()
    if reward_id is None:
        return None
    # redeemed > 0: a stock declared after the reward was first redeemed
    # counts only the redemptions made since, and never goes below none
    back = conn.execute(s.update().where(s.c.reward_id == reward_id, s.c.redeemed > 0)
                        .values(redeemed=s.c.redeemed - 1))  # fmt: skip
    return reward_id if back.rowcount else None


def reversed_in_full() -> sa.ColumnElement[bool]:
    """Whether a row of ``loyalty_redemptions`` has all its points back."""
    r, e = loyalty_redemptions, loyalty_entries
    back = (
        sa.select(sa.func.coalesce(sa.func.sum(e.c.points), 0))
        .where(e.c.reverses == r.c.entry_id)
        .scalar_subquery()
    )
    return back >= r.c.points


def standing(customer_id: str, reward_id: str) -> sa.Select:
    """How many of the member's redemptions of the reward are not reversed
    in full: what its limit per member counts."""
    r = loyalty_redemptions
    mine = sa.and_(r.c.customer_id == customer_id, r.c.reward_id == reward_id)
    return sa.select(sa.func.count()).select_from(r).where(mine, ~reversed_in_full())
