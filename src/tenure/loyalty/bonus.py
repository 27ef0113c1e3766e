"""Bonus events: points granted once per member, event and key.

:func:`award_bonus` is what every part of tenure that grants a bonus
calls (a referral, a challenge, a review): the same (customer, event,
key) earns once, whatever the retry, held by the ledger's unique key on
(order line, rule) of its entries.
"""

from __future__ import annotations

import calendar
import hashlib
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tenure.errors import InputError
from tenure.loyalty.ledger import Posting, earn
from tenure.loyalty.policy import DEFAULT, Policy
from tenure.loyalty.rules import BONUS_EVENTS, EarningRules
from tenure.store.ops import OpsStore


def bonus_line(customer_id: str, event: str, key: str) -> tuple[str, str]:
    """The (order line, rule) a bonus is recorded under: its once-only key."""
    line = f"{customer_id}/{key}"
    if len(line) > 200:  # the column's width: a long key is kept by its digest
        line = f"{customer_id[:100]}/sha256:{hashlib.sha256(key.encode()).hexdigest()}"
    return line, f"bonus:{event}"


def award_bonus(
    ops: OpsStore,
    customer_id: str,
    event: str,
    *,
    key: str = "once",
    points: int | None = None,
    rules: EarningRules | None = None,
    reason: str | None = None,
    at: datetime | None = None,
    policy: Policy = DEFAULT,
) -> Posting | None:
    """Grant the bonus ``event`` (sign_up, first_order, birthday, review,
    survey, referral, challenge) to a customer, once per ``key``.

    ``points``: how many; default, what ``rules`` declare for the event
    (None is returned, and nothing posted, when that is 0). The points are
    usable at once. The same (customer, event, key) again answers with the
    first grant (``replayed=True``) and posts nothing.

    >>> award_bonus(ops, "C1042", "referral", key="friend-C2001", points=500)  # doctest: +SKIP
    >>> award_bonus(ops, "C1042", "birthday", key="2026", rules=rules)         # doctest: +SKIP
    """
    if event not in BONUS_EVENTS:
        raise InputError(f"{event!r} is not a bonus event.",
                         hint=f"Use one of {', '.join(BONUS_EVENTS)}.", value=event)  # fmt: skip
    if not isinstance(key, str) or not key:
        raise InputError("a bonus needs a key (what makes it once), e.g. the year of a "
                         "birthday or the referred friend's id.", value=key)  # fmt: skip
    if points is None:
        if rules is None:
            raise InputError(f"the points of the {event} bonus were not given.",
                             hint="Pass points=, or rules= that declare the event.")  # fmt: skip
        points = rules.bonus(event)
        if points == 0:
            return None
    line, rule = bonus_line(customer_id, event, key)
    return earn(ops, customer_id, points, reason=reason or f"{event.replace('_', ' ')} bonus",
                order_line=line, rule=rule, at=at, policy=policy)  # fmt: skip


def is_birthday(birthday: date, local_day: date) -> bool:
    """Whether ``local_day`` is the birthday: its month and day (29 February
    on 28 February in a year without it)."""
    month, day = birthday.month, birthday.day
    if (month, day) == (2, 29) and not calendar.isleap(local_day.year):
        day = 28
    return (local_day.month, local_day.day) == (month, day)


def birthday_bonuses(
    ops: OpsStore,
    analytics_path: str | Path,
    rules: EarningRules,
    *,
    at: datetime | None = None,
    timezone: str = "UTC",
    policy: Policy = DEFAULT,
) -> int:
    """Grant the birthday bonus to every member whose birthday it is at
    ``at`` in their own time zone (the customer's ``time_zone``, else
    ``timezone``, the business's), once a year (the key is the year). The
    number granted now."""
    points = rules.bonus("birthday")
    if not points:
        return 0
    import duckdb
    import sqlalchemy as sa

    from tenure.loyalty import clock
    from tenure.store.ops_schema import loyalty_members

    moment = clock.utc(at) if at is not None else clock.now()
    # every time zone is within a day of UTC: the candidates' birthdays are
    # yesterday, today or tomorrow there (and 29 February for the 28th)
    days = {(moment + timedelta(days=d)).strftime("%m-%d") for d in (-1, 0, 1)}
    if "02-28" in days or "03-01" in days:
        days.add("02-29")
    con = duckdb.connect(str(analytics_path), read_only=True)
    try:
        rows = con.execute(
            "SELECT customer_id, birthday, time_zone FROM customers WHERE birthday IS NOT NULL "
            "AND strftime(birthday, '%m-%d') IN (SELECT unnest(?))",
            [sorted(days)],
        ).fetchall()
    finally:
        con.close()
    due: list[tuple[str, int]] = []
    for customer_id, birthday, tz in rows:
        try:
            local = moment.astimezone(ZoneInfo(tz or timezone)).date()
        except (ZoneInfoNotFoundError, ValueError):
            local = moment.astimezone(ZoneInfo(timezone)).date()
        if is_birthday(birthday, local):
            due.append((customer_id, local.year))
    if not due:
        return 0
    with ops.engine.connect() as conn:
        members = {r[0] for r in conn.execute(sa.select(loyalty_members.c.customer_id).where(
            loyalty_members.c.customer_id.in_([c for c, _ in due])))}  # fmt: skip
    granted = 0
    for customer_id, year in due:
        if customer_id in members:
            posting = award_bonus(ops, customer_id, "birthday", key=str(year), points=points,
                                  at=moment, policy=policy)  # fmt: skip
            granted += 0 if posting is None or posting.replayed else 1
    return granted


def join(
    ops: OpsStore,
    customer_id: str,
    *,
    rules: EarningRules | None = None,
    at: datetime | None = None,
    policy: Policy = DEFAULT,
) -> dict:
    """Enrol a customer in the program (a member from ``at``, or since
    their first entry if they are one already), with the ``sign_up`` bonus
    ``rules`` declare, granted once per member whatever the retry. The
    document: ``customer_id``, ``joined_at``, ``new`` (whether this call
    enrolled them) and ``bonus`` (its ``points``, ``entry_id`` and
    ``replayed``, or None)."""
    import sqlalchemy as sa

    from tenure.loyalty import clock
    from tenure.loyalty.idempotency import as_json
    from tenure.loyalty.policy import checked_customer
    from tenure.loyalty.serial import member_transaction
    from tenure.store.ops_schema import loyalty_members

    customer_id = checked_customer(customer_id)
    moment = clock.utc(at) if at is not None else clock.now()
    m = loyalty_members
    with ops.engine.connect() as conn:
        before = conn.execute(sa.select(m.c.joined_at).where(m.c.customer_id == customer_id)
                              ).scalar_one_or_none()  # fmt: skip
    with member_transaction(ops, customer_id, join_at=moment) as conn:
        joined = conn.execute(sa.select(m.c.joined_at).where(m.c.customer_id == customer_id)
                              ).scalar_one()  # fmt: skip
    bonus = None
    if rules is not None and rules.bonus("sign_up"):
        posting = award_bonus(ops, customer_id, "sign_up", key="once", rules=rules, at=moment,
                              policy=policy)  # fmt: skip
        if posting is not None:
            bonus = {"points": rules.bonus("sign_up"), "entry_id": posting.entry_id,
                     "replayed": posting.replayed}  # fmt: skip
    return as_json({"customer_id": customer_id, "joined_at": clock.utc(joined),
                    "new": before is None, "bonus": bonus})  # fmt: skip
