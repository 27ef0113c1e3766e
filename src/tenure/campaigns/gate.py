"""The send-time gate: may this message go to this customer now?

The sender calls :func:`may_contact` inside the transaction in which it
claims a message, and, when it sends, :func:`tenure.campaigns.caps.record_contact`
in the same transaction (:class:`tenure.campaigns.sending.SendGate` does
both, with the message's address, the customer's zone and the campaign's
priority); a withdrawal committed before that transaction
began is seen, so an unsubscribe takes effect before the next send. The
gate holds the customer (:func:`hold`) until that transaction ends, so
concurrent senders take the places under a cap one at a time.

The checks, in this order; the first that refuses decides:

1. ``consent_missing`` / ``consent_withdrawn``: the latest consent event
   of (customer, channel, purpose) is a withdrawal, or there is none and
   the purpose is not one of ``implied_consent`` (transactional);
2. ``suppressed``: the address, or the customer, is on the suppression
   list for the channel (or for every channel);
3. ``frequency_cap``: the channel's cap is full (not for exempt purposes);
4. ``contact_budget``: the budget is full for the campaign's priority
   (not for exempt purposes);
5. ``quiet_hours``: it is within the quiet hours on the recipient's clock
   (not for exempt purposes).

The first two are final for this message; the last three defer it, and
their decision carries ``retry_at``, the earliest moment it could pass.

This signature is kept stable::

    may_contact(conn, customer_id, channel, purpose, now, *, rules=DEFAULT,
                address=None, timezone=None, priority=None) -> Decision
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tenure.campaigns import caps, consent, quiet, suppression
from tenure.campaigns.consent_settings import DEFAULT, SendingRules

REASONS = ("consent_missing", "consent_withdrawn", "suppressed", "frequency_cap",
           "contact_budget", "quiet_hours")  # fmt: skip
FINAL = ("consent_missing", "consent_withdrawn", "suppressed")


@dataclass(frozen=True)
class Decision:
    """``allowed``; else ``reason`` (one of :data:`REASONS`), ``detail`` in
    words, and for a deferral ``retry_at`` (UTC)."""

    allowed: bool
    reason: str | None = None
    detail: str | None = None
    retry_at: datetime | None = None

    @property
    def final(self) -> bool:
        """A refusal that waiting will not change."""
        return self.reason in FINAL

    def doc(self) -> dict[str, Any]:
        return {"allowed": self.allowed, "reason": self.reason, "detail": self.detail,
                "retry_at": None if self.retry_at is None else self.retry_at.isoformat()}  # fmt: skip


ALLOWED = Decision(True)


def hold(conn: sa.Connection, customer_id: str) -> None:
    """Serialise the sends to one customer until the caller's transaction
    ends, so that two senders cannot both see the last place under a cap
    and both take it. PostgreSQL: a transaction-level advisory lock on the
    customer; SQLite: the caller's transaction must have begun with
    ``BEGIN IMMEDIATE`` (as :func:`tenure.campaigns.consent.write_transaction`
    does), which lets one writer in at a time."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:who))"),
                     {"who": f"tenure.contact:{customer_id}"})  # fmt: skip


def may_contact(
    conn: sa.Connection, customer_id: str, channel: str, purpose: str, now: datetime, *,
    rules: SendingRules = DEFAULT, address: str | None = None, timezone: str | None = None,
    priority: str | None = None,
) -> Decision:  # fmt: skip
    """Whether a message of ``purpose`` may go to ``customer_id`` on
    ``channel`` (at ``address``, when given) at ``now``.

    ``rules``: :meth:`SendingRules.from_settings` of the workspace's
    settings; ``timezone``: the customer's IANA zone as ingested (None when
    unknown: the fallback zone is used); ``priority``: the campaign's,
    one of ``[campaigns.budget] priorities`` (None: 'normal').
    """
    now = consent.utc(now)
    hold(conn, customer_id)
    event = consent.current(conn, customer_id, channel, purpose)
    if event is None and purpose not in rules.implied_consent:
        return Decision(False, "consent_missing",
                        f"no {purpose} consent for {channel} was ever given")  # fmt: skip
    if event is not None and not event.granted:
        return Decision(False, "consent_withdrawn",
                        f"{purpose} consent for {channel} withdrawn at {event.at.isoformat()} "
                        f"(source: {event.source})")  # fmt: skip
    held = suppression.active(conn, channel, address=address, customer_id=customer_id)
    if held is not None:
        on = held["address"] or f"customer {held['customer_id']}"
        return Decision(False, "suppressed",
                        f"{on} suppressed ({held['reason']}) since {held['at']}")  # fmt: skip
    if purpose in rules.exempt_purposes:
        return ALLOWED
    sent = caps.recent(conn, rules, customer_id, channel, now)
    capped = caps.cap_check(rules, sent, channel, now)
    if capped is not None:
        return Decision(False, "frequency_cap", capped[0], capped[1])
    over = caps.budget_check(rules, sent, priority, now)
    if over is not None:
        return Decision(False, "contact_budget", over[0], over[1])
    until = quiet.quiet_until(now, timezone, rules)
    if until is not None:
        zone, own = quiet.zone_of(timezone, rules)
        whose = "the recipient's zone" if own else "the fallback zone (recipient's unknown)"
        return Decision(False, "quiet_hours", f"quiet hours in {zone.key}, {whose}", until)
    return ALLOWED
