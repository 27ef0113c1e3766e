"""The workspace's send-time gate, as the sender asks it.

:func:`gate_for` makes a :class:`SendGate` from the workspace's
``[campaigns]`` settings (:meth:`SendingRules.from_settings`). For each
message a claim takes, in the claim's transaction, it asks
:func:`tenure.campaigns.gate.may_contact` with

- the message's **recipient** as the address, so that a suppression of the
  address applies as well as one of the customer;
- the customer's **time zone** (``customers.time_zone``, as ingested), for
  quiet hours; a customer without one, or with a name that is not an IANA
  zone, is on the fallback zone (``default_timezone``, else the workspace's
  ``timezone``);
- the campaign's **priority** in the contact budget: ``priority_of``'s,
  else the campaign's own from ``campaigns`` (None, the default priority,
  for a message of no campaign or a priority the budget does not declare);

and, when the message may go, counts it (:func:`tenure.campaigns.caps.record_contact`,
once per dedup key) in the same transaction, so the caps and the budget
count what is really sent and the next message to the customer, by this
sender or another, sees it.

A message claimed again (its sender died, or it is a retry) first takes
back the count it had: its own earlier claim is not a reason to hold it.
A message that ends unsent (a permanent failure, the last attempt,
expired) has its count taken back too (:meth:`SendGate.release`).

The customers of a claim are held (:func:`tenure.campaigns.gate.hold`) in
the order of their ids before any is asked, so that two senders on
PostgreSQL whose claims share customers wait for each other instead of
deadlocking. On SQLite the claim's ``BEGIN IMMEDIATE`` already lets one
claim in at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tenure.campaigns import caps, gate
from tenure.campaigns.consent_settings import SendingRules
from tenure.campaigns.sender import Due
from tenure.store.ops_schema import campaigns as campaigns_t
from tenure.store.ops_schema import contacts as contacts_t

# customer ids -> their time zones as ingested (a customer left out: unknown)
ZoneLookup = Callable[[Sequence[str]], Mapping[str, str | None]]
# campaign -> its priority in the contact budget (None: the default)
PriorityLookup = Callable[[str], str | None]


class SendGate:
    """:func:`tenure.campaigns.gate.may_contact` for each claimed message
    (see the module's docstring); a :class:`tenure.campaigns.sender.MessageGate`."""

    def __init__(self, rules: SendingRules, *, zones: ZoneLookup | None = None,
                 priority_of: PriorityLookup | None = None) -> None:  # fmt: skip
        self.rules = rules
        self.zones = zones
        self.priority_of = priority_of
        self._zone: dict[str, str | None] = {}  # a customer's zone, read once per gate
        self._priorities: dict[str, str | None] = {}  # a campaign's, read once per gate

    def _zones_of(self, customers: Sequence[str]) -> dict[str, str | None]:
        if self.zones is None:
            return {}
        missing = [c for c in dict.fromkeys(customers) if c not in self._zone]
        if missing:
            found = self.zones(missing)
            self._zone.update({c: found.get(c) for c in missing})
        return self._zone

    def admit(self, conn: sa.Connection, due: Sequence[Due], now: datetime) -> list[Any]:
        zones = self._zones_of([d.customer_id for d in due])
        for customer in sorted({d.customer_id for d in due}):
            gate.hold(conn, customer)
        decisions = []
        for d in due:
            self.release(conn, d)  # a message claimed again: its earlier claim is not a contact
            priority = self._priority(conn, d.campaign)
            decision = gate.may_contact(
                conn, d.customer_id, d.channel, d.purpose, now, rules=self.rules,
                address=d.recipient, timezone=zones.get(d.customer_id), priority=priority,
            )  # fmt: skip
            if decision.allowed:
                caps.record_contact(conn, d.customer_id, d.channel, d.purpose, now,
                                    campaign=d.campaign, priority=priority,
                                    reference=d.dedup_key)  # fmt: skip
            decisions.append(decision)
        return decisions

    def _priority(self, conn: sa.Connection, campaign: str) -> str | None:
        """The campaign's priority in the budget: ``priority_of``'s, else the
        campaign's own (``tenure campaign create --priority``); None (the
        default) for a message of no campaign, or of a priority the budget
        does not declare."""
        if campaign not in self._priorities:
            if self.priority_of is not None:
                found = self.priority_of(campaign)
            else:
                found = conn.execute(sa.select(campaigns_t.c.priority)
                                     .where(campaigns_t.c.name == campaign)).scalar()  # fmt: skip
            budget = self.rules.budget
            if found is not None and budget is not None and found not in dict(budget.priorities):
                found = None
            self._priorities[campaign] = found
        return self._priorities[campaign]

    def release(self, conn: sa.Connection, due: Due) -> None:
        conn.execute(_RELEASE, {"reference": due.dedup_key})


# built once, as caps' statements are
_RELEASE = contacts_t.delete().where(contacts_t.c.reference == sa.bindparam("reference"))


def store_zones(settings: Any) -> ZoneLookup:
    """The customers' time zones from the workspace's analytics store
    (``customers.time_zone``); none when nothing was ingested yet."""

    def lookup(customers: Sequence[str]) -> dict[str, str | None]:
        from tenure.store import analytics

        if not settings.analytics_path.exists():
            return {}
        con, _ = analytics.open_read_only(settings.analytics_path, settings.store)
        try:
            columns = {r[0] for r in con.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'customers'").fetchall()}  # fmt: skip
            if not {"customer_id", "time_zone"} <= columns:
                return {}
            rows = con.execute(
                "SELECT customer_id, time_zone FROM customers "
                "WHERE customer_id IN (SELECT unnest(?)) AND time_zone IS NOT NULL",
                [list(customers)],
            ).fetchall()
        finally:
            con.close()
        return {str(who): str(zone) for who, zone in rows if zone}

    return lookup


def gate_for(settings: Any, *, rules: SendingRules | None = None,
             priority_of: PriorityLookup | None = None) -> SendGate:  # fmt: skip
    """The workspace's gate: its ``[campaigns]`` rules (or ``rules``), its
    customers' time zones, and ``priority_of`` for the campaigns' priorities."""
    rules = rules if rules is not None else SendingRules.from_settings(settings)
    return SendGate(rules, zones=store_zones(settings), priority_of=priority_of)


def _waiting(ops: Any, now: datetime) -> tuple[set[str], datetime | None]:
    """The channels of the messages due at ``now``, and when the next one
    not yet due is."""
    from tenure.loyalty import clock
    from tenure.store.ops_schema import campaign_messages as m

    # a paused campaign's messages wait for it, not for a time
    active = m.c.campaign.not_in(sa.select(campaigns_t.c.name)
                                 .where(campaigns_t.c.state == "paused").scalar_subquery())  # fmt: skip
    with ops.engine.connect() as conn:
        channels = {r[0] for r in conn.execute(
            sa.select(m.c.channel).distinct()
            .where(m.c.state.in_(("pending", "sending")), m.c.next_at <= now, active))}  # fmt: skip
        later = conn.execute(sa.select(sa.func.min(m.c.next_at)).where(
            m.c.state.in_(("pending", "sending")), m.c.next_at > now, active)).scalar()  # fmt: skip
    return channels, None if later is None else clock.utc(later)


def send_pending(settings: Any, ops: Any, *, now: datetime | None = None,
                 providers: Mapping[str, Any] | None = None,
                 priority_of: PriorityLookup | None = None) -> dict[str, Any]:  # fmt: skip
    """What ``tenure campaign send`` does once: every message due at ``now``
    sent through the channels of ``[campaigns]`` (or ``providers``) with the
    workspace's gate, pass after pass until nothing is due; the counts, and
    when the next message falls due (a retry, a postponed one).

    A message due on a channel that is not configured stops it before
    anything is sent: it names the channel and the setting to add."""
    from tenure.campaigns import sender
    from tenure.campaigns.channel_settings import providers_from_settings
    from tenure.errors import ConfigError
    from tenure.loyalty import clock

    now = clock.utc(now) if now is not None else clock.now()
    the_gate = gate_for(settings, priority_of=priority_of)  # a wrong [campaigns] stops it here
    own = providers is None
    providers = providers_from_settings(settings) if providers is None else providers
    try:
        channels, _ = _waiting(ops, now)
        missing = sorted(channels - set(providers))
        if missing:
            origin = settings.campaigns.origin or "tenure.toml"
            how = ("[campaigns.smtp] with host and from" if missing == ["email"] else
                   ", ".join(f"[campaigns.webhooks.{c}] with url and secret_env"
                             if c != "email" else "[campaigns.smtp] with host and from"
                             for c in missing))  # fmt: skip
            raise ConfigError(
                f"messages are due on the channel(s) {', '.join(missing)}, which {origin} does "
                "not configure; nothing was sent.",
                hint=f"Add {how} to {origin}.", column="campaigns",
            )  # fmt: skip
        from tenure.campaigns.send_render import CampaignRenderer

        done = sender.send_all(ops, providers, the_gate, now=now,
                               render=CampaignRenderer(settings)) if channels else dict.fromkeys(
            sender.SUMMARY, 0)  # fmt: skip
    finally:
        if own:
            for provider in providers.values():
                close = getattr(provider, "close", None)
                if close is not None:
                    close()
    _, next_due = _waiting(ops, now)
    return {"as_of": now.isoformat(), **{k: done.get(k, 0) for k in sender.SUMMARY},
            "next_due": None if next_due is None else next_due.isoformat()}  # fmt: skip
