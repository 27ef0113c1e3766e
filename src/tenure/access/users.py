"""Users of the dashboard: an email, a role and an Argon2id password hash.

>>> add_user(ops, "ana@shop.example", "admin", "a long passphrase")  # doctest: +SKIP
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from tenure.access import ROLES, passwords, throttle
from tenure.errors import AuthenticationError, DuplicateError, InputError, NotFoundError
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import users


def normalize_email(email: str) -> str:
    email = email.strip().lower()
    if "@" not in email or email.startswith("@") or email.endswith("@") or " " in email:
        raise InputError(
            f"{email!r} is not an email address.",
            hint="Give the user's email, e.g. ana@shop.example.",
            value=email,
        )
    return email


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InputError(
            f"{role!r} is not a role.", hint=f"Use one of: {', '.join(ROLES)}.", value=role
        )
    return role


def add_user(
    ops: OpsStore, email: str, role: str, password: str, *, name: str | None = None
) -> dict[str, Any]:
    """Add a user; the password is kept only as its hash."""
    email, role = normalize_email(email), check_role(role)
    digest = passwords.hash_password(password)
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
    return get_user(ops, user_id)


def get_user(ops: OpsStore, user_id: int) -> dict[str, Any]:
    with ops.engine.connect() as conn:
        row = conn.execute(sa.select(users).where(users.c.id == user_id)).mappings().first()
    if row is None:
        raise NotFoundError(f"there is no user {user_id}.", hint="List them with: tenure user list")
    return public(row)


def list_users(ops: OpsStore) -> list[dict[str, Any]]:
    with ops.engine.connect() as conn:
        rows = conn.execute(sa.select(users).order_by(users.c.id)).mappings().all()
    return [public(r) for r in rows]


def set_role(ops: OpsStore, email: str, role: str) -> dict[str, Any]:
    email, role = normalize_email(email), check_role(role)
    with ops.engine.begin() as conn:
        result = conn.execute(users.update().where(users.c.email == email).values(role=role))
        if result.rowcount == 0:
            raise NotFoundError(
                f"there is no user {email}.", hint="List them with: tenure user list", value=email
            )
        user_id = conn.execute(sa.select(users.c.id).where(users.c.email == email)).scalar_one()
    return get_user(ops, int(user_id))


def authenticate(
    ops: OpsStore, email: str, password: str, address: str, device: str | None = None
) -> dict[str, Any]:
    """The user whose email and password these are, or an error that does
    not say which was wrong. Wrong attempts slow further ones down
    (:mod:`tenure.access.throttle`); ``device`` names a known device of this
    email, whose attempts are counted apart."""
    key = email.strip().lower()
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
            hint="Check both; an admin can set a new password with: tenure user add",
        )
    values: dict[str, Any] = {"last_login_at": datetime.now(UTC)}
    if passwords.needs_rehash(row["password_hash"]):
        values["password_hash"] = passwords.hash_password(password)
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
