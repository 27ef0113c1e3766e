"""Tiers: qualified on what a member earned (points or spend) over a window,
never on the balance.

A member's tier is the latest row of ``loyalty_tier_changes``; rows are
only appended. The rules (docs/loyalty.md, Tiers):

- an **upgrade** is immediate: the write whose entry lifts the qualifying
  value over a higher tier's threshold records it, in its transaction;
- a tier reached is kept until the **end of the period**: 12 months after
  it was reached (``rolling_12_months``), or the end of the calendar year
  after the year it was reached in (``calendar_year``). Then it is
  reviewed on the window that ends there: held again for a period, or
  **downgraded** to what that window qualifies for, ``grace_days`` later;
- a write during the grace days that qualifies again for the tier renews it;
- a **manual** tier overrides all of this until its end date; then the
  member's tier is what the window ending there qualifies for.

Reviews and the end of a manual tier fall due with time, not with a write:
reads (:func:`state`) show them as due, and the next write for the member
(or ``tenure loyalty expire``) records them, as the ledger does with
expiries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from tenure.faults import checkpoint
from tenure.loyalty import clock, outbox
from tenure.loyalty.policy import TierProgram
from tenure.store.ops_schema import loyalty_entries, loyalty_tier_changes

EARNINGS = ("earn", "pending")
# made once: an alias built on every call costs more than the query it is in
_REVERSAL = loyalty_entries.alias("reversal")
# a member is reviewed at most this many periods at once (decades of catching up)
MAX_STEPS = 200


@dataclass
class State:
    """A member's tier at a moment, and the changes that led there but are
    not recorded yet."""

    tier: str | None = None
    since: datetime | None = None
    kept_until: datetime | None = None  # the end of the period (a manual tier: its end)
    manual: bool = False
    due: list[dict[str, Any]] = field(default_factory=list)


def _local(program: TierProgram, moment: datetime) -> datetime:
    """``moment`` on the program's clock (its ``timezone``)."""
    return clock.utc(moment).astimezone(ZoneInfo(program.timezone))


def period_end(program: TierProgram, moment: datetime) -> datetime:
    """Until when a tier qualified for at ``moment`` is kept (UTC)."""
    if program.window == "calendar_year":
        # the year of the activity, on the program's clock: a review at
        # midnight on 1 January there looks back on the year that just ended
        local = _local(program, moment - timedelta(microseconds=1))
        return datetime(local.year + 2, 1, 1, tzinfo=local.tzinfo).astimezone(UTC)
    # 12 months on the program's wall clock: 10:00 in Berlin stays 10:00
    # across a change to or from summer time
    return clock.add_months(_local(program, moment), 12).astimezone(UTC)


def window_start(program: TierProgram, end: datetime) -> datetime:
    """The start (UTC) of the window that ends at ``end``."""
    if program.window == "calendar_year":
        local = _local(program, end - timedelta(microseconds=1))
        return datetime(local.year, 1, 1, tzinfo=local.tzinfo).astimezone(UTC)
    return clock.add_months(_local(program, end), -12).astimezone(UTC)


def value(
    conn: sa.Connection, program: TierProgram, customer_id: str, end: datetime
) -> float | int:
    """What the member earned in the window ending at ``end``: points of
    earnings, or the amounts they were earned for, less what of them was
    reversed since (a refunded order was not spend, in whichever window
    its refund falls)."""
    e, r = loyalty_entries, _REVERSAL
    start = window_start(program, end)
    # a rolling window leaves out its first moment: what was earned exactly
    # 12 months before has dropped out; a year includes its midnight
    begins = e.c.at > start if program.window == "rolling_12_months" else e.c.at >= start
    within = sa.and_(e.c.customer_id == customer_id, e.c.kind.in_(EARNINGS), begins,
                     e.c.at <= end)  # fmt: skip
    if program.basis == "points":
        earned, undone = e.c.points + e.c.pending, r.c.points + r.c.pending
    else:
        earned, undone = sa.func.coalesce(e.c.amount, 0), sa.func.coalesce(r.c.amount, 0)
    total = conn.execute(sa.select(sa.func.coalesce(sa.func.sum(earned), 0)).where(within))
    reversed_ = conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(undone), 0))
        .select_from(r.join(e, r.c.reverses == e.c.id))
        .where(within, r.c.kind == "reverse")
    )  # fmt: skip
    found = round(float(total.scalar_one()) + float(reversed_.scalar_one()), 4)
    return int(found) if program.basis == "points" else found


def recorded(conn: sa.Connection, customer_id: str) -> State:
    """The member's tier as its latest recorded change says."""
    t = loyalty_tier_changes
    row = conn.execute(
        sa.select(t.c.kind, t.c.tier, t.c.at, t.c.kept_until)
        .where(t.c.customer_id == customer_id)
        .order_by(t.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return State()
    kept = clock.utc(row.kept_until) if row.kept_until is not None else None
    return State(tier=row.tier, since=clock.utc(row.at), kept_until=kept,
                 manual=row.kind == "manual")  # fmt: skip


def state(
    conn: sa.Connection, program: TierProgram, customer_id: str, at: datetime, *,
    writing: bool = False,
) -> State:  # fmt: skip
    """The member's tier at ``at``, with the changes due by then in
    ``due``. ``writing``: a write for the member is being posted at ``at``,
    and may upgrade (or renew) the tier on the value it leaves."""
    s = recorded(conn, customer_id)

    def change(kind: str, tier: str | None, when: datetime, kept: datetime | None,
               qualifying: float | None, reason: str | None = None) -> None:  # fmt: skip
        s.due.append({"kind": kind, "tier": tier, "previous": s.tier, "value": qualifying,
                      "at": when, "kept_until": kept, "reason": reason})  # fmt: skip
        if tier != s.tier:
            s.since = when
        s.tier, s.kept_until, s.manual = tier, kept, False

    for _ in range(MAX_STEPS):
        if s.manual and s.kept_until is not None:
            if s.kept_until > at:
                return s  # a manual tier holds whatever is earned meanwhile
            end = s.kept_until
            v = value(conn, program, customer_id, end)
            q = program.qualified(v)
            change("manual_end", q, end, period_end(program, end) if q else None, v)
            continue
        if s.tier is not None and s.kept_until is not None and s.kept_until + program.grace() <= at:
            end = s.kept_until
            v = value(conn, program, customer_id, end)
            q = program.qualified(v)
            if program.rank(q) >= program.rank(s.tier) and q is not None:
                kind = "renew" if q == s.tier else "upgrade"
                change(kind, q, end, period_end(program, end), v)
            else:
                change("downgrade", q, end + program.grace(),
                       period_end(program, end) if q else None, v)  # fmt: skip
            continue
        break
    if writing and not s.manual:
        v = value(conn, program, customer_id, at)
        q = program.qualified(v)
        if program.rank(q) > program.rank(s.tier):
            change("upgrade", q, at, period_end(program, at), v)
        elif q is not None and q == s.tier and s.kept_until is not None and s.kept_until <= at:
            change("renew", q, at, period_end(program, at), v)  # qualified again in the grace days
    return s


def record(conn: sa.Connection, customer_id: str, s: State, entry_id: int | None) -> int:
    """Append the changes due; how many. ``entry_id``: the write that made them."""
    for due in s.due:
        made = conn.execute(
            loyalty_tier_changes.insert().values(customer_id=customer_id, entry_id=entry_id, **due)
        )
        outbox.tier_changed(conn, made.inserted_primary_key[0], customer_id, due)
        checkpoint("loyalty tier written")
    n = len(s.due)
    s.due = []
    return n


def settle(
    conn: sa.Connection, program: TierProgram | None, customer_id: str, at: datetime,
    entry_id: int | None, *, writing: bool = True,
) -> str | None:  # fmt: skip
    """Record the member's due tier changes inside a write's transaction;
    the member's tier after them."""
    if program is None:
        return None
    s = state(conn, program, customer_id, at, writing=writing)
    record(conn, customer_id, s, entry_id)
    return s.tier


def progress(conn: sa.Connection, program: TierProgram, customer_id: str,
             at: datetime) -> dict[str, Any]:  # fmt: skip
    """The tier part of ``balance``: the tier, until when it is kept, the
    qualifying value now, and what is still needed for the next tier and to
    keep this one at its review."""
    s = state(conn, program, customer_id, at)
    now_value = value(conn, program, customer_id, at)
    nxt = None if s.manual else program.above(s.tier)
    doc: dict[str, Any] = {
        "tier": s.tier,
        "manual": s.manual,
        "since": s.since,
        "basis": program.basis,
        "window": program.window,
        "qualifying": now_value,
        "kept_until": s.kept_until,
        "downgrade_from": None,
        "to_keep": None,
        "next_tier": None,
    }
    if s.tier is not None and not s.manual and s.kept_until is not None:
        current = program.get(s.tier)
        if s.kept_until > at:
            # reviewed at the end of the period, on the window ending there:
            # what it holds so far (what is earned until then adds to it)
            have, by = value(conn, program, customer_id, s.kept_until), s.kept_until
        else:
            # in the grace days: a write that qualifies again renews the tier
            have, by = now_value, s.kept_until + program.grace()
        if current is not None:
            doc["to_keep"] = {"needed": _needed(current.threshold, have), "by": by}
        doc["downgrade_from"] = s.kept_until + program.grace()
    if nxt is not None:
        doc["next_tier"] = {"name": nxt.name, "threshold": nxt.threshold,
                            "needed": _needed(nxt.threshold, now_value)}  # fmt: skip
    return doc


def _needed(threshold: float, have: float) -> float | int:
    short = max(threshold - have, 0)
    return int(short) if float(short).is_integer() else round(short, 4)


def history(conn: sa.Connection, customer_id: str) -> list[dict[str, Any]]:
    t = loyalty_tier_changes
    rows = conn.execute(
        sa.select(t).where(t.c.customer_id == customer_id).order_by(t.c.id)
    ).mappings().all()  # fmt: skip
    return [{k: row[k] for k in ("id", "kind", "tier", "previous", "value", "at", "kept_until",
                                 "entry_id", "reason")} for row in rows]  # fmt: skip
