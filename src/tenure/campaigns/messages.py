"""A customer's messages, read from the outbox: what each campaign decided
to send them, what became of it and why, and the message as it was
rendered (kept with the send). A launch queues its messages unrendered
(the sender renders each when it claims it): given the settings, such a
message is shown as it would be rendered now, marked ``preview``. Reads
only; the outbox's writes are :mod:`tenure.campaigns.outbox`'s."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from tenure.campaigns.consent import checked_customer, utc
from tenure.errors import NotFoundError
from tenure.store.ops_schema import campaign_messages as messages_t

LIMIT = 100


def _when(value: Any) -> str | None:
    return None if value is None else utc(value).isoformat()


def _previews(settings: Any, conn: sa.Connection, rows: list[Any]) -> dict[int, Any]:
    """The unrendered messages among ``rows`` rendered as the sender would
    now, by id (a Rendered, or the error that would fail its send)."""
    waiting = [r for r in rows if not r.rendered and r.template]
    if settings is None or not waiting:
        return {}
    from tenure.campaigns.send_render import CampaignRenderer

    renderer = CampaignRenderer(settings)
    try:
        return {int(r.id): done for r, done in zip(waiting, renderer(conn, waiting), strict=True)}
    finally:
        renderer.close()


def _doc(row: Any, preview: Any = None) -> dict[str, Any]:
    shown = preview if preview is not None and not isinstance(preview, Exception) else None
    return {
        "id": int(row.id), "campaign": row.campaign, "step": row.step,
        "customer_id": row.customer_id, "channel": row.channel, "purpose": row.purpose,
        "state": row.state, "subject": shown.subject if shown else row.subject,
        "locale": row.locale,
        # not rendered yet: shown as the sender would render it now
        "preview": preview is not None,
        "created_at": _when(row.created_at),
        # when the provider took it; a message not sent has no sent_at
        "sent_at": _when(row.done_at) if row.state == "sent" else None,
        "done_at": _when(row.done_at),
        "reason": row.reason if row.state != "sent" else None,
        "attempts": int(row.attempts or 0), "test": bool(row.test),
        "body_kept": bool(row.body_text or row.body_html or shown),
    }  # fmt: skip


def for_customer(conn: sa.Connection, customer_id: str, *, limit: int = LIMIT,
                 settings: Any = None) -> dict[str, Any]:  # fmt: skip
    """The customer's messages, newest first (at most ``limit``), and how
    many there are in all; test sends (to a staff address) are left out.
    With ``settings``, those not rendered yet are previewed."""
    customer_id = checked_customer(customer_id)
    m = messages_t
    where = (m.c.customer_id == customer_id, m.c.test.is_(False))
    rows = conn.execute(
        sa.select(m).where(*where).order_by(m.c.created_at.desc(), m.c.id.desc()).limit(limit)
    ).all()
    total = conn.execute(sa.select(sa.func.count()).where(*where)).scalar_one()
    previews = _previews(settings, conn, rows)
    return {"customer_id": customer_id, "total": int(total),
            "messages": [_doc(r, previews.get(int(r.id))) for r in rows]}  # fmt: skip


def rendered(conn: sa.Connection, customer_id: str, message_id: int, *,
             settings: Any = None) -> dict[str, Any]:  # fmt: skip
    """One message of the customer as it was rendered (with ``settings``,
    as it would be now when not rendered yet): its subject and bodies,
    with the fields of :func:`for_customer`."""
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
    preview = _previews(settings, conn, [row]).get(int(row.id))
    if preview is not None and not isinstance(preview, Exception):
        return {**_doc(row, preview), "recipient": row.recipient, "body_text": preview.text,
                "body_html": preview.html}  # fmt: skip
    return {**_doc(row, preview), "recipient": row.recipient, "body_text": row.body_text,
            "body_html": row.body_html}  # fmt: skip
