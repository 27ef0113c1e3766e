"""Users, API keys and the audit log, for admins (the ``admin`` scope).

Every change is written to the audit log with the admin who made it (their
email, or the API key) and the client's address; it takes effect on the
next request of the user concerned, in every server process."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from tenure.access import apikeys, audit, sessions, users
from tenure.web.deps import Admin, KeysDep, OpsDep

router = APIRouter(prefix="/api/v1", tags=["admin"])

Role = Literal["admin", "analyst", "viewer"]


class NewUser(BaseModel):
    email: str = Field(max_length=320, examples=["ana@shop.example"])
    role: Role
    password: str = Field(min_length=10, max_length=1024)
    name: str | None = Field(default=None, max_length=200)


class UserChange(BaseModel):
    role: Role | None = None
    disabled: bool | None = Field(
        default=None, description="true: no login, sessions end, keys stop; false: enabled again."
    )


class NewPassword(BaseModel):
    password: str = Field(min_length=10, max_length=1024)


class NewKey(BaseModel):
    scopes: list[Literal["read", "write", "admin"]] = Field(min_length=1)
    name: str | None = Field(default=None, max_length=200)


Email = Annotated[str, "the user's email"]


@router.get("/users")
def list_users(ops: OpsDep, _: Admin) -> list[dict[str, Any]]:
    return users.list_users(ops)


@router.post("/users", status_code=201)
def add_user(request: Request, ops: OpsDep, body: NewUser, who: Admin) -> dict[str, Any]:
    return users.add_user(ops, body.email, body.role, body.password, name=body.name,
                          actor=who.actor(request))  # fmt: skip


@router.patch("/users/{email}")
def change_user(
    request: Request, ops: OpsDep, email: Email, body: UserChange, who: Admin
) -> dict[str, Any]:
    """Give the user another role, or disable or enable them (as ``tenure
    user set-role | disable | enable``). The last enabled admin stays one."""
    actor = who.actor(request)
    user = users.find_user(ops, email)
    if body.role is not None and body.role != user["role"]:
        user = users.set_role(ops, email, body.role, actor=actor)
    if body.disabled is True:
        user = users.disable_user(ops, email, actor=actor)
    elif body.disabled is False and user["disabled"]:
        user = users.enable_user(ops, email, actor=actor)
    return user


@router.delete("/users/{email}")
def remove_user(request: Request, ops: OpsDep, email: Email, who: Admin) -> dict[str, Any]:
    """Remove the user, end their sessions and revoke the API keys they made."""
    return users.remove_user(ops, email, actor=who.actor(request))


@router.put("/users/{email}/password")
def reset_password(
    request: Request, ops: OpsDep, email: Email, body: NewPassword, who: Admin
) -> dict[str, Any]:
    """Set a new password (never shown back); the user's sessions end."""
    return users.reset_password(ops, email, body.password, actor=who.actor(request))


@router.get("/users/{email}/sessions")
def user_sessions(ops: OpsDep, email: Email, _: Admin) -> dict[str, Any]:
    return {"email": users.normalize_email(email), "sessions": sessions.of_user(ops, email)}


@router.delete("/users/{email}/sessions")
def revoke_sessions(request: Request, ops: OpsDep, email: Email, who: Admin) -> dict[str, Any]:
    """End every session of the user (a lost laptop)."""
    ended = sessions.revoke_all(ops, email, actor=who.actor(request))
    return {"email": users.normalize_email(email), "sessions_ended": ended}


@router.get("/apikeys")
def list_keys(ops: OpsDep, _: Admin) -> list[dict[str, Any]]:
    return apikeys.list_keys(ops)


@router.post("/apikeys", status_code=201)
def create_key(request: Request, ops: OpsDep, body: NewKey, who: Admin) -> dict[str, Any]:
    """A new key; its ``key`` is shown this once and kept only hashed."""
    return apikeys.create_key(ops, list(body.scopes), name=body.name, created_by=who.name,
                              actor=who.actor(request))  # fmt: skip


@router.delete("/apikeys/{prefix}")
def revoke_key(
    request: Request, ops: OpsDep, keys: KeysDep, prefix: str, who: Admin
) -> dict[str, Any]:
    revoked = apikeys.revoke_key(ops, prefix, actor=who.actor(request))
    keys.forget(revoked["prefix"])
    return revoked


@router.get("/audit")
def audit_log(
    ops: OpsDep,
    _: Admin,
    since: Annotated[
        str | None, Query(max_length=40, description="From this date (YYYY-MM-DD) or time, UTC.")
    ] = None,
    kind: Annotated[
        str | None, Query(max_length=40, description=f"Only this kind: {', '.join(audit.KINDS)}.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> dict[str, Any]:
    """The audit log, newest first: logins, user and key changes, ingests,
    exports and erasures, with who did them. Admins only."""
    entries = audit.read(ops, since=audit.parse_since(since), kind=audit.check_kind(kind),
                         limit=limit)  # fmt: skip
    return {"entries": entries}
