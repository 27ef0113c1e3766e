"""Writing the audit log (:mod:`tenure.access.audit`) from a route: the
caller of the request is the actor, with the client's address.

Every page of customers read through the API is an export, and so an
entry: under 50 readers that was one transaction of the operational store
per request, each waiting for its own write to disk. :func:`record_soon`
commits the entries of the requests that come while one commit runs
together, in the next one (a group commit): each request is still answered
only once its entry is on disk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from fastapi import Request
from starlette.concurrency import run_in_threadpool

from tenure.access import audit
from tenure.access.audit import Actor
from tenure.faults import checkpoint


def record(
    request: Request, kind: str, *, target: str | None = None, detail: dict[str, Any] | None = None
) -> None:
    """Record ``kind`` for this request's caller (authenticated before)."""
    who = request.state.principal
    audit.record(request.app.state.ops, kind, who.actor(request), target=target, detail=detail)


async def record_soon(
    request: Request, kind: str, *, target: str | None = None, detail: dict[str, Any] | None = None
) -> None:
    """:func:`record` from the event loop: returns once the entry is
    committed, with those of the other requests that came meanwhile."""
    assert kind in audit.KINDS, f"unknown audit kind {kind!r}"
    who = request.state.principal
    writer = request.app.state.audit
    await writer.add((kind, who.actor(request), target, detail))


Entry = tuple[str, Actor, "str | None", "dict[str, Any] | None"]


class GroupCommit:
    """Audit entries waiting for the next commit, and the one commit running."""

    def __init__(self, ops: Any) -> None:
        self.ops = ops
        self._waiting: list[tuple[Entry, asyncio.Future]] = []
        self._running = False
        self.commits = 0  # for the tests: commits made

    async def add(self, entry: Entry) -> None:
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((entry, done))
        if not self._running:
            self._running = True
            asyncio.ensure_future(self._commit_all())
        await asyncio.shield(done)

    async def _commit_all(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    await run_in_threadpool(self._write, [entry for entry, _ in batch])
                except Exception as exc:
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(exc)
                else:
                    for _, done in batch:
                        if not done.done():
                            done.set_result(None)
        finally:
            self._running = False

    def _write(self, entries: list[Entry]) -> None:
        checkpoint("audit commit")  # where a test holds a commit
        rows = [audit.entry(kind, actor, target=target, detail=detail)
                for kind, actor, target, detail in entries]  # fmt: skip
        with self.ops.engine.begin() as conn:  # one transaction, one wait for the disk
            audit.record_all(conn, rows)
        self.commits += 1


def loyalty_write(
    actor: Actor, operation: str, customer_id: str, key: str | None
) -> Callable[[sa.Connection, Any], None]:
    """What records a loyalty API write in the audit log, in the ledger
    write's own transaction (:func:`tenure.web.idempotency.posted`): who,
    which member, the operation, the Idempotency-Key and what was posted.
    A write that posts nothing (an order line's earning found again)
    records nothing."""
    kind = f"loyalty_{operation}"
    assert kind in audit.KINDS, f"unknown audit kind {kind!r}"

    def record(conn: sa.Connection, posting: Any) -> None:
        if posting.replayed:
            return
        doc = posting.doc
        entry = doc["entry"]
        detail = {
            "operation": operation, "idempotency_key": key, "outcome": "posted",
            "entry_id": entry["id"], "entry_kind": entry["kind"],
            "points": entry["points"] + entry["pending"], "balance": doc["balance"],
            "pending": doc["pending"], "debt": doc["debt"],
        }  # fmt: skip
        for name in ("reward", "reverses", "order_line", "rule"):
            if entry.get(name) is not None:
                detail[name] = entry[name]
        audit.record(conn, kind, actor, target=customer_id, detail=detail)

    return record


def campaign_write(
    actor: Actor, operation: str, name: str, key: str | None
) -> Callable[[sa.Connection, Any], None]:
    """What records a campaigns API write (``create``, ``launch``) in the
    audit log, in the write's own transaction: who, which campaign, the
    Idempotency-Key and the campaign's state then."""
    kind = f"campaign_{operation}"
    assert kind in audit.KINDS, f"unknown audit kind {kind!r}"

    def record(conn: sa.Connection, posting: Any) -> None:
        doc = posting.doc
        detail = {"operation": operation, "idempotency_key": key, "state": doc.get("state")}
        audit.record(conn, kind, actor, target=name, detail=detail)

    return record


def export_detail(fmt: str, *, q: str | None, **filters: Any) -> dict[str, Any]:
    """What an export of customers was: the format and filters; only
    whether there was a search, never what was searched for."""
    return {"format": fmt, **{k: v for k, v in filters.items() if v is not None},
            "search": bool(q)}  # fmt: skip
