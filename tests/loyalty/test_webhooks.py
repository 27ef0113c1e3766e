"""Webhooks delivered to a real HTTP receiver on loopback.

The receiver (``http.server`` in a thread) keeps every request; its
signatures are checked here with ``hmac`` from the secret the endpoint was
given, not with tenure's code. Retries are driven by the clock passed to
each delivery pass, at times worked by hand from the documented backoff
(30 s doubled after each failure, times 0.5 + 0.5 × jitter, the jitter
fixed at 0.5 here: 22.5 s, 45 s, 90 s ...): no sleeps.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tenure import loyalty
from tenure.config import LoyaltySettings, load_settings
from tenure.errors import ConfigError, InputError, InsufficientPointsError
from tenure.loyalty import Policy, Tier, TierProgram, webhooks
from tenure.store.workspace import Workspace


class Receiver:
    """An HTTP endpoint answering each POST with the next of ``statuses``
    (the last one repeated), keeping what it received."""

    def __init__(self, statuses=(200,)) -> None:
        self.statuses = list(statuses)
        self.got: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.statuses.pop(0) if len(receiver.statuses) > 1 else (
                    receiver.statuses[0])  # fmt: skip
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def events(self) -> list[dict]:
        return [json.loads(body) for _, body in self.got]


@pytest.fixture
def shop(tmp_path):
    settings = load_settings(store=tmp_path / "store")
    ws = Workspace.open(settings)
    yield settings, ws.ops
    ws.close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def _with(settings, url, days=14):
    return replace(settings, loyalty=LoyaltySettings(webhooks=(url,), expiry_warning_days=days))


def _verify(secret: str, headers: dict[str, str], body: bytes) -> int:
    """Stripe's check, written out: t=..,v1=.. over "t.body"; the timestamp."""
    parts = dict(p.split("=", 1) for p in headers["tenure-signature"].split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body,
                        hashlib.sha256).hexdigest()  # fmt: skip
    assert hmac.compare_digest(parts["v1"], expected)
    return int(parts["t"])


def _soon() -> datetime:
    """A whole second a little after now: later than every event written so far."""
    return datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)


def test_earn_redeem_and_tier_change_are_delivered_signed(shop, receiver):
    settings, ops = shop
    settings = _with(settings, receiver.url)
    policy = Policy(tiers=TierProgram((Tier("Silver", 500),)))
    loyalty.earn(ops, "C1", 300, policy=policy, reason="order 1")
    loyalty.earn(ops, "C1", 250, policy=policy, reason="order 2")  # 550: Silver
    loyalty.redeem(ops, "C1", 100, policy=policy, reward="mug")
    with pytest.raises(InsufficientPointsError):
        loyalty.redeem(ops, "C1", 10_000, policy=policy)  # refused: no event either
    now = _soon()
    done = webhooks.deliver(ops, settings, now=now)
    assert (done["new_events"], done["delivered"], done["retrying"]) == (4, 4, 0)
    secret = webhooks.secret(settings.store, receiver.url)
    events = receiver.events()
    # the upgrade is recorded inside the earning's write, before its entry's event
    assert [e["type"] for e in events] == [
        "loyalty.points.earned", "loyalty.tier.changed", "loyalty.points.earned",
        "loyalty.points.redeemed",
    ]  # fmt: skip
    for headers, body in receiver.got:
        assert _verify(secret, headers, body) == int(now.timestamp())
        assert headers["tenure-event-id"] == json.loads(body)["id"]
    assert [e["data"].get("balance") for e in events] == [300, None, 550, 450]
    assert events[2]["data"]["tier"] == "Silver"
    tier = events[1]["data"]
    assert (tier["tier"], tier["previous"], tier["kind"]) == ("Silver", None, "upgrade")
    assert events[3]["data"]["entry"]["reward"] == "mug"
    # delivered once: the next pass sends nothing
    assert webhooks.deliver(ops, settings, now=now + timedelta(hours=1))["delivered"] == 0
    assert len(receiver.got) == 4
    # a signature under another secret does not verify
    headers, body = receiver.got[0]
    with pytest.raises(AssertionError):
        _verify("whsec_other", headers, body)


def test_a_failing_receiver_is_retried_with_backoff_then_marked_failed(shop):
    settings, ops = shop
    failing = Receiver(statuses=(500,))
    try:
        settings = _with(settings, failing.url)
        loyalty.earn(ops, "C2", 10)
        t0 = _soon()
        # waits after each failure, by hand: 30 s × 2^(n-1) × (0.5 + 0.5 × 0.5)
        waits = [22.5, 45, 90, 180, 360, 720, 1440]
        times = [t0]
        for w in waits:
            times.append(times[-1] + timedelta(seconds=w))
        half = lambda: 0.5  # noqa: E731 - the jitter, fixed
        for n, at in enumerate(times, start=1):
            if n > 1:  # a second before it is due: nothing is sent
                early = webhooks.deliver(ops, settings, now=at - timedelta(seconds=1), rand=half)
                assert early["retrying"] + early["failed"] == 0
                assert len(failing.got) == n - 1
            done = webhooks.deliver(ops, settings, now=at, rand=half)
            assert len(failing.got) == n
            assert (done["retrying"], done["failed"]) == ((1, 0) if n < 8 else (0, 1))
        secret = webhooks.secret(settings.store, failing.url)
        sent_at = [_verify(secret, h, b) for h, b in failing.got]
        assert sent_at == [int(t.timestamp()) for t in times]
        # the same event every time
        assert len({json.loads(b)["id"] for _, b in failing.got}) == 1
        # failed after 8 attempts: no more, and shown
        webhooks.deliver(ops, settings, now=times[-1] + timedelta(days=30), rand=half)
        assert len(failing.got) == 8
        shown = webhooks.report(ops, settings)
        assert shown["endpoints"] == [{"url": failing.url, "origin": "tenure.toml",
                                       "pending": 0, "delivered": 0, "failed": 1}]  # fmt: skip
        [failed] = shown["failed"]
        assert (failed["attempts"], failed["last_status"], failed["last_error"]) == (
            8, 500, "HTTP 500")  # fmt: skip
    finally:
        failing.close()


def test_a_receiver_that_recovers_gets_the_event_on_the_retry(shop):
    settings, ops = shop
    flaky = Receiver(statuses=(503, 200))
    try:
        settings = _with(settings, flaky.url)
        loyalty.earn(ops, "C3", 10)
        t0 = _soon()
        assert webhooks.deliver(ops, settings, now=t0, rand=lambda: 0.0)["retrying"] == 1
        # jitter 0: half of 30 s
        done = webhooks.deliver(ops, settings, now=t0 + timedelta(seconds=15), rand=lambda: 0.0)
        assert done["delivered"] == 1
        assert webhooks.report(ops, settings)["endpoints"][0]["delivered"] == 1
    finally:
        flaky.close()


def test_points_about_to_expire_are_told_once(shop, receiver):
    settings, ops = shop
    settings = _with(settings, receiver.url, days=14)
    now = datetime.now(UTC)
    loyalty.earn(ops, "C4", 80, expires_at=now + timedelta(days=10))
    loyalty.earn(ops, "C4", 20, expires_at=now + timedelta(days=40))  # beyond the horizon
    loyalty.redeem(ops, "C4", 30)  # drawn from the lot expiring first: 50 left in it
    at = _soon()
    done = webhooks.deliver(ops, settings, now=at)
    assert done["expiring_events"] == 1
    expiring = [e for e in receiver.events() if e["type"] == "loyalty.points.expiring"]
    assert [(e["data"]["customer_id"], e["data"]["points"]) for e in expiring] == [("C4", 50)]
    assert webhooks.deliver(ops, settings, now=at + timedelta(days=1))["expiring_events"] == 0


def test_only_http_and_https_endpoints_are_taken(shop, tmp_path, cli, monkeypatch):
    settings, ops = shop
    with pytest.raises(InputError, match="not an http or https URL"):
        webhooks.add(ops, settings, "file:///etc/passwd")
    (tmp_path / "bad").mkdir()
    toml = tmp_path / "bad" / "tenure.toml"
    toml.write_text('[loyalty]\nwebhooks = ["gopher://x"]\n')
    monkeypatch.setenv("TENURE_CONFIG", str(toml))
    with pytest.raises(ConfigError, match="gopher://x"):
        load_settings()
    monkeypatch.delenv("TENURE_CONFIG")
    ran = cli("loyalty", "webhooks", "add", "ftp://x", "--store", str(settings.store), "--json")
    assert ran.code == 1
    assert json.loads(ran.out)["error"]["value"] == "ftp://x"


def test_the_secret_is_the_owners_only_and_the_cli_lists_endpoints(shop, cli):
    import os
    import stat

    settings, ops = shop
    ran = cli("loyalty", "webhooks", "add", "https://crm.example/h", "--store",
              str(settings.store), "--json")  # fmt: skip
    assert ran.code == 0, ran.err
    doc = json.loads(ran.out)
    assert doc["secret"].startswith("whsec_") and doc["added"] is True
    folder = settings.store / webhooks.SECRETS
    [path] = list(folder.iterdir())
    if os.name == "posix":
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    listed = json.loads(cli("loyalty", "webhooks", "--store", str(settings.store), "--json").out)
    assert [e["url"] for e in listed["endpoints"]] == ["https://crm.example/h"]


def test_a_manual_tier_is_told_too(shop, receiver):
    settings, ops = shop
    settings = _with(settings, receiver.url)
    policy = Policy(tiers=TierProgram((Tier("Silver", 500), Tier("Gold", 2000))))
    loyalty.earn(ops, "C5", 10, policy=policy)
    until = datetime.now(UTC) + timedelta(days=90)
    loyalty.set_tier(ops, "C5", "Gold", until=until, reason="VIP", policy=policy)
    webhooks.deliver(ops, settings, now=_soon())
    [tier] = [e["data"] for e in receiver.events() if e["type"] == "loyalty.tier.changed"]
    assert (tier["kind"], tier["tier"], tier["previous"], tier["reason"]) == (
        "manual", "Gold", None, "VIP")  # fmt: skip
