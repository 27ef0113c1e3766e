"""The audit log, read back: who logged in (or failed to), changed users and
keys, ingested and exported, from the server and from the command line;
readable by admins only; never a password or a search term in it."""

from __future__ import annotations

import getpass
import json
import re
import sqlite3

import pytest

from tests.conftest import write
from tests.web.conftest import PASSWORDS, Site, build_store, needs_web, serve

SEARCH = "zebra-quokka-term"  # a search term no one else would type
TYPED_WRONG = "wrong horse battery 7"
NEW_PASSWORD = "marble orchard 5"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    needs_web()
    from tenure.web import create_app

    settings = build_store(tmp_path_factory.mktemp("audit"), customers=60)
    url, stop = serve(create_app(settings, warm=False))
    yield Site(url, settings, settings.store)
    stop()


def _table(site) -> list[tuple]:
    con = sqlite3.connect(site.store / "ops.sqlite")
    try:
        return con.execute("SELECT * FROM audit_log ORDER BY id").fetchall()
    finally:
        con.close()


def _login_form(client, email: str, password: str):
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    return client.post("/login", data={"email": email, "password": password, "csrf": csrf})


def test_what_happens_on_the_server_is_recorded_with_its_actor(site):
    before = len(_table(site))
    with site.client() as c:
        assert _login_form(c, "viewer@shop.example", TYPED_WRONG).status_code == 401
        assert _login_form(c, TYPED_WRONG, TYPED_WRONG).status_code == 401  # a password as email
    admin = site.login("admin@shop.example")
    csrf = {"X-CSRF-Token": site.session_csrf(admin)}
    made = admin.post("/api/v1/users", headers=csrf,
                      json={"email": "dora@shop.example", "role": "viewer", "password": NEW_PASSWORD})  # fmt: skip
    assert made.status_code == 201
    key = admin.post("/api/v1/apikeys", json={"scopes": ["read", "write"], "name": "shop"},
                     headers=csrf).json()  # fmt: skip
    bearer = {"Authorization": f"Bearer {key['key']}"}
    with site.client() as c:
        orders = [{"order_id": "AUD-1", "customer_id": "C000001", "placed_at": "2026-11-01",
                   "amount": 10, "currency": "EUR"}]  # fmt: skip
        assert c.post("/api/v1/orders", json=orders, headers=bearer).status_code == 200
        assert c.get("/api/v1/customers", params={"q": SEARCH}, headers=bearer).status_code == 200
        csv = c.get("/api/v1/customers.csv", params={"segment": "active", "q": SEARCH},
                    headers=bearer)  # fmt: skip
        assert csv.status_code == 200
    admin.post("/logout", headers=csrf)

    rows = _table(site)
    assert len(rows) - before == 9
    first, last = rows[before][0], rows[-1][0]
    log = [e for e in reversed(_entries(site)) if first <= e["id"] <= last]  # oldest first
    assert [e["kind"] for e in log] == [
        "login_failed", "login_failed", "login", "user_added", "key_created", "ingest", "export",
        "export", "logout",
    ]  # fmt: skip
    entries = {e["kind"]: e for e in log}
    failed = log[:2]
    assert [e["actor"] for e in failed] == ["viewer@shop.example", "(not an email)"]
    assert failed[0]["address"] == "127.0.0.1"
    assert entries["login"]["actor"] == "admin@shop.example"
    assert (entries["user_added"]["actor"], entries["user_added"]["target"]) == (
        "admin@shop.example", "dora@shop.example")  # fmt: skip
    assert entries["user_added"]["detail"] == {"role": "viewer"}
    assert entries["key_created"]["target"] == key["prefix"]
    ingest = entries["ingest"]
    assert (ingest["actor_kind"], ingest["actor"]) == ("key", f"tk_{key['prefix']} (shop)")
    assert ingest["detail"]["kind"] == "orders" and ingest["detail"]["accepted"] == 1
    exports = [e for e in log if e["kind"] == "export"]
    assert exports[0]["target"] == "customers"
    assert exports[0]["detail"] == {"format": "json", "limit": 50, "offset": 0, "search": True}
    assert exports[1]["target"] == "customers-active.csv"
    assert exports[1]["detail"] == {"format": "csv", "segment": "active", "rows": 0,
                                    "search": True}  # fmt: skip
    assert entries["logout"]["actor"] == "admin@shop.example"

    # nothing in it is a password, a key or a search term
    text = json.dumps(_table(site))
    for secret in (TYPED_WRONG, NEW_PASSWORD, key["key"], SEARCH, *PASSWORDS.values()):
        assert secret not in text
    admin.close()


def _entries(site, **params) -> list[dict]:
    from tenure.access import apikeys
    from tenure.store.workspace import Workspace

    with Workspace.open(site.settings, create=False) as ws:
        key = apikeys.create_key(ws.ops, ["admin", "read"], name="reader")["key"]
    with site.client() as c:
        r = c.get("/api/v1/audit", params=params, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    return r.json()["entries"]


def test_only_admins_read_it(site):
    from tenure.access import apikeys
    from tenure.store.workspace import Workspace

    for email in ("analyst@shop.example", "viewer@shop.example"):
        c = site.login(email)
        r = c.get("/api/v1/audit")
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", email
        c.close()
    with Workspace.open(site.settings, create=False) as ws:
        key = apikeys.create_key(ws.ops, ["read", "write"], name="no admin")["key"]
    with site.client() as c:
        r = c.get("/api/v1/audit", headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 403
        assert c.get("/api/v1/audit").status_code == 401
    c = site.login("admin@shop.example")
    r = c.get("/api/v1/audit", params={"kind": "login", "since": "2000-01-01"})
    assert r.status_code == 200
    assert {e["kind"] for e in r.json()["entries"]} == {"login"}
    assert c.get("/api/v1/audit", params={"since": "2999-01-01"}).json() == {"entries": []}
    bad = c.get("/api/v1/audit", params={"kind": "everything"})
    assert bad.status_code == 422 and "login_failed" in bad.json()["error"]["hint"]
    c.close()


def test_the_command_line_records_its_os_user_and_reads_the_log(cli, tmp_path):
    store = tmp_path / "store"
    orders = write(tmp_path / "orders.csv",
                   "order_id,customer_id,placed_at,amount,currency\nO1,C1,2024-01-02,5,EUR\n")  # fmt: skip
    assert cli("ingest", "orders", orders, "--store", store).code == 0
    made = cli("apikey", "create", "--scope", "read", "--name", "bi", "--store", store, "--json")
    prefix = json.loads(made.out)["prefix"]
    assert cli("apikey", "revoke", prefix, "--store", store).code == 0

    out = cli("audit", "--store", store, "--json")
    assert out.code == 0, out.err
    entries = json.loads(out.out)["entries"]
    assert [e["kind"] for e in entries] == ["key_revoked", "key_created", "ingest"]
    assert {(e["actor_kind"], e["actor"]) for e in entries} == {("os", getpass.getuser())}
    assert entries[2]["target"] == "orders.csv"  # the name the ingest run shows
    assert entries[2]["detail"]["inserted"] == 1 and entries[2]["detail"]["kind"] == "orders"

    only = json.loads(cli("audit", "--kind", "ingest", "--store", store, "--json").out)
    assert [e["kind"] for e in only["entries"]] == ["ingest"]
    later = cli("audit", "--since", "2999-01-01", "--store", store, "--json")
    assert json.loads(later.out) == {"entries": []}
    table = cli("audit", "--store", store)
    assert table.code == 0 and "key_created" in table.out and "name=bi" in table.out
    bad = cli("audit", "--kind", "everything", "--store", store)
    assert bad.code == 1 and "login_failed" in bad.err
    bad = cli("audit", "--since", "last week", "--store", store, "--json")
    assert bad.code == 1 and json.loads(bad.out)["error"]["hint"].startswith("Use YYYY-MM-DD")
    r = cli("audit", "--help")
    assert r.code == 0 and "Example" in r.out and "tenure audit" in r.out


def test_exports_that_come_during_a_commit_are_recorded_together_in_the_next(tmp_path, monkeypatch):
    """Each page of customers read is an export entry, written before the
    answer; those that come while a commit of the log runs go in one
    commit after it (the first commit is held at the fault point ``audit
    commit``: no sleeps)."""
    import threading
    import time
    from pathlib import Path

    import httpx

    from tenure.access import apikeys
    from tenure.store.workspace import Workspace
    from tenure.web import create_app

    needs_web()
    settings = build_store(tmp_path / "group", customers=60)
    app = create_app(settings, warm=False)
    url, stop = serve(app)
    with Workspace.open(settings, create=False) as ws:
        key = apikeys.create_key(ws.ops, ["read"], name="exports")["key"]
    release = tmp_path / "release"
    monkeypatch.setenv("TENURE_FAULT_AT", "audit commit")
    monkeypatch.setenv("TENURE_FAULT_SIGNAL", "PAUSE")
    monkeypatch.setenv("TENURE_FAULT_RELEASE", str(release))
    answers: list[int] = []

    def export(offset: int) -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"},
                          timeout=120) as client:  # fmt: skip
            answers.append(client.get("/api/v1/customers", params={"limit": 5,
                                                                   "offset": offset}).status_code)  # fmt: skip

    try:
        first = threading.Thread(target=export, args=(0,))
        first.start()
        reached = Path(f"{release}.reached")
        while not reached.exists():  # the first entry's commit is held
            assert first.is_alive()
            time.sleep(0.01)
        rest = [threading.Thread(target=export, args=(i,)) for i in range(1, 16)]
        for t in rest:
            t.start()
        while len(app.state.audit._waiting) < 15:  # every other entry waits for the next commit
            time.sleep(0.01)
        assert answers == []  # none answered before its entry is written
        release.touch()
        for t in [first, *rest]:
            t.join(timeout=120)
    finally:
        release.touch()
        stop()
    assert answers == [200] * 16
    assert app.state.audit.commits == 2
    exports = [r for r in _table(Site(url, settings, settings.store)) if r[2] == "export"]
    assert len(exports) == 16
