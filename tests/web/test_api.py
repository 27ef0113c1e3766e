"""The REST API against a real server: who may do what, the same JSON as
the CLI, one error shape everywhere."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3

import pytest

from tests.web.conftest import PASSWORDS

SHAPE = {"code", "message", "hint", "source", "row", "column", "value", "expected"}


def _key(site, *scopes: str) -> str:
    from tenure.access import apikeys
    from tenure.store.workspace import Workspace

    with Workspace.open(site.settings, create=False) as ws:
        return apikeys.create_key(ws.ops, list(scopes), name="test")["key"]


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_healthz_needs_no_login_and_everything_else_does(site):
    with site.client() as c:
        assert c.get("/healthz").json()["status"] == "ok"
        for path in ("/api/v1/metrics", "/api/v1/me", "/api/v1/users", "/api/v1/apikeys"):
            r = c.get(path)
            assert r.status_code == 401, path
            assert (
                set(r.json()["error"]) == SHAPE and r.json()["error"]["code"] == "unauthenticated"
            )
            assert r.headers["www-authenticate"].startswith("Bearer")
        page = c.get("/")  # a person is sent to the login form, and back after it
        assert page.status_code == 303 and page.headers["location"] == "/login?next=/"
        wrong = c.get("/api/v1/me", headers=_auth("tk_00000000_not-a-key"))
        assert (
            wrong.status_code == 401
            and wrong.json()["error"]["message"] == "the API key is not known."
        )


@pytest.mark.parametrize("period", ["month", "quarter", "year"])
def test_metrics_are_the_clis_json(site, cli, period):
    key = _key(site, "read")
    with site.client() as c:
        api = c.get("/api/v1/metrics", params={"period": period}, headers=_auth(key))
    assert api.status_code == 200 and api.headers["content-type"] == "application/json"
    out = cli("metrics", "--period", period, "--store", site.store, "--json")
    assert out.code == 0, out.err
    assert api.json() == json.loads(out.out)
    assert len(api.json()["metrics"]) >= 2


def test_a_read_key_cannot_write_and_keys_are_kept_hashed(site):
    read, admin = _key(site, "read"), _key(site, "read", "write", "admin")
    with site.client() as c:
        r = c.post("/api/v1/apikeys", json={"scopes": ["read"]}, headers=_auth(read))
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
        assert "admin scope" in r.json()["error"]["message"]
        made = c.post(
            "/api/v1/apikeys", json={"scopes": ["read"], "name": "bi"}, headers=_auth(admin)
        )
        assert made.status_code == 201
        new = made.json()["key"]
        assert c.get("/api/v1/me", headers=_auth(new)).json()["scopes"] == ["read"]
        listed = c.get("/api/v1/apikeys", headers=_auth(admin)).json()
        assert new not in json.dumps(listed)  # shown once, never listed
        # the store keeps the SHA-256 of the secret part, not the key
        prefix, secret = new.split("_", 2)[1:]
        con = sqlite3.connect(site.store / "ops.sqlite")
        stored = con.execute("SELECT key_hash FROM api_keys WHERE prefix = ?", (prefix,)).fetchone()
        dump = "\n".join(con.iterdump())
        con.close()
        assert stored[0] == hashlib.sha256(secret.encode()).hexdigest() and secret not in dump
        gone = c.delete(f"/api/v1/apikeys/{prefix}", headers=_auth(admin))
        assert gone.status_code == 200 and gone.json()["revoked"] is True
        after = c.get("/api/v1/me", headers=_auth(new))
        assert after.status_code == 401 and "revoked" in after.json()["error"]["message"]


def test_roles_decide_what_a_session_may_do(site):
    viewer = site.login("viewer@shop.example")
    r = viewer.get("/api/v1/users")
    assert r.status_code == 403 and "role viewer" in r.json()["error"]["message"]
    assert viewer.get("/api/v1/metrics").status_code == 200  # a viewer reads
    admin = site.login("admin@shop.example")
    emails = {u["email"] for u in admin.get("/api/v1/users").json()}
    assert set(PASSWORDS) <= emails
    assert all("password" not in json.dumps(u) for u in admin.get("/api/v1/users").json())
    body = {"email": "new@shop.example", "role": "viewer", "password": "a fresh passphrase"}
    # a cookie alone cannot change anything: the session's CSRF token must come along
    r = admin.post("/api/v1/users", json=body)
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf"
    r = admin.post("/api/v1/users", json=body, headers={"X-CSRF-Token": site.session_csrf(admin)})
    assert r.status_code == 201 and r.json()["role"] == "viewer"
    again = admin.post(
        "/api/v1/users", json=body, headers={"X-CSRF-Token": site.session_csrf(admin)}
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "duplicate"
    viewer.close()
    admin.close()


def test_the_session_cookie_and_logout(site):
    with site.client() as c:
        form = c.get("/login")
        assert (
            "HttpOnly" in form.headers["set-cookie"]
            and "SameSite=strict" in form.headers["set-cookie"]
        )
    client = site.client()

    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    done = client.post(
        "/login",
        data={"email": "analyst@shop.example", "password": PASSWORDS["analyst@shop.example"],
              "csrf": csrf, "next": "//elsewhere.example/steal"},
    )  # fmt: skip
    assert done.status_code == 303 and done.headers["location"] == "/"  # never off the site
    cookie = done.headers["set-cookie"]
    assert "tenure_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain HTTP here; over HTTPS the cookie is Secure
    assert client.get("/").status_code == 200
    stolen = dict(client.cookies)
    out = client.post("/logout", data={"csrf": site.session_csrf(client)})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    with site.client() as other:  # the copied cookie no longer works either
        other.cookies.update(stolen)
        assert other.get("/api/v1/me").status_code == 401
    client.close()


def test_the_login_form_needs_its_own_csrf_token(site):
    with site.client() as c:
        r = c.post("/login", data={"email": "admin@shop.example",
                                   "password": PASSWORDS["admin@shop.example"]})  # fmt: skip
        assert r.status_code == 403 and "tenure_session" not in r.headers.get("set-cookie", "")


def test_repeated_wrong_passwords_are_slowed_down(site):
    from tenure.access import throttle
    from tenure.access import users as users_mod
    from tenure.store.workspace import Workspace

    assert [throttle.wait_seconds(n) for n in range(4, 10)] == [0, 1, 2, 4, 8, 16]
    assert throttle.wait_seconds(40) == throttle.MAX_WAIT
    with Workspace.open(site.settings, create=False) as ws:
        users_mod.add_user(ws.ops, "target@shop.example", "viewer", "the right passphrase")

    client = site.client()
    codes = []
    for _ in range(throttle.FREE):
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
        r = client.post("/login", data={"email": "target@shop.example", "password": "wrong one!",
                                        "csrf": csrf})  # fmt: skip
        codes.append(r.status_code)
    assert codes == [401] * throttle.FREE
    # now even the right password waits
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    r = client.post("/login", data={"email": "target@shop.example",
                                    "password": "the right passphrase", "csrf": csrf})  # fmt: skip
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert "too many wrong passwords" in r.text
    client.close()


def test_passwords_are_kept_as_argon2id_hashes(site):
    con = sqlite3.connect(site.store / "ops.sqlite")
    rows = dict(con.execute("SELECT email, password_hash FROM users").fetchall())
    con.close()
    for email, password in PASSWORDS.items():
        assert rows[email].startswith("$argon2id$") and password not in rows[email]


def test_one_error_shape_on_every_route(site):
    admin = _key(site, "read", "write", "admin")
    with site.client() as c:
        schema = c.get("/api/v1/openapi.json", headers=_auth(admin)).json()
        assert schema["info"]["title"] == "tenure"
        for path, methods in schema["paths"].items():
            concrete = re.sub(r"\{[^}]+\}", "00000000", path)
            for method in methods:
                r = c.request(method.upper(), concrete)  # no credentials
                if path == "/healthz":  # the one route open to all
                    assert r.status_code == 200
                    continue
                assert r.status_code == 401, (method, path)
                assert set(r.json()["error"]) == SHAPE
        for r, code in (
            (c.get("/api/v1/nothing-here", headers=_auth(admin)), "not_found"),
            (c.put("/api/v1/metrics", headers=_auth(admin)), "method_not_allowed"),
            (c.get("/api/v1/metrics?period=week", headers=_auth(admin)), "invalid_request"),
            (
                c.post("/api/v1/apikeys", json={"scopes": []}, headers=_auth(admin)),
                "invalid_request",
            ),
            (c.delete("/api/v1/apikeys/ffffffff", headers=_auth(admin)), "not_found"),
        ):
            assert set(r.json()["error"]) == SHAPE and r.json()["error"]["code"] == code, r.text
        bad = c.get("/api/v1/metrics?period=week", headers=_auth(admin)).json()["error"]
        assert (bad["source"], bad["column"], bad["value"]) == ("query", "period", "week")


@pytest.mark.parametrize(
    ("path", "params", "command"),
    [
        ("/api/v1/cohorts", {}, ["cohorts"]),
        ("/api/v1/cohorts", {"period": "quarter", "value": "revenue"},
         ["cohorts", "--period", "quarter", "--value", "revenue"]),
        ("/api/v1/cohorts", {"by": "country"}, ["cohorts", "--by", "country"]),
        ("/api/v1/segments", {}, ["segments"]),
        ("/api/v1/segments", {"kind": "business", "from": "2026-04-30", "to": "2026-10-31"},
         ["segments", "--kind", "business", "--from", "2026-04-30", "--to", "2026-10-31"]),
        ("/api/v1/goals", {}, ["goal", "list"]),
        ("/api/v1/status", {}, ["status"]),
    ],
)  # fmt: skip
def test_every_number_is_the_clis_json(site, cli, path, params, command):
    if path == "/api/v1/goals":
        from tenure.goals.tracking import list_goals, set_goal

        if not list_goals(site.settings):
            set_goal(site.settings, "churn_rate", "-10%", "2027-06-30")
    key = _key(site, "read")
    with site.client() as c:
        api = c.get(path, params=params, headers=_auth(key))
    assert api.status_code == 200, api.text
    out = cli(*command, "--store", site.store, "--json")
    assert out.code == 0, out.err
    expected = json.loads(out.out)
    assert api.json() == expected
    assert expected  # something to compare


def test_runs_are_the_clis_json(site, cli):
    key = _key(site, "read")
    with site.client() as c:
        api = c.get("/api/v1/runs", params={"limit": 3}, headers=_auth(key)).json()
    out = json.loads(cli("runs", "--limit", "3", "--store", site.store, "--json").out)
    assert api == out and len(api) == 3 and {r["kind"] for r in api} <= {
        "customers", "orders", "order_items", "subscriptions", "support_tickets",
        "survey_responses", "events", "fx_rates",
    }  # fmt: skip
