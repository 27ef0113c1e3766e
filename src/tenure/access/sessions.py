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
    now = datetime.now(UTC)
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
    if expires < now:
        return None
    return public(row), row["csrf"]


def end(ops: OpsStore, token: str) -> None:
    with ops.engine.begin() as conn:
        conn.execute(sessions.delete().where(sessions.c.id_hash == _digest(token)))
