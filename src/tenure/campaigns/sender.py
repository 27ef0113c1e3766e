"""The sender: the outbox's messages delivered at least once, none twice.

A pass of :func:`send_due`:

1. **claims** the messages that are due, in one transaction (SQLite's
   ``BEGIN IMMEDIATE``; PostgreSQL's ``FOR UPDATE SKIP LOCKED``, so that
   senders running at once take different rows). Inside that transaction,
   for each message, a message past its ``expires_at`` is recorded as
   ``expired``, and the send-time **gate** is asked whether the customer may
   be contacted now on this channel for this purpose (consent, suppression,
   caps, quiet hours): a final refusal is recorded as ``blocked`` with the
   gate's reason, one that can pass later is ``postponed`` to its
   ``retry_at``. The others become ``sending`` until the claim runs out
   (:data:`LEASE`); a message a launch queued unrendered is rendered by
   ``render`` (:class:`tenure.campaigns.send_render.CampaignRenderer`) and
   its text kept in the row, in the same transaction. The claim takes the
   highest priority first (then the earliest due), and leaves the messages
   of a paused campaign pending.
2. **sends** each claimed message through its channel's provider, with the
   row's dedup key as the provider's idempotency key (and the e-mail's
   Message-ID);
3. **records** the answers, :data:`RECORD_EVERY` to a transaction: ``sent`` with the provider's id; a permanent
   failure as ``failed`` with the provider's words; a transient one is tried
   again after an exponential backoff with jitter (:func:`backoff`), and
   after :data:`MAX_ATTEMPTS` attempts is ``failed``.

A sender killed at any point loses nothing: a claim that runs out makes the
message due again, and the next pass sends it. Killed between a provider's
acceptance and step 3, the messages accepted since the last record (at
most :data:`RECORD_EVERY`) are sent a second time, with the same key: a
provider that honours idempotency keys, or a mail system that drops a
Message-ID it has seen, delivers each once. The named points
:data:`POINTS` (:mod:`tenure.faults`) let the tests kill it there.

The gate is a parameter, run on the claim's connection so that what it
reads is what the claim commits with. The workspace's own is
:func:`tenure.campaigns.sending.gate_for` (consent, suppression, caps, the
contact budget and quiet hours, counting each message it lets through). Any
other is either a :class:`MessageGate` (``admit`` the claim's messages,
``release`` one that ended unsent) or a plain callable ``gate(conn,
customer_id, channel, purpose, now)``. A decision is an object with
``allowed`` and ``reason``; one that refuses with a ``retry_at`` (a cap, the
budget, quiet hours) **postpones** the message to that moment, and one
without (no consent, a suppression) **blocks** it for good, with the reason.
The clock (``now``) and the jitter (``rand``) are parameters too, so that a
test replays retries and claims that ran out at the times it chose.
"""

from __future__ import annotations

import json
import random
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

import sqlalchemy as sa

from tenure.campaigns import outbox
from tenure.campaigns.channels.base import Message, Provider, Result
from tenure.campaigns.templates import Rendered
from tenure.faults import checkpoint
from tenure.loyalty import clock
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import campaign_messages as messages_t
from tenure.store.ops_schema import campaigns as campaigns_t

POINTS = ("sender claimed", "sender accepted", "sender marked")
BATCH = 100  # messages one claim takes at most
# answers recorded per transaction: a commit waits for the disk (about 10 ms
# on a busy machine), which one per message made the sender's main cost; a
# crash before the record sends at most these again, under the same keys
RECORD_EVERY = 20
LEASE = timedelta(minutes=10)  # a claim runs out after this; then the message is due again
MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(minutes=1)
LONGEST_WAIT = timedelta(hours=6)
# what a pass did: claimed and then sent, retrying or failed (or lost_claim:
# recorded by another sender after this one's claim ran out); or, at the
# claim, expired, failed, blocked (for good) or postponed (to the gate's retry_at)
SUMMARY = ("claimed", "sent", "retrying", "failed", "expired", "blocked", "postponed",
           "lost_claim")  # fmt: skip


class Decision(Protocol):
    allowed: bool
    reason: str | None


@dataclass(frozen=True)
class Due:
    """A message the claim is about to take, as the gate sees it."""

    dedup_key: str
    customer_id: str
    campaign: str
    channel: str
    purpose: str
    recipient: str


@runtime_checkable
class MessageGate(Protocol):
    """A gate that sees each message whole (its address, its campaign)."""

    def admit(self, conn: sa.Connection, due: Sequence[Due], now: datetime) -> list[Any]:
        """A decision for each message, in order, in the claim's transaction."""
        ...

    def release(self, conn: sa.Connection, due: Due) -> None:
        """The message ended without reaching the customer (failed, expired)."""
        ...


# the plain shape: gate(conn, customer_id, channel, purpose, now)
SimpleGate = Callable[[sa.Connection, str, str, str, datetime], Decision]
# the text of unrendered rows: (conn, rows) -> a Rendered or an error for each
Render = Callable[[sa.Connection, Sequence[Any]], Sequence[Any]]
Gate = MessageGate | SimpleGate


class _Simple:
    """A plain callable seen as a :class:`MessageGate`."""

    def __init__(self, gate: SimpleGate) -> None:
        self.gate = gate

    def admit(self, conn: sa.Connection, due: Sequence[Due], now: datetime) -> list[Any]:
        return [self.gate(conn, d.customer_id, d.channel, d.purpose, now) for d in due]

    def release(self, conn: sa.Connection, due: Due) -> None:
        pass


def as_message_gate(gate: Gate) -> MessageGate:
    return gate if isinstance(gate, MessageGate) else _Simple(gate)


@dataclass
class _Claimed:
    id: int
    dedup_key: str
    customer_id: str
    campaign: str
    channel: str
    recipient: str
    subject: str
    body_text: str
    body_html: str | None
    headers: str
    attempts: int
    until: datetime
    due: Due

    def message(self) -> Message:
        return Message(to=self.recipient, subject=self.subject, text=self.body_text,
                       html=self.body_html, idempotency_key=self.dedup_key,
                       headers=json.loads(self.headers), customer_id=self.customer_id,
                       campaign=self.campaign)  # fmt: skip


def backoff(attempts: int, rand: Callable[[], float] = random.random) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: a minute doubled each
    time, at most 6 h, less a random part of up to half ("equal jitter", so
    that the retries of a batch do not all come back at once)."""
    full = min(FIRST_RETRY * 2 ** (attempts - 1), LONGEST_WAIT)
    return full * (0.5 + 0.5 * rand())


def _due(conn: sa.Connection, now: datetime, batch: int, *, rendered_only: bool) -> list[Any]:
    """The claim's messages: due, of no paused campaign, highest priority
    first, then by due time, at most ``batch``. One query per state (pending,
    and sending whose claim ran out), each walking the claim index
    (state, priority, next_at, id) in order and stopping at ``batch``,
    where one query over both states would sort every due message."""
    rows: list[Any] = []
    for state in ("pending", "sending"):
        rows += conn.execute(_due_query(conn, state, now, batch, rendered_only))
    rows.sort(key=lambda r: (-r.priority, r.next_at, r.id))
    return rows[:batch]


def _due_query(conn: sa.Connection, state: str, now: datetime, batch: int,
               rendered_only: bool) -> sa.Select:  # fmt: skip
    m, c = messages_t, campaigns_t
    # a paused campaign's messages stay where they are (pending) until it resumes
    paused = sa.select(c.c.name).where(c.c.state == "paused").scalar_subquery()
    # on SQLite ``+next_at``: it keeps the planner, which has no statistics,
    # off the (state, next_at) index, with which it would sort all that is due
    due = (messages_t.c.next_at <= now if conn.dialect.name != "sqlite" else
           sa.text("+campaign_messages.next_at <= :due").bindparams(
               sa.bindparam("due", now, type_=messages_t.c.next_at.type)))  # fmt: skip
    query = (
        sa.select(m.c.id, m.c.dedup_key, m.c.customer_id, m.c.campaign, m.c.channel,
                  m.c.purpose, m.c.recipient, m.c.subject, m.c.body_text, m.c.body_html,
                  m.c.headers, m.c.attempts, m.c.expires_at, m.c.rendered, m.c.template,
                  m.c.locale, m.c.priority, m.c.next_at)
        .where(m.c.state == state, due, m.c.campaign.not_in(paused))
        # a sender without a renderer leaves a launch's unrendered messages to one with it
        .where(m.c.rendered.is_(True) if rendered_only else sa.true())
        # the higher priority first: where the contact budget has room for one
        # message, it is the higher priority's
        .order_by(m.c.priority.desc(), m.c.next_at, m.c.id)
        .limit(batch)
    )  # fmt: skip
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(of=m, skip_locked=True)
    return query


_m = messages_t
# a claim's update of its messages, built once and run for them all at once
_CLAIM = _m.update().where(_m.c.id == sa.bindparam("_id")).values(
    state="sending", next_at=sa.bindparam("_until"), attempts=sa.bindparam("_attempts"))
# the same, keeping the text rendered for it
_CLAIM_RENDERED = _CLAIM.values(
    subject=sa.bindparam("_subject"), body_text=sa.bindparam("_text"),
    body_html=sa.bindparam("_html"), locale=sa.bindparam("_locale"), rendered=True)


def _finish(conn: sa.Connection, row_id: int, state: str, reason: str | None,
            now: datetime, **more: Any) -> None:  # fmt: skip
    conn.execute(messages_t.update().where(messages_t.c.id == row_id)
                 .values(state=state, reason=reason, done_at=now, **more))  # fmt: skip


def _refusal(decision: Any) -> str:
    reason = decision.reason or "not allowed by the gate"
    detail = getattr(decision, "detail", None)
    return f"{reason}: {detail}" if detail else reason


def claim(ops: OpsStore, gate: Gate, providers: Mapping[str, Provider], now: datetime,
          summary: dict[str, int], *, batch: int = BATCH, lease: timedelta = LEASE,
          render: Render | None = None) -> list[_Claimed]:  # fmt: skip
    """Step 1 of a pass: the messages this sender now holds. A message a
    launch queued unrendered is rendered here by ``render`` (see
    :mod:`tenure.campaigns.send_render`), and its text kept in the row."""
    until = now + lease
    gate = as_message_gate(gate)
    taken: list[_Claimed] = []
    with ops.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            # what the gate's hold needs: one writer at a time from the first read
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        asked = []
        for row in _due(conn, now, batch, rendered_only=render is None):
            due = Due(row.dedup_key, row.customer_id, row.campaign, row.channel, row.purpose,
                      row.recipient)  # fmt: skip
            ended = None
            if row.expires_at is not None and clock.utc(row.expires_at) <= now:
                ended = ("expired", f"not sent by {clock.utc(row.expires_at).isoformat()}")
            elif row.attempts >= MAX_ATTEMPTS:  # claims that ran out: a sender died each time
                ended = ("failed", f"{row.attempts} attempts, each cut short by a sender that "
                         "stopped")  # fmt: skip
            elif row.channel not in providers:
                ended = ("failed", f"no provider for the channel {row.channel!r}")
            if ended is not None:
                _finish(conn, row.id, *ended, now)
                gate.release(conn, due)
                summary[ended[0]] += 1
                continue
            asked.append((row, due))
        decisions = gate.admit(conn, [due for _, due in asked], now) if asked else []
        allowed = []
        for (row, due), decision in zip(asked, decisions, strict=True):
            if not decision.allowed:
                retry_at = getattr(decision, "retry_at", None)
                if retry_at is None:  # no consent, suppressed: waiting will not change it
                    _finish(conn, row.id, "blocked", _refusal(decision), now)
                    summary["blocked"] += 1
                else:  # a cap, the budget, quiet hours: due again when it would pass
                    later = max(clock.utc(retry_at), now + timedelta(seconds=1))
                    conn.execute(messages_t.update().where(messages_t.c.id == row.id)
                                 .values(state="pending", next_at=later,
                                         reason=_refusal(decision)))  # fmt: skip
                    summary["postponed"] += 1
                continue
            allowed.append((row, due))
        texts = _render(conn, [row for row, _ in allowed if not row.rendered], render)
        kept, made_now = [], []  # the two kinds of claim, each one statement for all
        for row, due in allowed:
            claimed = {"_id": row.id, "_attempts": row.attempts + 1}
            subject, body_text, body_html = row.subject, row.body_text, row.body_html
            if not row.rendered:
                made = texts[row.id]
                if not isinstance(made, Rendered):  # it cannot be sent: not a contact
                    _finish(conn, row.id, "failed", made, now)
                    gate.release(conn, due)
                    summary["failed"] += 1
                    continue
                subject, body_text, body_html = made.subject, made.text, made.html
                made_now.append(claimed | {"_subject": subject, "_text": body_text,
                                           "_html": body_html, "_locale": made.locale})  # fmt: skip
            else:
                kept.append(claimed)
            taken.append(_Claimed(row.id, row.dedup_key, row.customer_id, row.campaign,
                                  row.channel, row.recipient, subject, body_text, body_html,
                                  row.headers, row.attempts + 1, until, due))  # fmt: skip
        for statement, params in ((_CLAIM, kept), (_CLAIM_RENDERED, made_now)):
            if params:
                conn.execute(statement, [p | {"_until": until} for p in params])
        conn.commit()
    summary["claimed"] += len(taken)
    checkpoint("sender claimed")
    return taken


def _render(conn: sa.Connection, rows: list[Any],
            render: Render | None) -> dict[int, Rendered | str]:  # fmt: skip
    """The text of each unrendered row by its id, or why there is none."""
    if not rows or render is None:  # without a renderer, none was claimed
        return {}
    out: dict[int, Rendered | str] = {}
    for row, made in zip(rows, render(conn, rows), strict=True):
        out[row.id] = made if isinstance(made, Rendered) else f"template: {_words(made)}"
    return out


def _words(error: Exception) -> str:
    render = getattr(error, "render", None)
    return " ".join((render() if callable(render) else str(error)).split())


def _outcome(item: _Claimed, result: Result, now: datetime,
             rand: Callable[[], float]) -> tuple[str, dict[str, Any]]:  # fmt: skip
    if result.ok:
        return "sent", {"state": "sent", "done_at": now, "reason": None,
                        "provider_message_id": result.provider_message_id}  # fmt: skip
    if result.permanent:
        return "failed", {"state": "failed", "done_at": now, "reason": result.error}
    if item.attempts >= MAX_ATTEMPTS:
        return "failed", {"state": "failed", "done_at": now,
                          "reason": f"failed {item.attempts} times; last: {result.error}"}  # fmt: skip
    return "retrying", {"state": "pending", "next_at": now + backoff(item.attempts, rand),
                        "reason": result.error}  # fmt: skip


def _record(ops: OpsStore, gate: MessageGate,
            answered: list[tuple[_Claimed, str, dict[str, Any]]],
            summary: dict[str, int]) -> None:  # fmt: skip
    """Step 3 for the answers so far, in one transaction."""
    m = messages_t
    with ops.engine.begin() as conn:
        for item, outcome, values in answered:
            # only while the claim is this sender's: one that ran out may be another's now
            done = conn.execute(
                m.update()
                .where(m.c.id == item.id, m.c.state == "sending", m.c.next_at == item.until)
                .values(**values)
            ).rowcount  # fmt: skip
            if done and outcome == "failed":  # it never reached the customer: not a contact
                gate.release(conn, item.due)
            summary[outcome if done else "lost_claim"] += 1
    answered.clear()
    checkpoint("sender marked")


def send_due(
    ops: OpsStore,
    providers: Mapping[str, Provider] | Provider,
    gate: Gate,
    *,
    now: datetime | None = None,
    rand: Callable[[], float] = random.random,
    batch: int = BATCH,
    lease: timedelta = LEASE,
    record_every: int = RECORD_EVERY,
    render: Render | None = None,
) -> dict[str, Any]:
    """One pass over the messages due at ``now`` (see the module's
    docstring); what it did. ``providers`` maps a channel to its provider (a
    single provider serves its own ``name``)."""
    if not isinstance(providers, Mapping):
        providers = {providers.name: providers}
    now = clock.utc(now) if now is not None else clock.now()
    summary = dict.fromkeys(SUMMARY, 0)
    gate = as_message_gate(gate)
    answered: list[tuple[_Claimed, str, dict[str, Any]]] = []
    for item in claim(ops, gate, providers, now, summary, batch=batch, lease=lease,
                      render=render):
        try:
            result = providers[item.channel].send(item.message())
        except Exception as exc:  # a provider's bug must not stop the other messages
            result = Result.failed(f"{type(exc).__name__}: {exc}", permanent=False)
        if result.ok:
            checkpoint("sender accepted")
        answered.append((item, *_outcome(item, result, now, rand)))
        if len(answered) >= record_every:
            _record(ops, gate, answered, summary)
    if answered:
        _record(ops, gate, answered, summary)
    return {"as_of": now.isoformat(), **summary}


def send_all(ops: OpsStore, providers: Mapping[str, Provider] | Provider, gate: Gate, *,
             now: datetime | None = None, rand: Callable[[], float] = random.random,
             batch: int = BATCH, render: Render | None = None) -> dict[str, int]:  # fmt: skip
    """Passes at ``now`` until nothing is due then (retries wait for later)."""
    total: dict[str, int] = {}
    try:
        while True:
            done = send_due(ops, providers, gate, now=now, rand=rand, batch=batch, render=render)
            for k, v in done.items():
                if k != "as_of":
                    total[k] = total.get(k, 0) + v
            if sum(done[k] for k in ("claimed", "expired", "blocked", "failed", "postponed")) == 0:
                return total
    finally:
        close = getattr(render, "close", None)  # a renderer holding a store open lets it go
        if close is not None:
            close()


def send_test(ops: OpsStore, provider: Provider, message: Rendered, *, to: str,
              customer_id: str, headers: Mapping[str, str] | None = None,
              now: datetime | None = None) -> dict[str, Any]:  # fmt: skip
    """Send a customer's message to a staff address at once, without the
    gate and the outbox's retries, and keep it (``test`` true) with the
    others: how it looks in a real inbox."""
    now = clock.utc(now) if now is not None else clock.now()
    key = f"test:{customer_id}:{secrets.token_hex(8)}"
    sent = Message(to=to, subject=message.subject, text=message.text, html=message.html,
                   idempotency_key=key, headers=dict(headers or {}), customer_id=customer_id,
                   campaign="test")  # fmt: skip
    result = provider.send(sent)
    with ops.engine.begin() as conn:
        row = outbox.record_test(conn, customer_id=customer_id, channel=provider.name,
                                 recipient=to, message=message, headers=sent.headers,
                                 result=result, key=key, now=now)  # fmt: skip
    return {"id": row, "to": to, "sent": result.ok, "provider_message_id":
            result.provider_message_id, "error": result.error}  # fmt: skip
