"""The loyalty API's writes in the audit log, on a real Uvicorn server.

Each write that posts an entry has exactly one row, written in the ledger
write's transaction: a replay under the same Idempotency-Key, a refused
write and a write rolled back (a second process's duplicate, a process
killed before its commit) add none. The balances in the rows are worked
by hand from the requests sent.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.web.conftest import needs_web, serve
from tests.web.test_loyalty_api import KEY, Shop, make_store

LOYALTY_KINDS = ("loyalty_earn", "loyalty_redeem", "loyalty_reverse", "loyalty_adjust")


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    needs_web()
    from tenure.web import create_app

    settings, write, read = make_store(tmp_path_factory.mktemp("loyalty-audit"))
    settings = replace(settings, secret_key=secrets.token_urlsafe(40))
    url, stop = serve(create_app(settings, warm=False))
    yield Shop(url, settings, write, read)
    stop()


def _rows(ops, customer: str | None = None) -> list[dict]:
    """The loyalty rows of the audit log, oldest first."""
    from tenure.access import audit

    rows = [r for r in reversed(audit.read(ops)) if r["kind"] in LOYALTY_KINDS]
    return [r for r in rows if customer is None or r["target"] == customer]


def _read(shop: Shop, customer: str) -> list[dict]:
    ops = shop.ops()
    try:
        return _rows(ops, customer)
    finally:
        ops.close()


def test_each_write_has_one_row_and_a_replay_or_a_refusal_adds_none(shop):
    member = "/api/v1/loyalty/members/AU1"
    with shop.writer() as client:
        earned = client.post(f"{member}/earn", headers={KEY: "au1-earn"},
                             json={"points": 100, "reason": "welcome"})  # fmt: skip
        assert earned.status_code == 201, earned.text
        assert client.post(f"{member}/earn", json={"points": 40}).status_code == 201
        spent = client.post(f"{member}/redeem", headers={KEY: "au1-redeem"},
                            json={"points": 30, "reward": "mug"})  # fmt: skip
        assert spent.status_code == 201
        taken = client.post(f"{member}/adjust", json={"points": -5, "reason": "typo"})
        assert taken.status_code == 201
        back = client.post(f"{member}/reverse", headers={KEY: "au1-reverse"},
                           json={"entry_id": spent.json()["entry"]["id"]})  # fmt: skip
        assert back.status_code == 201
        assert len(_read(shop, "AU1")) == 5
        # replays: the stored responses, no second row
        for path, key, body in [("earn", "au1-earn", {"points": 100, "reason": "welcome"}),
                                ("redeem", "au1-redeem", {"points": 30, "reward": "mug"}),
                                ("reverse", "au1-reverse",
                                 {"entry_id": spent.json()["entry"]["id"]})]:  # fmt: skip
            again = client.post(f"{member}/{path}", headers={KEY: key}, json=body)
            assert again.headers["Idempotent-Replayed"] == "true"
        # refused: beyond the balance (409), another body under a key (422),
        # an entry that is not the member's (404), a reversal of what is undone (400)
        assert client.post(f"{member}/redeem", json={"points": 1000}).status_code == 409
        assert client.post(f"{member}/earn", headers={KEY: "au1-earn"},
                           json={"points": 7}).status_code == 422  # fmt: skip
        assert client.post(f"{member}/reverse", json={"entry_id": 10**9}).status_code == 404
        assert client.post(f"{member}/reverse",
                           json={"entry_id": spent.json()["entry"]["id"]}).status_code == 400  # fmt: skip
    rows = _read(shop, "AU1")
    assert [r["kind"] for r in rows] == ["loyalty_earn", "loyalty_earn", "loyalty_redeem",
                                         "loyalty_adjust", "loyalty_reverse"]  # fmt: skip
    # 100, +40 = 140, -30 = 110, -5 = 105, the 30 back = 135
    assert [r["detail"]["balance"] for r in rows] == [100, 140, 110, 105, 135]
    assert [r["detail"]["points"] for r in rows] == [100, 40, -30, -5, 30]
    assert [r["detail"]["idempotency_key"] for r in rows] == [
        "au1-earn", None, "au1-redeem", None, "au1-reverse"]  # fmt: skip
    assert {r["detail"]["outcome"] for r in rows} == {"posted"}
    assert rows[2]["detail"]["reward"] == "mug"
    assert rows[4]["detail"]["reverses"] == spent.json()["entry"]["id"]
    # who: the write key (its prefix and name), from loopback
    assert {(r["actor_kind"], r["address"]) for r in rows} == {("key", "127.0.0.1")}
    assert all(r["actor"].endswith(" (till)") for r in rows)
    assert all(shop.write_key.startswith(r["actor"].split(" ")[0]) for r in rows)
    # the entries each row names are the member's ledger, one for one
    from tenure import loyalty

    ops = shop.ops()
    try:
        entries = loyalty.history(ops, "AU1")["entries"]
    finally:
        ops.close()
    assert [r["detail"]["entry_id"] for r in rows] == [e["id"] for e in entries]


def test_a_session_user_is_the_actor(shop):
    from tests.web.conftest import Site

    site = Site(shop.url, shop.settings, shop.settings.store)
    analyst = site.login("analyst@shop.example")
    got = analyst.post("/api/v1/loyalty/members/AU2/earn", json={"points": 12},
                       headers={"X-CSRF-Token": site.session_csrf(analyst)})  # fmt: skip
    assert got.status_code == 201, got.text
    [row] = _read(shop, "AU2")
    assert (row["kind"], row["actor_kind"], row["actor"]) == (
        "loyalty_earn", "user", "analyst@shop.example")  # fmt: skip
    assert row["detail"]["balance"] == 12


def test_an_order_lines_earning_found_again_adds_no_row(shop):
    """Another key, the same order line and rule: the first earning is the
    answer (200) and nothing is posted, so nothing is recorded."""
    body = {"points": 25, "order_line": "O-1:1", "rule": "base"}
    with shop.writer() as client:
        first = client.post("/api/v1/loyalty/members/AU3/earn", headers={KEY: "au3-a"}, json=body)
        second = client.post("/api/v1/loyalty/members/AU3/earn", headers={KEY: "au3-b"}, json=body)
    assert (first.status_code, second.status_code) == (201, 200)
    rows = _read(shop, "AU3")
    assert len(rows) == 1
    assert (rows[0]["detail"]["order_line"], rows[0]["detail"]["rule"]) == ("O-1:1", "base")


def test_a_duplicate_rolled_back_at_commit_leaves_no_row(tmp_path):
    """Two processes that both found no stored response for a key: the
    second write fails on the key's row at commit, and its audit row goes
    with its entries."""
    from tenure import loyalty
    from tenure.access.audit import Actor
    from tenure.errors import IdempotencyConflictError
    from tenure.store.ops import OpsStore
    from tenure.web import audit, idempotency

    ops = OpsStore.open(f"sqlite:///{tmp_path / 'ops.sqlite'}")
    try:
        digest = idempotency.fingerprint("POST", "/p", {"points": 5})
        stores = idempotency.storing("key:abc", "k", "Q1", digest)
        records = audit.loyalty_write(Actor("key", "tk_abc"), "earn", "Q1", "k")
        with idempotency.recording(stores, records):
            loyalty.earn(ops, "Q1", 5)
        with pytest.raises(IdempotencyConflictError), idempotency.recording(stores, records):
            loyalty.earn(ops, "Q1", 5)
        assert [e["points"] for e in loyalty.history(ops, "Q1")["entries"]] == [5]
        assert [(r["kind"], r["detail"]["balance"]) for r in _rows(ops)] == [("loyalty_earn", 5)]
    finally:
        ops.close()


def _killed_at(tmp_path: Path, point: str) -> tuple[list[dict], list[int]]:
    """An earn sent to a server that kills itself (kill -9) at ``point`` of
    the ledger write; the audit rows and the entries left in the store."""
    import httpx

    from tenure.store.ops import OpsStore
    from tenure.store.ops_schema import loyalty_entries
    from tests.web.test_live import _serve, _stop

    settings, write, _ = make_store(tmp_path)
    served = _serve(settings.store, TENURE_FAULT_AT=point, TENURE_FAULT_SIGNAL="KILL")
    try:
        with httpx.Client(base_url=served.url, timeout=60,
                          headers={"Authorization": f"Bearer {write}"}) as client:  # fmt: skip
            with pytest.raises(httpx.TransportError):
                client.post("/api/v1/loyalty/members/K1/earn", json={"points": 10})
        assert served.process.wait(timeout=60) == -9
    finally:
        _stop(served)
    ops = OpsStore.open(f"sqlite:///{settings.store / 'ops.sqlite'}")
    e = loyalty_entries
    try:
        with ops.engine.connect() as conn:
            points = conn.execute(sa.select(e.c.points).where(e.c.customer_id == "K1")
                                  .order_by(e.c.id)).scalars().all()  # fmt: skip
        return _rows(ops), list(points)
    finally:
        ops.close()


def test_a_write_killed_before_its_commit_leaves_no_row_and_one_after_has_its_row(tmp_path):
    needs_web()
    rows, entries = _killed_at(tmp_path / "before", "loyalty before commit")
    assert (rows, entries) == ([], [])
    rows, entries = _killed_at(tmp_path / "after", "loyalty after commit")
    assert entries == [10]
    assert [(r["kind"], r["target"], r["detail"]["balance"]) for r in rows] == [
        ("loyalty_earn", "K1", 10)]  # fmt: skip
