"""Bonus events: points granted once per member, event and key.

:func:`award_bonus` is what every part of tenure that grants a bonus
calls (a referral, a challenge, a review): the same (customer, event,
key) earns once, whatever the retry, held by the ledger's unique key on
(order line, rule) of its entries.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

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
