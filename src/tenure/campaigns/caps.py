"""Frequency caps per channel and one contact budget across channels.

Both count the messages of ``contacts`` (each one the sender recorded with
:func:`record_contact` in the transaction that claimed it) over a rolling
window ending now, leaving out the purposes of ``exempt_purposes``
(transactional messages by default), which neither count nor are held
back.

- A **cap** of ``messages`` per ``days`` on a channel: a message is held
  back when that many were sent on the channel within the last ``days``.
- The **budget** of ``messages`` per ``days`` over all channels, shared by
  priorities: a campaign of a priority may send while fewer than its
  ceiling were sent within the window. With ``{high = 4, normal = 3,
  low = 2}`` a low-priority campaign stops at 2 messages, leaving the 3rd
  to normal and high ones and the 4th to high ones alone: a lower
  priority yields to the higher ones within the budget.

A message held back gets the moment the window frees a place: the oldest
counted message's time plus the window (for a limit of ``n``, the
``n``-th newest).
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

import sqlalchemy as sa

from tenure.campaigns import consent
from tenure.campaigns.consent_settings import Budget, Cap, SendingRules
from tenure.store.ops_schema import contacts as contacts_t


def record_contact(
    conn: sa.Connection, customer_id: str, channel: str, purpose: str, at: datetime, *,
    campaign: str | None = None, priority: str | None = None, reference: str | None = None,
) -> bool:  # fmt: skip
    """Count a message sent, in the caller's transaction; once per
    ``reference`` (the message's dedup key): False when it was counted."""
    # the statements are built once: building one per message was a tenth of
    # the sender's time
    if reference is not None:
        if conn.execute(_SEEN, {"reference": reference}).first() is not None:
            return False
    conn.execute(_COUNT, {"customer_id": customer_id, "channel": channel, "purpose": purpose,
                          "campaign": campaign, "priority": priority, "at": consent.utc(at),
                          "reference": reference})  # fmt: skip
    return True


_SEEN = sa.select(contacts_t.c.id).where(contacts_t.c.reference == sa.bindparam("reference"))
_COUNT = contacts_t.insert()


def recent(conn: sa.Connection, rules: SendingRules, customer_id: str, channel: str,
           now: datetime) -> list[tuple[datetime, str]]:  # fmt: skip
    """The counted messages to the customer within the longest window that
    applies (the channel's cap, the budget), newest first, as (time,
    channel): one query serves both checks."""
    spans = [c.days for c in (rules.caps.get(channel),) if c is not None]
    if rules.budget is not None:
        spans.append(rules.budget.days)
    if not spans:
        return []
    exempt = sorted(rules.exempt_purposes)
    values = {"customer_id": customer_id, "since": now - timedelta(days=max(spans)), "until": now}
    rows = conn.execute(
        _recent_query(bool(exempt)), values | ({"exempt": exempt} if exempt else {})
    )
    return sorted(((consent.utc(r.at), r.channel) for r in rows), reverse=True)


@functools.cache
def _recent_query(exempting: bool) -> sa.Select:
    # built once: building a statement took a third of the gate's time
    query = sa.select(contacts_t.c.at, contacts_t.c.channel).where(
        contacts_t.c.customer_id == sa.bindparam("customer_id"),
        contacts_t.c.at > sa.bindparam("since"), contacts_t.c.at <= sa.bindparam("until"))  # fmt: skip
    if exempting:
        query = query.where(contacts_t.c.purpose.not_in(sa.bindparam("exempt", expanding=True)))
    return query


def _within(
    sent: list[tuple[datetime, str]], since: datetime, channel: str | None = None
) -> list[datetime]:
    return [at for at, ch in sent if at > since and (channel is None or ch == channel)]


def cap_check(rules: SendingRules, sent: list[tuple[datetime, str]], channel: str,
              now: datetime) -> tuple[str, datetime] | None:  # fmt: skip
    """None when the channel's cap lets a message through now; otherwise
    (what held it, when a place frees). ``sent``: :func:`recent`."""
    cap: Cap | None = rules.caps.get(channel)
    if cap is None:
        return None
    window = timedelta(days=cap.days)
    times = _within(sent, now - window, channel)
    if len(times) < cap.messages:
        return None
    frees = times[cap.messages - 1] + window
    return (f"{len(times)} {channel} message(s) in the last {cap.days:g} days; the cap is "
            f"{cap.messages}", frees)  # fmt: skip


def budget_check(rules: SendingRules, sent: list[tuple[datetime, str]], priority: str | None,
                 now: datetime) -> tuple[str, datetime] | None:  # fmt: skip
    """None when the contact budget has room for a campaign of ``priority``;
    otherwise (what held it, when a place frees). ``sent``: :func:`recent`."""
    budget: Budget | None = rules.budget
    if budget is None:
        return None
    ceiling = budget.ceiling(priority)
    window = timedelta(days=budget.days)
    times = _within(sent, now - window)
    if len(times) < ceiling:
        return None
    frees = times[ceiling - 1] + window if ceiling else now + window
    level = priority or "the default priority"
    return (f"{len(times)} message(s) over all channels in the last {budget.days:g} days; "
            f"{level} may fill the budget of {budget.messages} up to {ceiling}", frees)  # fmt: skip
