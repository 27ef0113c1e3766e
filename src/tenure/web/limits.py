"""What a request may send before anything reads it.

A request with a body (POST, PUT, PATCH, DELETE) is checked in this order,
before the route reads a byte of it:

1. **Who is asking.** Except for the login form, a request with a body
   needs an API key or a session; without one it is answered 401 at once,
   whatever its size, and its body is never read. A login takes a token of
   the server's bucket of password checks first (``login_rate`` a second,
   bursts of ``login_burst``); without one it is answered 503 with
   ``Retry-After``, unread.
2. **How big it says it is.** A ``Content-Length`` over the limit is
   answered 413 at once. The limit is ``max_body_bytes`` (1 MiB), and
   ``max_ingest_bytes`` (32 MiB) for the ingest endpoints, whose lists of up
   to 10,000 rows are larger.
3. **How big it is.** A body sent in chunks (no ``Content-Length``) is
   counted as it arrives; the chunk that passes the limit ends the request
   with 413.
4. **JSON text that no store can keep.** A JSON string with a lone UTF-16
   surrogate (``"\\ud800"``) is valid JSON but not text; it is answered 400
   with the error shape, instead of failing later on.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request

from tenure.errors import TenureError
from tenure.web.errors import _respond, shape, status_of

WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PUBLIC = frozenset({"/login"})  # a body anyone may send: the login form
# and the RFC 8058 one-click unsubscribes (their links are signed), in a
# bucket of their own of the same rate
UNSUBSCRIBE = "/api/v1/consent/unsubscribe/"
INGEST = re.compile(r"^/api/v1/(customers|orders|events|tickets|survey-answers)$")
# a JSON escape of a UTF-16 surrogate: only then is a full check needed
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
# after a body over its limit, so much more is read and dropped, so that
# the client (which sends its body before it reads an answer) gets the 413
DRAIN = 4 * 2**20


def limit_of(settings: Any, path: str) -> int:
    """The largest body a request to ``path`` may send, in bytes."""
    if INGEST.match(path):
        return settings.max_ingest_bytes
    return settings.max_body_bytes


class TooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request's body is larger than {limit:,} bytes.")
        self.limit = limit


def too_large(request: Request, limit: int):
    body = shape(
        "content_too_large", f"the request's body is larger than {limit:,} bytes.",
        hint="Send less at a time (for the ingest endpoints: fewer rows a request), or raise "
        "the limit with TENURE_MAX_BODY_BYTES or TENURE_MAX_INGEST_BYTES.",
    )  # fmt: skip
    return _respond(request, 413, body, {"Connection": "close"})


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def check_json_text(body: bytes) -> None:
    """Refuse JSON whose strings hold a lone surrogate (400)."""
    if not _SURROGATE_ESCAPE.search(body):
        return  # the common case: no escape of a surrogate at all, no second parse
    try:
        parsed = json.loads(body)
    except ValueError:
        return  # not JSON: the route's own parse says so
    if _has_lone_surrogate(parsed):
        raise HTTPException(
            400, "the JSON body has a string with a lone UTF-16 surrogate (such as \\ud800), "
            "which is not text.",
        )  # fmt: skip


class BodyLimit:
    """The checks above, as a plain ASGI middleware."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] not in WITH_BODY:
            await self.app(scope, receive, send)
            return
        from tenure.web.security import identify, not_logged_in

        request = Request(scope)
        settings = request.app.state.settings
        limit = limit_of(settings, scope["path"])
        if scope["path"] in PUBLIC:
            busy = _no_login_token(request)
            if busy is not None:
                await busy(scope, receive, send)
                return
        elif scope["path"].startswith(UNSUBSCRIBE):
            busy = _no_unsubscribe_token(request)
            if busy is not None:
                await busy(scope, receive, send)
                return
        else:
            try:
                if await identify(request) is None:
                    raise not_logged_in()
            except TenureError as exc:
                headers = {"WWW-Authenticate": 'Bearer realm="tenure"', "Connection": "close"}
                await _respond(request, status_of(exc), exc.to_dict(), headers)(
                    scope, receive, send
                )
                return
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await too_large(request, limit)(scope, receive, send)
            return
        is_json = "json" in request.headers.get("content-type", "")
        seen = 0
        kept: list[bytes] = []

        async def counted() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] != "http.request":
                return message
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > limit:
                await _drain(receive, message)
                raise TooLarge(limit)
            if is_json:
                kept.append(chunk)
                if not message.get("more_body", False):
                    check_json_text(b"".join(kept))
                    kept.clear()
            return message

        await self.app(scope, counted, send)


def _no_login_token(request: Request):
    """503 when the bucket of password checks is empty: refused before the
    form is read, so a flood of logins costs next to nothing."""
    wait = request.app.state.logins.take()
    if not wait:
        return None
    seconds = max(1, int(wait + 0.999))
    body = shape(
        "busy", f"the server is busy with other logins; try again in {seconds} s.",
        hint="Wait, then log in again.",
    )  # fmt: skip
    response = _respond(request, 503, body, {"Connection": "close"})
    response.headers["Retry-After"] = str(seconds)
    response.headers["Connection"] = "close"
    return response


def _no_unsubscribe_token(request: Request):
    """429 with Retry-After when the unsubscribes' bucket is empty."""
    wait = request.app.state.unsubscribes.take()
    if not wait:
        return None
    seconds = max(1, int(wait + 0.999))
    body = shape("rate_limited", f"too many unsubscribe requests; try again in {seconds} s.",
                 hint="Wait, then post the link again.")  # fmt: skip
    return _respond(request, 429, body, {"Retry-After": str(seconds), "Connection": "close"})


async def _drain(receive, message: dict) -> None:
    """Read and drop up to :data:`DRAIN` more bytes of a body over its limit."""
    dropped = 0
    while message.get("more_body", False) and dropped < DRAIN:
        message = await receive()
        if message["type"] != "http.request":
            return
        dropped += len(message.get("body", b""))
