"""Security headers on every response.

=============================  =============================================
X-Content-Type-Options         ``nosniff``: a body is only what its type says
Referrer-Policy                ``same-origin``: no page address (with its
                               filters or a customer's id) goes to another site
X-Frame-Options                ``DENY``, and CSP ``frame-ancestors 'none'``:
                               no other site can frame a page (clickjacking)
Content-Security-Policy        on pages: scripts only from this server, plus
                               the charts' own inline scripts by their SHA-256
                               (:func:`page_policy`); on anything else nothing
                               may load at all
Cache-Control                  ``no-store`` on JSON and CSV (customer data
                               must not stay in a browser's or proxy's cache),
                               unless the route chose another
=============================  =============================================

Styles may be inline (``'unsafe-inline'`` for ``style-src``): Plotly sets
``style`` attributes on the charts it draws, and a style cannot run code.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from typing import Any

_SCRIPT = re.compile(r"<script\b[^>]*>(.*?)</script>", re.S | re.I)

ALWAYS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
NOT_A_PAGE = b"default-src 'none'; frame-ancestors 'none'"


def page_policy(script_hashes: Iterable[str] = ()) -> str:
    """The CSP of a page whose inline scripts have these hashes
    (``sha256-...``, see :func:`script_hashes`)."""
    scripts = " ".join(["'self'", *(f"'{h}'" for h in sorted(set(script_hashes)))])
    return (
        f"default-src 'self'; script-src {scripts}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


def script_hashes(html: str) -> list[str]:
    """The CSP hashes of the inline scripts in ``html`` (a chart's markup)."""
    out = []
    for body in _SCRIPT.findall(html):
        if body.strip():
            digest = hashlib.sha256(body.encode("utf-8")).digest()
            out.append("sha256-" + base64.b64encode(digest).decode())
    return out


def chart_script_hashes(value: Any) -> list[str]:
    """The hashes of the inline scripts of every chart (an ``html`` entry,
    as the report's chart blocks hold them) in a page's computed body. Only
    those: any other text of the page is escaped and never a script."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "html" and isinstance(item, str):
                found.extend(script_hashes(item))
            else:
                found.extend(chart_script_hashes(item))
    elif isinstance(value, list | tuple):
        for item in value:
            found.extend(chart_script_hashes(item))
    return found


class SecurityHeaders:
    """Adds the headers above to every HTTP response (a plain ASGI
    middleware, outside every other, so errors get them too)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                kind = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                headers += [(k, v) for k, v in ALWAYS if k not in names]
                if b"content-security-policy" not in names:
                    policy = page_policy().encode() if b"text/html" in kind else NOT_A_PAGE
                    headers.append((b"content-security-policy", policy))
                if b"cache-control" not in names and (
                    b"application/json" in kind or b"text/csv" in kind
                ):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
