"""The server's secret: it signs the session cookies and the login form's
CSRF token. Outside demo mode the server refuses to start without one of
its own (``TENURE_SECRET_KEY``, 32 characters or more)."""

from __future__ import annotations

from tenure.config import Settings
from tenure.errors import ConfigError

# known to everyone, so good for the demo store only
DEMO_SECRET = "tenure-demo-secret-do-not-use-outside-the-demo-store"
MIN_LENGTH = 32


def server_secret(settings: Settings, *, demo: bool) -> str:
    secret = settings.secret_key
    if demo:
        return secret or DEMO_SECRET
    if not secret or secret == DEMO_SECRET:
        raise ConfigError(
            "the server has no secret key of its own; it will not start with a default one.",
            hint='Set one, e.g.: export TENURE_SECRET_KEY="$(python -c '
            "'import secrets; print(secrets.token_urlsafe(48))')\" "
            "(or serve the demo store with --demo).",
            code="no_secret",
        )
    if len(secret) < MIN_LENGTH:
        raise ConfigError(
            f"the secret key has {len(secret)} characters; it needs {MIN_LENGTH} or more.",
            hint="Make a long random one: python -c 'import secrets; print(secrets.token_urlsafe(48))'",
            code="weak_secret",
        )
    return secret
