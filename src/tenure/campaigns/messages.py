"""A customer's messages, read from the outbox: what each campaign decided
to send them, what became of it and why, and the message as it was
rendered (kept with the send). Reads only; the outbox's writes are
:mod:`tenure.campaigns.outbox`'s."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from tenure.campaigns.consent import checked_customer, utc
from tenure.errors import NotFoundError
from tenure.store.ops_schema import campaign_messages as messages_t

LIMIT = 100


def _when(value: Any) -> str | None:
    return None if value is None else utc(value).isoformat()


def _doc(row: Any) -> dict[str, Any]:
    return {
        "id": int(row.id), "campaign": row.campaign, "step": row.step,
        "customer_id": row.customer_id, "channel": row.channel, "purpose": row.purpose,
        "state": row.state, "subject": row.subject, "locale": row.locale,
        "created_at": _when(row.created_at),
        # when the provider took it; a message not sent has no sent_at
        "sent_at": _when(row.done_at) if row.state == "sent" else None,
        "done_at": _when(row.done_at),
        "reason": row.reason if row.state != "sent" else None,
        "attempts": int(row.attempts or 0), "test": bool(row.test),
        "body_kept": bool(row.body_text or row.body_html),
    }  # fmt: skip


def for_customer(conn: sa.Connection, customer_id: str, *, limit: int = LIMIT) -> dict[str, Any]:
    """The customer's messages, newest first (at most ``limit``), and how
    many there are in all; test sends (to a staff address) are left out."""
    customer_id = checked_customer(customer_id)
    m = messages_t
    where = (m.c.customer_id == customer_id, m.c.test.is_(False))
    rows = conn.execute(
        sa.select(m).where(*where).order_by(m.c.created_at.desc(), m.c.id.desc()).limit(limit)
    ).all()
    total = conn.execute(sa.select(sa.func.count()).where(*where)).scalar_one()
    return {"customer_id": customer_id, "total": int(total), "messages": [_doc(r) for r in rows]}


def rendered(conn: sa.Connection, customer_id: str, message_id: int) -> dict[str, Any]:
    """One message of the customer as it was rendered: its subject and
    bodies, with the fields of :func:`for_customer`."""
    customer_id = checked_customer(customer_id)
    m = messages_t
    row = conn.execute(
        sa.select(m).where(m.c.id == message_id, m.c.customer_id == customer_id)
    ).first()
    if row is None:
        raise NotFoundError(
            f"the customer {customer_id!r} has no message {message_id}.",
            hint=f"See the customer's messages on their page: /customers/{customer_id}.",
            value=message_id, code="no_message",
        )  # fmt: skip
    return {**_doc(row), "recipient": row.recipient, "body_text": row.body_text,
            "body_html": row.body_html}  # fmt: skip
