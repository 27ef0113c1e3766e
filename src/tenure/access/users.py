"""Users of the dashboard: an email, a role and an Argon2id password hash.

Every change (added, role, disabled, enabled, removed, password) is written
to the audit log with its actor, in the change's own transaction, and
changes the access stamp (:mod:`tenure.access.stamp`), so a server sees it
on the next request. The last enabled admin cannot be disabled, demoted
or removed: someone must be able to manage the others.

>>> add_user(ops, "ana@shop.example", "admin", "a long passphrase")  # doctest: +SKIP
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from tenure.access import ROLES, audit, passwords, stamp, throttle
from tenure.access.audit import Actor
from tenure.errors import AuthenticationError, DuplicateError, InputError, NotFoundError
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import api_keys, sessions, users

MAX_EMAIL = 320  # RFC 5321: 64 for the part before the @, 255 for the domain


def normalize_email(email: str) -> str:
    """The email as it is kept: NFKC-normalised (a full-width Ａ is an A),
    trimmed, in lower case; refused with control or invisible characters
    (NUL, line breaks, zero-width spaces) or over 320 characters."""
    shown = ascii(email[:80]) + ("..." if len(email) > 80 else "")  # escapes what cannot be seen
    email = unicodedata.normalize("NFKC", email)
    if any(unicodedata.category(ch).startswith("C") for ch in email):
        raise InputError(
            f"the email {shown} has a control or invisible character in it.",
            hint="Type the email again, without pasting it from elsewhere.",
            value=shown,
        )
    email = email.strip().lower()
    if len(email) > MAX_EMAIL:
        raise InputError(
            f"the email has {len(email)} characters; {MAX_EMAIL} is the most.",
            hint="Give the user's email, e.g. ana@shop.example.",
            value=shown,
        )
    local, at, domain = email.rpartition("@")
    if not at or not local or not domain or any(ch.isspace() for ch in email):
        raise InputError(
            f"{shown} is not an email address.",
            hint="Give the user's email, e.g. ana@shop.example.",
            value=shown,
        )
    return email


def login_key(email: str) -> str:
    """The email a login form's field names, as :func:`normalize_email`
    keeps it, without refusing anything (a wrong email only fails to log in)."""
    return unicodedata.normalize("NFKC", email).strip().lower()[:MAX_EMAIL]


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InputError(
            f"{role!r} is not a role.", hint=f"Use one of: {', '.join(ROLES)}.", value=role
        )
    return role


def add_user(
    ops: OpsStore,
    email: str,
    role: str,
    password: str,
    *,
    name: str | None = None,
    actor: Actor | None = None,
    policy: bool = True,
) -> dict[str, Any]:
    """Add a user; the password is kept only as its hash. ``policy=False``
    is for the demo's published login only."""
    email, role = normalize_email(email), check_role(role)
    digest = passwords.hash_password(password, email, policy=policy)
    with ops.engine.begin() as conn:
        taken = conn.execute(sa.select(users.c.id).where(users.c.email == email)).first()
        if taken is not None:
            raise DuplicateError(
                f"there is a user {email} already.",
                hint="Pick another email, or change this user with: tenure user set-role",
                value=email,
            )
        result = conn.execute(
            users.insert().values(
                email=email, name=name, role=role, password_hash=digest,
                created_at=datetime.now(UTC),
            )
        )  # fmt: skip
        user_id = int(result.inserted_primary_key[0])
        audit.record(conn, "user_added", actor, target=email, detail={"role": role})
    return get_user(ops, user_id)


def get_user(ops: OpsStore, user_id: int) -> dict[str, Any]:
    with ops.engine.connect() as conn:
        row = conn.execute(sa.select(users).where(users.c.id == user_id)).mappings().first()
    if row is None:
        raise NotFoundError(f"there is no user {user_id}.", hint="List them with: tenure user list")
    return public(row)


def find_user(ops: OpsStore, email: str) -> dict[str, Any]:
    """The user of this email, or a NotFoundError."""
    with ops.engine.connect() as conn:
        return public(_row(conn, email))


def list_users(ops: OpsStore) -> list[dict[str, Any]]:
    with ops.engine.connect() as conn:
        rows = conn.execute(sa.select(users).order_by(users.c.id)).mappings().all()
    return [public(r) for r in rows]


def _row(conn: sa.Connection, email: str) -> Any:
    email = normalize_email(email)
    row = conn.execute(sa.select(users).where(users.c.email == email)).mappings().first()
    if row is None:
        raise NotFoundError(
            f"there is no user {email}.", hint="List them with: tenure user list", value=email
        )
    return row


def _keep_an_admin(conn: sa.Connection, row: Any, doing: str) -> None:
    """Refuse to leave the store without an enabled admin."""
    if row["role"] != "admin" or row["disabled_at"] is not None:
        return
    # FOR UPDATE (PostgreSQL): two admins disabling each other at once wait
    # for one another, and the second sees the first's change
    others = conn.execute(
        sa.select(users.c.id)
        .where(users.c.role == "admin", users.c.disabled_at.is_(None), users.c.id != row["id"])
        .with_for_update()
    ).all()
    if not others:
        raise InputError(
            f"{row['email']} is the last admin; {doing} would leave nobody to manage users.",
            hint="Make another user admin first: tenure user set-role EMAIL admin",
            value=row["email"],
            code="last_admin",
        )


def _end_sessions(conn: sa.Connection, user_id: int) -> int:
    return conn.execute(sessions.delete().where(sessions.c.user_id == user_id)).rowcount or 0


def set_role(ops: OpsStore, email: str, role: str, *, actor: Actor | None = None) -> dict[str, Any]:
    role = check_role(role)
    with ops.engine.begin() as conn:
        row = _row(conn, email)
        if role != "admin":
            _keep_an_admin(conn, row, f"making them {role}")
        conn.execute(users.update().where(users.c.id == row["id"]).values(role=role))
        audit.record(conn, "user_role_changed", actor, target=row["email"],
                     detail={"from": row["role"], "to": role})  # fmt: skip
        stamp.bump(conn)
    return get_user(ops, int(row["id"]))


def disable_user(ops: OpsStore, email: str, *, actor: Actor | None = None) -> dict[str, Any]:
    """No more logins; the user's sessions end and their API keys stop
    working, until :func:`enable_user`."""
    with ops.engine.begin() as conn:
        row = _row(conn, email)
        _keep_an_admin(conn, row, "disabling them")
        if row["disabled_at"] is None:
            conn.execute(
                users.update().where(users.c.id == row["id"]).values(disabled_at=datetime.now(UTC))
            )
        ended = _end_sessions(conn, row["id"])
        audit.record(conn, "user_disabled", actor, target=row["email"],
                     detail={"sessions_ended": ended})  # fmt: skip
        stamp.bump(conn)
    return get_user(ops, int(row["id"]))


def enable_user(ops: OpsStore, email: str, *, actor: Actor | None = None) -> dict[str, Any]:
    with ops.engine.begin() as conn:
        row = _row(conn, email)
        conn.execute(users.update().where(users.c.id == row["id"]).values(disabled_at=None))
        audit.record(conn, "user_enabled", actor, target=row["email"])
        stamp.bump(conn)
    return get_user(ops, int(row["id"]))


def remove_user(ops: OpsStore, email: str, *, actor: Actor | None = None) -> dict[str, Any]:
    """Remove the user, end their sessions and revoke the API keys they made."""
    now = datetime.now(UTC)
    with ops.engine.begin() as conn:
        row = _row(conn, email)
        _keep_an_admin(conn, row, "removing them")
        ended = _end_sessions(conn, row["id"])
        revoked = (
            conn.execute(
                api_keys.update()
                .where(api_keys.c.created_by == row["email"], api_keys.c.revoked_at.is_(None))
                .values(revoked_at=now)
            ).rowcount
            or 0
        )
        conn.execute(users.delete().where(users.c.id == row["id"]))
        audit.record(conn, "user_removed", actor, target=row["email"],
                     detail={"sessions_ended": ended, "keys_revoked": revoked})  # fmt: skip
        stamp.bump(conn)
    return {**public(row), "removed": True}


def reset_password(
    ops: OpsStore, email: str, password: str, *, actor: Actor | None = None
) -> dict[str, Any]:
    """Set a new password; the user's sessions end (a session opened with
    the old password is not to outlive it)."""
    with ops.engine.connect() as conn:
        row = _row(conn, email)
    digest = passwords.hash_password(password, row["email"])  # slow: outside the transaction
    with ops.engine.begin() as conn:
        conn.execute(users.update().where(users.c.id == row["id"]).values(password_hash=digest))
        ended = _end_sessions(conn, row["id"])
        audit.record(conn, "password_reset", actor, target=row["email"],
                     detail={"sessions_ended": ended})  # fmt: skip
        stamp.bump(conn)
    return get_user(ops, int(row["id"]))


def authenticate(
    ops: OpsStore, email: str, password: str, address: str, device: str | None = None
) -> dict[str, Any]:
    """The user whose email and password these are, or an error that does
    not say which was wrong. Wrong attempts slow further ones down
    (:mod:`tenure.access.throttle`); ``device`` names a known device of this
    email, whose attempts are counted apart."""
    key = login_key(email)
    throttle.check(ops, key, address, device)
    with ops.engine.connect() as conn:
        row = conn.execute(sa.select(users).where(users.c.email == key)).mappings().first()
    if row is None or row["disabled_at"] is not None:
        passwords.burn(password)
        ok = False
    else:
        ok = passwords.verify(row["password_hash"], password)
    throttle.record(ops, key, address, ok, device)
    if not ok:
        raise AuthenticationError(
            "the email or the password is wrong.",
            hint="Check both; an admin can set a new password with: tenure user reset-password",
        )
    values: dict[str, Any] = {"last_login_at": datetime.now(UTC)}
    if passwords.needs_rehash(row["password_hash"]):
        values["password_hash"] = passwords.hash_password(password, policy=False)
    with ops.engine.begin() as conn:
        conn.execute(users.update().where(users.c.id == row["id"]).values(**values))
    return public(row)


def public(row: Any) -> dict[str, Any]:
    """A user without the password hash."""
    return {
        "id": int(row["id"]),
        "email": row["email"],
        "name": row["name"],
        "role": row["role"],
        "scopes": sorted(ROLES[row["role"]]),
        "created_at": _iso(row["created_at"]),
        "last_login_at": _iso(row["last_login_at"]),
        "disabled": row["disabled_at"] is not None,
    }


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite gives back naive UTC
        value = value.replace(tzinfo=UTC)
    return value.isoformat(timespec="seconds")
