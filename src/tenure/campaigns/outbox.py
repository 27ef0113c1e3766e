"""The message outbox: a campaign's decision to send and its message, together.

A journey that decides to send a message calls :func:`enqueue` with its own
connection, inside the transaction that records the decision: the message
row exists exactly when the decision does (a decision rolled back leaves no
message; a committed one always has its message). The row holds the message
as rendered, so what was sent is kept with the send, and a retry after a
crash sends the same bytes.

Each row has a **dedup key**, ``campaign:step:customer:occurrence`` (the
occurrence tells apart two sends of one step to one customer: a birthday
each year, a re-entry). It is unique: a decision replayed (an event ingested
twice, a journey run again after a crash) finds the row there and adds
nothing (:func:`enqueue` returns ``None``), and the key is the provider's
idempotency key and the e-mail's Message-ID.

A campaign's launch queues its messages **unrendered**
(:func:`enqueue_unrendered`: the row keeps the template's folder and the
customer's locale, ``rendered`` false, the subject and bodies empty), so
that queueing a million is one bulk insert; the sender renders each when
it claims it, in the claim's transaction, and keeps what it rendered in the
row (:mod:`tenure.campaigns.send_render`). From then on the row is the
message as sent, and a retry sends the same bytes.

Each row carries its campaign's **priority** (:data:`PRIORITIES`): the
sender claims the higher first, so that where the contact budget leaves
room for one message the higher priority's takes it.

A row's ``state``:

==========  ================================================================
pending     waiting to be sent at ``next_at`` (a retry: after a backoff; a
            message the gate postponed, for a cap, the contact budget or
            quiet hours: when it may pass, with that ``reason``)
sending     claimed by a sender until ``next_at``; if the sender died, the
            claim runs out and the next sender takes it again
sent        the provider took it (``provider_message_id``)
failed      a permanent failure, or the last of the attempts (``reason``)
expired     not sent before ``expires_at`` (``reason``)
blocked     the send-time gate refused it for good: no consent, withdrawn,
            suppressed (``reason``, in the gate's words)
==========  ================================================================

Every message ends in one of the last four; :func:`accounting` counts them,
with the reasons, so that none goes missing without a word.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tenure.campaigns.templates import Rendered
from tenure.errors import InputError
from tenure.loyalty import clock
from tenure.store.ops_schema import campaign_messages as messages_t

# a campaign's priority as the outbox orders it: the higher claimed first
PRIORITIES = {"high": 2, "normal": 1, "low": 0}
STATES = ("pending", "sending", "sent", "failed", "expired", "blocked")
DONE = ("sent", "failed", "expired", "blocked")
_SEPARATOR = ":"


def dedup_key(campaign: str, step: str, customer_id: str, occurrence: str | int) -> str:
    """``campaign:step:customer:occurrence``; a part may not hold the separator
    except the customer id (the last but one, read from both ends).

    >>> dedup_key("win-back", "1", "C42", "2026-03")
    'win-back:1:C42:2026-03'
    """
    for label, part in (("campaign", campaign), ("step", step), ("occurrence", occurrence)):
        text = str(part)
        if not text or _SEPARATOR in text:
            raise InputError(
                f"the {label} {text!r} cannot be part of a message's dedup key.",
                hint=f"Give a non-empty {label} without ':'.", value=text,
            )  # fmt: skip
    if not customer_id:
        raise InputError("a message needs a customer id.", hint="Give the customer's id.")
    return _SEPARATOR.join((campaign, step, customer_id, str(occurrence)))


def _insert(conn: sa.Connection):
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(messages_t)


def _values(*, campaign: str, step: str, customer_id: str, occurrence: str | int,
            channel: str, purpose: str, recipient: str, message: Rendered,
            headers: Mapping[str, str] | None = None, send_at: datetime | None = None,
            expires_at: datetime | None = None, priority: str = "normal",
            now: datetime) -> dict[str, Any]:  # fmt: skip
    key = dedup_key(campaign, step, customer_id, occurrence)
    if not recipient:
        raise InputError(
            f"customer {customer_id!r} has no address for the {channel} channel.",
            hint="Leave them out of the audience, or add the address to their profile.",
            value=customer_id,
        )  # fmt: skip
    return dict(
        dedup_key=key, campaign=campaign, step=step, customer_id=customer_id,
        occurrence=str(occurrence), channel=channel, purpose=purpose, recipient=recipient,
        locale=message.locale, template=message.template, subject=message.subject,
        body_text=message.text, body_html=message.html, headers=json.dumps(dict(headers or {})),
        state="pending", attempts=0, next_at=clock.utc(send_at) if send_at else now,
        expires_at=clock.utc(expires_at) if expires_at else None, created_at=now, test=False,
        priority=rank(priority), rendered=True,
    )  # fmt: skip


def rank(priority: str | None) -> int:
    """The outbox's number for a campaign's priority (None: normal)."""
    return PRIORITIES.get(priority or "normal", PRIORITIES["normal"])


def enqueue(
    conn: sa.Connection,
    *,
    campaign: str,
    step: str,
    customer_id: str,
    occurrence: str | int,
    channel: str,
    purpose: str,
    recipient: str,
    message: Rendered,
    headers: Mapping[str, str] | None = None,
    send_at: datetime | None = None,
    expires_at: datetime | None = None,
    priority: str = "normal",
    now: datetime | None = None,
) -> int | None:
    """Add a message to the outbox in the caller's transaction; its id, or
    None when the same decision was already recorded (the dedup key is
    there: nothing is added)."""
    now = clock.utc(now) if now is not None else clock.now()
    values = _values(campaign=campaign, step=step, customer_id=customer_id,
                     occurrence=occurrence, channel=channel, purpose=purpose,
                     recipient=recipient, message=message, headers=headers, send_at=send_at,
                     expires_at=expires_at, priority=priority, now=now)  # fmt: skip
    inserted = conn.execute(
        _insert(conn).values(**values).on_conflict_do_nothing(index_elements=["dedup_key"])
        .returning(messages_t.c.id)
    ).first()  # fmt: skip
    return None if inserted is None else int(inserted[0])


def enqueue_many(conn: sa.Connection, messages: list[dict[str, Any]], *,
                 now: datetime | None = None) -> int:  # fmt: skip
    """:func:`enqueue` for many messages in one statement (each dict holds
    enqueue's keyword arguments but ``now``), in the caller's transaction;
    a message whose dedup key is there already is left out. The messages
    added. For a campaign launched to many customers at once: one
    ``enqueue`` call per message costs a statement's compilation each."""
    if not messages:
        return 0
    now = clock.utc(now) if now is not None else clock.now()
    rows = [_values(**m, now=now) for m in messages]
    if conn.dialect.name == "sqlite":
        return _sqlite_many(conn, rows)
    # with RETURNING, SQLAlchemy sends the rows as multi-row VALUES
    # ("insertmanyvalues"), and the ids back are the rows added
    added = conn.execute(
        _insert(conn).on_conflict_do_nothing(index_elements=["dedup_key"])
        .returning(messages_t.c.id), rows,
    ).all()  # fmt: skip
    return len(added)


def enqueue_unrendered(conn: sa.Connection, *, campaign: str, step: str, occurrence: str,
                       channel: str, purpose: str, template: str, priority: str,
                       recipients: list[tuple[str, str, str]],
                       now: datetime | None = None) -> int:  # fmt: skip
    """Queue one campaign step's messages without their text, in the
    caller's transaction: ``recipients`` holds (customer id, address,
    locale); the row keeps ``template`` (the template's folder) and the
    locale, and the sender renders it when it claims it. A message whose
    dedup key is there already is left out. The messages added."""
    if not recipients:
        return 0
    now = clock.utc(now) if now is not None else clock.now()
    dedup_key(campaign, step, "-", occurrence)  # the parts are checked once, not per message
    fixed = dict(campaign=campaign, step=step, occurrence=str(occurrence), channel=channel,
                 purpose=purpose, template=template, subject="", body_text="", body_html=None,
                 headers="{}", state="pending", attempts=0, next_at=now, expires_at=None,
                 created_at=now, test=False, priority=rank(priority), rendered=False)  # fmt: skip
    prefix = f"{campaign}{_SEPARATOR}{step}{_SEPARATOR}"
    suffix = f"{_SEPARATOR}{occurrence}"
    if conn.dialect.name == "sqlite":
        # the same values for every row, processed once: a row is then a
        # tuple of its four strings (a string needs no bind processor)
        columns = list(fixed)
        stored = tuple(_stored(conn, c, v) for c, v in fixed.items())
        sql = (f"INSERT INTO {messages_t.name} ({', '.join(columns)}, dedup_key, customer_id, "
               f"recipient, locale) VALUES ({', '.join('?' * (len(columns) + 4))}) "
               "ON CONFLICT (dedup_key) DO NOTHING")  # fmt: skip
        before = conn.exec_driver_sql("SELECT total_changes()").scalar_one()
        conn.exec_driver_sql(sql, [stored + (f"{prefix}{c}{suffix}", c, r, loc or "")
                                   for c, r, loc in recipients])  # fmt: skip
        return int(conn.exec_driver_sql("SELECT total_changes()").scalar_one() - before)
    rows = [dict(fixed, dedup_key=f"{prefix}{customer_id}{suffix}", customer_id=customer_id,
                 recipient=recipient, locale=locale or "")
            for customer_id, recipient, locale in recipients]  # fmt: skip
    return len(conn.execute(
        _insert(conn).on_conflict_do_nothing(index_elements=["dedup_key"])
        .returning(messages_t.c.id), rows,
    ).all())  # fmt: skip


def _stored(conn: sa.Connection, column: str, value: Any) -> Any:
    """``value`` as SQLAlchemy stores it in ``column`` (its bind processor)."""
    process = messages_t.c[column].type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return value if process is None or value is None else process(value)


def _sqlite_many(conn: sa.Connection, rows: list[dict[str, Any]]) -> int:
    """The rows through the driver's executemany: a third of the time of
    SQLAlchemy's multi-row VALUES at a million messages. The columns' own
    bind processors store each value as SQLAlchemy would."""
    columns = list(rows[0])
    procs = [messages_t.c[c].type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
             for c in columns]  # fmt: skip
    sql = (f"INSERT INTO {messages_t.name} ({', '.join(columns)}) VALUES "
           f"({', '.join('?' * len(columns))}) ON CONFLICT (dedup_key) DO NOTHING")  # fmt: skip
    params = [tuple(v if p is None or v is None else p(v)
                    for p, v in zip(procs, (r[c] for c in columns), strict=True))
              for r in rows]  # fmt: skip
    before = conn.exec_driver_sql("SELECT total_changes()").scalar_one()
    conn.exec_driver_sql(sql, params)
    return int(conn.exec_driver_sql("SELECT total_changes()").scalar_one() - before)


def record_test(conn: sa.Connection, *, customer_id: str, channel: str, recipient: str,
                message: Rendered, headers: Mapping[str, str], result: Any, key: str,
                now: datetime) -> int:  # fmt: skip
    """Keep a test send (sent at once to a staff address, never to the customer)."""
    row = conn.execute(messages_t.insert().values(
        dedup_key=key, campaign="test", step="test", customer_id=customer_id,
        occurrence=key.rpartition(_SEPARATOR)[2], channel=channel, purpose="test",
        recipient=recipient, locale=message.locale, template=message.template,
        subject=message.subject, body_text=message.text, body_html=message.html,
        headers=json.dumps(dict(headers)), state="sent" if result.ok else "failed",
        attempts=1, next_at=now, created_at=now, done_at=now,
        provider_message_id=result.provider_message_id, reason=result.error, test=True,
        priority=rank(None), rendered=True,
    ).returning(messages_t.c.id)).scalar_one()  # fmt: skip
    return int(row)


def accounting(conn: sa.Connection, campaign: str | None = None) -> dict[str, Any]:
    """Every message by state, and the messages not sent by reason: the
    count that shows none went missing."""
    m = messages_t
    where = [m.c.test.is_(False)]
    if campaign is not None:
        where.append(m.c.campaign == campaign)
    states = dict.fromkeys(STATES, 0)
    for state, n in conn.execute(
        sa.select(m.c.state, sa.func.count()).where(*where).group_by(m.c.state)
    ):  # fmt: skip
        states[state] = int(n)
    # a reason reads "code: detail" (the gate's): counted by its code, or
    # a large campaign would list nearly a line per message
    if conn.dialect.name == "postgresql":
        code = sa.func.split_part(m.c.reason, ": ", 1)
    else:
        code = sa.func.substr(m.c.reason, 1, sa.func.instr(m.c.reason + ": ", ": ") - 1)
    # an expired message's reason is its own deadline
    code = sa.case((m.c.state == "expired", "not sent by its deadline"), else_=code).label("code")
    reasons: dict[str, dict[str, int]] = {}
    for state, reason, n in conn.execute(
        sa.select(m.c.state, code, sa.func.count())
        .where(*where, m.c.state.in_(("failed", "expired", "blocked")))
        .group_by(m.c.state, code).order_by(m.c.state, code)
    ):  # fmt: skip
        reasons.setdefault(state, {})[reason or "(no reason)"] = int(n)
    return {"campaign": campaign, "total": sum(states.values()), "states": states,
            "not_sent": reasons}  # fmt: skip
