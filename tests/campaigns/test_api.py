"""The consent API and the one-click unsubscribe on a real Uvicorn server:
Idempotency-Key writes, who may write, the unsubscribe link posted with no
login (changed, expired, replayed, over the rate), and the withdrawal seen
by the send-time gate as soon as the answer came."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tenure.campaigns import consent
from tenure.campaigns import consent_unsubscribe as unsub
from tenure.campaigns.consent_settings import read
from tenure.campaigns.gate import Decision, may_contact
from tests.web.conftest import needs_web, serve
from tests.web.test_loyalty_api import Shop, make_store

ONE_CLICK = {"content": b"List-Unsubscribe=One-Click",
             "headers": {"Content-Type": "application/x-www-form-urlencoded"}}  # fmt: skip


def _shop(folder, **limits):
    from tenure.web import create_app

    settings, write, read_key = make_store(folder)
    settings = replace(settings, secret_key=secrets.token_urlsafe(40), **limits)
    url, stop = serve(create_app(settings, warm=False))
    return Shop(url, settings, write, read_key), stop


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    needs_web()
    made, stop = _shop(tmp_path_factory.mktemp("consent-api"))
    yield made
    stop()


def test_writes_need_the_write_scope_and_keys_replay(shop):
    body = {"channel": "email", "state": "granted", "at": "2026-03-01T09:00:00Z"}
    with shop.client() as anonymous:
        assert anonymous.post("/api/v1/consent/customers/A1", json=body).status_code == 401
    with shop.client(shop.read_key) as reader:
        assert reader.post("/api/v1/consent/customers/A1", json=body).status_code == 403
    with shop.writer() as writer:
        first = writer.post("/api/v1/consent/customers/A1", json=body,
                            headers={"Idempotency-Key": "k-1"})  # fmt: skip
        again = writer.post("/api/v1/consent/customers/A1", json=body,
                            headers={"Idempotency-Key": "k-1"})  # fmt: skip
        other = writer.post("/api/v1/consent/customers/A1", json={**body, "state": "withdrawn"},
                            headers={"Idempotency-Key": "k-1"})  # fmt: skip
    assert (first.status_code, again.status_code, other.status_code) == (201, 201, 422)
    assert again.content == first.content and again.headers["Idempotent-Replayed"] == "true"
    assert first.json()["event"]["state"] == "granted"
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    with shop.client(shop.read_key) as reader:
        state = reader.get("/api/v1/consent/customers/A1").json()
    assert [(c["channel"], c["purpose"], c["state"], c["source"]) for c in state["consents"]] == [
        ("email", "marketing", "granted", "api")]  # fmt: skip


def test_bounces_and_complaints_fill_the_suppression_list(shop):
    with shop.writer() as writer:
        hard = writer.post("/api/v1/consent/bounces",
                           json={"address": "Gone@Example.com", "kind": "hard"})  # fmt: skip
        soft = writer.post("/api/v1/consent/bounces", json={"address": "full@example.com",
                                                           "kind": "soft"})  # fmt: skip
        complained = writer.post("/api/v1/consent/complaints",
                                 json={"address": "b2@example.com", "customer_id": "B2"},
                                 headers={"Idempotency-Key": "c-1"})  # fmt: skip
    assert (hard.status_code, hard.json()["suppression"]["address"]) == (201, "gone@example.com")
    assert (soft.json()["soft_bounces"], soft.json()["suppression"]) == (1, None)
    assert complained.json()["consent"]["state"] == "withdrawn"
    with shop.client(shop.read_key) as reader:
        listed = reader.get("/api/v1/consent/suppressions").json()
        check = reader.get("/api/v1/consent/customers/B2/check",
                           params={"channel": "email", "address": "b2@example.com"}).json()  # fmt: skip
    assert sorted((s["address"], s["reason"]) for s in listed["suppressions"]) == [
        ("b2@example.com", "complaint"), ("gone@example.com", "hard_bounce")]  # fmt: skip
    assert (check["allowed"], check["reason"]) == (False, "consent_withdrawn")


def test_one_click_unsubscribe_takes_effect_before_the_next_send(shop):
    ops = shop.ops()
    try:
        consent.record(ops, "U1", "email", "marketing", True, source="api",
                       at=datetime(2026, 1, 1, tzinfo=UTC))  # fmt: skip
        rules = read({"sending": {"unsubscribe_url": shop.url}}, "tenure.toml")
        key = unsub.workspace_secret(shop.settings)
        url = unsub.link(key, rules, "U1", "email")
        path = url.removeprefix(shop.url)
        with shop.client() as mail_client:  # no login
            page = mail_client.get(path)
            assert page.status_code == 200 and "method=post" in page.text
            with ops.engine.connect() as conn:  # opening the link changed nothing
                assert may_contact(conn, "U1", "email", "marketing", consent.now()).allowed
            done = mail_client.post(path, **ONE_CLICK)
            assert (done.status_code, done.json()["replayed"]) == (200, False)
            # the next send's transaction sees the withdrawal
            with ops.engine.connect() as conn:
                decision = may_contact(conn, "U1", "email", "marketing", consent.now())
            assert decision.reason == "consent_withdrawn" and "unsubscribe_link" in decision.detail
            replay = mail_client.post(path, **ONE_CLICK)
            assert replay.json() == {**done.json(), "replayed": True}
            # the page's button, from a browser: a page in answer
            headers = {**ONE_CLICK["headers"], "Accept": "text/html"}
            button = mail_client.post(path, content=ONE_CLICK["content"], headers=headers)
            assert button.status_code == 200 and "You are unsubscribed" in button.text
            payload, signature = path.rsplit("/", 1)[1].split(".")
            forged = unsub.token(b"x" * 32, "U2", "email", "marketing",
                                 datetime.now(UTC) + timedelta(days=1))  # fmt: skip
            for bad in (
                f"{forged.split('.')[0]}.{signature}",
                forged,
                f"{payload}.{signature[:-2]}",
            ):
                refused = mail_client.post(f"/api/v1/consent/unsubscribe/{bad}", **ONE_CLICK)
                assert refused.status_code == 403
                assert refused.json()["error"]["code"] == "unsubscribe_link_invalid"
            old = unsub.token(
                key, "U1", "email", "marketing", datetime.now(UTC) - timedelta(seconds=1)
            )
            expired = mail_client.post(f"/api/v1/consent/unsubscribe/{old}", **ONE_CLICK)
            assert (expired.status_code, expired.json()["error"]["code"]) == (
                410, "unsubscribe_link_expired")  # fmt: skip
        events = consent.history(ops, "U1")["events"]
        assert [(e["state"], e["source"]) for e in events] == [
            ("granted", "api"), ("withdrawn", "unsubscribe_link")]  # fmt: skip
        assert consent.history(ops, "U2")["events"] == []
    finally:
        ops.close()


def test_unsubscribes_are_limited_in_rate(tmp_path):
    needs_web()
    # a bucket of 3 that refills one token in 1,000 s: the 4th post is refused
    shop, stop = _shop(tmp_path, login_rate=0.001, login_burst=3)
    try:
        key = unsub.workspace_secret(shop.settings)
        with shop.client() as client:
            codes = []
            for i in range(4):
                text = unsub.token(key, f"R{i}", "email", "marketing",
                                   datetime.now(UTC) + timedelta(days=1))  # fmt: skip
                got = client.post(f"/api/v1/consent/unsubscribe/{text}", **ONE_CLICK)
                codes.append(got.status_code)
        assert codes == [200, 200, 200, 429]
        assert int(got.headers["Retry-After"]) >= 1
    finally:
        stop()


def test_decision_shape_is_stable():
    # the sender relies on these fields and their order of checks
    assert Decision(True).doc() == {"allowed": True, "reason": None, "detail": None,
                                    "retry_at": None}  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("pg_database")


def test_one_key_sent_by_many_clients_at_once_records_once(tmp_path, store_url):
    """Ten clients send the same write under one Idempotency-Key at the same
    moment: one event is recorded; every other answer is its replay, or a
    409 to retry (never a second event)."""
    import threading

    from tenure.access import apikeys
    from tenure.config import load_settings
    from tenure.store.workspace import Workspace
    from tenure.web import create_app

    needs_web()
    settings = load_settings(store=tmp_path / "store", ops_url=store_url)
    with Workspace.open(settings) as ws:
        write = apikeys.create_key(ws.ops, ["read", "write"], name="crm")["key"]
    settings = replace(settings, secret_key=secrets.token_urlsafe(40))
    url, stop = serve(create_app(settings, warm=False))
    shop = Shop(url, settings, write, None)
    body = {"channel": "sms", "state": "withdrawn", "at": "2026-03-01T09:00:00Z"}
    answers, ready = [], threading.Barrier(10)

    def client() -> None:
        with shop.writer() as c:
            ready.wait()
            got = c.post(
                "/api/v1/consent/customers/K1", json=body, headers={"Idempotency-Key": "same"}
            )
            answers.append((got.status_code, got.headers.get("Idempotent-Replayed"), got.json()))

    try:
        threads = [threading.Thread(target=client) for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        with shop.writer() as c:  # a retry after the race gets the recorded event
            retry = c.post(
                "/api/v1/consent/customers/K1", json=body, headers={"Idempotency-Key": "same"}
            )
            history = c.get("/api/v1/consent/customers/K1", params={"history": "true"}).json()
    finally:
        stop()
    assert len(answers) == 10
    first = [a for a in answers if a[0] == 201 and a[1] is None]
    assert len(first) == 1
    event = first[0][2]["event"]
    for status, replayed, doc in answers:
        if status == 409:
            assert doc["error"]["code"] == "idempotency_conflict"
        else:
            assert doc == {"event": event} and replayed in (None, "true")
    assert retry.json() == {"event": event} and retry.headers["Idempotent-Replayed"] == "true"
    assert [e["id"] for e in history["events"]] == [event["id"]]


def test_a_wrong_campaigns_table_stops_the_server_at_its_start(tmp_path):
    from tenure.config import TableSettings
    from tenure.errors import ConfigError
    from tenure.web import create_app

    needs_web()
    settings, _, _ = make_store(tmp_path)
    bad = TableSettings("tenure.toml", (("caps", {"sms": {"messages": 1, "days": 0}}),))
    settings = replace(settings, secret_key=secrets.token_urlsafe(40), campaigns=bad)
    with pytest.raises(ConfigError, match=r"\[campaigns.caps\] sms.days = 0"):
        create_app(settings, warm=False)
