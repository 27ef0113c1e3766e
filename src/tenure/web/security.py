"""Who is asking: an API key (``Authorization: Bearer tk_...`` or
``X-API-Key``) or a dashboard session (a signed, HttpOnly cookie). Each
route declares the scope it needs with ``Depends(need("read"))``.

A request authenticated by its cookie that changes something (POST, PUT,
PATCH, DELETE) must also carry the session's CSRF token, in the form field
``csrf`` or the header ``X-CSRF-Token``: a page of another site cannot read
it, so it cannot make a logged-in browser do what its user did not ask.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from tenure.access import DEMO_EMAIL, sessions
from tenure.access.audit import Actor
from tenure.errors import AuthenticationError, PermissionDeniedError

COOKIE = "tenure_session"
SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Principal:
    kind: str  # "user" or "key"
    name: str  # the email, or the key's prefix
    scopes: frozenset[str]
    role: str | None = None
    user: dict[str, Any] | None = None
    csrf: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    label: str | None = None  # an API key's name

    def can(self, scope: str) -> bool:
        return scope in self.scopes

    def actor(self, request: Request) -> Actor:
        """Who this is in the audit log: the user's email, or the API key
        (its prefix and name), with the client's address."""
        address = request.client.host if request.client else None
        if self.kind == "key":
            name = f"tk_{self.name}" + (f" ({self.label})" if self.label else "")
            return Actor("key", name, address)
        return Actor("user", self.name, address)


def signer(request: Request):
    from itsdangerous import TimestampSigner

    return TimestampSigner(request.app.state.secret, salt="tenure-session")


def _token_of(request: Request) -> str | None:
    """The session token of the request's signed cookie, if it is genuine."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    from itsdangerous import BadSignature

    try:
        token = signer(request).unsign(raw, max_age=int(sessions.LIFETIME.total_seconds()))
    except BadSignature:
        return None
    return token.decode()


def _as_principal(found: tuple[dict[str, Any], str] | None, token: str) -> Principal | None:
    if found is None:
        return None
    user, csrf = found
    return Principal(
        "user", user["email"], frozenset(user["scopes"]), user["role"], user, csrf, token
    )


def session_of(request: Request) -> Principal | None:
    """The logged-in user of this request's cookie, if any."""
    token = _token_of(request)
    if token is None:
        return None
    return _as_principal(request.app.state.sessions.lookup(request.app.state.ops, token), token)


def _key_of(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("x-api-key") or None


async def identify(request: Request) -> Principal | None:
    """The caller by their API key or session cookie, without a CSRF check
    and without reading the body; None when neither is sent. A key that is
    not known is an error. A caller seen lately is known in the event loop
    from the access stamp alone (which every request reads, see
    :mod:`tenure.web.stamp`); otherwise the store is read in a worker
    thread."""
    state = request.app.state
    key = _key_of(request)
    if key is not None:
        record = state.keys.known(key, await state.stamp.read())
        if record is None:
            record = await run_in_threadpool(state.keys.verify, state.ops, key)
        return _key_principal(record)
    token = _token_of(request)
    if token is None:
        return None
    hit = state.sessions.known(token, await state.stamp.read())
    if hit is None:
        hit = await run_in_threadpool(state.sessions.lookup, state.ops, token)
    return _session_principal(request, hit, token)


async def known_caller(request: Request) -> Principal | None:
    """:func:`identify` from memory only: the caller when their key or
    session was looked up lately and the access stamp (read now) is still
    the one of then; None otherwise, and for a caller who sent neither."""
    state = request.app.state
    key = _key_of(request)
    if key is not None:
        record = state.keys.known(key, await state.stamp.read())
        return None if record is None else _key_principal(record)
    token = _token_of(request)
    if token is None:
        return None
    hit = state.sessions.known(token, await state.stamp.read())
    return None if hit is None else _session_principal(request, hit, token)


def _key_principal(record: dict[str, Any]) -> Principal:
    return Principal("key", record["prefix"], frozenset(record["scopes"]), label=record["name"])


def _session_principal(
    request: Request, hit: tuple[dict[str, Any], str] | None, token: str
) -> Principal | None:
    found = _as_principal(hit, token)
    if found is not None and found.name == DEMO_EMAIL and not request.app.state.demo:
        return None  # the demo login works only on a server started with --demo
    return found


def not_logged_in() -> AuthenticationError:
    return AuthenticationError(
        "this needs an API key or a login.",
        hint="Send Authorization: Bearer <key> (tenure apikey create --scope read), "
        "or log in at /login.",
    )


async def principal(request: Request) -> Principal:
    """The caller, or 401; a session's change (POST, PUT, PATCH, DELETE)
    must carry its CSRF token."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    found = await identify(request)
    if found is None:
        raise not_logged_in()
    if found.kind == "user" and request.method not in SAFE:
        await _check_csrf(request, found)
    request.state.principal = found
    return found


async def _check_csrf(request: Request, who: Principal) -> None:
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        sent = (await request.form()).get("csrf")
    if not sent or not who.csrf or not hmac.compare_digest(str(sent), who.csrf):
        raise PermissionDeniedError(
            "the form's CSRF token is missing or wrong.",
            hint="Reload the page and send the form again.",
            code="csrf",
        )


def need(scope: str) -> Callable[..., Any]:
    """A dependency: the caller, who must have ``scope``."""

    async def check(request: Request) -> Principal:
        who = await principal(request)
        if not who.can(scope):
            what = f"the role {who.role}" if who.kind == "user" else f"the API key {who.name}"
            raise PermissionDeniedError(
                f"{what} does not have the {scope} scope.",
                hint=f"Use a key with --scope {scope}, or ask an admin for a role that has it.",
            )
        # what the route needs, for its answer kept by request (tenure.web.fastpath)
        request.state.needs = getattr(request.state, "needs", frozenset()) | {scope}
        return who

    return check
