"""Webhooks: the outbox's events delivered, signed, to every endpoint.

Endpoints are the ``webhooks`` URLs of tenure.toml's ``[loyalty]`` table
and those added with ``tenure loyalty webhooks add URL``; only http and
https URLs are taken. Each endpoint has its own signing secret, made on
first use and kept in the workspace (``webhook-secrets/``, the owner's
only: folder 0700, files 0600).

A pass of :func:`deliver`:

1. adds the ``loyalty.points.expiring`` events of lots that expire within
   ``expiry_warning_days`` (:func:`tenure.loyalty.outbox.expiring`);
2. fans each new event out to the endpoints declared now: one delivery
   row per event and endpoint;
3. sends each delivery that is due, as a POST of the event's JSON with the
   header ``Tenure-Signature: t=TIMESTAMP,v1=HMAC`` (HMAC-SHA256, in hex,
   of ``TIMESTAMP.BODY`` under the endpoint's secret, as Stripe signs) and
   ``Tenure-Event-Id``, the event's id (a receiver drops an id it has
   seen: delivery is at least once);
4. a 2xx answer marks the delivery done; anything else (another status, a
   refused connection, no answer in 10 s) is retried after an exponential
   backoff with jitter (:func:`backoff`), and after :data:`MAX_ATTEMPTS`
   attempts the delivery is marked ``failed``, with its last status and
   error, for ``tenure loyalty webhooks`` to show.

Events done for longer than ``webhook_retention_days`` (30 by default)
are deleted by the server once an hour (:func:`tend`) and by ``tenure
loyalty webhooks purge`` (:func:`tenure.loyalty.outbox.purge`).

The clock (``now``), the jitter (``rand``) and the sender (``send``) are
parameters, so that a test replays the retries at the times it computed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from tenure.config import Settings
from tenure.errors import ConfigError, InputError
from tenure.loyalty import clock, idempotency, outbox
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import (
    loyalty_webhook_deliveries as deliveries_t,
)
from tenure.store.ops_schema import (
    loyalty_webhook_endpoints as endpoints_t,
)
from tenure.store.ops_schema import (
    loyalty_webhook_events as events_t,
)

SIGNATURE = "Tenure-Signature"
EVENT_ID = "Tenure-Event-Id"
MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=6)
TIMEOUT = 10.0  # seconds an endpoint has to answer
BATCH = 200  # deliveries sent by one pass at most
SECRETS = "webhook-secrets"
PURGE_EVERY = timedelta(hours=1)  # how often the server deletes old events

# (url, body, headers) -> the HTTP status; raises OSError or httpx's errors
Sender = Callable[[str, bytes, dict[str, str]], int]


@dataclass(frozen=True)
class Endpoint:
    url: str
    origin: str  # "tenure.toml" or "added"


def checked_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(
            f"the webhook URL {url!r} is not an http or https URL.",
            hint="Give the endpoint as https://host/path.", value=url,
        )  # fmt: skip
    return url.strip()


def endpoints(ops: OpsStore, settings: Settings) -> list[Endpoint]:
    """The endpoints of tenure.toml, then those added from the command line."""
    found = {url: Endpoint(url, "tenure.toml") for url in settings.loyalty.webhooks}
    with ops.engine.connect() as conn:
        for (url,) in conn.execute(sa.select(endpoints_t.c.url).order_by(endpoints_t.c.url)):
            found.setdefault(url, Endpoint(url, "added"))
    return list(found.values())


def add(ops: OpsStore, settings: Settings, url: str) -> dict[str, Any]:
    """Declare an endpoint; its secret (made now if new)."""
    url = checked_url(url)
    if conn_has(ops, url) or url in settings.loyalty.webhooks:
        return {"url": url, "secret": secret(settings.store, url), "added": False}
    with ops.engine.begin() as conn:
        conn.execute(endpoints_t.insert().values(url=url, created_at=clock.now()))
    return {"url": url, "secret": secret(settings.store, url), "added": True}


def conn_has(ops: OpsStore, url: str) -> bool:
    with ops.engine.connect() as conn:
        found = conn.execute(sa.select(endpoints_t.c.url).where(endpoints_t.c.url == url))
        return found.first() is not None


def remove(ops: OpsStore, settings: Settings, url: str) -> dict[str, Any]:
    """Stop sending to an endpoint added from the command line; its pending
    deliveries are marked failed ("endpoint removed")."""
    if url in settings.loyalty.webhooks:
        raise ConfigError(f"the webhook {url} is declared in tenure.toml.",
                          hint="Remove it from the [loyalty] table's webhooks there.")  # fmt: skip
    with ops.engine.begin() as conn:
        gone = conn.execute(endpoints_t.delete().where(endpoints_t.c.url == url)).rowcount
        if not gone:
            raise InputError(f"no webhook endpoint {url!r} was added.",
                             hint="See them with: tenure loyalty webhooks", value=url)  # fmt: skip
        dropped = conn.execute(
            deliveries_t.update()
            .where(deliveries_t.c.url == url, deliveries_t.c.state == "pending")
            .values(state="failed", last_error="endpoint removed", done_at=clock.now())
        ).rowcount  # fmt: skip
    return {"url": url, "removed": True, "pending_dropped": dropped}


def secret(store: Path, url: str) -> str:
    """The endpoint's signing secret, made (``whsec_`` and 32 random bytes)
    the first time and kept owner-only in the workspace."""
    folder = store / SECRETS
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / hashlib.sha256(url.encode()).hexdigest()[:32]
    if not path.exists():
        temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(f"whsec_{secrets.token_urlsafe(32)}\n")
            try:
                os.link(temp, path)  # two processes at once: both keep the first
            except FileExistsError:
                pass
        finally:
            temp.unlink(missing_ok=True)
    if os.name == "posix" and path.stat().st_mode & 0o077:
        raise ConfigError(
            f"the webhook secret {path} can be read by others.",
            hint=f"Make it the owner's only: chmod 600 {path} (or delete it for a new secret, "
            "and give the new one to the endpoint).",
        )  # fmt: skip
    return path.read_text("utf-8").strip()


def sign(secret_: str, timestamp: int, body: bytes) -> str:
    """HMAC-SHA256, in hex, of ``TIMESTAMP.BODY`` under the endpoint's secret."""
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret_.encode(), message, hashlib.sha256).hexdigest()


def backoff(attempts: int, rand: Callable[[], float] = random.random) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: 30 s doubled each
    time, at most 6 h, of which a random half is taken off ("equal jitter":
    retries of many deliveries spread out instead of arriving together)."""
    full = min(FIRST_RETRY * 2 ** (attempts - 1), LONGEST_WAIT)
    return full * (0.5 + 0.5 * rand())


def _http_sender() -> Sender:
    import httpx

    client = httpx.Client(timeout=TIMEOUT, follow_redirects=False)

    def send(url: str, body: bytes, headers: dict[str, str]) -> int:
        return client.post(url, content=body, headers=headers).status_code

    return send


def _fan_out(conn: sa.Connection, urls: list[str]) -> int:
    new = conn.execute(
        sa.select(events_t.c.id, events_t.c.created_at)
        .where(events_t.c.fanned_out.is_(False))
        .order_by(events_t.c.id)
    ).all()  # fmt: skip
    for event_id, created in new:
        for url in urls:
            conn.execute(deliveries_t.insert().values(
                event_id=event_id, url=url, state="pending", attempts=0, next_at=created))  # fmt: skip
    if new:
        conn.execute(events_t.update().where(events_t.c.id.in_([e for e, _ in new]))
                     .values(fanned_out=True))  # fmt: skip
    return len(new)


def body_of(row) -> bytes:
    event = {"id": f"evt_{row.event_id}", "type": row.type,
             "created": clock.utc(row.created_at).isoformat(), "data": json.loads(row.data)}  # fmt: skip
    return json.dumps(event, separators=(",", ":")).encode()


def deliver(
    ops: OpsStore,
    settings: Settings,
    *,
    now: datetime | None = None,
    rand: Callable[[], float] = random.random,
    send: Sender | None = None,
) -> dict[str, Any]:
    """One pass (see the module's docstring); what it did."""
    now = clock.utc(now) if now is not None else clock.now()
    targets = endpoints(ops, settings)
    summary = {"as_of": now, "expiring_events": 0, "new_events": 0,
               "delivered": 0, "retrying": 0, "failed": 0}  # fmt: skip
    if not targets:  # the events wait for an endpoint
        return idempotency.as_json(summary)
    with ops.engine.begin() as conn:
        expiring = outbox.expiring(conn, now, settings.loyalty.expiry_warning_days)
        fanned = _fan_out(conn, [e.url for e in targets])
    d, ev = deliveries_t, events_t
    with ops.engine.connect() as conn:
        due = conn.execute(
            sa.select(d.c.id, d.c.url, d.c.attempts, d.c.next_at, d.c.event_id, ev.c.type,
                      ev.c.created_at, ev.c.data)
            .join(ev, ev.c.id == d.c.event_id)
            .where(d.c.state == "pending", d.c.next_at <= now)
            .order_by(d.c.next_at, d.c.id)
            .limit(BATCH)
        ).all()  # fmt: skip
    summary.update(expiring_events=expiring, new_events=fanned)
    if not due:
        return idempotency.as_json(summary)
    send = send or _http_sender()
    lease = now + timedelta(seconds=TIMEOUT * 3)
    for row in due:
        with ops.engine.begin() as conn:
            # taken for this pass: another worker running at the same time skips it
            taken = conn.execute(d.update().where(d.c.id == row.id, d.c.state == "pending",
                                                  d.c.next_at == row.next_at)
                                 .values(next_at=lease)).rowcount  # fmt: skip
        if taken != 1:
            continue
        body = body_of(row)
        stamp = int(now.timestamp())
        headers = {
            "Content-Type": "application/json", "User-Agent": "tenure-webhooks",
            SIGNATURE: f"t={stamp},v1={sign(secret(settings.store, row.url), stamp, body)}",
            EVENT_ID: f"evt_{row.event_id}",
        }  # fmt: skip
        status, error = None, None
        try:
            status = send(row.url, body, headers)
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except Exception as exc:  # a refused connection, a timeout: retried
            error = f"{type(exc).__name__}: {exc}"[:500]
        attempts = row.attempts + 1
        if error is None:
            values = {"state": "delivered", "done_at": now, "next_at": None}
            summary["delivered"] += 1
        elif attempts >= MAX_ATTEMPTS:
            values = {"state": "failed", "done_at": now, "next_at": None}
            summary["failed"] += 1
        else:
            values = {"next_at": now + backoff(attempts, rand)}
            summary["retrying"] += 1
        with ops.engine.begin() as conn:
            conn.execute(d.update().where(d.c.id == row.id).values(
                attempts=attempts, last_status=status, last_error=error, **values))  # fmt: skip
    return idempotency.as_json(summary)


def report(ops: OpsStore, settings: Settings, *, limit: int = 50) -> dict[str, Any]:
    """The document of ``tenure loyalty webhooks --json``: each endpoint with
    its deliveries by state, and the failed deliveries, newest first."""
    d, ev = deliveries_t, events_t
    with ops.engine.connect() as conn:
        counts = conn.execute(
            sa.select(d.c.url, d.c.state, sa.func.count()).group_by(d.c.url, d.c.state)
        ).all()  # fmt: skip
        failed = conn.execute(
            sa.select(d.c.id, d.c.url, d.c.attempts, d.c.last_status, d.c.last_error,
                      d.c.done_at, ev.c.id.label("event_id"), ev.c.type, ev.c.customer_id)
            .join(ev, ev.c.id == d.c.event_id)
            .where(d.c.state == "failed")
            .order_by(d.c.done_at.desc(), d.c.id.desc())
            .limit(limit)
        ).mappings().all()  # fmt: skip
        waiting = conn.execute(
            sa.select(sa.func.count()).select_from(ev).where(ev.c.fanned_out.is_(False))
        ).scalar_one()  # fmt: skip
    by_url: dict[str, dict[str, int]] = {}
    for url, state, n in counts:
        by_url.setdefault(url, {"pending": 0, "delivered": 0, "failed": 0})[state] = int(n)
    listed = []
    for e in endpoints(ops, settings):
        listed.append({"url": e.url, "origin": e.origin,
                       **by_url.pop(e.url, {"pending": 0, "delivered": 0, "failed": 0})})  # fmt: skip
    for url, states in by_url.items():  # endpoints removed since
        listed.append({"url": url, "origin": "removed", **states})
    return idempotency.as_json({
        "endpoints": listed,
        "events_not_fanned_out": int(waiting),
        "failed": [{**dict(r), "event_id": f"evt_{r['event_id']}"} for r in failed],
        "max_attempts": MAX_ATTEMPTS,
    })  # fmt: skip


def tend(
    ops: OpsStore,
    settings: Settings,
    purged_at: datetime | None,
    *,
    now: datetime | None = None,
    send: Sender | None = None,
) -> datetime | None:
    """One pass of the server's worker: :func:`deliver`, then, at most once
    every :data:`PURGE_EVERY` (``purged_at``: the last time), the events
    done more than ``webhook_retention_days`` ago deleted
    (:func:`tenure.loyalty.outbox.purge`). When it last purged."""
    now = clock.utc(now) if now is not None else clock.now()
    deliver(ops, settings, now=now, send=send)
    days = settings.loyalty.webhook_retention_days
    if days and (purged_at is None or now - purged_at >= PURGE_EVERY):
        outbox.purge(ops, days, now=now)
        return now
    return purged_at


def background(ops: OpsStore, settings: Settings, every: float = 5.0) -> Callable[[], None]:
    """Deliver in a thread of this process, a pass every ``every`` seconds,
    and purge old events every hour (:func:`tend`, as ``tenure serve``
    does); the function that stops it. A pass that fails is logged and the
    next one tries again."""
    import logging
    import threading

    stop = threading.Event()
    log = logging.getLogger("tenure.webhooks")

    def run() -> None:
        purged_at = None
        while not stop.wait(every):
            try:
                purged_at = tend(ops, settings, purged_at)
            except Exception:
                log.exception("a webhook delivery pass failed; the next one tries again")

    thread = threading.Thread(target=run, daemon=True, name="loyalty-webhooks")
    thread.start()

    def halt() -> None:
        stop.set()
        thread.join(timeout=TIMEOUT * 2)

    return halt
