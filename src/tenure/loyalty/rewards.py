"""The rewards catalogue: what points buy, and redeeming a reward.

A catalogue reward is redeemed as a ledger redemption (the same
transaction, member lock, idempotency key, balance check and lots drawn
soonest expiry first as :func:`tenure.loyalty.ledger.redeem`), with a row of
``loyalty_redemptions`` that says which reward, for how many points, and
what they paid, written in that transaction. A reward's stock is a row
updated only while some is left, so two members taking the last one at
the same moment get it once, and a redemption reversed in full gives its
one back (:mod:`.stock`); its limit per member counts the member's
redemptions not reversed in full, under the member's lock.

What points pay is decided here, in decimals of the reporting currency:
a discount's declared value; a free product; or, in a partial redemption,
points × the program's point value, rounded down to the cent, at most the
reward's share of the order's total.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_DOWN, ROUND_FLOOR, Decimal
from typing import Any

import sqlalchemy as sa

from tenure.errors import InputError, InsufficientPointsError, LedgerError, NotFoundError
from tenure.loyalty import clock, stock
from tenure.loyalty.entries import member_totals, post

# the ledger's one write path: a catalogue redemption is a redemption with
# its record added inside the same transaction
from tenure.loyalty.ledger import Posting, _run, _Write
from tenure.loyalty.lots import Member, allocate, draw
from tenure.loyalty.policy import (
    DEFAULT,
    Policy,
    checked_customer,
    checked_key,
    checked_points,
)
from tenure.loyalty_settings import Program, Reward
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import loyalty_redemptions, loyalty_reward_stock

CENT = Decimal("0.01")


def catalogue(ops: OpsStore, *, program: Program) -> dict[str, Any]:
    """The catalogue's rewards with how many were redeemed (and stand),
    how many of those were reversed in full since, and how many are left."""
    r, s = loyalty_redemptions, loyalty_reward_stock
    undone = stock.reversed_in_full()
    with ops.engine.connect() as conn:
        counts = {reward_id: (int(n), int(back or 0)) for reward_id, n, back in conn.execute(
            sa.select(r.c.reward_id, sa.func.count(), sa.func.sum(sa.case((undone, 1), else_=0)))
            .group_by(r.c.reward_id))}  # fmt: skip
        taken = dict(conn.execute(sa.select(s.c.reward_id, s.c.redeemed)).all())
    rows = []
    for reward in program.rewards:
        left = None if reward.stock is None else max(reward.stock - int(taken.get(reward.id, 0)), 0)
        made, back = counts.get(reward.id, (0, 0))
        rows.append({**reward.doc(), "redeemed": made - back, "reversed": back, "left": left})
    return {"point_value": program.point_value, "rewards": rows}


def known_reward(program: Program, reward_id: str) -> Reward:
    reward = program.reward(reward_id)
    if reward is None:
        known = ", ".join(r.id for r in program.rewards) or "none declared"
        raise NotFoundError(
            f"the reward {reward_id!r} is not in the catalogue (rewards: {known}).",
            hint="See the catalogue: tenure loyalty rewards; rewards are declared in "
            "tenure.toml under [loyalty] rewards.",
            value=reward_id,
        )
    return reward


def partial_value(points: int, point_value: float) -> Decimal:
    """What ``points`` pay at ``point_value``, rounded down to the cent."""
    return (Decimal(points) * Decimal(str(point_value))).quantize(CENT, rounding=ROUND_DOWN)


def partial_most(order_total: float, reward: Reward, point_value: float) -> int:
    """The most points a partial redemption may spend on an order of ``order_total``."""
    share = Decimal(str(order_total)) * Decimal(str(reward.max_share))
    return int((share / Decimal(str(point_value))).to_integral_value(rounding=ROUND_FLOOR))


def _checked_total(total: object) -> float | None:
    """An order's total: a number above 0, or None."""
    if total is None:
        return None
    if isinstance(total, Decimal) and total.is_finite():
        total = float(total)
    if (isinstance(total, bool) or not isinstance(total, int | float)
            or not 0 < total < float("inf")):  # fmt: skip
        raise InputError(f"the order's total must be a number above 0; got {total!r}.",
                         hint="Give it in the reporting currency, e.g. --order-total 42.50.",
                         value=total)  # fmt: skip
    return round(float(total), 4)


def _terms(reward: Reward, points: int | None, order_total: float | None,
           program: Program) -> tuple[int, Decimal | None]:  # fmt: skip
    """The points a redemption of ``reward`` spends and the value they pay."""
    if reward.kind != "partial":
        if points is not None and points != reward.points:
            raise InputError(
                f"the reward {reward.id!r} costs {reward.points:,} points; {points:,} were given.",
                hint=f"Leave the points out, or give {reward.points}.", value=points,
            )  # fmt: skip
        cost = int(reward.points or 0)
        value = None if reward.value is None else Decimal(str(reward.value))
        if value is not None and order_total is not None and value > Decimal(str(order_total)):
            raise InputError(
                f"the reward {reward.id!r} takes {value.quantize(CENT)} off; the order's total is "
                f"{Decimal(str(order_total)).quantize(CENT)}.",
                hint="Choose a smaller discount, or a partial redemption.", value=order_total)  # fmt: skip
        return cost, value
    if points is None:
        raise InputError(f"a partial redemption ({reward.id!r}) needs the points to spend.",
                         hint=f"Give them, e.g. tenure loyalty redeem CUSTOMER 1500 --reward "
                              f"{reward.id} --order-total 42.50")  # fmt: skip
    points = checked_points(points)
    if order_total is None:
        raise InputError(
            f"a partial redemption ({reward.id!r}) needs the order's total.",
            hint="Give the total of the order the points pay part of, e.g. --order-total 42.50.")  # fmt: skip
    if points < reward.min_points:
        raise InputError(f"the reward {reward.id!r} takes {reward.min_points:,} points or more; "
                         f"{points:,} were given.", hint=f"Spend at least {reward.min_points}.",
                         value=points)  # fmt: skip
    most = partial_most(order_total, reward, program.point_value)
    if points > most:
        raise InputError(
            f"{points:,} points would pay {partial_value(points, program.point_value)} of an "
            f"order of {Decimal(str(order_total)).quantize(CENT)}; points pay at most "
            f"{reward.max_share:.0%} of it, {most:,} points.",
            hint=f"Spend at most {most} points on this order.", value=points,
        )  # fmt: skip
    return points, partial_value(points, program.point_value)


def redeem_reward(
    ops: OpsStore,
    customer_id: str,
    reward_id: str,
    *,
    points: int | None = None,
    order_total: float | None = None,
    order_id: str | None = None,
    key: str | None = None,
    at: datetime | None = None,
    program: Program,
    policy: Policy = DEFAULT,
) -> Posting:
    """Redeem the catalogue reward ``reward_id`` for a member.

    A discount or a product costs its declared points (``points`` may be
    left out). A partial redemption spends ``points`` on an order of
    ``order_total``. Beyond the member's points, the reward's stock or its
    limit per member, nothing is redeemed. The posting's document is the
    ledger's, with ``redemption``: the reward, points, ``value`` paid,
    ``product_id``, and for a partial one ``order_total`` and ``to_pay``.
    """
    customer_id = checked_customer(customer_id)
    reward = known_reward(program, reward_id)
    order_total = _checked_total(order_total)
    key = checked_key(key)
    at = clock.utc(at) if at is not None else clock.now()
    cost, value = _terms(reward, points, order_total, program)
    r = loyalty_redemptions

    def body(conn: sa.Connection, member: Member) -> int:
        if reward.per_member is not None:
            used = conn.execute(stock.standing(customer_id, reward.id)).scalar_one()
            if used >= reward.per_member:
                raise LedgerError(
                    f"customer {customer_id} has redeemed {reward.id!r} {used} time(s), its "
                    f"limit per member. Nothing was redeemed.",
                    hint="Choose another reward: tenure loyalty rewards", value=reward.id,
                    code="reward_limit")  # fmt: skip
        parts, short = draw(member, cost, at)
        if short:
            have = cost - short
            _, waiting = member_totals(conn, customer_id)
            later = f", or wait for the {waiting} pending points" if waiting else ""
            raise InsufficientPointsError(
                f"customer {customer_id} has {have} points available; the reward {reward.id!r} "
                f"needs {cost}, {short} more. Nothing was redeemed.",
                hint=(f"Spend at most {have} points{later}." if reward.kind == "partial"
                      else f"Choose a reward of at most {have} points{later}."), value=cost,
                expected=f"at most {have}")  # fmt: skip
        if reward.stock is not None:
            stock.take(conn, reward.id, reward.stock)
        entry = post(conn, customer_id, "redeem", at, points=-cost, reward=reward.id,
                     idempotency_key=key)  # fmt: skip
        allocate(conn, member, entry, parts, entry)
        conn.execute(r.insert().values(
            entry_id=entry, customer_id=customer_id, reward_id=reward.id, kind=reward.kind,
            points=cost, value=None if value is None else float(value),
            product_id=reward.product_id, order_id=order_id, order_total=order_total, at=at))  # fmt: skip
        return entry

    request = {"customer_id": customer_id, "points": cost, "reward": reward.id,
               "catalogue": True, "order_total": order_total, "order_id": order_id}  # fmt: skip
    w = _Write(ops, customer_id, "redeem", request, key, at, join=False, policy=policy)
    posting = _run(w, body)
    return Posting({**posting.doc, "redemption": redemption(ops, posting.entry_id)},
                   replayed=posting.replayed)  # fmt: skip


def redemption(ops: OpsStore, entry_id: int) -> dict[str, Any] | None:
    """The catalogue redemption recorded with the ledger entry ``entry_id``."""
    r = loyalty_redemptions
    with ops.engine.connect() as conn:
        row = conn.execute(sa.select(r).where(r.c.entry_id == entry_id)).mappings().first()
    if row is None:
        return None
    value = None if row["value"] is None else Decimal(str(row["value"])).quantize(CENT)
    to_pay = None
    if row["order_total"] is not None and value is not None:
        to_pay = float(Decimal(str(row["order_total"])).quantize(CENT) - value)
    return {"reward": row["reward_id"], "kind": row["kind"], "points": int(row["points"]),
            "value": None if value is None else float(value), "product_id": row["product_id"],
            "order_id": row["order_id"], "order_total": row["order_total"], "to_pay": to_pay}  # fmt: skip
