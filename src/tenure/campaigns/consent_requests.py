"""The ``Idempotency-Key`` of the consent API's writes, with the semantics
of the loyalty API's (:mod:`tenure.web.idempotency`): per caller, the
request's fingerprint and the response are stored in the same transaction
as the write; the same key and body later answer the stored response and
write nothing; another body under the key is refused (422); two requests
under one key at the same moment: one writes, the other is refused (409)
or, having waited for the first, answers its response. Keys are kept 24
hours or more; ``tenure consent purge`` removes older ones.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from tenure.campaigns import consent
from tenure.errors import IdempotencyConflictError, IdempotencyKeyReusedError, InputError
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import consent_api_requests as requests_t


def once(
    ops: OpsStore, principal: str, key: str, digest: str, customer_id: str | None,
    write: Callable[[], tuple[int, dict[str, Any]]],
) -> tuple[int, dict[str, Any], bool]:  # fmt: skip
    """(status, body, replayed) of ``write`` run once under ``key``."""
    where = sa.and_(requests_t.c.principal == principal, requests_t.c.key == key)
    try:
        with consent.write_transaction(ops) as conn:
            row = conn.execute(sa.select(requests_t).where(where)).first()
            if row is not None:
                if row.fingerprint != digest:
                    raise IdempotencyKeyReusedError(
                        f"the Idempotency-Key {key!r} was first sent with another request; this "
                        "one was not recorded.",
                        hint="Use a new key for a new request; a retry must send the first "
                        "request's method, path and body.",
                        source="header", column="Idempotency-Key", value=key,
                    )  # fmt: skip
                return int(row.status), json.loads(row.response), True
            token = consent.JOINED.set(conn)
            try:
                status, doc = write()
            finally:
                consent.JOINED.reset(token)
            conn.execute(requests_t.insert().values(
                principal=principal, key=key, customer_id=customer_id, fingerprint=digest,
                status=status, response=json.dumps(doc), created_at=consent.now()))  # fmt: skip
            return status, doc, False
    except sa.exc.IntegrityError:
        raise IdempotencyConflictError(
            f"a request with the Idempotency-Key {key!r} was answered at the same time; this "
            "one was not recorded.",
            hint="Retry it: the retry gets the first request's response.",
            source="header",
            column="Idempotency-Key",
            value=key,
        ) from None


def purge(ops: OpsStore, *, hours: int = 24, now: datetime | None = None) -> int:
    """Remove the stored responses of keys older than ``hours`` (24 at
    least: a client may retry within a day); the number removed."""
    if hours < 24:
        raise InputError(f"--older-than {hours} hours is under 24; a client may still retry those keys.",
                         hint="Use --older-than 24 or more.", value=hours)  # fmt: skip
    cutoff = consent.utc(now or consent.now()) - timedelta(hours=hours)
    with consent.write_transaction(ops) as conn:
        done = conn.execute(requests_t.delete().where(requests_t.c.created_at < cutoff))
    return done.rowcount or 0
