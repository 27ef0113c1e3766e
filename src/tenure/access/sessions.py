"""Dashboard sessions, kept in the operational store: the cookie holds a
random token, the store its SHA-256, the user and a CSRF token for the
session's forms. Logging out deletes the row, so a copied cookie stops
working too; so do disabling the user, setting their password anew and
``tenure user sessions --revoke``.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from tenure.access import audit, stamp
from tenure.access.audit import Actor
from tenure.access.recent import Recent
from tenure.access.users import _iso, _row, public
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
    """Sessions looked up lately, for ``ttl`` seconds while the access stamp
    stays the same (see :mod:`tenure.access.recent`): a session ended, a
    user disabled or given another role, by this server or by the CLI, is
    seen on the next request. A session is never used past its expiry."""

    def __init__(self, ttl: float = 10.0) -> None:
        self._recent = Recent(ttl)

    def lookup(self, ops: OpsStore, token: str) -> tuple[dict[str, Any], str] | None:
        now_stamp = stamp.read(ops)  # one row; read before the session, see Recent.put
        found = self._recent.get(_digest(token), now_stamp)
        if found is None:
            found = _read(ops, token)
            if found is None:
                return None
            self._recent.put(_digest(token), found, now_stamp)
        if found[2] < datetime.now(UTC):
            return None
        return found[0], found[1]

    def known(self, token: str, now_stamp: object) -> tuple[dict[str, Any], str] | None:
        """The live session kept for ``token`` under the access stamp
        ``now_stamp`` (read just before, by the caller), or None: then
        :meth:`lookup`."""
        found = self._recent.get(_digest(token), now_stamp)
        if found is None or found[2] < datetime.now(UTC):
            return None
        return found[0], found[1]

    def forget(self, token: str) -> None:
        digest = _digest(token)
        self._recent.forget(lambda key, _value: key == digest)

    def clear(self) -> None:
        self._recent.clear()


def end(ops: OpsStore, token: str) -> None:
    with ops.engine.begin() as conn:
        conn.execute(sessions.delete().where(sessions.c.id_hash == _digest(token)))
        stamp.bump(conn)  # every server process forgets it at once


def of_user(ops: OpsStore, email: str) -> list[dict[str, Any]]:
    """The user's live sessions, oldest first (when each started and ends)."""
    now = datetime.now(UTC)
    with ops.engine.connect() as conn:
        row = _row(conn, email)
        found = conn.execute(
            sa.select(sessions.c.created_at, sessions.c.expires_at)
            .where(sessions.c.user_id == row["id"], sessions.c.expires_at >= now)
            .order_by(sessions.c.created_at)
        ).all()
    return [{"created_at": _iso(r[0]), "expires_at": _iso(r[1])} for r in found]


def revoke_all(ops: OpsStore, email: str, *, actor: Actor | None = None) -> int:
    """End every session of the user (a lost laptop); returns how many."""
    with ops.engine.begin() as conn:
        row = _row(conn, email)
        ended = conn.execute(sessions.delete().where(sessions.c.user_id == row["id"])).rowcount
        audit.record(conn, "sessions_revoked", actor, target=row["email"],
                     detail={"sessions_ended": ended or 0})  # fmt: skip
        stamp.bump(conn)
    return ended or 0
