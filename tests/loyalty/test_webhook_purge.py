"""Old webhook events are deleted: those whose every delivery is done
(delivered, or failed for good) longer ago than the retention period, by
``tenure loyalty webhooks purge`` and by the server's worker once an hour;
never an event still to deliver or waiting for an endpoint. On SQLite and
on a real PostgreSQL server.

Time moves by the clock each pass is given (``now``) or by the ledger's
clock (:mod:`tenure.loyalty.clock`) set by the test: no sleeps. Which
events go is worked by hand from the times of their deliveries.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tenure import loyalty
from tenure.config import LoyaltySettings, load_settings
from tenure.loyalty import clock, outbox, webhooks
from tenure.store.ops_schema import loyalty_webhook_deliveries as deliveries_t
from tenure.store.ops_schema import loyalty_webhook_events as events_t
from tenure.store.workspace import Workspace

HOOK_A = "http://127.0.0.1:9/a"
HOOK_B = "http://127.0.0.1:9/b"
DAY = timedelta(days=1)


def _settings(tmp_path, ops_url: str | None = None, **loyalty_settings):
    settings = load_settings(store=tmp_path / "store")
    settings.store.mkdir(parents=True, exist_ok=True)
    base = {"webhooks": (HOOK_A, HOOK_B), **loyalty_settings}
    return replace(settings, ops_url=ops_url, loyalty=LoyaltySettings(**base))


def _sender(failing: set[str]):
    """HOOK_A takes everything; HOOK_B refuses the events of ``failing``."""

    def send(url: str, body: bytes, headers: dict[str, str]) -> int:
        customer = json.loads(body)["data"]["customer_id"]
        return 500 if url == HOOK_B and customer in failing else 200

    return send


def _soon() -> datetime:
    """A whole second after every event written so far."""
    return datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)


def _left(ops) -> dict[str, list[str]]:
    """The events kept, by customer, with their deliveries' states."""
    with ops.engine.connect() as conn:
        events = conn.execute(sa.select(events_t.c.id, events_t.c.customer_id)).all()
        states = conn.execute(sa.select(deliveries_t.c.event_id, deliveries_t.c.state)).all()
    by_event: dict[int, list[str]] = {}
    for event_id, state in states:
        by_event.setdefault(event_id, []).append(state)
    return {customer: sorted(by_event.get(i, [])) for i, customer in events}


@pytest.fixture
def shop(tmp_path, ops_url):
    settings = _settings(tmp_path, ops_url)
    ws = Workspace.open(settings)
    yield settings, ws.ops
    ws.close()


def test_done_events_go_after_the_retention_and_pending_ones_never(shop):
    settings, ops = shop
    failing = {"F1", "P1"}
    send = _sender(failing)
    loyalty.earn(ops, "A1", 100)
    loyalty.earn(ops, "F1", 10)
    t0 = _soon()
    webhooks.deliver(ops, settings, now=t0, send=send, rand=lambda: 0.5)
    # F1's delivery to HOOK_B fails 8 times, the last 49 h on (a pass every 7 h)
    for k in range(1, 8):
        webhooks.deliver(ops, settings, now=t0 + k * timedelta(hours=7), send=send,
                         rand=lambda: 0.5)  # fmt: skip
    loyalty.earn(ops, "P1", 5)  # delivered to HOOK_A, retrying at HOOK_B: pending
    webhooks.deliver(ops, settings, now=t0 + timedelta(hours=50), send=send, rand=lambda: 0.5)
    loyalty.earn(ops, "N1", 1)  # never given to the endpoints: waiting
    assert _left(ops) == {"A1": ["delivered", "delivered"], "F1": ["delivered", "failed"],
                          "P1": ["delivered", "pending"], "N1": []}  # fmt: skip

    # 30 days after A1 was done (t0): F1 was done at t0 + 49 h, later
    gone = outbox.purge(ops, 30, now=t0 + 30 * DAY + timedelta(hours=1))
    assert (gone["events"], gone["deliveries"]) == (1, 2)
    assert set(_left(ops)) == {"F1", "P1", "N1"}
    assert outbox.purge(ops, 30, now=t0 + 32 * DAY)["events"] == 0  # cutoff t0 + 2 d < t0 + 49 h
    gone = outbox.purge(ops, 30, now=t0 + 33 * DAY)
    assert (gone["events"], gone["deliveries"]) == (1, 2)
    # pending and waiting events stay whatever their age
    assert outbox.purge(ops, 0, now=t0 + 1000 * DAY)["events"] == 0
    assert _left(ops) == {"P1": ["delivered", "pending"], "N1": []}


def test_an_expiring_lots_event_stays_until_the_lot_expires(shop):
    """Deleted before, the next pass would tell of the lot again."""
    settings, ops = shop
    settings = replace(settings, loyalty=replace(settings.loyalty, expiry_warning_days=14))
    expires = _soon() + 10 * DAY
    loyalty.earn(ops, "X1", 100, expires_at=expires)
    t0 = _soon()
    done = webhooks.deliver(ops, settings, now=t0, send=_sender(set()))
    assert (done["expiring_events"], done["delivered"]) == (1, 4)  # 2 events x 2 endpoints
    assert outbox.purge(ops, 0, now=t0 + DAY)["events"] == 1  # the earning's
    with ops.engine.connect() as conn:
        assert conn.execute(sa.select(events_t.c.type)).scalars().all() == [outbox.EXPIRING]
    assert webhooks.deliver(ops, settings, now=t0 + DAY, send=_sender(set()))[
        "expiring_events"] == 0  # fmt: skip
    after = expires + timedelta(seconds=1)
    assert outbox.purge(ops, 0, now=after)["events"] == 1
    assert webhooks.deliver(ops, settings, now=after, send=_sender(set()))["expiring_events"] == 0
    assert _left(ops) == {}


def test_the_servers_worker_purges_once_an_hour(shop):
    settings, ops = shop
    loyalty.earn(ops, "A1", 100)
    t0 = _soon()
    webhooks.deliver(ops, settings, now=t0, send=_sender(set()))
    last = t0 + 31 * DAY - timedelta(minutes=30)  # the worker's last purge
    kept = webhooks.tend(ops, settings, last, now=t0 + 31 * DAY, send=_sender(set()))
    assert kept == last and set(_left(ops)) == {"A1"}  # 30 minutes since: not yet
    now = t0 + 31 * DAY + timedelta(minutes=30)
    assert webhooks.tend(ops, settings, last, now=now, send=_sender(set())) == now
    assert _left(ops) == {}
    # webhook_retention_days = 0: kept for ever
    loyalty.earn(ops, "A2", 100)
    forever = replace(settings, loyalty=replace(settings.loyalty, webhook_retention_days=0))
    t1 = _soon()
    webhooks.deliver(ops, forever, now=t1, send=_sender(set()))
    assert webhooks.tend(ops, forever, None, now=t1 + 999 * DAY, send=_sender(set())) is None
    assert set(_left(ops)) == {"A2"}


def test_the_thread_of_tenure_serve_purges_by_the_ledgers_clock(shop, monkeypatch):
    """The worker of ``tenure serve`` (:func:`webhooks.background`), its
    clock set 31 days on: its first pass deletes the event done today."""
    import threading

    settings, ops = shop
    loyalty.earn(ops, "A1", 100)
    t0 = _soon()
    webhooks.deliver(ops, settings, now=t0, send=_sender(set()))
    passes = threading.Event()
    real = outbox.purge

    def purge(*args, **kwargs):
        done = real(*args, **kwargs)
        passes.set()
        return done

    monkeypatch.setattr(clock, "now", lambda: t0 + 31 * DAY)
    monkeypatch.setattr(outbox, "purge", purge)
    stop = webhooks.background(ops, settings, every=0.01)
    try:
        assert passes.wait(60), "the worker made no pass"
    finally:
        stop()
    assert _left(ops) == {}


def test_the_cli_purges_with_the_setting_or_older_than(tmp_path, cli, monkeypatch):
    settings = _settings(tmp_path)
    t_old = _soon() - 40 * DAY
    with Workspace.open(settings) as ws:
        monkeypatch.setattr(clock, "now", lambda: t_old)  # earned 40 days ago
        loyalty.earn(ws.ops, "A1", 100)
        loyalty.earn(ws.ops, "A2", 50)
        webhooks.deliver(ws.ops, settings, now=t_old, send=_sender(set()))
        monkeypatch.undo()
        loyalty.earn(ws.ops, "A3", 10)  # today: waiting
    store = str(settings.store)
    kept = cli("loyalty", "webhooks", "purge", "--older-than", "45", "--json", "--store", store)
    assert kept.code == 0, kept.err
    assert (kept.json()["events"], kept.json()["older_than_days"]) == (0, 45)
    gone = cli("loyalty", "webhooks", "purge", "--json", "--store", store)  # 30 days by default
    assert gone.code == 0, gone.err
    assert (gone.json()["events"], gone.json()["deliveries"]) == (2, 4)
    again = cli("loyalty", "webhooks", "purge", "--store", store)
    assert again.code == 0 and again.out.startswith("Deleted 0 webhook event(s)")
    refused = cli("loyalty", "webhooks", "purge", "--older-than", "-1", "--store", store)
    assert refused.code == 2 and "Traceback" not in refused.err
    with Workspace.open(settings) as ws:
        assert _left(ws.ops) == {"A3": []}


def test_the_retention_is_read_from_tenure_toml(tmp_path, monkeypatch):
    from tenure.errors import ConfigError

    monkeypatch.chdir(tmp_path)
    assert load_settings().loyalty.webhook_retention_days == 30
    (tmp_path / "tenure.toml").write_text("[loyalty]\nwebhook_retention_days = 90\n")
    assert load_settings().loyalty.webhook_retention_days == 90
    (tmp_path / "tenure.toml").write_text("[loyalty]\nwebhook_retention_days = -1\n")
    with pytest.raises(ConfigError, match="'webhook_retention_days' has the value -1"):
        load_settings()
