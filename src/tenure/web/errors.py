"""One JSON error shape on every route, the CLI's ``--json`` one::

    {"error": {"code": "...", "message": "...", "hint": "...", "source": ...,
               "row": ..., "column": ..., "value": ..., "expected": ...}}

Pages (not under ``/api``) send a person who is not logged in to the login
form instead, and show other errors as a page.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from tenure.errors import (
    AccessError,
    ConfigError,
    DuplicateError,
    InputError,
    LedgerError,
    MissingExtraError,
    NotFoundError,
    RateLimitedError,
    StoreBusyError,
    TenureError,
)

log = logging.getLogger("tenure.web")


def status_of(exc: TenureError) -> int:
    if isinstance(exc, AccessError | LedgerError):
        return exc.status
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, DuplicateError):
        return 409
    if isinstance(exc, InputError):
        return 422
    if isinstance(exc, MissingExtraError):
        return 501
    if isinstance(exc, StoreBusyError):
        return 503
    if isinstance(exc, ConfigError):
        return 409
    return 400


def shape(code: str, message: str, **fields: Any) -> dict[str, Any]:
    error = {
        "code": code, "message": message, "hint": None, "source": None, "row": None,
        "column": None, "value": None, "expected": None,
    }  # fmt: skip
    error.update(fields)
    return {"error": error}


def wants_page(request: Request) -> bool:
    """A person's browser asking for a page, not a client of the API."""
    path = request.url.path
    return path == "/api/v1/docs" or not (path.startswith("/api/") or path == "/healthz")


def _respond(request: Request, status: int, body: dict[str, Any], headers=None) -> Response:
    if status == 401 and wants_page(request):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        from urllib.parse import quote

        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
    if wants_page(request):
        from tenure.web.pages import error_page

        try:
            return error_page(request, status, body["error"])
        except Exception:  # the page itself failed: the error's JSON still answers
            log.exception("the error page failed on %s", request.url.path)
    return JSONResponse(body, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(TenureError)
    async def tenure_error(request: Request, exc: TenureError) -> Response:
        headers = None
        if isinstance(exc, RateLimitedError | StoreBusyError):
            headers = {"Retry-After": str(exc.retry_after)}
        if isinstance(exc, AccessError) and exc.status == 401:
            headers = {"WWW-Authenticate": 'Bearer realm="tenure"'}
        return _respond(request, status_of(exc), exc.to_dict(), headers)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        phrase = HTTPStatus(exc.status_code).phrase
        code = phrase.lower().replace(" ", "_").replace("-", "_")
        message = exc.detail if isinstance(exc.detail, str) else phrase
        if exc.status_code == 404:
            message, hint = f"there is nothing at {request.url.path}.", "See /api/v1/docs."
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}."
            hint = f"Use {exc.headers.get('Allow') if exc.headers else 'another method'}."
        else:
            hint = None
        body = shape(code, message, hint=hint)
        return _respond(request, exc.status_code, body, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = exc.errors()
        first = problems[0] if problems else {}
        where = [str(p) for p in first.get("loc", ())]
        source = where[0] if where else None
        column = ".".join(where[1:]) or None
        value = first.get("input")
        if any("password" in str(p) for p in first.get("loc", ())):
            value = None  # a password is never sent back, not even a refused one
        message = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or e.get('loc', ('request',))[0]}: "
            f"{e.get('msg', 'is not valid')}"
            for e in problems[:5]
        )
        body = shape(
            "invalid_request", message or "the request is not valid.",
            hint="See the API's schema at /api/v1/docs.", source=source, column=column,
            value=None if value is None or isinstance(value, dict | list) else str(value),
        )  # fmt: skip
        return _respond(request, 422, body)

    app.add_middleware(CatchAll)


class CatchAll:
    """Anything unexpected: logged with its traceback and answered with the
    error shape, keeping the connection (an exception handler for Exception
    would raise it again after answering). A plain ASGI middleware: it adds
    next to nothing to each request."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception:
            request = Request(scope)
            log.exception("unexpected error on %s %s", request.method, request.url.path)
            if started:  # half an answer went out already: nothing to mend
                raise
            body = shape(
                "internal_error", "an unexpected error; it was written to the server's log.",
                hint="Try again; if it goes on, report it with the server's log.",
            )  # fmt: skip
            await _respond(request, 500, body)(scope, receive, send)
