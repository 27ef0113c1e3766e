"""The audit log: who did what, kept in the operational store's
``audit_log`` table.

Recorded: logins and failed logins, changes to users and API keys,
ingests, exports of customer data and erasures, the loyalty API's
writes (in the ledger write's own transaction), each with its actor (the
OS user for the command line; the user's email or the API key for the
server) and, for the server, the client's address. Never recorded:
passwords, keys, and what a person searched for. Only admins can read it
(``tenure audit``, ``GET /api/v1/audit``).

>>> record(ops, "user_disabled", os_actor(), target="ana@shop.example")  # doctest: +SKIP
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from tenure.errors import InputError
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import audit_log

KINDS = {
    "login": "a user logged in",
    "login_failed": "a login was refused (wrong email or password, or throttled)",
    "logout": "a user logged out",
    "user_added": "a user was added",
    "user_role_changed": "a user was given another role",
    "user_disabled": "a user was disabled: no login, sessions ended",
    "user_enabled": "a disabled user was enabled again",
    "user_removed": "a user was removed",
    "password_reset": "a user's password was set anew",
    "sessions_revoked": "a user's sessions were ended",
    "key_created": "an API key was made",
    "key_revoked": "an API key was revoked",
    "ingest": "data was ingested",
    "export": "customer data was downloaded (CSV or JSON)",
    "erasure": "a customer's data was erased",
    "loyalty_earn": "points were given through the loyalty API",
    "loyalty_redeem": "points were spent through the loyalty API",
    "loyalty_reverse": "an earning or a redemption was undone through the loyalty API",
    "loyalty_adjust": "points were added or taken by hand through the loyalty API",
    "campaign_create": "a campaign was created through the campaigns API",
    "campaign_launch": "a campaign's launch was asked for through the campaigns API",
}


@dataclass(frozen=True)
class Actor:
    """Who acts: kind ``user`` (an email), ``key`` (an API key's prefix and
    name) or ``os`` (the OS user running the command line)."""

    kind: str
    name: str
    address: str | None = None


def os_actor() -> Actor:
    import getpass

    try:
        return Actor("os", getpass.getuser())
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        import os

        return Actor("os", f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown")


def record(
    where: OpsStore | sa.Connection,
    kind: str,
    actor: Actor | None = None,
    *,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add one entry; ``where`` is the store, or a connection whose
    transaction the entry joins (then it is kept only if the change is)."""
    row = entry(kind, actor, target=target, detail=detail)
    if isinstance(where, sa.Connection):
        where.execute(audit_log.insert().values(**row))
        return
    with where.engine.begin() as conn:
        conn.execute(audit_log.insert().values(**row))


def entry(
    kind: str,
    actor: Actor | None = None,
    *,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The row :func:`record` adds (see :func:`record_all` for many at once)."""
    assert kind in KINDS, f"unknown audit kind {kind!r}"
    actor = actor or os_actor()
    return dict(
        at=datetime.now(UTC), kind=kind, actor_kind=actor.kind, actor=actor.name[:320],
        target=None if target is None else str(target)[:320],
        address=None if actor.address is None else actor.address[:64],
        detail=None if not detail else json.dumps(detail, sort_keys=True, default=str),
    )  # fmt: skip


# rows of one INSERT at most (7 values each; SQLite allows 32,766 in a statement)
ROWS_AT_ONCE = 500


def record_all(conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """Add the rows made by :func:`entry` in ``conn``'s transaction, in
    order, a few hundred per statement: a server commits the entries of
    many requests together, and one statement for each was most of the
    commit's time."""
    for first in range(0, len(rows), ROWS_AT_ONCE):
        conn.execute(audit_log.insert().values(rows[first : first + ROWS_AT_ONCE]))


def parse_since(text: str | None) -> datetime | None:
    """A date (YYYY-MM-DD, from its midnight UTC) or an ISO date and time."""
    if text is None or not text.strip():
        return None
    try:
        if len(text.strip()) == 10:
            day = date.fromisoformat(text.strip())
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        found = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            f"{text!r} is not a date.",
            hint="Use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS (UTC).",
            value=text,
        ) from None
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def check_kind(kind: str | None) -> str | None:
    if kind is not None and kind not in KINDS:
        raise InputError(
            f"{kind!r} is not a kind of audit entry.",
            hint=f"Use one of: {', '.join(KINDS)}.",
            value=kind,
        )
    return kind


def read(
    ops: OpsStore, *, since: datetime | None = None, kind: str | None = None, limit: int = 1000
) -> list[dict[str, Any]]:
    """The entries, newest first."""
    check_kind(kind)
    query = sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if since is not None:
        query = query.where(audit_log.c.at >= since)
    if kind is not None:
        query = query.where(audit_log.c.kind == kind)
    with ops.engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [_public(r) for r in rows]


def _public(row: Any) -> dict[str, Any]:
    at = row["at"]
    if at.tzinfo is None:  # SQLite gives back naive UTC
        at = at.replace(tzinfo=UTC)
    return {
        "id": int(row["id"]),
        "at": at.isoformat(timespec="seconds"),
        "kind": row["kind"],
        "actor_kind": row["actor_kind"],
        "actor": row["actor"],
        "target": row["target"],
        "address": row["address"],
        "detail": json.loads(row["detail"]) if row["detail"] else None,
    }


def record_ingest(where: OpsStore | sa.Connection, actor: Actor | None, result: Any) -> None:
    """An ingest's entry: its source (a path, or a database URL without its
    password) and counts, from an :class:`~tenure.ingestion.pipeline.IngestResult`."""
    out = result.to_dict()
    counts = ("kind", "ingest_id", "read", "accepted", "rejected", "duplicates", "inserted",
              "updated")  # fmt: skip
    record(where, "ingest", actor, target=out.get("source"),
           detail={k: out.get(k) for k in counts})  # fmt: skip
