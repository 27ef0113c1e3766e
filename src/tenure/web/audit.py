"""Writing the audit log (:mod:`tenure.access.audit`) from a route: the
caller of the request is the actor, with the client's address."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from tenure.access import audit


def record(
    request: Request, kind: str, *, target: str | None = None, detail: dict[str, Any] | None = None
) -> None:
    """Record ``kind`` for this request's caller (authenticated before)."""
    who = request.state.principal
    audit.record(request.app.state.ops, kind, who.actor(request), target=target, detail=detail)


def export_detail(fmt: str, *, q: str | None, **filters: Any) -> dict[str, Any]:
    """What an export of customers was: the format and filters; only
    whether there was a search, never what was searched for."""
    return {"format": fmt, **{k: v for k, v in filters.items() if v is not None},
            "search": bool(q)}  # fmt: skip
