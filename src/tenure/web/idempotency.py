"""The ``Idempotency-Key`` header of the loyalty API's POSTs, as Stripe and
the IETF draft (draft-ietf-httpapi-idempotency-key-header) define it.

A key belongs to the caller who sent it (the user, or the API key), so two
callers never see each other's responses. For a key:

- the first request **claims** it, in a short transaction of its own:
  a row with the request's fingerprint (SHA-256 of the method, the path
  and the canonical JSON of the body), ``in_flight``;
- the ledger write then stores the response (status and body) in that
  row **in its own transaction** (:data:`tenure.loyalty.ledger.ALSO_RECORD`):
  the entries and the stored response commit together or not at all;
- the same key with the same fingerprint later gets the stored response,
  marked ``Idempotent-Replayed: true``, and posts nothing;
- the same key with another fingerprint is refused with 422;
- the same key while its first request is still being answered is
  refused with 409 (the claim is read without waiting for the ledger's
  lock, so the answer is immediate);
- a refused write (a redemption beyond the balance) or a failed one
  releases its claim: its retry is decided afresh, as in the ledger.

A claim whose process died before answering is held for :data:`LEASE`,
then taken over by the next request with the key. Keys are kept at least
24 hours; ``tenure loyalty expire`` removes older ones
(:func:`tenure.loyalty.idempotency.purge`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
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
LEASE = timedelta(seconds=60)  # longer than a ledger write waits for its lock (10 s)
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


def _decide(row, principal: str, key: str, digest: str) -> Stored | None:
    """What an existing row means for a request: its stored response, a
    refusal, or None when its claim may be taken over."""
    if row.fingerprint != digest:
        raise IdempotencyKeyReusedError(
            f"the {HEADER} {key!r} was first sent with another request; this one was not "
            "posted.",
            hint="Use a new key for a new request; a retry must send exactly the first "
            "request's method, path and body.",
            source="header", column=HEADER, value=key,
        )  # fmt: skip
    if row.state == "done":
        return Stored(int(row.status), json.loads(row.response))
    if clock.utc(row.locked_until) > clock.now():
        raise IdempotencyConflictError(
            f"a request with the {HEADER} {key!r} is still being answered; this one was not "
            "posted.",
            hint="Retry it in a moment: once the first is answered, the retry gets its response.",
            source="header", column=HEADER, value=key,
        )  # fmt: skip
    return None


def claim(ops: OpsStore, principal: str, key: str, customer_id: str, digest: str) -> Stored | None:
    """Claim ``key`` for a request; the stored response when it was already
    answered (None: claimed, go on). Refuses another request under the key
    (422) and a duplicate of one still in flight (409)."""
    with ops.engine.connect() as conn:
        # read first, writing nothing: a duplicate is answered without
        # waiting for a ledger write that holds the store's write lock
        row = conn.execute(sa.select(requests_t).where(_where(principal, key))).first()
    if row is not None:
        stored = _decide(row, principal, key, digest)
        if stored is not None:
            return stored
    now = clock.now()
    if row is None:
        try:
            with ops.engine.begin() as conn:
                conn.execute(requests_t.insert().values(
                    principal=principal, key=key, customer_id=customer_id, fingerprint=digest,
                    state="in_flight", created_at=now, locked_until=now + LEASE))  # fmt: skip
            return None
        except sa.exc.IntegrityError:
            pass  # claimed by another request meanwhile: decided below
    else:
        with ops.engine.begin() as conn:
            # the claim of a process that died: taken over, once
            taken = conn.execute(
                requests_t.update()
                .where(_where(principal, key), requests_t.c.state == "in_flight",
                       requests_t.c.locked_until == row.locked_until)
                .values(locked_until=now + LEASE, created_at=now)
            )  # fmt: skip
        if taken.rowcount == 1:
            return None
    with ops.engine.connect() as conn:
        row = conn.execute(sa.select(requests_t).where(_where(principal, key))).first()
    if row is None:  # pragma: no cover - removed between two statements
        return claim(ops, principal, key, customer_id, digest)
    return _decide(row, principal, key, digest) or _still_in_flight(key)


def _still_in_flight(key: str) -> Stored:
    raise IdempotencyConflictError(
        f"a request with the {HEADER} {key!r} is still being answered; this one was not posted.",
        hint="Retry it in a moment.", source="header", column=HEADER, value=key,
    )  # fmt: skip


def release(ops: OpsStore, principal: str, key: str) -> None:
    """Give up a claim whose request was refused or failed: nothing was posted."""
    with ops.engine.begin() as conn:
        conn.execute(
            requests_t.delete().where(_where(principal, key), requests_t.c.state == "in_flight")
        )


def status_of(posting: Posting) -> int:
    """201 for a new entry; 200 for an order line's earning found again."""
    return 200 if posting.replayed else 201


@contextmanager
def storing(principal: str, key: str) -> Iterator[None]:
    """While this holds, the ledger write stores its response under the key
    in its own transaction."""

    def record(conn: sa.Connection, posting: Posting) -> None:
        conn.execute(
            requests_t.update()
            .where(_where(principal, key))
            .values(state="done", status=status_of(posting), response=json.dumps(posting.doc))
        )

    token = ALSO_RECORD.set(record)
    try:
        yield
    finally:
        ALSO_RECORD.reset(token)


def posted(
    ops: OpsStore, who: Principal, header: str | None, customer_id: str,
    method: str, path: str, body: dict[str, Any], write: Callable[[], Posting],
) -> tuple[int, dict[str, Any], bool]:  # fmt: skip
    """Run ``write`` under the request's Idempotency-Key (if it sent one);
    (status, body, replayed)."""
    key = key_of(header)
    if key is None:
        posting = write()
        return status_of(posting), posting.doc, False
    principal = owner(who)
    stored = claim(ops, principal, key, customer_id, fingerprint(method, path, body))
    if stored is not None:
        return stored.status, stored.body, True
    try:
        with storing(principal, key):
            posting = write()
    except BaseException:
        release(ops, principal, key)
        raise
    return status_of(posting), posting.doc, False
