"""Dashboard sessions, kept in the operational store: the cookie holds a
random token, the store its SHA-256, the user and a CSRF token for the
session's forms. Logging out deletes the row, so a copied cookie stops
working too.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from tenure.access.recent import Recent
from tenure.access.users import public
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import sessions, users

LIFETIME = timedelta(hours=12)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(ops: OpsStore, user_id: int) -> tuple[str, str]:
    """A new session: (the cookie's token, the CSRF token)."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    with ops.engine.begin() as conn:
        conn.execute(sessions.delete().where(sessions.c.expires_at < now))
        conn.execute(
            sessions.insert().values(
                id_hash=_digest(token), user_id=user_id, csrf=csrf, created_at=now,
                expires_at=now + LIFETIME,
            )
        )  # fmt: skip
    return token, csrf


def lookup(ops: OpsStore, token: str) -> tuple[dict[str, Any], str] | None:
    """(the user, the CSRF token) of a live session, or None."""
    found = _read(ops, token)
    if found is None or found[2] < datetime.now(UTC):
        return None
    return found[0], found[1]


def _read(ops: OpsStore, token: str) -> tuple[dict[str, Any], str, datetime] | None:
    """(the user, the CSRF token, the expiry) of a session of an enabled user."""
    with ops.engine.connect() as conn:
        row = (
            conn.execute(
                sa.select(users, sessions.c.csrf, sessions.c.expires_at)
                .join(sessions, sessions.c.user_id == users.c.id)
                .where(sessions.c.id_hash == _digest(token))
            )
            .mappings()
            .first()
        )
    if row is None or row["disabled_at"] is not None:
        return None
    expires = row["expires_at"]
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    return public(row), row["csrf"], expires


class SessionCache:
    """Sessions looked up lately, for ``ttl`` seconds (see
    :mod:`tenure.access.recent`): a session ended through this server is
    forgotten at once; a user disabled or given another role by the CLI is
    seen within ``ttl``. A session is never used past its expiry."""

    def __init__(self, ttl: float = 10.0) -> None:
        self._recent = Recent(ttl)

    def peek(self, token: str) -> tuple[dict[str, Any], str] | None:
        """The live session of ``token`` when it was looked up lately."""
        found = self._recent.get(_digest(token))
        if found is None or found[2] < datetime.now(UTC):
            return None
        return found[0], found[1]

    def lookup(self, ops: OpsStore, token: str) -> tuple[dict[str, Any], str] | None:
        hit = self.peek(token)
        if hit is not None:
            return hit
        found = _read(ops, token)
        if found is None or found[2] < datetime.now(UTC):
            return None
        self._recent.put(_digest(token), found)
        return found[0], found[1]

    def forget(self, token: str) -> None:
        digest = _digest(token)
        self._recent.forget(lambda key, _value: key == digest)

    def clear(self) -> None:
        self._recent.clear()


def end(ops: OpsStore, token: str) -> None:
    with ops.engine.begin() as conn:
        conn.execute(sessions.delete().where(sessions.c.id_hash == _digest(token)))
