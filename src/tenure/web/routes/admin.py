"""Users and API keys, for admins (the ``admin`` scope)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from tenure.access import apikeys, users
from tenure.web.deps import Admin, KeysDep, OpsDep

router = APIRouter(prefix="/api/v1", tags=["admin"])


class NewUser(BaseModel):
    email: str = Field(max_length=320, examples=["ana@shop.example"])
    role: Literal["admin", "analyst", "viewer"]
    password: str = Field(min_length=10, max_length=1024)
    name: str | None = Field(default=None, max_length=200)


class NewKey(BaseModel):
    scopes: list[Literal["read", "write", "admin"]] = Field(min_length=1)
    name: str | None = Field(default=None, max_length=200)


@router.get("/users")
def list_users(ops: OpsDep, _: Admin) -> list[dict[str, Any]]:
    return users.list_users(ops)


@router.post("/users", status_code=201)
def add_user(ops: OpsDep, body: NewUser, _: Admin) -> dict[str, Any]:
    return users.add_user(ops, body.email, body.role, body.password, name=body.name)


@router.get("/apikeys")
def list_keys(ops: OpsDep, _: Admin) -> list[dict[str, Any]]:
    return apikeys.list_keys(ops)


@router.post("/apikeys", status_code=201)
def create_key(ops: OpsDep, body: NewKey, who: Admin) -> dict[str, Any]:
    """A new key; its ``key`` is shown this once and kept only hashed."""
    return apikeys.create_key(ops, list(body.scopes), name=body.name, created_by=who.name)


@router.delete("/apikeys/{prefix}")
def revoke_key(ops: OpsDep, keys: KeysDep, prefix: str, _: Admin) -> dict[str, Any]:
    revoked = apikeys.revoke_key(ops, prefix)
    keys.forget(revoked["prefix"])
    return revoked
