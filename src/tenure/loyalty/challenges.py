"""Challenges and badges: "3 orders in 30 days", "a first review".

A challenge is completed at the moment its ``count``-th order (ingested,
not refunded or cancelled) or event (``tenure loyalty event``) falls within
``days`` days of the first of them (an event challenge without ``days``:
the ``count``-th event ever). Completing it gives its badge, once per
member (a unique key), and its bonus points, once (:mod:`.awards`).

Progress is decided here and only formatted elsewhere: a completed
challenge shows ``count``/``count``; otherwise the orders or events in the
window that ends now (``days`` days back, from ``window_start`` to
``window_end``), or ever, out of ``count``.

A settlement can be stopped (:mod:`tenure.faults`) at ``badge given``,
between the badge and its bonus, besides the ledger's points.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from tenure.errors import IdempotencyKeyReusedError, InputError
from tenure.faults import checkpoint
from tenure.loyalty import clock, orders
from tenure.loyalty.awards import pay_award
from tenure.loyalty.bonus import award_bonus
from tenure.loyalty.idempotency import as_json
from tenure.loyalty.policy import DEFAULT, Policy, _control, checked_customer, checked_key
from tenure.loyalty.serial import member_transaction
from tenure.loyalty_rules import EarningRules
from tenure.loyalty_settings import Challenge, Program
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import loyalty_awards, loyalty_badges, loyalty_events


def completed_at(times: list[datetime], count: int, days: int | None) -> datetime | None:
    """When ``count`` of ``times`` (sorted) first fell within ``days`` days
    (or at all, without ``days``); None if they have not."""
    if len(times) < count:
        return None
    if days is None:
        return times[count - 1]
    span = timedelta(days=days)
    for i in range(len(times) - count + 1):
        if times[i + count - 1] - times[i] <= span:
            return times[i + count - 1]
    return None


# the events whose bonus the earning rules may declare
EVENT_BONUSES = ("review", "survey")


def _checked_kind(kind: object) -> str:
    if not isinstance(kind, str) or not kind.strip() or len(kind) > 40 or _control(kind):
        raise InputError(f"an event's kind must be a text of 1 to 40 characters; got {kind!r}.",
                         hint="Name what the member did, e.g. review or survey.", value=kind)  # fmt: skip
    return kind.strip()


def record_event(
    ops: OpsStore,
    customer_id: str,
    kind: str,
    *,
    key: str | None = None,
    at: datetime | None = None,
    program: Program | None = None,
    policy: Policy = DEFAULT,
    rules: EarningRules | None = None,
) -> dict[str, Any]:
    """Record that a member did ``kind`` (a review, a survey answer); the
    customer becomes a member. The same ``key`` again records nothing more.
    Event challenges completed by it give their badges at once (``badges``),
    and a ``review`` or ``survey`` earns the bonus the earning ``rules``
    declare for it, once per event (``bonus``: its points and entry, or None)."""
    customer_id = checked_customer(customer_id)
    kind = _checked_kind(kind)
    key = checked_key(key)
    at = clock.utc(at) if at is not None else clock.now()
    e = loyalty_events
    with member_transaction(ops, customer_id, join_at=at) as conn:
        row = None
        if key is not None:
            row = conn.execute(sa.select(e).where(e.c.key == key)).mappings().first()
            if row is not None and (row["customer_id"], row["kind"]) != (customer_id, kind):
                raise IdempotencyKeyReusedError(
                    f"the key {key!r} recorded a {row['kind']} event for customer "
                    f"{row['customer_id']}; this {kind} event for {customer_id} was not recorded.",
                    hint="Use a new key for a new event.", value=key)  # fmt: skip
        replayed = row is not None
        if row is None:
            new = conn.execute(e.insert().values(customer_id=customer_id, kind=kind, key=key, at=at)
                               .returning(e.c.id)).scalar_one()  # fmt: skip
            row = conn.execute(sa.select(e).where(e.c.id == new)).mappings().one()
    bonus = None
    if rules is not None and row["kind"] in EVENT_BONUSES and rules.bonus(row["kind"]):
        # once per event: a retry of the event (its key) or of this step grants nothing more
        posting = award_bonus(ops, customer_id, row["kind"], key=f"event:{int(row['id'])}",
                              rules=rules, at=at, policy=policy)  # fmt: skip
        if posting is not None:
            bonus = {"points": rules.bonus(row["kind"]), "entry_id": posting.entry_id,
                     "replayed": posting.replayed}  # fmt: skip
    badges = settle_challenges(ops, None, [customer_id], at=at, program=program, policy=policy,
                               kinds=("event",))["badges"]  # fmt: skip
    return as_json({"customer_id": customer_id, "replayed": replayed,
                    "event": {"id": int(row["id"]), "kind": row["kind"], "key": row["key"],
                              "at": clock.utc(row["at"])},
                    "bonus": bonus, "badges": badges})  # fmt: skip


def _events(ops: OpsStore, customer_ids: Iterable[str] | None) -> dict[tuple[str, str], list]:
    e = loyalty_events
    query = sa.select(e.c.customer_id, e.c.kind, e.c.at).order_by(e.c.at, e.c.id)
    if customer_ids is not None:
        query = query.where(e.c.customer_id.in_(sorted(set(customer_ids))))
    found: dict[tuple[str, str], list] = {}
    with ops.engine.connect() as conn:
        for customer, kind, at in conn.execute(query):
            found.setdefault((customer, kind), []).append(clock.utc(at))
    return found


def _times(challenge: Challenge, customer: str, order_times: dict, events: dict,
           at: datetime) -> list[datetime]:  # fmt: skip
    if challenge.kind == "orders":
        times = [clock.utc(t) for t in order_times.get(customer, [])]
    else:
        times = events.get((customer, challenge.event), [])
    return sorted(t for t in times if t <= at)


def settle_challenges(
    ops: OpsStore,
    store: Any,
    customer_ids: Iterable[str] | None = None,
    *,
    at: datetime | None = None,
    program: Program | None = None,
    policy: Policy = DEFAULT,
    kinds: tuple[str, ...] = ("orders", "event"),
) -> dict[str, Any]:
    """Give the badges (and bonus points) of the challenges the members
    among ``customer_ids`` (all when None) have completed, from the orders
    in ``store`` and the recorded events; run after each ingest with the
    customers it touched. Running it again gives nothing more."""
    program = program or Program()
    at = clock.utc(at) if at is not None else clock.now()
    chosen = [c for c in program.challenges if c.kind in kinds]
    ids = None if customer_ids is None else sorted({checked_customer(c) for c in customer_ids})
    done: dict[tuple[str, str], datetime] = {}
    naive = at.replace(tzinfo=None)  # the store keeps UTC times without a zone
    for c in chosen:
        if c.kind == "orders":
            for customer, when in orders.completions(store, ids, c.count, c.days or 0,
                                                     naive).items():  # fmt: skip
                done[customer, c.id] = clock.utc(when)
    events = _events(ops, ids)
    for (customer, kind), times in events.items():
        for c in chosen:
            when = completed_at([t for t in times if t <= at], c.count, c.days)
            if c.kind == "event" and c.event == kind and when is not None:
                done[customer, c.id] = when
    settled = _settled(ops, ids)
    by_id = {c.id: c for c in chosen}
    new: list[dict[str, Any]] = []
    for (customer, cid), when in sorted(done.items()):
        challenge = by_id[cid]
        if settled.get((customer, cid)) is True or (
                (customer, cid) in settled and not challenge.points):  # fmt: skip
            continue  # the badge is given and its bonus, if any, paid
        badge = _award(ops, customer, challenge, when, at, policy)
        if badge is not None:
            new.append(badge)
    return as_json({"badges": new, "as_of": at})


def _settled(ops: OpsStore, customer_ids: list[str] | None) -> dict[tuple[str, str], bool]:
    """(customer, challenge) -> whether a bonus was paid, for the badges given."""
    b, a = loyalty_badges, loyalty_awards
    query = sa.select(b.c.customer_id, b.c.challenge_id, a.c.id).outerjoin(
        a, sa.and_(a.c.source == "badge", a.c.source_id == b.c.id))  # fmt: skip
    if customer_ids is not None:
        query = query.where(b.c.customer_id.in_(customer_ids))
    with ops.engine.connect() as conn:
        return {(c, ch): award is not None for c, ch, award in conn.execute(query)}


def _award(ops: OpsStore, customer: str, challenge: Challenge, done: datetime, at: datetime,
           policy: Policy) -> dict[str, Any] | None:  # fmt: skip
    """The badge of ``challenge`` for ``customer``, given once; its document
    if given now (or its bonus paid now), else None."""
    b, a = loyalty_badges, loyalty_awards
    with member_transaction(ops, customer, join_at=at) as conn:
        mine = sa.select(b).where(b.c.customer_id == customer, b.c.challenge_id == challenge.id)
        # the member's lock makes the look and the insert one step; the unique
        # key would refuse a second badge all the same
        fresh = conn.execute(mine).first() is None
        if fresh:
            conn.execute(b.insert().values(customer_id=customer, challenge_id=challenge.id,
                                           badge=challenge.badge, completed_at=done,
                                           awarded_at=at))  # fmt: skip
        row = conn.execute(mine).mappings().one()
        paid = conn.execute(sa.select(a.c.id).where(a.c.source == "badge",
                                                    a.c.source_id == row["id"])).first()  # fmt: skip
    checkpoint("badge given")
    owed = bool(challenge.points) and paid is None
    if owed:
        pay_award(ops, customer, challenge.points, source="badge", source_id=int(row["id"]),
                  role="member", reason=f"badge {challenge.badge}", at=at, policy=policy)  # fmt: skip
    if not (fresh or owed):
        return None
    return {"customer_id": customer, "challenge": challenge.id, "badge": challenge.badge,
            "completed_at": clock.utc(row["completed_at"]), "points": challenge.points}  # fmt: skip


def challenge_progress(
    ops: OpsStore,
    store: Any,
    customer_id: str,
    *,
    at: datetime | None = None,
    program: Program | None = None,
) -> dict[str, Any]:
    """A member's progress in every challenge: ``progress`` out of
    ``target`` (see the module's docstring), the window, and the badge."""
    program = program or Program()
    customer_id = checked_customer(customer_id)
    at = clock.utc(at) if at is not None else clock.now()
    needs_orders = any(c.kind == "orders" for c in program.challenges)
    order_times = orders.order_times(store, [customer_id]) if needs_orders else {}
    events = _events(ops, [customer_id])
    b = loyalty_badges
    with ops.engine.connect() as conn:
        badges = {r["challenge_id"]: r for r in conn.execute(
            sa.select(b).where(b.c.customer_id == customer_id)).mappings()}  # fmt: skip
    rows = []
    for c in program.challenges:
        times = _times(c, customer_id, order_times, events, at)
        badge = badges.get(c.id)
        done = completed_at(times, c.count, c.days)
        start = None if c.days is None else at - timedelta(days=c.days)
        if badge is not None or done is not None:
            progress = c.count
        else:
            progress = min(sum(1 for t in times if start is None or t >= start), c.count)
        rows.append({
            "id": c.id, "name": c.label(), "kind": c.kind, "event": c.event, "badge": c.badge,
            "progress": progress, "target": c.count, "days": c.days,
            "window_start": start, "window_end": at if c.days is not None else None,
            "completed": badge is not None or done is not None,
            "completed_at": clock.utc(badge["completed_at"]) if badge is not None else done,
            "badge_awarded": badge is not None, "bonus_points": c.points,
        })  # fmt: skip
    return as_json({"customer_id": customer_id, "challenges": rows, "as_of": at,
                    "badges": [{"challenge": cid, "badge": r["badge"],
                                "completed_at": clock.utc(r["completed_at"])}
                               for cid, r in sorted(badges.items())]})  # fmt: skip
