"""API keys: ``tk_<prefix>_<secret>``, shown once when created and kept
only as the SHA-256 of the secret. A key has scopes (read, write, admin)
and can be revoked.

A key made by a user (``created_by`` their email) stops working while the
user is disabled, and is revoked when the user is removed.

The secret is 256 random bits, so a fast hash is as safe as a slow one
here, and a request is checked in microseconds; the prefix, shown in
lists, tells the keys apart without revealing them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from tenure.access import SCOPES, audit, stamp
from tenure.access.audit import Actor
from tenure.access.recent import Recent
from tenure.access.users import _iso
from tenure.errors import AuthenticationError, InputError, NotFoundError
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import api_keys, users

# last_used_at is written at most this often per key, not on every request
TOUCH_EVERY = timedelta(minutes=1)


def check_scopes(scopes: list[str] | tuple[str, ...] | str) -> list[str]:
    if isinstance(scopes, str):
        scopes = [s for s in scopes.replace(" ", ",").split(",") if s]
    if not scopes:
        raise InputError(
            "an API key needs a scope.", hint=f"Use one or more of: {', '.join(SCOPES)}."
        )
    for s in scopes:
        if s not in SCOPES:
            raise InputError(
                f"{s!r} is not a scope.", hint=f"Use one or more of: {', '.join(SCOPES)}.", value=s
            )
    return [s for s in SCOPES if s in scopes]


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(
    ops: OpsStore,
    scopes: list[str] | str,
    *,
    name: str | None = None,
    created_by: str | None = None,
    actor: Actor | None = None,
) -> dict[str, Any]:
    """A new key; the returned ``key`` is the only time it is shown."""
    scopes = check_scopes(scopes)
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    with ops.engine.begin() as conn:
        conn.execute(
            api_keys.insert().values(
                prefix=prefix, key_hash=_digest(secret), name=name, scopes=",".join(scopes),
                created_by=created_by, created_at=now,
            )
        )  # fmt: skip
        audit.record(conn, "key_created", actor, target=prefix,
                     detail={"name": name, "scopes": scopes})  # fmt: skip
    return {
        "key": f"tk_{prefix}_{secret}",
        "prefix": prefix,
        "name": name,
        "scopes": scopes,
        "created_at": _iso(now),
    }


class KeyCache:
    """Keys checked lately, by the SHA-256 of the whole key, for ``ttl``
    seconds while the access stamp stays the same (see
    :mod:`tenure.access.recent`): a key revoked, here or by the CLI, is
    refused on the next request."""

    def __init__(self, ttl: float = 30.0) -> None:
        self._recent = Recent(ttl)

    def verify(self, ops: OpsStore, key: str) -> dict[str, Any]:
        now_stamp = stamp.read(ops)  # one row; read before the key, see Recent.put
        record = self._recent.get(_digest(key), now_stamp)
        if record is None:
            record = verify_key(ops, key)
            self._recent.put(_digest(key), record, now_stamp)
        return record

    def known(self, key: str, now_stamp: object) -> dict[str, Any] | None:
        """The record kept for ``key`` under the access stamp ``now_stamp``
        (read just before, by the caller), or None: then :meth:`verify`."""
        return self._recent.get(_digest(key), now_stamp)

    def forget(self, prefix: str) -> None:
        self._recent.forget(lambda _digest, record: record["prefix"] == prefix)


def verify_key(ops: OpsStore, key: str) -> dict[str, Any]:
    """The key's record, or an error when it is unknown or revoked."""
    parts = key.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != "tk" or not parts[1] or not parts[2]:
        raise AuthenticationError(
            "the API key is not one tenure made (they look like tk_xxxxxxxx_...).",
            hint="Create one with: tenure apikey create --scope read",
        )
    with ops.engine.connect() as conn:
        row = (
            conn.execute(
                sa.select(api_keys, users.c.disabled_at.label("maker_disabled_at"))
                .outerjoin(users, users.c.email == api_keys.c.created_by)
                .where(api_keys.c.prefix == parts[1])
            )
            .mappings()
            .first()
        )
    if row is None or not hmac.compare_digest(row["key_hash"], _digest(parts[2])):
        raise AuthenticationError(
            "the API key is not known.", hint="Create one with: tenure apikey create --scope read"
        )
    if row["revoked_at"] is not None:
        raise AuthenticationError(
            f"the API key {row['prefix']} was revoked.", hint="Create a new one."
        )
    if row["maker_disabled_at"] is not None:
        raise AuthenticationError(
            f"the API key {row['prefix']} was made by {row['created_by']}, who is disabled.",
            hint="An admin can enable them again (tenure user enable), or make a new key.",
        )
    now = datetime.now(UTC)
    last = row["last_used_at"]
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=UTC)
    if last is None or now - last > TOUCH_EVERY:
        with ops.engine.begin() as conn:
            conn.execute(
                api_keys.update().where(api_keys.c.id == row["id"]).values(last_used_at=now)
            )
    return public(row)


def list_keys(ops: OpsStore) -> list[dict[str, Any]]:
    with ops.engine.connect() as conn:
        rows = conn.execute(sa.select(api_keys).order_by(api_keys.c.id)).mappings().all()
    return [public(r) for r in rows]


def revoke_key(ops: OpsStore, prefix: str, *, actor: Actor | None = None) -> dict[str, Any]:
    prefix = prefix.removeprefix("tk_").split("_")[0]
    with ops.engine.begin() as conn:
        result = conn.execute(
            api_keys.update()
            .where(api_keys.c.prefix == prefix, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
        if result.rowcount == 0:
            raise NotFoundError(
                f"there is no active API key {prefix}.", hint="List them with: tenure apikey list",
                value=prefix,
            )  # fmt: skip
        row = conn.execute(sa.select(api_keys).where(api_keys.c.prefix == prefix)).mappings().one()
        audit.record(conn, "key_revoked", actor, target=prefix, detail={"name": row["name"]})
        stamp.bump(conn)
    return public(row)


def public(row: Any) -> dict[str, Any]:
    """A key's record without its hash."""
    return {
        "prefix": row["prefix"],
        "name": row["name"],
        "scopes": row["scopes"].split(","),
        "created_by": row["created_by"],
        "created_at": _iso(row["created_at"]),
        "last_used_at": _iso(row["last_used_at"]),
        "revoked": row["revoked_at"] is not None,
    }
