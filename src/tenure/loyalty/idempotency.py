"""Idempotency keys, with Stripe's semantics.

A write sent with a key records the key, a digest of the request and the
response in the same transaction as its entries. The same key with the same
request later gives the stored response and posts nothing; the same key with
another request is refused (the REST API answers 422). A refused write (a
redemption beyond the balance) stores nothing, so its retry is decided
afresh. Keys are kept at least ``Policy.key_hours`` (24 h); the expiry run
removes older ones.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from tenure.errors import IdempotencyKeyReusedError
from tenure.loyalty.clock import utc
from tenure.store.ops_schema import loyalty_api_requests, loyalty_keys


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def as_json(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` as it reads back from JSON: a first answer and its replay are
    the same document."""
    return json.loads(json.dumps(doc, default=_default))


def request_digest(operation: str, request: dict[str, Any]) -> str:
    text = json.dumps({"operation": operation, **request}, sort_keys=True, default=_default)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stored_response(
    conn: sa.Connection, key: str, customer_id: str, operation: str, digest: str
) -> dict[str, Any] | None:
    """The response first given for ``key``, or None for a key not seen;
    a key seen with another request is refused."""
    row = conn.execute(sa.select(loyalty_keys).where(loyalty_keys.c.key == key)).mappings().first()
    if row is None:
        return None
    if row["request_hash"] != digest:
        first = f"{row['operation']} for customer {row['customer_id']}"
        raise IdempotencyKeyReusedError(
            f"the idempotency key {key!r} was first used for another request ({first}); "
            f"this {operation} for customer {customer_id} was not posted.",
            hint="Use a new key for a new write; send a retry with exactly the first "
            "request's values.",
            value=key,
        )
    return json.loads(row["response"])


def remember(
    conn: sa.Connection,
    key: str,
    customer_id: str,
    operation: str,
    digest: str,
    response: dict[str, Any],
    at: datetime,
) -> None:
    conn.execute(
        loyalty_keys.insert().values(
            key=key,
            customer_id=customer_id,
            operation=operation,
            request_hash=digest,
            response=json.dumps(response, default=_default),
            created_at=at,
        )
    )


def purge(conn: sa.Connection, now: datetime, hours: int) -> int:
    """Remove the keys older than ``hours``, the ledger's and the REST API's
    Idempotency-Keys; the number removed."""
    cutoff = utc(now) - timedelta(hours=hours)
    result = conn.execute(loyalty_keys.delete().where(loyalty_keys.c.created_at < cutoff))
    api = loyalty_api_requests
    done = conn.execute(api.delete().where(api.c.created_at < cutoff))
    return (result.rowcount or 0) + (done.rowcount or 0)
