"""The suppression list, bounces and complaints.

An address (or a customer) on the list is not sent to on its channel (or
on any, for a row without one), whatever the consent ledger says, until
the row is lifted. Rows come from:

- a **hard bounce**: the address does not exist; suppressed at once;
- **soft bounces**: a full mailbox, a server away; the address is
  suppressed when ``soft_bounce_limit`` of them fall within
  ``soft_bounce_days`` (``[campaigns.sending]``, 3 in 30 days by default);
- a **complaint** (the recipient marked a message as spam): the address is
  suppressed, and the customer's marketing consent on that channel is
  withdrawn in the same transaction (source ``complaint``);
- by hand (``tenure consent suppress``, the API), reason ``manual``.

Addresses are compared normalised: spaces dropped, e-mail addresses
lower-cased.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from tenure.campaigns import consent
from tenure.campaigns.consent_settings import DEFAULT, SendingRules
from tenure.errors import InputError, NotFoundError
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import bounces as bounces_t
from tenure.store.ops_schema import suppressions as sup_t

REASONS = ("hard_bounce", "soft_bounces", "complaint", "manual")


def normalised(address: str | None) -> str | None:
    if address is None:
        return None
    text = "".join(str(address).split())
    if not text or len(text) > 400:
        raise InputError(f"the address {address!r} is empty or longer than 400 characters.",
                         hint="Give the e-mail address, phone number or device token as sent to.",
                         column="address", value=address)  # fmt: skip
    return text.lower() if "@" in text else text


def _doc(row: Any) -> dict[str, Any]:
    return {
        "id": int(row.id), "channel": row.channel, "address": row.address,
        "customer_id": row.customer_id, "reason": row.reason, "source": row.source,
        "detail": row.detail, "at": consent.utc(row.at).isoformat(),
        "lifted_at": None if row.lifted_at is None else consent.utc(row.lifted_at).isoformat(),
    }  # fmt: skip


@functools.cache
def _active_query(by_address: bool, by_customer: bool) -> sa.Select:
    who = []
    if by_address:
        who.append(sup_t.c.address == sa.bindparam("address"))
    if by_customer:
        who.append(sup_t.c.customer_id == sa.bindparam("customer_id"))
    return (
        sa.select(sup_t)
        .where(sa.or_(*who), sup_t.c.lifted_at.is_(None),
               sa.or_(sup_t.c.channel == sa.bindparam("channel"), sup_t.c.channel.is_(None)))
        .order_by(sup_t.c.id).limit(1)
    )  # fmt: skip


def active(conn: sa.Connection, channel: str, *, address: str | None = None,
           customer_id: str | None = None) -> dict[str, Any] | None:  # fmt: skip
    """The first active suppression of the address or the customer on
    ``channel`` (or on every channel); None when neither is suppressed."""
    if address is None and customer_id is None:
        return None
    query = _active_query(address is not None, customer_id is not None)
    values = {"channel": channel, "address": normalised(address), "customer_id": customer_id}
    row = conn.execute(query, {k: v for k, v in values.items() if v is not None}).first()
    return None if row is None else _doc(row)


def _suppress(conn: sa.Connection, channel: str | None, address: str | None,
              customer_id: str | None, reason: str, source: str, detail: str | None,
              at: datetime) -> tuple[dict[str, Any], bool]:  # fmt: skip
    """Add a row unless the same address or customer is already suppressed
    on the channel; (the row, added)."""
    same = sa.and_(
        sup_t.c.lifted_at.is_(None),
        sup_t.c.channel.is_(None) if channel is None else sup_t.c.channel == channel,
        sup_t.c.address.is_(None) if address is None else sup_t.c.address == address,
        sup_t.c.customer_id.is_(None) if customer_id is None else sup_t.c.customer_id == customer_id,
    )  # fmt: skip
    row = conn.execute(sa.select(sup_t).where(same).limit(1)).first()
    if row is not None:
        return _doc(row), False
    result = conn.execute(sup_t.insert().values(
        channel=channel, address=address, customer_id=customer_id, reason=reason, source=source,
        detail=detail, at=at))  # fmt: skip
    row = conn.execute(sa.select(sup_t).where(sup_t.c.id == result.inserted_primary_key[0])).first()
    return _doc(row), True


def _checked(channel: str | None, address: str | None, customer_id: str | None):
    if address is None and customer_id is None:
        raise InputError("neither an address nor a customer was given.",
                         hint="Give the address sent to, or --customer ID, or both.")  # fmt: skip
    channel = (
        None if channel is None else consent.checked_name("channel", channel, consent.CHANNELS)
    )
    customer = None if customer_id is None else consent.checked_customer(customer_id)
    return channel, normalised(address), customer


def suppress(ops: OpsStore, channel: str | None, *, address: str | None = None,
             customer_id: str | None = None, reason: str = "manual", source: str = "cli",
             detail: str | None = None, at: datetime | None = None) -> dict[str, Any]:  # fmt: skip
    """Put an address or a customer on the list (by hand)."""
    if reason not in REASONS:
        raise InputError(f"the reason {reason!r} is not one of {', '.join(REASONS)}.",
                         hint="Use manual for a suppression by hand.", value=reason)  # fmt: skip
    channel, address, customer_id = _checked(channel, address, customer_id)
    with consent.write_transaction(ops) as conn:
        row, added = _suppress(conn, channel, address, customer_id, reason,
                               consent.checked_name("source", source, consent.SOURCES), detail,
                               consent.utc(at or consent.now()))  # fmt: skip
    return {"suppression": row, "added": added}


def lift(ops: OpsStore, suppression_id: int, *, at: datetime | None = None) -> dict[str, Any]:
    """Take a row off the list; it stays, marked lifted."""
    with consent.write_transaction(ops) as conn:
        row = conn.execute(sa.select(sup_t).where(sup_t.c.id == suppression_id)).first()
        if row is None:
            raise NotFoundError(f"there is no suppression {suppression_id}.",
                                hint="See the list: tenure consent suppressions", value=suppression_id)  # fmt: skip
        if row.lifted_at is None:
            conn.execute(sup_t.update().where(sup_t.c.id == suppression_id)
                         .values(lifted_at=consent.utc(at or consent.now())))  # fmt: skip
        row = conn.execute(sa.select(sup_t).where(sup_t.c.id == suppression_id)).first()
    return {"suppression": _doc(row)}


def bounce(ops: OpsStore, channel: str, address: str, kind: str, *,
           customer_id: str | None = None, source: str = "api", detail: str | None = None,
           at: datetime | None = None, rules: SendingRules = DEFAULT) -> dict[str, Any]:  # fmt: skip
    """Record a bounce; a hard one suppresses the address at once, soft ones
    when ``rules.soft_bounce_limit`` fall within ``rules.soft_bounce_days``."""
    if kind not in ("hard", "soft"):
        raise InputError(f"the bounce kind {kind!r} is neither hard nor soft.",
                         hint="A hard bounce: the address does not exist; soft: it may work later.",
                         column="kind", value=kind)  # fmt: skip
    channel, address, customer_id = _checked(channel, address, customer_id)
    assert channel is not None and address is not None
    source = consent.checked_name("source", source, consent.SOURCES)
    when = consent.utc(at or consent.now())
    with consent.write_transaction(ops) as conn:
        conn.execute(bounces_t.insert().values(channel=channel, address=address,
                     customer_id=customer_id, kind=kind, source=source, detail=detail, at=when))  # fmt: skip
        soft = None
        if kind == "hard":
            row, added = _suppress(
                conn, channel, address, None, "hard_bounce", source, detail, when
            )
        else:
            since = when - timedelta(days=rules.soft_bounce_days)
            soft = conn.execute(
                sa.select(sa.func.count()).select_from(bounces_t).where(
                    bounces_t.c.address == address, bounces_t.c.channel == channel,
                    bounces_t.c.kind == "soft", bounces_t.c.at > since, bounces_t.c.at <= when)
            ).scalar_one()  # fmt: skip
            row, added = None, False
            if soft >= rules.soft_bounce_limit:
                row, added = _suppress(conn, channel, address, None, "soft_bounces", source,
                                       f"{soft} soft bounces in {rules.soft_bounce_days:g} days",
                                       when)  # fmt: skip
    return {"channel": channel, "address": address, "kind": kind, "soft_bounces": soft,
            "suppression": row, "added": added}  # fmt: skip


def complaint(ops: OpsStore, channel: str, address: str, *, customer_id: str | None = None,
              source: str = "complaint", detail: str | None = None,
              at: datetime | None = None) -> dict[str, Any]:  # fmt: skip
    """Record a complaint: the address is suppressed and, for a known
    customer, their marketing consent on the channel withdrawn, together."""
    channel, address, customer_id = _checked(channel, address, customer_id)
    assert channel is not None
    when = consent.utc(at or consent.now())
    source = consent.checked_name("source", source, consent.SOURCES)
    with consent.write_transaction(ops) as conn:
        row, added = _suppress(conn, channel, address, None, "complaint", source, detail, when)
        withdrawn = None
        if customer_id is not None:
            event, _ = consent.append(conn, customer_id, channel, "marketing", False,
                                      source="complaint", at=when, reference=address)  # fmt: skip
            withdrawn = event.doc()
    return {"suppression": row, "added": added, "consent": withdrawn}


def listing(ops: OpsStore, *, lifted: bool = False, limit: int = 1000) -> dict[str, Any]:
    query = sa.select(sup_t).order_by(sup_t.c.id.desc()).limit(limit)
    if not lifted:
        query = query.where(sup_t.c.lifted_at.is_(None))
    with ops.engine.connect() as conn:
        rows = [_doc(r) for r in conn.execute(query)]
    return {"suppressions": rows, "count": len(rows)}
