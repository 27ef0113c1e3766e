"""The consent ledger: who may be sent what, on which channel.

Each grant or withdrawal is an event per (customer, channel, purpose),
appended with its source (an import file, the API, the command line, an
unsubscribe link, a complaint) and the moment the person said so. Nothing
is changed or removed: a customer's state for a channel and a purpose is
their latest event, by ``at`` and then by the order of recording, so an
older event imported late does not undo a newer one.

Each write is one transaction. A write with an idempotency key records it
on its event: the same key again records nothing more and answers with the
first event; the same key with other values is refused.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from tenure.errors import (
    IdempotencyConflictError,
    IdempotencyKeyReusedError,
    InputError,
    StoreBusyError,
)
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import consent_events as events_t

CHANNELS = ("email", "sms", "push", "webhook", "whatsapp", "post", "phone")
PURPOSES = ("marketing", "transactional", "service", "research", "profiling")
SOURCES = ("api", "cli", "import", "ingest", "unsubscribe_link", "complaint", "preference_center")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def utc(moment: datetime) -> datetime:
    """``moment`` as aware UTC (a naive one, as SQLite gives back, is UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def now() -> datetime:
    return datetime.now(UTC)


def checked_name(kind: str, value: str, known: tuple[str, ...]) -> str:
    """A channel, purpose or source: one of ``known``, or another lower-case
    name (a shop may have its own channels)."""
    text = str(value).strip().lower()
    if not _NAME.match(text):
        raise InputError(
            f"the {kind} {value!r} is not a name.",
            hint=f"Use lower-case letters, digits and _, e.g. {', '.join(known[:4])}.",
            column=kind, value=value,
        )  # fmt: skip
    return text


def checked_customer(customer_id: str) -> str:
    text = str(customer_id).strip()
    if not text or len(text) > 200:
        raise InputError(f"the customer id {customer_id!r} is empty or longer than 200 characters.",
                         hint="Give the customer's id as ingested.", column="customer_id",
                         value=customer_id)  # fmt: skip
    return text


@dataclass(frozen=True)
class Event:
    id: int
    customer_id: str
    channel: str
    purpose: str
    granted: bool
    source: str
    reference: str | None
    at: datetime
    recorded_at: datetime

    def doc(self) -> dict[str, Any]:
        return {
            "id": self.id, "customer_id": self.customer_id, "channel": self.channel,
            "purpose": self.purpose, "state": "granted" if self.granted else "withdrawn",
            "source": self.source, "reference": self.reference, "at": self.at.isoformat(),
            "recorded_at": self.recorded_at.isoformat(),
        }  # fmt: skip


def _event(row: Any) -> Event:
    return Event(int(row.id), row.customer_id, row.channel, row.purpose, bool(row.granted),
                 row.source, row.reference, utc(row.at), utc(row.recorded_at))  # fmt: skip


# the transaction a write joins instead of opening its own: the consent
# API's stored response to an Idempotency-Key commits with the write it made
# (tenure.campaigns.consent_requests)
JOINED: ContextVar[sa.Connection | None] = ContextVar("consent_joined", default=None)


@contextmanager
def write_transaction(ops: OpsStore, what: str = "the consent ledger") -> Iterator[sa.Connection]:
    """One write transaction; SQLite takes its write lock at the start
    (``BEGIN IMMEDIATE``), so concurrent writers queue instead of failing
    to upgrade a read lock. Inside :data:`JOINED`'s transaction, that one.
    ``what`` is written, in the store busy error's words."""
    joined = JOINED.get()
    if joined is not None:
        yield joined
        return
    try:
        with ops.engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            yield conn
            conn.commit()
    except sa.exc.OperationalError as exc:
        if "locked" in str(exc.orig).lower():
            raise StoreBusyError(f"{what} is being written by another command; "
                                 "waited 10 s for it.", hint="Try again in a moment.") from None  # fmt: skip
        raise


def append(
    conn: sa.Connection, customer_id: str, channel: str, purpose: str, granted: bool, *,
    source: str, at: datetime | None = None, reference: str | None = None,
    key: str | None = None, recorded_at: datetime | None = None,
) -> tuple[Event, bool]:  # fmt: skip
    """Append one event inside the caller's transaction; (the event, whether
    it was recorded before under ``key`` and nothing was appended now)."""
    customer_id = checked_customer(customer_id)
    channel = checked_name("channel", channel, CHANNELS)
    purpose = checked_name("purpose", purpose, PURPOSES)
    source = checked_name("source", source, SOURCES)
    recorded = utc(recorded_at or now())
    at = utc(at) if at is not None else recorded
    if key is not None:
        row = conn.execute(sa.select(events_t).where(events_t.c.key == key)).first()
        if row is not None:
            first = _event(row)
            same = (first.customer_id, first.channel, first.purpose, first.granted) == (
                customer_id, channel, purpose, bool(granted))  # fmt: skip
            if not same:
                raise IdempotencyKeyReusedError(
                    f"the idempotency key {key!r} was first used for another consent event "
                    f"({first.channel}/{first.purpose} of {first.customer_id}); this one was "
                    "not recorded.",
                    hint="Use a new key for a new event; a retry must send the same values.",
                    value=key,
                )
            return first, True
    result = conn.execute(events_t.insert().values(
        customer_id=customer_id, channel=channel, purpose=purpose, granted=bool(granted),
        source=source, reference=reference, at=at, recorded_at=recorded, key=key))  # fmt: skip
    event = Event(int(result.inserted_primary_key[0]), customer_id, channel, purpose,
                  bool(granted), source, reference, at, recorded)  # fmt: skip
    return event, False


def record(
    ops: OpsStore, customer_id: str, channel: str, purpose: str, granted: bool, *,
    source: str, at: datetime | None = None, reference: str | None = None, key: str | None = None,
) -> tuple[Event, bool]:  # fmt: skip
    """Record a grant (``granted=True``) or a withdrawal, in its own
    transaction; (the event, replayed)."""
    try:
        with write_transaction(ops) as conn:
            return append(conn, customer_id, channel, purpose, granted, source=source, at=at,
                          reference=reference, key=key)  # fmt: skip
    except sa.exc.IntegrityError:
        # the same key committed by another writer meanwhile: answer as a retry would
        with ops.engine.connect() as conn:
            row = conn.execute(sa.select(events_t).where(events_t.c.key == key)).first()
        if row is None:
            raise IdempotencyConflictError(
                f"another consent write with the key {key!r} was recorded at the same time.",
                hint="Retry it: the retry returns what the other write recorded.",
                value=key,
            ) from None
        with ops.engine.connect() as conn:
            return append(conn, customer_id, channel, purpose, granted, source=source, at=at,
                          reference=reference, key=key)  # fmt: skip


def _latest(conn: sa.Connection, customer_id: str, channel: str | None = None,
            purpose: str | None = None) -> dict[tuple[str, str], Event]:  # fmt: skip
    query = sa.select(events_t).where(events_t.c.customer_id == customer_id)
    if channel is not None:
        query = query.where(events_t.c.channel == channel)
    if purpose is not None:
        query = query.where(events_t.c.purpose == purpose)
    latest: dict[tuple[str, str], Event] = {}
    for row in conn.execute(query.order_by(events_t.c.at, events_t.c.id)):
        latest[(row.channel, row.purpose)] = _event(row)
    return latest


@functools.cache
def _current_query() -> sa.Select:
    # built once: building a statement took a third of the gate's time
    return (
        sa.select(events_t)
        .where(events_t.c.customer_id == sa.bindparam("customer_id"),
               events_t.c.channel == sa.bindparam("channel"),
               events_t.c.purpose == sa.bindparam("purpose"))
        .order_by(events_t.c.at.desc(), events_t.c.id.desc())
        .limit(1)
    )  # fmt: skip


def current(conn: sa.Connection, customer_id: str, channel: str, purpose: str) -> Event | None:
    """The latest event of (customer, channel, purpose); None when none."""
    row = conn.execute(_current_query(),
                       {"customer_id": customer_id, "channel": channel, "purpose": purpose}).first()  # fmt: skip
    return None if row is None else _event(row)


def state(ops: OpsStore, customer_id: str) -> dict[str, Any]:
    """A customer's consents: the latest event per channel and purpose."""
    customer_id = checked_customer(customer_id)
    with ops.engine.connect() as conn:
        latest = _latest(conn, customer_id)
    return {
        "customer_id": customer_id,
        "consents": [latest[k].doc() for k in sorted(latest)],
    }


def history(ops: OpsStore, customer_id: str) -> dict[str, Any]:
    """Every consent event of a customer, in the order they took effect."""
    customer_id = checked_customer(customer_id)
    query = (sa.select(events_t).where(events_t.c.customer_id == customer_id)
             .order_by(events_t.c.at, events_t.c.id))  # fmt: skip
    with ops.engine.connect() as conn:
        rows = [_event(r).doc() for r in conn.execute(query)]
    return {"customer_id": customer_id, "events": rows}
