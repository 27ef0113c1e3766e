"""Signed webhooks: a shop's own SMS or push gateway delivers the message.

Each message is a POST of JSON to the gateway's URL::

    {"id": "DEDUP_KEY", "to": "+43...", "subject": "...", "text": "...",
     "html": null, "customer_id": "C1", "campaign": "win-back"}

signed as the loyalty webhooks are (:func:`tenure.loyalty.webhooks.sign`):
the header ``Tenure-Signature: t=TIMESTAMP,v1=HMAC`` is HMAC-SHA256, in hex,
of ``TIMESTAMP.BODY`` under the gateway's secret. The dedup key goes in
``Idempotency-Key`` too: a gateway that keeps the keys it has seen sends a
message once however often it is posted.

A 2xx answer is a delivery; the gateway's id for it is the ``id`` of a JSON
answer, if any. 408, 425, 429 and 5xx, a refused connection or a timeout
are transient; any other answer is permanent (the gateway refuses the
message itself).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from tenure.campaigns.channels.base import Message, Result
from tenure.loyalty.webhooks import SIGNATURE, checked_url, sign

IDEMPOTENCY_KEY = "Idempotency-Key"
TRANSIENT = {408, 425, 429}
TIMEOUT = 10.0

# (url, body, headers) -> (status, response body); raises OSError or httpx's errors
Poster = Callable[[str, bytes, dict[str, str]], tuple[int, bytes]]


def body_of(message: Message) -> bytes:
    doc = {"id": message.idempotency_key, "to": message.to, "subject": message.subject,
           "text": message.text, "html": message.html, "customer_id": message.customer_id,
           "campaign": message.campaign}  # fmt: skip
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def _httpx_poster() -> Poster:
    import httpx

    client = httpx.Client(timeout=TIMEOUT, follow_redirects=False)

    def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        answer = client.post(url, content=body, headers=headers)
        return answer.status_code, answer.content

    return post


class WebhookProvider:
    """Post each message, signed, to one gateway URL."""

    idempotent = True  # the gateway is given the key; one that keeps it sends once

    def __init__(self, url: str, secret: str, *, name: str = "webhook",
                 post: Poster | None = None, clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        self.url = checked_url(url)
        self.secret = secret
        self.name = name
        self._post = post
        self._clock = clock

    def headers(self, body: bytes) -> dict[str, str]:
        stamp = int(self._clock())
        return {"Content-Type": "application/json", "User-Agent": "tenure-campaigns",
                SIGNATURE: f"t={stamp},v1={sign(self.secret, stamp, body)}"}  # fmt: skip

    def send(self, message: Message) -> Result:
        body = body_of(message)
        headers = {**self.headers(body), IDEMPOTENCY_KEY: message.idempotency_key}
        if self._post is None:
            self._post = _httpx_poster()
        try:
            status, answer = self._post(self.url, body, headers)
        except Exception as exc:  # a refused connection, a timeout: tried again
            return Result.failed(f"{type(exc).__name__}: {exc}", permanent=False)
        if 200 <= status < 300:
            return Result.sent(_id_of(answer) or message.idempotency_key)
        text = answer[:300].decode("utf-8", "replace")
        permanent = status not in TRANSIENT and not 500 <= status < 600
        return Result.failed(f"HTTP {status} {text}".strip(), permanent=permanent)


def _id_of(answer: bytes) -> str | None:
    try:
        doc = json.loads(answer)
    except ValueError:
        return None
    found = doc.get("id") if isinstance(doc, dict) else None
    return str(found) if found is not None else None
