"""Logging in and out of the dashboard.

The login form carries a CSRF token tied to a short-lived cookie of its
own; a successful login starts a session (see :mod:`tenure.access.sessions`)
and sets its cookie: HttpOnly, SameSite=Lax, and Secure when the request
came over HTTPS (behind a proxy, run ``tenure serve --proxy-headers``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from tenure.access import DEMO_EMAIL, DEMO_PASSWORD, audit, sessions, users
from tenure.access.audit import Actor
from tenure.errors import AuthenticationError, InputError, RateLimitedError
from tenure.web.pages import render
from tenure.web.security import COOKIE, Principal, principal, session_of, signer

router = APIRouter(tags=["session"], include_in_schema=False)
LOGIN_COOKIE = "tenure_login"


def _login_csrf(request: Request, nonce: str) -> str:
    key = request.app.state.secret.encode()
    return hmac.new(key, b"login:" + nonce.encode(), hashlib.sha256).hexdigest()


def _local(target: str | None) -> str:
    """Only a path on this site: never send a person elsewhere after login."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _form(request: Request, status: int = 200, message: str | None = None, email: str = "",
          next_: str = "/") -> Response:  # fmt: skip
    nonce = secrets.token_urlsafe(24)
    response = render(
        request, "login.html", status=status, csrf=_login_csrf(request, nonce), next=_local(next_),
        message=message, email=email,
        demo_login={"email": DEMO_EMAIL, "password": DEMO_PASSWORD},
    )  # fmt: skip
    response.set_cookie(
        LOGIN_COOKIE, nonce, max_age=3600, httponly=True, samesite="strict",
        secure=request.url.scheme == "https", path="/login",
    )  # fmt: skip
    return response


def _typed(email: str) -> str:
    """The email typed at a login, for the audit log; not what is typed when
    it is no email (a password typed into the wrong field, say)."""
    try:
        return users.normalize_email(email)
    except InputError:
        return "(not an email)"


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    if session_of(request) is not None:
        return RedirectResponse(_local(next), status_code=303)
    return _form(request, next_=next)


@router.post("/login")
def login(
    request: Request,
    email: str = Form(""),
    password: str = Form(""),
    csrf: str = Form(""),
    next: str = Form("/"),
) -> Response:
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    if not nonce or not hmac.compare_digest(csrf, _login_csrf(request, nonce)):
        return _form(request, 403, "The form has expired; please log in again.", email, next)
    address = request.client.host if request.client else "unknown"
    ops = request.app.state.ops
    tried = Actor("user", _typed(email), address)
    try:
        user = users.authenticate(ops, email, password, address)
    except RateLimitedError as exc:
        audit.record(ops, "login_failed", tried, detail={"reason": "throttled"})
        response = _form(request, 429, exc.what, email, next)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except AuthenticationError as exc:
        audit.record(ops, "login_failed", tried, detail={"reason": "wrong email or password"})
        return _form(request, 401, exc.what[0].upper() + exc.what[1:], email, next)
    audit.record(ops, "login", tried)
    token, _ = sessions.start(request.app.state.ops, user["id"])
    response = RedirectResponse(_local(next), status_code=303)
    response.set_cookie(
        COOKIE, signer(request).sign(token).decode(),
        max_age=int(sessions.LIFETIME.total_seconds()), httponly=True, samesite="lax",
        secure=request.url.scheme == "https", path="/",
    )  # fmt: skip
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, who: Principal = Depends(principal)) -> Response:
    if who.token is not None:
        sessions.end(request.app.state.ops, who.token)
        audit.record(request.app.state.ops, "logout", who.actor(request))
        request.app.state.sessions.forget(who.token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
