"""The ``Idempotency-Key`` header of the loyalty API's POSTs, as Stripe and
the IETF draft (draft-ietf-httpapi-idempotency-key-header) define it. The
campaigns API's creates and launches use it too, with their own
transactions (:func:`also_record`); the keys are one set.

A key belongs to the caller who sent it (the user, or the API key), so two
callers never see each other's responses. For a key:

- the ledger write stores the request's fingerprint (SHA-256 of the
  method, the path and the canonical JSON of the body) and the response
  (status and body) **in its own transaction**
  (:data:`tenure.loyalty.ledger.ALSO_RECORD`): the entries and the stored
  response commit together or not at all;
- the same key with the same fingerprint later gets the stored response,
  marked ``Idempotent-Replayed: true``, and posts nothing;
- the same key with another fingerprint is refused with 422;
- the same key while its first request is still being answered is
  refused with 409: at once when both reach the same server process
  (:class:`InFlight`, without waiting for the ledger's lock), and when
  they reach two processes, by the second's write failing on the key's
  unique row once the first has committed (its entries roll back with it);
- a refused write (a redemption beyond the balance) or a failed one stores
  nothing: its retry is decided afresh, as in the ledger. Nothing is
  written before the ledger write, so a process that dies leaves no claim
  behind.

Keys are kept at least 24 hours; ``tenure loyalty expire`` removes older
ones (:func:`tenure.loyalty.idempotency.purge`).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from tenure.errors import IdempotencyConflictError, IdempotencyKeyReusedError, LedgerError
from tenure.loyalty import clock
from tenure.loyalty.ledger import ALSO_RECORD, Posting
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import loyalty_api_requests as requests_t
from tenure.web.security import Principal

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
LONGEST = 255


@dataclass(frozen=True)
class Stored:
    status: int
    body: dict[str, Any]


def key_of(header: str | None) -> str | None:
    """The key of the header: a token, or a quoted string as the IETF draft
    writes it (``"8e03978e-..."``); 1 to 255 printable ASCII characters."""
    if header is None:
        return None
    key = header.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not key or len(key) > LONGEST or not all(" " <= c <= "~" for c in key):
        raise LedgerError(
            f"the {HEADER} header {header[:80]!r} is not a key.",
            hint=f"Send 1 to {LONGEST} printable ASCII characters, e.g. a UUID: "
            f'{HEADER}: "8e03978e-40d5-43e8-bc93-6894a57f9324".',
            source="header", column=HEADER, value=header[:80], code="idempotency_key_invalid",
        )  # fmt: skip
    return key


def owner(who: Principal) -> str:
    """Whose keys these are: ``user:EMAIL`` or ``key:PREFIX``."""
    return f"{who.kind}:{who.name}"


def fingerprint(method: str, path: str, body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def _where(principal: str, key: str):
    return sa.and_(requests_t.c.principal == principal, requests_t.c.key == key)


def _reused(key: str) -> IdempotencyKeyReusedError:
    return IdempotencyKeyReusedError(
        f"the {HEADER} {key!r} was first sent with another request; this one was not posted.",
        hint="Use a new key for a new request; a retry must send exactly the first "
        "request's method, path and body.",
        source="header", column=HEADER, value=key,
    )  # fmt: skip


def _in_flight(key: str) -> IdempotencyConflictError:
    return IdempotencyConflictError(
        f"a request with the {HEADER} {key!r} is still being answered; this one was not "
        "posted.",
        hint="Retry it in a moment: once the first is answered, the retry gets its response.",
        source="header", column=HEADER, value=key,
    )  # fmt: skip


class InFlight:
    """The keys this server process is answering now, with their fingerprints."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[tuple[str, str], str] = {}

    def enter(self, principal: str, key: str, digest: str) -> None:
        with self._lock:
            first = self._keys.get((principal, key))
            if first is None:
                self._keys[(principal, key)] = digest
                return
        raise _reused(key) if first != digest else _in_flight(key)

    def leave(self, principal: str, key: str) -> None:
        with self._lock:
            self._keys.pop((principal, key), None)


def stored(ops: OpsStore, principal: str, key: str, digest: str) -> Stored | None:
    """The response stored under ``key``; None for a key not seen. Another
    request under the key is refused (422)."""
    with ops.engine.connect() as conn:
        row = conn.execute(
            sa.select(requests_t.c.fingerprint, requests_t.c.status, requests_t.c.response)
            .where(_where(principal, key))
        ).first()  # fmt: skip
    if row is None:
        return None
    if row.fingerprint != digest:
        raise _reused(key)
    return Stored(int(row.status), json.loads(row.response))


def status_of(posting: Posting) -> int:
    """201 for a new entry; 200 for an order line's earning found again; a
    write of another kind may say its own (``status``: 202 for a launch)."""
    return 200 if posting.replayed else int(getattr(posting, "status", 201))


def also_record(conn: sa.Connection, posting: Posting) -> None:
    """In a write that is not the ledger's (the campaigns API's), what
    :func:`recording` set: call it in the write's own transaction, as the
    ledger does."""
    also = ALSO_RECORD.get()
    if also is not None:
        also(conn, posting)


# what a write records in its ledger transaction besides its entries
Also = Callable[[sa.Connection, Posting], None]


def storing(principal: str, key: str, customer_id: str, digest: str) -> Also:
    """What stores the write's response under the key, in its transaction."""

    def record(conn: sa.Connection, posting: Posting) -> None:
        conn.execute(requests_t.insert().values(
            principal=principal, key=key, customer_id=customer_id, fingerprint=digest,
            status=status_of(posting), response=json.dumps(posting.doc),
            created_at=clock.now()))  # fmt: skip

    return record


@contextmanager
def recording(*steps: Also | None) -> Iterator[None]:
    """While this holds, the next ledger write runs ``steps`` in its own
    transaction (:data:`~tenure.loyalty.ledger.ALSO_RECORD`): what they
    write commits with the entries or not at all."""
    wanted = [step for step in steps if step is not None]

    def record(conn: sa.Connection, posting: Posting) -> None:
        for step in wanted:
            step(conn, posting)

    token = ALSO_RECORD.set(record if wanted else None)
    try:
        yield
    finally:
        ALSO_RECORD.reset(token)


def posted(
    ops: OpsStore, flights: InFlight, who: Principal, header: str | None, customer_id: str,
    method: str, path: str, body: dict[str, Any], write: Callable[[], Posting],
    audit: Also | None = None,
) -> tuple[int, dict[str, Any], bool]:  # fmt: skip
    """Run ``write`` under the request's Idempotency-Key (if it sent one);
    (status, body, replayed). ``audit`` records the write in its
    transaction; a replayed response was recorded the first time, and is
    not again."""
    key = key_of(header)
    if key is None:
        with recording(audit):
            posting = write()
        return status_of(posting), posting.doc, False
    principal, digest = owner(who), fingerprint(method, path, body)
    flights.enter(principal, key, digest)
    try:
        # read after entering: a first request that was in flight here has
        # either committed its response by now or is refused above
        found = stored(ops, principal, key, digest)
        if found is not None:
            return found.status, found.body, True
        with recording(storing(principal, key, customer_id, digest), audit):
            posting = write()
    finally:
        flights.leave(principal, key)
    return status_of(posting), posting.doc, False
