"""The ledger's writes: earn, redeem, reverse, adjust.

Each is one transaction that holds the member's lock (:mod:`.serial`):
it answers a retried idempotency key from the stored response, settles the
member's due approvals and expiries (:mod:`.expiry`), appends its entries,
lots and allocations, checks the member's invariant (:mod:`.invariant`)
and stores the key's response, then commits. A refused write (a
redemption beyond the points available) rolls all of it back.

The fault points a test can stop a write at (see :mod:`tenure.faults`), in
order: ``loyalty locked``, ``loyalty entry written``, ``loyalty allocations
written``, ``loyalty tier written`` (only where a write changes a tier),
``loyalty before commit``, ``loyalty after commit``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tenure.errors import InputError, InsufficientPointsError, LedgerError, NotFoundError
from tenure.faults import checkpoint
from tenure.loyalty import clock, idempotency, outbox, stock, tiers
from tenure.loyalty.entries import entry_doc, get, member_totals, new_lot, post
from tenure.loyalty.expiry import settle
from tenure.loyalty.invariant import check_invariant
from tenure.loyalty.lots import Member, allocate, draw, load, pay_debts
from tenure.loyalty.policy import (
    DEFAULT,
    Policy,
    checked_amount,
    checked_customer,
    checked_key,
    checked_points,
)
from tenure.loyalty.serial import member_transaction
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import loyalty_allocations, loyalty_entries

POINTS = (
    "loyalty locked",
    "loyalty entry written",
    "loyalty allocations written",
    "loyalty before commit",
    "loyalty after commit",
)

# what else the next write in this context records in its transaction: the
# REST API's stored response to an Idempotency-Key (tenure.web.idempotency),
# which must commit with the entries or not at all
ALSO_RECORD: ContextVar[Callable[[sa.Connection, Posting], None] | None] = ContextVar(
    "loyalty_also_record", default=None
)


@dataclass(frozen=True)
class Posting:
    """What a write returns: its response document (the same on a retry
    with the same idempotency key) and whether it was a replay that posted
    nothing."""

    doc: dict[str, Any]
    replayed: bool = False

    @property
    def entry_id(self) -> int:
        return int(self.doc["entry"]["id"])


@dataclass
class _Write:
    """One write's parts: who, what, when, and the request a key stands for."""

    ops: OpsStore
    customer_id: str
    operation: str
    request: dict[str, Any]
    key: str | None
    at: datetime
    join: bool  # a customer who is not a member yet becomes one
    policy: Policy = DEFAULT


def _run(
    w: _Write,
    body: Callable[[sa.Connection, Member], int],
    earlier: Callable[[sa.Connection], int | None] | None = None,
) -> Posting:
    """Run ``body`` (which posts and returns its main entry's id) as one
    serialised transaction, answering a retry from its stored response.
    ``earlier`` finds an entry that already did what is asked (an order
    line's earning), which is then answered as a retry."""
    digest = idempotency.request_digest(w.operation, w.request) if w.key else ""
    with member_transaction(w.ops, w.customer_id, join_at=w.at if w.join else None) as conn:
        checkpoint("loyalty locked")
        if w.key:
            stored = idempotency.stored_response(conn, w.key, w.customer_id, w.operation, digest)
            if stored is not None:
                return Posting(stored, replayed=True)
        done = earlier(conn) if earlier is not None else None
        if done is not None:
            doc = _response(conn, w.customer_id, done, w.policy)
        else:
            member = load(conn, w.customer_id)
            settle(conn, member, w.at)
            entry_id = body(conn, member)
            # a tier the write lifts the member to is recorded with it
            tiers.settle(conn, w.policy.tiers, w.customer_id, w.at, entry_id)
            doc = _response(conn, w.customer_id, entry_id, w.policy)
            outbox.posted(conn, doc)  # the webhooks' event commits with the entry
        check_invariant(conn, w.customer_id)
        if w.key:
            idempotency.remember(conn, w.key, w.customer_id, w.operation, digest, doc,
                                 clock.now())  # fmt: skip
        posting = Posting(doc, replayed=done is not None)
        also = ALSO_RECORD.get()
        if also is not None:
            also(conn, posting)
        checkpoint("loyalty before commit")
    checkpoint("loyalty after commit")
    return posting


_MADE_BY = (
    sa.select(loyalty_allocations.c.lot_id, loyalty_allocations.c.entry_id,
              loyalty_allocations.c.points)
    .where(loyalty_allocations.c.made_by == sa.bindparam("entry_id"))
    .order_by(loyalty_allocations.c.id)
)  # fmt: skip


def _response(
    conn: sa.Connection, customer_id: str, entry_id: int, policy: Policy
) -> dict[str, Any]:
    entry = get(conn, entry_id)
    parts = conn.execute(_MADE_BY, {"entry_id": entry_id}).all()
    member = load(conn, customer_id)
    balance, pending = member_totals(conn, customer_id)
    lot = member.lots.get(entry["lot_id"]) if entry["lot_id"] is not None else None
    return idempotency.as_json({
        "customer_id": customer_id,
        "entry": entry_doc(entry),
        "lot": None if lot is None else lot.doc(),
        # which lots the entry drew from; a part for another entry paid that one's debt
        "from_lots": [{"lot_id": lot_id, "points": points}
                      for lot_id, owner, points in parts if owner == entry_id],
        "debt_paid": sum(points for _, owner, points in parts if owner != entry_id),
        "balance": balance,
        "pending": pending,
        "debt": member.debt,
        "tier": None if policy.tiers is None else tiers.recorded(conn, customer_id).tier,
    })  # fmt: skip


def earn(
    ops: OpsStore,
    customer_id: str,
    points: int,
    *,
    reason: str | None = None,
    key: str | None = None,
    pending: bool = False,
    amount: float | None = None,
    order_line: str | None = None,
    rule: str | None = None,
    available_at: datetime | None = None,
    expires_at: datetime | None = None,
    at: datetime | None = None,
    policy: Policy = DEFAULT,
) -> Posting:
    """Give ``points`` to a customer, who becomes a member if not one yet.

    Pending points (``pending=True``: the order may still be returned)
    become usable when the return window closes (``available_at``, default
    ``at`` plus the policy's window). The points expire at ``expires_at``
    (default ``at`` plus the policy's expiry). Points earned from an order
    line (``order_line`` with ``rule``) are earned once per line and rule,
    whatever the idempotency key: a replay answers with the first earning.
    New usable points pay the member's debt first. ``amount``: what the
    points were earned for, in the reporting currency (tiers qualified on
    spend sum it).
    """
    customer_id = checked_customer(customer_id)
    points = checked_points(points)
    amount = checked_amount(amount)
    key = checked_key(key)
    at = clock.utc(at) if at is not None else clock.now()
    if order_line is not None and not rule:
        rule = "default"
    if rule is not None and order_line is None:
        raise InputError("a rule was given without its order line.",
                         hint="Give both order_line and rule, or neither.", value=rule)  # fmt: skip
    if available_at is None:
        available_at = at + policy.return_window() if pending else at
    available_at = clock.utc(available_at)
    if expires_at is None:
        expires_at = policy.expires(at)
    if expires_at is not None:
        expires_at = clock.utc(expires_at)
        if expires_at <= available_at:
            raise InputError(
                f"the points would expire ({expires_at.isoformat()}) before they could be used "
                f"({available_at.isoformat()}).",
                hint="Give an expiry after the end of the return window.",
                value=expires_at.isoformat(),
            )
    request = {"customer_id": customer_id, "points": points, "reason": reason,
               "pending": pending, "order_line": order_line, "rule": rule,
               "available_at": available_at if pending else None, "expires_at": expires_at}  # fmt: skip
    if amount is not None:
        # only when given, so that a key stored before amounts were kept still matches
        request["amount"] = amount
    if key or order_line:
        # a retry's times are the first request's: only what was asked counts
        request.update(available_at=None, expires_at=None)

    def body(conn: sa.Connection, member: Member) -> int:
        lot = new_lot(conn, member, points, pending=pending, available_at=available_at,
                      expires_at=expires_at, at=at)  # fmt: skip
        kind, amounts = (
            ("pending", {"pending": points}) if pending else ("earn", {"points": points})
        )
        entry = post(conn, customer_id, kind, at, lot_id=lot.id, reason=reason,
                     order_line=order_line, rule=rule, idempotency_key=key, amount=amount,
                     **amounts)  # fmt: skip
        if not pending:
            pay_debts(conn, member, lot, entry)
        return entry

    def earlier(conn: sa.Connection) -> int | None:
        if order_line is None:
            return None
        e = loyalty_entries
        found = conn.execute(
            sa.select(e.c.id, e.c.customer_id).where(e.c.order_line == order_line,
                                                     e.c.rule == rule)
        ).first()  # fmt: skip
        if found is not None and found[1] != customer_id:
            raise LedgerError(
                f"order line {order_line!r} earned points under rule {rule!r} for customer "
                f"{found[1]}, not {customer_id}.",
                hint="An order line earns once per rule; check the order line and customer.",
                value=order_line,
                code="order_line_earned",
            )
        return None if found is None else int(found[0])

    w = _Write(ops, customer_id, "earn", request, key, at, join=True, policy=policy)
    return _run(w, body, earlier)


def redeem(
    ops: OpsStore,
    customer_id: str,
    points: int,
    *,
    reward: str | None = None,
    key: str | None = None,
    at: datetime | None = None,
    policy: Policy = DEFAULT,
) -> Posting:
    """Spend ``points`` of the member's usable points, drawn from the lots
    that expire soonest. More than is usable is refused
    (:class:`~tenure.errors.InsufficientPointsError`) and changes nothing."""
    customer_id = checked_customer(customer_id)
    points = checked_points(points)
    key = checked_key(key)
    at = clock.utc(at) if at is not None else clock.now()

    def body(conn: sa.Connection, member: Member) -> int:
        parts, short = draw(member, points, at)
        if short:
            have = points - short
            _, waiting = member_totals(conn, customer_id)
            later = f", or wait for the {waiting} pending points" if waiting else ""
            raise InsufficientPointsError(
                f"customer {customer_id} has {have} points available; redeeming {points} "
                f"needs {short} more. Nothing was redeemed.",
                hint=f"Redeem at most {have} points{later}.",
                value=points,
                expected=f"at most {have}",
            )
        entry = post(conn, customer_id, "redeem", at, points=-points, reward=reward,
                     idempotency_key=key)  # fmt: skip
        allocate(conn, member, entry, parts, entry)
        return entry

    request = {"customer_id": customer_id, "points": points, "reward": reward}
    w = _Write(ops, customer_id, "redeem", request, key, at, join=False, policy=policy)
    return _run(w, body)


def reverse(
    ops: OpsStore,
    customer_id: str,
    entry_id: int,
    *,
    points: int | None = None,
    reason: str | None = None,
    key: str | None = None,
    at: datetime | None = None,
    policy: Policy = DEFAULT,
) -> Posting:
    """Undo ``points`` (default: all that is left to undo) of an earning or a
    redemption, as a new ``reverse`` entry.

    - An earning's points come back from its own lot first, then from the
      member's other usable lots (soonest expiry first); what they no longer
      hold (points already spent) is a debt that new points pay first.
    - Pending points not yet approved leave their lot.
    - A redemption's points come back as a fresh lot, with the policy's
      expiry; reversed in full, a catalogue redemption gives its reward's
      stock back (:mod:`.stock`).
    """
    customer_id = checked_customer(customer_id)
    if points is not None:
        points = checked_points(points)
    key = checked_key(key)
    at = clock.utc(at) if at is not None else clock.now()

    def body(conn: sa.Connection, member: Member) -> int:
        original = get(conn, entry_id)
        if original is None or original["customer_id"] != customer_id:
            raise NotFoundError(
                f"customer {customer_id} has no ledger entry {entry_id}.",
                hint=f"See the entries: tenure loyalty history {customer_id}",
                value=entry_id,
            )
        kind = original["kind"]
        amount = int(original["points"]) + int(original["pending"])
        if kind not in ("earn", "pending", "redeem") and not (kind == "adjust" and amount > 0):
            raise LedgerError(
                f"entry {entry_id} is a {kind} entry; only earnings, pending points, "
                "redemptions and added adjustments can be reversed.",
                hint="Correct it with an adjustment instead.",
                value=entry_id,
                code="not_reversible",
            )
        e = loyalty_entries
        done = conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(e.c.points + e.c.pending), 0))
            .where(e.c.reverses == entry_id)
        ).scalar_one()  # fmt: skip
        # points of the earning that expired left the member already: taking
        # them again would make a debt of points nobody spent
        expired = _expired_from(conn, original["lot_id"]) if kind != "redeem" else 0
        left = abs(amount) - abs(int(done)) - expired
        want = left if points is None else points
        if want > left or left <= 0:
            gone = f" ({expired} of its points expired)" if expired else ""
            raise LedgerError(
                f"entry {entry_id} has {max(left, 0)} points left to reverse{gone}; "
                f"asked for {want}.",
                hint=f"Reverse at most {left} points."
                if left > 0
                else "Nothing is left to reverse.",
                value=want,
                code="over_reversal",
            )
        fields = {"reverses": entry_id, "reason": reason, "idempotency_key": key}
        if original["amount"] is not None and kind in ("earn", "pending"):
            # the reversed share of what the points were earned for
            fields["amount"] = -round(float(original["amount"]) * want / abs(amount), 4)
        if kind == "redeem":
            lot = new_lot(conn, member, want, pending=False, available_at=at,
                          expires_at=policy.expires(at), at=at)  # fmt: skip
            entry = post(conn, customer_id, "reverse", at, points=want, lot_id=lot.id, **fields)
            pay_debts(conn, member, lot, entry)
            if want == left:  # reversed in full: a catalogue reward's stock comes back
                stock.give_back(conn, entry_id)
            return entry
        own = member.lots.get(original["lot_id"])
        if own is not None and own.awaiting_approval:
            entry = post(conn, customer_id, "reverse", at, pending=-want, lot_id=own.id, **fields)
            allocate(conn, member, entry, [(own.id, want)], entry)
            return entry
        parts, owed = draw(member, want, at, first=original["lot_id"])
        entry = post(conn, customer_id, "reverse", at, points=-want, **fields)
        allocate(conn, member, entry, parts, entry)
        if owed:
            member.debts[entry] = owed
        return entry

    request = {"customer_id": customer_id, "entry_id": entry_id, "points": points,
               "reason": reason}  # fmt: skip
    w = _Write(ops, customer_id, "reverse", request, key, at, join=False, policy=policy)
    return _run(w, body)


def _expired_from(conn: sa.Connection, lot_id: int | None) -> int:
    if lot_id is None:
        return 0
    e, alloc = loyalty_entries, loyalty_allocations
    return int(conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(alloc.c.points), 0))
        .join(e, e.c.id == alloc.c.entry_id)
        .where(alloc.c.lot_id == lot_id, e.c.kind == "expire")
    ).scalar_one())  # fmt: skip


def adjust(
    ops: OpsStore,
    customer_id: str,
    points: int,
    *,
    reason: str,
    key: str | None = None,
    at: datetime | None = None,
    policy: Policy = DEFAULT,
) -> Posting:
    """A correction by hand: ``points`` above zero add a lot (with the
    policy's expiry), below zero take points as a clawback does (a debt for
    what the member no longer has). A reason is required."""
    customer_id = checked_customer(customer_id)
    if isinstance(points, bool) or not isinstance(points, int) or points == 0:
        raise InputError(f"an adjustment needs a whole number of points other than 0; got "
                         f"{points!r}.", hint="E.g. 50 to add, -50 to take.", value=points)  # fmt: skip
    if not reason or not reason.strip():
        raise InputError("an adjustment needs a reason.",
                         hint="Say why, e.g. reason='goodwill after a late delivery'.")  # fmt: skip
    key = checked_key(key)
    at = clock.utc(at) if at is not None else clock.now()

    def body(conn: sa.Connection, member: Member) -> int:
        if points > 0:
            lot = new_lot(conn, member, points, pending=False, available_at=at,
                          expires_at=policy.expires(at), at=at)  # fmt: skip
            entry = post(conn, customer_id, "adjust", at, points=points, lot_id=lot.id,
                         reason=reason, idempotency_key=key)  # fmt: skip
            pay_debts(conn, member, lot, entry)
            return entry
        parts, owed = draw(member, -points, at)
        entry = post(conn, customer_id, "adjust", at, points=points, reason=reason,
                     idempotency_key=key)  # fmt: skip
        allocate(conn, member, entry, parts, entry)
        if owed:
            member.debts[entry] = owed
        return entry

    request = {"customer_id": customer_id, "points": points, "reason": reason}
    w = _Write(ops, customer_id, "adjust", request, key, at, join=points > 0, policy=policy)
    return _run(w, body)
