"""RFC 8058 one-click unsubscribe: signed links and their use.

A link names a customer, a channel and a purpose, when it stops working
and a random nonce, and is signed with HMAC-SHA256 under a key derived
from the workspace's secret (``TENURE_SECRET_KEY``, or ``secret.key`` in
the store, the one the server signs its sessions with)::

    https://shop.example/api/v1/consent/unsubscribe/<payload>.<signature>

The message carries it in two headers (:func:`headers`)::

    List-Unsubscribe: <https://shop.example/api/v1/consent/unsubscribe/...>
    List-Unsubscribe-Post: List-Unsubscribe=One-Click

and the mail client POSTs ``List-Unsubscribe=One-Click`` to it, with no
login. :func:`unsubscribe` checks the signature in constant time, refuses
a changed link (403) or an expired one (410), and records the withdrawal
(source ``unsubscribe_link``, the nonce as reference) in one transaction
with the nonce: a link used again records nothing more (a replay), and
the withdrawal is committed before the answer, so the next send sees it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tenure.campaigns import consent
from tenure.campaigns.consent_settings import SendingRules
from tenure.errors import AccessError, ConfigError, PermissionDeniedError
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import unsubscribe_uses as uses_t

PATH = "/api/v1/consent/unsubscribe/"
SEP = "\x1f"
MIN_LENGTH = 32
_CONTEXT = b"tenure one-click unsubscribe v1"


class LinkExpiredError(AccessError):
    code = "unsubscribe_link_expired"
    status = 410


def workspace_secret(settings: Any) -> bytes:
    """The key links are signed with, derived from the workspace's secret
    (made in ``secret.key``, owner-only, when there is none yet)."""
    secret = settings.secret_key
    if not secret:
        secret = _kept(Path(settings.store) / "secret.key")
    if len(secret) < MIN_LENGTH:
        raise ConfigError(f"the secret key has {len(secret)} characters; it needs {MIN_LENGTH}.",
                          hint="Make a long random one: python -c 'import secrets; "
                          "print(secrets.token_urlsafe(48))'")  # fmt: skip
    return hmac.new(secret.encode(), _CONTEXT, hashlib.sha256).digest()


def _kept(path: Path) -> str:
    if not path.exists():
        temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(secrets.token_urlsafe(48) + "\n")
            try:
                os.link(temp, path)
            except FileExistsError:
                pass  # made by another process first: theirs is used
        finally:
            temp.unlink(missing_ok=True)
    if os.name == "posix" and path.stat().st_mode & 0o077:
        raise ConfigError(f"the secret key file {path} can be read by others.",
                          hint=f"Make it the owner's only: chmod 600 {path}")  # fmt: skip
    return path.read_text("utf-8").strip()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key: bytes, payload: bytes) -> str:
    return _b64(hmac.new(key, payload, hashlib.sha256).digest())


def token(key: bytes, customer_id: str, channel: str, purpose: str, expires: datetime,
          nonce: str | None = None) -> str:  # fmt: skip
    """The link's last path segment: payload and signature."""
    nonce = nonce or secrets.token_urlsafe(12)
    stamp = int(consent.utc(expires).timestamp())
    payload = SEP.join([customer_id, channel, purpose, str(stamp), nonce]).encode()
    return f"{_b64(payload)}.{_sign(key, payload)}"


def link(key: bytes, rules: SendingRules, customer_id: str, channel: str, purpose: str = "marketing",
         *, now: datetime | None = None) -> str:  # fmt: skip
    """A one-click unsubscribe link, valid ``rules.unsubscribe_days``."""
    customer_id = consent.checked_customer(customer_id)
    channel = consent.checked_name("channel", channel, consent.CHANNELS)
    purpose = consent.checked_name("purpose", purpose, consent.PURPOSES)
    if rules.unsubscribe_url is None:
        raise ConfigError(
            "no unsubscribe_url is set, so the links would point nowhere a recipient can reach.",
            hint='Set the address tenure serve is reached at in tenure.toml: [campaigns.sending] '
            'unsubscribe_url = "https://shop.example"', column="unsubscribe_url",
        )  # fmt: skip
    expires = consent.utc(now or consent.now()) + timedelta(days=rules.unsubscribe_days)
    return rules.unsubscribe_url + PATH + token(key, customer_id, channel, purpose, expires)


def headers(url: str, mailto: str | None = None) -> dict[str, str]:
    """The RFC 8058 header values of a message carrying ``url`` (and a
    mailto: address for clients that only mail)."""
    targets = f"<{url}>" + (f", <mailto:{mailto}>" if mailto else "")
    return {"List-Unsubscribe": targets, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


@dataclass(frozen=True)
class Claims:
    customer_id: str
    channel: str
    purpose: str
    expires: datetime
    nonce: str


def _refused() -> PermissionDeniedError:
    return PermissionDeniedError(
        "this unsubscribe link is not one tenure signed (it was changed or cut short).",
        hint="Use the link of the message exactly as received, or the preferences page.",
        code="unsubscribe_link_invalid",
    )


def verify(key: bytes, text: str, now: datetime) -> Claims:
    """The link's claims, once its signature is checked (in constant time)
    and it has not expired."""
    payload_text, _, signature = text.partition(".")
    try:
        payload = _unb64(payload_text)
    except (ValueError, TypeError):
        raise _refused() from None
    if not hmac.compare_digest(_sign(key, payload).encode(), signature.encode()):
        raise _refused()
    try:
        customer_id, channel, purpose, stamp, nonce = payload.decode().split(SEP)
        expires = datetime.fromtimestamp(int(stamp), UTC)
    except ValueError:
        raise _refused() from None
    if consent.utc(now) >= expires:
        raise LinkExpiredError(
            f"this unsubscribe link expired on {expires.date().isoformat()}.",
            hint="Use the link of a newer message, or the preferences page.",
        )
    return Claims(customer_id, channel, purpose, expires, nonce)


def unsubscribe(
    ops: OpsStore, key: bytes, text: str, *, now: datetime | None = None
) -> dict[str, Any]:
    """Record the withdrawal a link stands for; a replay records nothing."""
    when = consent.utc(now or consent.now())
    claims = verify(key, text, when)
    doc = {"customer_id": claims.customer_id, "channel": claims.channel,
           "purpose": claims.purpose, "unsubscribed": True}  # fmt: skip
    try:
        with consent.write_transaction(ops) as conn:
            used = conn.execute(
                sa.select(uses_t.c.event_id).where(uses_t.c.nonce == claims.nonce)
            ).first()
            if used is not None:
                return {**doc, "replayed": True, "event_id": int(used.event_id)}
            event, _ = consent.append(conn, claims.customer_id, claims.channel, claims.purpose,
                                      False, source="unsubscribe_link", at=when,
                                      reference=f"link {claims.nonce}")  # fmt: skip
            conn.execute(uses_t.insert().values(nonce=claims.nonce, customer_id=claims.customer_id,
                                                event_id=event.id, used_at=when))  # fmt: skip
            return {**doc, "replayed": False, "event_id": event.id}
    except sa.exc.IntegrityError:  # the same link used at the same moment: theirs counted
        with ops.engine.connect() as conn:
            used = conn.execute(
                sa.select(uses_t.c.event_id).where(uses_t.c.nonce == claims.nonce)
            ).first()
        return {**doc, "replayed": True, "event_id": int(used.event_id)}
