"""Logging in and out of the dashboard.

The login form carries a CSRF token tied to a short-lived cookie of its
own; a successful login starts a session (see :mod:`tenure.access.sessions`)
and sets its cookie: HttpOnly, SameSite=Lax, and Secure when the request
came over HTTPS (behind a proxy, run ``tenure serve --proxy-headers``).

Before its form is read, a login takes a token of the server's bucket of
password checks (``login_rate`` a second, bursts of ``login_burst``, see
:mod:`tenure.web.limits`): past it, the answer is 503 with ``Retry-After``
and no hashing; so it is when the hashes waiting for their turn are too
many (:mod:`tenure.access.passwords`). A successful login also sets a *device cookie* (signed, HttpOnly,
for 180 days): from that browser, the user's correct password passes even
while wrong guesses by others hold their email back
(:mod:`tenure.access.throttle`). The demo login is refused unless the
server runs with ``--demo``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from tenure.access import DEMO_EMAIL, DEMO_PASSWORD, audit, sessions, users
from tenure.access.audit import Actor
from tenure.errors import AuthenticationError, InputError, RateLimitedError, ServerBusyError
from tenure.web.pages import render
from tenure.web.security import COOKIE, Principal, principal, session_of, signer

router = APIRouter(tags=["session"], include_in_schema=False)
LOGIN_COOKIE = "tenure_login"
DEVICE_COOKIE = "tenure_device"
DEVICE_DAYS = 180


def _device_signer(request: Request):
    from itsdangerous import TimestampSigner

    return TimestampSigner(request.app.state.secret, salt="tenure-device")


def known_device(request: Request, email: str) -> str | None:
    """The id of this browser when ``email`` logged in from it before (the
    signed device cookie names the email), else None."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return None
    from itsdangerous import BadSignature

    try:
        value = _device_signer(request).unsign(raw, max_age=DEVICE_DAYS * 86400).decode()
    except (BadSignature, UnicodeDecodeError):
        return None
    owner, _, device = value.rpartition("\n")
    if owner != email or not device:
        return None
    return hashlib.sha256(device.encode()).hexdigest()[:32]


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
async def login_form(request: Request, next: str = "/") -> Response:
    # in the event loop: a flood of forms must not crowd the worker threads,
    # whose hold on the interpreter would slow every other answer
    if request.cookies.get(COOKIE) and await run_in_threadpool(session_of, request) is not None:
        return RedirectResponse(_local(next), status_code=303)
    return _form(request, next_=next)


@router.post("/login")
async def login(
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
    key = users.login_key(email)
    if key == DEMO_EMAIL and not request.app.state.demo:
        return _form(
            request, 401, "The demo login works only on a server started with tenure serve "
            "--demo.", email, next,
        )  # fmt: skip
    device = known_device(request, key)
    try:  # the bucket of password checks was taken from before (web.limits)
        user = await run_in_threadpool(users.authenticate, ops, email, password, address, device)
    except ServerBusyError as exc:
        response = _form(
            request, 503, "The server is busy with other logins; please try again in a few "
            "seconds.", email, next,
        )  # fmt: skip
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except RateLimitedError as exc:
        await run_in_threadpool(
            audit.record, ops, "login_failed", tried, detail={"reason": "throttled"}
        )
        response = _form(request, 429, exc.what, email, next)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except AuthenticationError as exc:
        await run_in_threadpool(
            audit.record, ops, "login_failed", tried, detail={"reason": "wrong email or password"}
        )
        return _form(request, 401, exc.what[0].upper() + exc.what[1:], email, next)
    await run_in_threadpool(audit.record, ops, "login", tried)
    token, _ = await run_in_threadpool(sessions.start, ops, user["id"])
    response = RedirectResponse(_local(next), status_code=303)
    response.set_cookie(
        COOKIE, signer(request).sign(token).decode(),
        max_age=int(sessions.LIFETIME.total_seconds()), httponly=True, samesite="lax",
        secure=request.url.scheme == "https", path="/",
    )  # fmt: skip
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    if device is None:  # this browser is now a known device of this user
        mark = _device_signer(request).sign(f"{key}\n{secrets.token_urlsafe(16)}").decode()
        response.set_cookie(
            DEVICE_COOKIE, mark, max_age=DEVICE_DAYS * 86400, httponly=True, samesite="strict",
            secure=request.url.scheme == "https", path="/login",
        )  # fmt: skip
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
