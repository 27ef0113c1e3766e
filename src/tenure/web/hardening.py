"""What keeps the server up against a hostile client (docs/security.md):
request bodies capped and read only after authentication
(:mod:`tenure.web.limits`), security headers on every response
(:mod:`tenure.web.headers`), and logins limited in rate and in how many
passwords are hashed at once (:mod:`tenure.access.ratelimit`,
:mod:`tenure.access.passwords`). The limits come from the settings."""

from __future__ import annotations

from fastapi import FastAPI, Request

from tenure.access import passwords
from tenure.access.ratelimit import TokenBucket
from tenure.web.headers import SecurityHeaders
from tenure.web.limits import BodyLimit, TooLarge, too_large


def install(app: FastAPI) -> None:
    settings = app.state.settings
    app.state.logins = TokenBucket(settings.login_rate, settings.login_burst)
    app.state.unsubscribes = TokenBucket(settings.login_rate, settings.login_burst)
    passwords.concurrency(settings.login_concurrency)

    @app.exception_handler(TooLarge)
    async def over_limit(request: Request, exc: TooLarge):
        return too_large(request, exc.limit)

    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders)  # the outermost: every answer gets them
