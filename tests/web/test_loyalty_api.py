"""The loyalty REST API on a real Uvicorn server: writes under the
Idempotency-Key header, who may write, a refused redemption, and one
number on every surface.

The figures are worked by hand from the requests sent (earn 100, redeem
30: 70 left); the stored responses are compared with the first answers
byte for byte, and the ledger is read back through the library.
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from tests.web.conftest import PASSWORDS, needs_web, serve

KEY = "Idempotency-Key"


class Shop:
    def __init__(self, url, settings, write_key, read_key):
        self.url, self.settings = url, settings
        self.write_key, self.read_key = write_key, read_key

    def client(self, key: str | None = None):
        import httpx

        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def writer(self):
        return self.client(self.write_key)

    def ops(self):
        from tenure.store.ops import OpsStore

        return OpsStore.open(f"sqlite:///{self.settings.store / 'ops.sqlite'}")


def make_store(folder: Path, ops_url: str | None = None):
    """An empty workspace with a user of each role, a write and a read API
    key; its operational store at ``ops_url`` (default: SQLite in the store)."""
    from tenure.access import apikeys, users
    from tenure.config import load_settings
    from tenure.store.workspace import Workspace

    settings = load_settings(store=folder / "store", reporting_currency="EUR", ops_url=ops_url)
    with Workspace.open(settings) as ws:
        for email, password in PASSWORDS.items():
            users.add_user(ws.ops, email, email.split("@")[0], password)
        write = apikeys.create_key(ws.ops, ["read", "write"], name="till")["key"]
        read = apikeys.create_key(ws.ops, ["read"], name="bi")["key"]
    return settings, write, read


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    needs_web()
    from tenure.web import create_app

    settings, write, read = make_store(tmp_path_factory.mktemp("loyalty-api"))
    settings = replace(settings, secret_key=secrets.token_urlsafe(40))
    url, stop = serve(create_app(settings, warm=False))
    yield Shop(url, settings, write, read)
    stop()


def _entries(shop: Shop, customer: str) -> list[dict]:
    from tenure import loyalty

    ops = shop.ops()
    try:
        return loyalty.history(ops, customer)["entries"]
    finally:
        ops.close()


def test_anonymous_is_401_and_a_viewer_or_a_read_key_cannot_write(shop):
    from tests.web.conftest import Site

    body = {"points": 10}
    with shop.client() as anonymous:
        got = anonymous.post("/api/v1/loyalty/members/A1/earn", json=body)
        assert got.status_code == 401
        assert got.json()["error"]["code"] == "unauthenticated"
    with shop.client(shop.read_key) as reader:
        got = reader.post("/api/v1/loyalty/members/A1/earn", json=body)
        assert got.status_code == 403
        assert got.json()["error"]["code"] == "forbidden"
    site = Site(shop.url, shop.settings, shop.settings.store)
    viewer = site.login("viewer@shop.example")
    csrf = site.session_csrf(viewer)
    got = viewer.post("/api/v1/loyalty/members/A1/earn", json=body,
                      headers={"X-CSRF-Token": csrf})  # fmt: skip
    assert got.status_code == 403
    # an analyst's session may write
    analyst = site.login("analyst@shop.example")
    got = analyst.post("/api/v1/loyalty/members/A2/earn", json=body,
                       headers={"X-CSRF-Token": site.session_csrf(analyst)})  # fmt: skip
    assert got.status_code == 201, got.text
    with shop.client(shop.read_key) as reader:
        assert reader.get("/api/v1/loyalty/members/A1").status_code == 404  # nothing earned
        assert reader.get("/api/v1/loyalty/members/A2").json()["balance"] == 10


def test_the_same_key_and_body_gives_the_stored_response_and_posts_once(shop):
    with shop.writer() as client:
        first = client.post("/api/v1/loyalty/members/B1/earn", headers={KEY: "earn-b1-1"},
                            json={"points": 100, "reason": "welcome"})  # fmt: skip
        assert first.status_code == 201, first.text
        assert "Idempotent-Replayed" not in first.headers
        assert first.json()["balance"] == 100
        # the same body, its keys in another order and spaced otherwise
        again = client.post(
            "/api/v1/loyalty/members/B1/earn",
            headers={KEY: '"earn-b1-1"', "Content-Type": "application/json"},
            content=b'{ "reason" : "welcome", "points" : 100 }',
        )
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.content == first.content
    assert [e["points"] for e in _entries(shop, "B1")] == [100]


def test_the_same_key_with_another_body_is_422_and_posts_nothing(shop):
    with shop.writer() as client:
        first = client.post("/api/v1/loyalty/members/C1/earn", headers={KEY: "c1"},
                            json={"points": 50})  # fmt: skip
        assert first.status_code == 201
        other = client.post("/api/v1/loyalty/members/C1/earn", headers={KEY: "c1"},
                            json={"points": 500})  # fmt: skip
        assert other.status_code == 422
        assert other.json()["error"]["code"] == "idempotency_key_reused"
        # another path under the key is another request too
        spent = client.post("/api/v1/loyalty/members/C1/redeem", headers={KEY: "c1"},
                            json={"points": 50})  # fmt: skip
        assert spent.status_code == 422
    assert [e["points"] for e in _entries(shop, "C1")] == [50]


def test_keys_belong_to_their_caller(shop):
    """The same key from two callers is two requests: each posts once."""
    from tests.web.conftest import Site

    with shop.writer() as client:
        assert client.post("/api/v1/loyalty/members/D1/earn", headers={KEY: "shared"},
                           json={"points": 5}).status_code == 201  # fmt: skip
    site = Site(shop.url, shop.settings, shop.settings.store)
    admin = site.login("admin@shop.example")
    got = admin.post("/api/v1/loyalty/members/D1/earn", json={"points": 7},
                     headers={KEY: "shared", "X-CSRF-Token": site.session_csrf(admin)})  # fmt: skip
    assert got.status_code == 201, got.text
    assert "Idempotent-Replayed" not in got.headers
    assert got.json()["balance"] == 12


def test_a_redemption_beyond_the_balance_is_409_and_changes_nothing(shop):
    with shop.writer() as client:
        client.post("/api/v1/loyalty/members/E1/earn", json={"points": 100})
        client.post("/api/v1/loyalty/members/E1/redeem", json={"points": 30})
        before = client.get("/api/v1/loyalty/members/E1").json()
        refused = client.post("/api/v1/loyalty/members/E1/redeem", headers={KEY: "e1-big"},
                              json={"points": 500, "reward": "bike"})  # fmt: skip
        assert refused.status_code == 409
        error = refused.json()["error"]
        assert error["code"] == "insufficient_points"
        assert error["message"] == (
            "customer E1 has 70 points available; redeeming 500 needs 430 more. "
            "Nothing was redeemed."
        )
        after = client.get("/api/v1/loyalty/members/E1").json()
        assert (after["balance"], after["lots"]) == (before["balance"], before["lots"]) == (
            70, before["lots"])  # fmt: skip
        assert len(_entries(shop, "E1")) == 2
        # the refusal stored nothing under its key: once the points are
        # there, the same request is decided afresh
        client.post("/api/v1/loyalty/members/E1/earn", json={"points": 430})
        retried = client.post("/api/v1/loyalty/members/E1/redeem", headers={KEY: "e1-big"},
                              json={"points": 500, "reward": "bike"})  # fmt: skip
        assert retried.status_code == 201, retried.text
        assert retried.json()["balance"] == 0


def test_one_number_api_cli_and_library(shop, cli):
    from tenure import loyalty

    with shop.writer() as client:
        client.post("/api/v1/loyalty/members/F1/earn", json={"points": 100})
        client.post("/api/v1/loyalty/members/F1/earn", json={"points": 40, "pending": True})
        client.post("/api/v1/loyalty/members/F1/redeem", json={"points": 30})
        api = client.get("/api/v1/loyalty/members/F1").json()
        lots = client.get("/api/v1/loyalty/members/F1/lots").json()
        history = client.get("/api/v1/loyalty/members/F1/history").json()
    ran = cli("loyalty", "balance", "F1", "--json", "--store", str(shop.settings.store))
    assert ran.code == 0, ran.err
    shown = json.loads(ran.out)
    ops = shop.ops()
    try:
        library = loyalty.balance(ops, "F1")
    finally:
        ops.close()
    # worked by hand: 100 usable, 30 redeemed from it, 40 pending
    assert (api["balance"], api["pending"], api["tier"]) == (70, 40, None)
    for key in ("customer_id", "balance", "pending", "debt", "available", "tier", "lots"):
        assert api[key] == shown[key] == library[key], key
    assert lots["lots"] == api["lots"]
    assert [e["kind"] for e in history["entries"]] == ["earn", "pending", "redeem"]
    assert history["balance"] == 70


def test_reverse_and_adjust(shop):
    with shop.writer() as client:
        earned = client.post("/api/v1/loyalty/members/G1/earn", json={"points": 100}).json()
        back = client.post("/api/v1/loyalty/members/G1/reverse",
                           json={"entry_id": earned["entry"]["id"], "points": 40})  # fmt: skip
        assert back.status_code == 201 and back.json()["balance"] == 60
        took = client.post("/api/v1/loyalty/members/G1/adjust",
                           json={"points": -10, "reason": "typo"})  # fmt: skip
        assert took.status_code == 201 and took.json()["balance"] == 50
        no_reason = client.post("/api/v1/loyalty/members/G1/adjust", json={"points": 5})
        assert no_reason.status_code == 422
        assert no_reason.json()["error"]["code"] == "invalid_request"
        bad_key = client.post("/api/v1/loyalty/members/G1/earn", json={"points": 5},
                              headers={KEY: "tab\there"})  # fmt: skip
        assert bad_key.status_code == 400
        assert bad_key.json()["error"]["code"] == "idempotency_key_invalid"
        assert client.get("/api/v1/loyalty/members/G1").json()["balance"] == 50


def test_keys_are_kept_24_hours_then_purged(shop):
    """With the clock of the purge moved on: at 23 h the key still replays;
    past 24 h it is gone, and the key is free for a new request."""
    import sqlalchemy as sa

    from tenure.loyalty import clock, idempotency
    from tenure.store.ops_schema import loyalty_api_requests

    with shop.writer() as client:
        first = client.post("/api/v1/loyalty/members/H1/earn", headers={KEY: "h1"},
                            json={"points": 9})  # fmt: skip
        assert first.status_code == 201
        ops = shop.ops()
        try:
            with ops.engine.connect() as conn:
                created = clock.utc(conn.execute(
                    sa.select(loyalty_api_requests.c.created_at)
                    .where(loyalty_api_requests.c.key == "h1")).scalar_one())  # fmt: skip
            with ops.engine.begin() as conn:
                idempotency.purge(conn, created + timedelta(hours=23), 24)
            replay = client.post("/api/v1/loyalty/members/H1/earn", headers={KEY: "h1"},
                                 json={"points": 9})  # fmt: skip
            assert replay.headers.get("Idempotent-Replayed") == "true"
            with ops.engine.begin() as conn:
                idempotency.purge(conn, created + timedelta(hours=24, seconds=1), 24)
        finally:
            ops.close()
        fresh = client.post("/api/v1/loyalty/members/H1/earn", headers={KEY: "h1"},
                            json={"points": 11})  # fmt: skip
    assert fresh.status_code == 201 and "Idempotent-Replayed" not in fresh.headers
    assert fresh.json()["balance"] == 20


def test_a_duplicate_while_the_first_is_in_flight_is_409(tmp_path):
    """The first request is held inside its ledger transaction (the fault
    point ``loyalty locked``, paused); the duplicate then gets 409 at once,
    another body under the key 422, and once the first is let go its
    response is the one replayed."""
    from tests.web.test_live import _serve, _stop

    needs_web()
    settings, write, _ = make_store(tmp_path)
    release = tmp_path / "release"
    served = _serve(settings.store, TENURE_FAULT_AT="loyalty locked",
                    TENURE_FAULT_SIGNAL="PAUSE", TENURE_FAULT_RELEASE=str(release))  # fmt: skip
    try:
        import httpx

        client = httpx.Client(base_url=served.url, timeout=120,
                              headers={"Authorization": f"Bearer {write}", KEY: "k-409"})  # fmt: skip
        path, body = "/api/v1/loyalty/members/P1/earn", {"points": 25}
        answers: list = []
        first = threading.Thread(target=lambda: answers.append(client.post(path, json=body)))
        first.start()
        reached = Path(f"{release}.reached")
        while not reached.exists() and first.is_alive():
            first.join(0.05)  # waiting for the held state, not timing a fault
        assert reached.exists()
        duplicate = client.post(path, json=body)
        assert duplicate.status_code == 409
        assert duplicate.json()["error"]["code"] == "idempotency_conflict"
        other = client.post(path, json={"points": 26})
        assert other.status_code == 422
        release.touch()
        first.join(120)
        assert answers[0].status_code == 201, answers[0].text
        replay = client.post(path, json=body)
        assert replay.status_code == 201
        assert replay.headers["Idempotent-Replayed"] == "true"
        assert replay.content == answers[0].content
        client.close()
    finally:
        release.touch()
        _stop(served)
    from tenure import loyalty
    from tenure.store.ops import OpsStore

    ops = OpsStore.open(f"sqlite:///{settings.store / 'ops.sqlite'}")
    try:
        assert [e["points"] for e in loyalty.history(ops, "P1")["entries"]] == [25]
    finally:
        ops.close()


def test_the_server_delivers_the_webhook_of_an_earn_through_the_api(shop):
    """API earn -> outbox -> the server's own delivery thread -> a signed POST."""
    import time

    from tenure.loyalty import webhooks
    from tests.loyalty.test_webhooks import Receiver, _verify

    receiver = Receiver()
    ops = shop.ops()
    try:
        secret = webhooks.add(ops, shop.settings, receiver.url)["secret"]
        with shop.writer() as client:
            got = client.post("/api/v1/loyalty/members/W1/earn", json={"points": 15})
            assert got.status_code == 201
        entry = got.json()["entry"]["id"]
        deadline = time.monotonic() + 60
        mine: list = []
        while not mine and time.monotonic() < deadline:
            mine = [(h, b) for h, b in list(receiver.got)
                    if json.loads(b)["data"]["customer_id"] == "W1"]  # fmt: skip
            time.sleep(0.1)  # waiting for the server's next pass (every 5 s)
        [(headers, body)] = mine
        _verify(secret, headers, body)
        event = json.loads(body)
        assert (event["type"], event["data"]["entry"]["id"]) == ("loyalty.points.earned", entry)
    finally:
        webhooks.remove(ops, shop.settings, receiver.url)
        ops.close()
        receiver.close()


def test_a_duplicate_that_reached_another_process_rolls_back_at_commit(tmp_path):
    """Two server processes do not share what they have in flight: the
    second write of a key checked before the first committed fails on the
    key's row when it would commit, and its entries go with it."""
    from tenure import loyalty
    from tenure.errors import IdempotencyConflictError
    from tenure.store.ops import OpsStore
    from tenure.web import idempotency

    ops = OpsStore.open(f"sqlite:///{tmp_path / 'ops.sqlite'}")
    try:
        digest = idempotency.fingerprint("POST", "/p", {"points": 5})
        # both found no stored response (as two processes would), then wrote
        assert idempotency.stored(ops, "key:abc", "k", digest) is None
        stores = idempotency.storing("key:abc", "k", "Q1", digest)
        with idempotency.recording(stores):
            loyalty.earn(ops, "Q1", 5)
        with pytest.raises(IdempotencyConflictError), idempotency.recording(stores):
            loyalty.earn(ops, "Q1", 5)
        assert [e["points"] for e in loyalty.history(ops, "Q1")["entries"]] == [5]
        assert idempotency.stored(ops, "key:abc", "k", digest).status == 201
    finally:
        ops.close()
