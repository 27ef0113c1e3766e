"""A program's past, posted in bulk: each member's events in one transaction.

What a program ran elsewhere before tenure (or the demo business's
simulated program) arrives as a list of events in time order. Posting them
one write each would open a transaction, settle and check the member for
every event; here the whole history is posted in one transaction, each
member under their lock, through the same steps as the writes of
:mod:`tenure.loyalty.ledger` (approvals and expiries due before each event
first, lots drawn soonest expiry first, debts paid first, tier changes
recorded as they fall due), and the program's invariant is checked once
before the commit.

A redemption beyond the points available at its moment is not posted: it
is counted (``refused``) and kept with its reason (``left_out``), so the
history is kept as far as the ledger's policy allows and nothing is
dropped unsaid. A member already in the ledger is left as it is
(``skipped``), so that importing the same history twice posts it once.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby
from pathlib import Path

import sqlalchemy as sa

from tenure.errors import InputError
from tenure.loyalty import clock, tiers
from tenure.loyalty.entries import new_lot, post
from tenure.loyalty.expiry import settle
from tenure.loyalty.invariant import check_invariant
from tenure.loyalty.lots import allocate, draw, load, pay_debts
from tenure.loyalty.policy import DEFAULT, Policy, checked_amount, checked_customer, checked_points
from tenure.loyalty.serial import _lock as lock
from tenure.loyalty.serial import is_member
from tenure.store.ops import OpsStore

KINDS = ("earn", "redeem")


@dataclass(frozen=True)
class Event:
    """One event of a member's history: ``earn`` (usable at once) or
    ``redeem``, at ``at``, with its reason (an earning) or reward."""

    customer_id: str
    at: datetime
    kind: str
    points: int
    reason: str | None = None
    reward: str | None = None
    amount: float | None = None


@dataclass(frozen=True)
class LeftOut:
    """A history row not posted, and why."""

    customer_id: str
    at: datetime
    kind: str
    points: int
    reason: str


@dataclass(frozen=True)
class Imported:
    members: int
    entries: int
    refused: int
    skipped: int
    left_out: tuple[LeftOut, ...] = ()


def read_events(path: str | Path) -> list[Event]:
    """The events of a history file: a CSV with the columns ``customer_id``,
    ``at`` (ISO 8601), ``kind`` (``join``: the points of joining, ``earn``
    or ``redeem``), ``points``, and optionally ``order_id`` (an earning's
    order), ``amount`` (what it was earned for) and ``reward``; sorted by
    member and time."""
    path = Path(path)
    events = []
    with path.open(newline="", encoding="utf-8") as f:
        for line, row in enumerate(csv.DictReader(f), 2):
            try:
                kind = row["kind"]
                at = datetime.fromisoformat(row["at"].replace("Z", "+00:00"))
                points = int(row["points"])
            except (KeyError, ValueError) as exc:
                raise InputError(f"{path} line {line}: {exc}; a history row needs customer_id, "
                                 "at (ISO 8601), kind and points.",
                                 hint="Fix the row, e.g. C1,2026-01-05T10:00:00Z,earn,40.",
                                 source=str(path), row=line) from None  # fmt: skip
            if kind not in ("join", "earn", "redeem"):
                raise InputError(f"{path} line {line}: kind {kind!r} is not join, earn or redeem.",
                                 hint="Use join, earn or redeem.", source=str(path), row=line,
                                 value=kind)  # fmt: skip
            order = row.get("order_id") or None
            amount = row.get("amount") or None
            reason = (
                "joined the program" if kind == "join" else (f"order {order}" if order else None)
            )
            events.append(Event(row["customer_id"], at, "redeem" if kind == "redeem" else "earn",
                                points, reason=reason, reward=row.get("reward") or None,
                                amount=None if amount in (None, "nan") else float(amount)))  # fmt: skip
    events.sort(key=lambda e: (e.customer_id, e.at))
    return events


def import_history(ops: OpsStore, events: Iterable[Event], *, policy: Policy = DEFAULT) -> Imported:
    """Post ``events`` (grouped by member, each member's in time order) in
    one transaction: all of the history or none of it. It holds the
    store's write lock (SQLite) or the members' rows (PostgreSQL) until it
    commits; the invariant of the whole program is checked before."""
    members = entries = refused = skipped = 0
    left_out: list[LeftOut] = []
    with ops.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        for customer_id, group in groupby(events, key=lambda e: e.customer_id):
            mine = sorted(group, key=lambda e: clock.utc(e.at))
            checked_customer(customer_id)
            if is_member(conn, customer_id):
                skipped += 1
                continue
            lock(conn, customer_id, clock.utc(mine[0].at))
            posted, not_posted = _post_member(conn, customer_id, mine, policy)
            entries += posted
            refused += len(not_posted)
            left_out += not_posted
            members += 1
        check_invariant(conn)
        conn.commit()
    return Imported(members, entries, refused, skipped, tuple(left_out))


# longer than any tier window (12 months, or a calendar year up to now)
_BEYOND_A_WINDOW = timedelta(days=400)


def _post_member(conn: sa.Connection, customer_id: str, events: list[Event],
                 policy: Policy) -> tuple[int, list[LeftOut]]:  # fmt: skip
    """The member's events, as the ledger's writes post them; how many were
    posted, and those refused with their reason."""
    member = load(conn, customer_id)
    posted = 0
    refused: list[LeftOut] = []
    program = policy.tiers
    lowest = min((t.threshold for t in program.tiers), default=0) if program else 0
    tier: str | None = None
    earned: list[tuple[datetime, float]] = []  # what counts toward a tier, and when
    for event in events:
        at = clock.utc(event.at)
        points = checked_points(event.points)
        settle(conn, member, at)
        if event.kind == "earn":
            amount = checked_amount(event.amount)
            lot = new_lot(conn, member, points, pending=False, available_at=at,
                          expires_at=policy.expires(at), at=at)  # fmt: skip
            entry = post(conn, customer_id, "earn", at, points=points, lot_id=lot.id,
                         reason=event.reason, amount=amount)  # fmt: skip
            pay_debts(conn, member, lot, entry)
            if program is not None:
                earned.append((at, points if program.basis == "points" else amount or 0.0))
        elif event.kind == "redeem":
            parts, short = draw(member, points, at)
            if short:
                refused.append(LeftOut(customer_id, at, "redeem", points,
                                       f"a redemption beyond the balance: {points - short} "
                                       "points available"))  # fmt: skip
                continue
            entry = post(conn, customer_id, "redeem", at, points=-points, reward=event.reward)
            allocate(conn, member, entry, parts, entry)
        else:
            raise InputError(f"unknown event kind {event.kind!r} for customer {customer_id}.",
                             hint="Use earn or redeem.", value=event.kind)  # fmt: skip
        posted += 1
        if program is None:
            continue
        # a member without a tier whose earnings over more than any window
        # stay below the lowest threshold can neither be upgraded nor
        # reviewed: the tier's queries are left out (a history imports in
        # about half the time)
        recent = sum(v for when, v in earned if when > at - _BEYOND_A_WINDOW)
        if tier is None and recent < lowest:
            continue
        tier = tiers.settle(conn, program, customer_id, at, entry)
    return posted, refused
