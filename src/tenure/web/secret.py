"""The server's secret: it signs the session cookies and the login form's
CSRF token.

One given in ``TENURE_SECRET_KEY`` (or ``secret_key`` in tenure.toml) is
used as it is, 32 characters or more. Otherwise the server makes one the
first time it serves a store and keeps it in the store's folder, in
``secret.key``, readable by its owner only (mode 0600); it refuses a key
file that others can read. Deleting the file (or giving another key) and
restarting rotates it: every session then ends.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from tenure.config import Settings
from tenure.errors import ConfigError

# known to everyone: refused as a server's own key
DEMO_SECRET = "tenure-demo-secret-do-not-use-outside-the-demo-store"
MIN_LENGTH = 32
FILE = "secret.key"


def server_secret(settings: Settings, *, demo: bool = False) -> str:
    secret = settings.secret_key
    if not secret:
        return kept_secret(settings.store / FILE)
    if secret == DEMO_SECRET and not demo:
        raise ConfigError(
            "the secret key is the demo's published one; the server will not use it.",
            hint="Unset TENURE_SECRET_KEY (a key of the store's own is then made) or set "
            "another, e.g.: python -c 'import secrets; print(secrets.token_urlsafe(48))'",
            code="no_secret",
        )
    if len(secret) < MIN_LENGTH:
        raise ConfigError(
            f"the secret key has {len(secret)} characters; it needs {MIN_LENGTH} or more.",
            hint="Make a long random one: python -c 'import secrets; print(secrets.token_urlsafe(48))'",
            code="weak_secret",
        )
    return secret


def kept_secret(path: Path) -> str:
    """The key kept in ``path``, made there (mode 0600) when missing."""
    if not path.exists():
        _make(path)
    if os.name == "posix" and path.stat().st_mode & 0o077:
        raise ConfigError(
            f"the secret key file {path} can be read by others "
            f"(mode {path.stat().st_mode & 0o777:o}).",
            hint=f"Make it the owner's only: chmod 600 {path} (and, as others may have read "
            "it, delete it instead to have a new one made; every session then ends).",
            code="weak_secret",
        )
    secret = path.read_text("utf-8").strip()
    if len(secret) < MIN_LENGTH:
        raise ConfigError(
            f"the secret key in {path} has {len(secret)} characters; it needs {MIN_LENGTH} "
            "or more.",
            hint=f"Delete {path}: a new one is made when the server starts.",
            code="weak_secret",
        )
    return secret


def _make(path: Path) -> None:
    """Write a new key under a temporary name, then link it into place: two
    servers starting at once end with the same key, never a half-written one."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(secrets.token_urlsafe(48) + "\n")
        try:
            os.link(temp, path)
        except FileExistsError:
            pass  # another server made it first: use theirs
    finally:
        temp.unlink(missing_ok=True)
