"""Managing accounts: disabling, enabling, removing users, new passwords and
ending sessions, from the CLI and the API; changes seen by a running server
on the very next request, even when another process (the CLI) makes them;
the password policy; emails as they are kept."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from tenure.errors import AuthenticationError, InputError, NotFoundError
from tests.web.conftest import PASSWORDS, Site, build_store, needs_web, serve

SECOND_ADMIN = ("second@shop.example", "tangerine harbour 4")


# -- emails and passwords, the rules themselves ---------------------------------


def test_emails_are_nfkc_normalised_and_refused_with_control_characters():
    from tenure.access.users import MAX_EMAIL, normalize_email

    # full-width letters and the full-width @ are the same email (NFKC), in lower case
    assert normalize_email("  ＡＮＡ＠Shop.Example ") == "ana@shop.example"
    assert normalize_email("ﬁona@shop.example") == "fiona@shop.example"  # the fi ligature
    for bad, shown in (("ana\x00@shop.example", r"\x00"), ("ana@shop.example\n", r"\n"),
                       ("a\u200bna@shop.example", r"\u200b"), ("ana\x1b@shop.example", r"\x1b")):  # fmt: skip
        with pytest.raises(InputError, match="control or invisible character") as refused:
            normalize_email(bad)
        assert shown in str(refused.value)  # shown escaped, so a reader can see it
        assert bad not in str(refused.value)
    long = "a" * (MAX_EMAIL - len("@shop.example") + 1) + "@shop.example"
    with pytest.raises(
        InputError, match=f"has {MAX_EMAIL + 1} characters; {MAX_EMAIL} is the most"
    ):
        normalize_email(long)
    for bad in ("ana", "@shop.example", "ana@", "ana maria@shop.example"):
        with pytest.raises(InputError, match="is not an email address"):
            normalize_email(bad)


def test_common_passwords_and_ones_made_of_the_email_are_refused():
    from tenure.access.passwords import check_strength, common

    listed = common()
    assert len(listed) == 11_611  # every entry of 8+ characters of zxcvbn's list of 30,000
    assert {"password123", "qwertyuiop", "1q2w3e4r5t", "manchester"} <= listed
    for weak in ("password123", "PassWord123", "password 123", "QwertyUiop", "1q2w3e4r5t"):
        with pytest.raises(InputError, match="one of the most common passwords") as refused:
            check_strength(weak, "ana@shop.example")
        assert weak not in str(refused.value) and refused.value.value is None
    for weak, email in (("ana@shop.example!", "ana@shop.example"),
                        ("ANA@SHOP.EXAMPLE", "ana@shop.example"),
                        ("Ana.Rivera2024", "ana.rivera@shop.example"),
                        ("banana bread loaf", "ana@shop.example")):  # fmt: skip
        with pytest.raises(InputError, match="contains the user's email") as refused:
            check_strength(weak, email)
        assert weak not in str(refused.value)
    # a local part of two letters is not looked for inside the password
    check_strength("copper kettle 1", "co@shop.example")
    check_strength("copper kettle 1", "ana@shop.example")
    with pytest.raises(InputError, match="9 characters; it needs 10"):
        check_strength("short one")


# -- the library on both operational stores --------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def ops(request, tmp_path):
    from tenure.store.ops import OpsStore

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ops.sqlite'}"
    else:
        url = request.getfixturevalue("pg_database")
    store = OpsStore.open(url)
    yield store
    store.close()


def test_disable_enable_remove_and_new_passwords_with_the_last_admin_kept(ops):
    from tenure.access import apikeys, audit, sessions, stamp, users

    needs_web()
    admin = users.add_user(ops, "admin@shop.example", "admin", PASSWORDS["admin@shop.example"])
    users.add_user(ops, "ana@shop.example", "viewer", "tulip garden 9")
    token, _ = sessions.start(ops, users.find_user(ops, "ana@shop.example")["id"])
    key = apikeys.create_key(ops, "read", name="ana's tool", created_by="ana@shop.example")["key"]
    assert sessions.lookup(ops, token) is not None and apikeys.verify_key(ops, key)

    before = stamp.read(ops)
    assert users.disable_user(ops, "Ana@Shop.example")["disabled"] is True
    assert stamp.read(ops) != before
    with pytest.raises(AuthenticationError, match="email or the password is wrong"):
        users.authenticate(ops, "ana@shop.example", "tulip garden 9", "127.0.0.1")
    assert sessions.lookup(ops, token) is None and sessions.of_user(ops, "ana@shop.example") == []
    with pytest.raises(AuthenticationError, match="made by ana@shop.example, who is disabled"):
        apikeys.verify_key(ops, key)
    users.enable_user(ops, "ana@shop.example")
    assert (
        users.authenticate(ops, "ana@shop.example", "tulip garden 9", "127.0.0.1")["role"]
        == "viewer"
    )
    assert apikeys.verify_key(ops, key)["prefix"] == key.split("_")[1]
    assert sessions.lookup(ops, token) is None  # a session ended by disabling stays ended

    token, _ = sessions.start(ops, users.find_user(ops, "ana@shop.example")["id"])
    with pytest.raises(InputError, match="one of the most common passwords"):
        users.reset_password(ops, "ana@shop.example", "password123")
    users.reset_password(ops, "ana@shop.example", "lilac window 7")
    assert sessions.lookup(ops, token) is None
    with pytest.raises(AuthenticationError):
        users.authenticate(ops, "ana@shop.example", "tulip garden 9", "127.0.0.2")
    users.authenticate(ops, "ana@shop.example", "lilac window 7", "127.0.0.3")

    # someone must be able to manage the others
    for change in (lambda: users.disable_user(ops, "admin@shop.example"),
                   lambda: users.remove_user(ops, "admin@shop.example"),
                   lambda: users.set_role(ops, "admin@shop.example", "analyst")):  # fmt: skip
        with pytest.raises(InputError, match="is the last admin") as refused:
            change()
        assert refused.value.code == "last_admin"
    users.set_role(ops, "ana@shop.example", "admin")
    users.disable_user(ops, "admin@shop.example")  # now there is another
    with pytest.raises(InputError, match="last admin"):
        users.remove_user(ops, "ana@shop.example")

    removed = users.remove_user(ops, "admin@shop.example")
    assert removed["email"] == admin["email"] and removed["removed"] is True
    with pytest.raises(NotFoundError, match="there is no user admin@shop.example"):
        users.find_user(ops, "admin@shop.example")
    users.add_user(ops, "bo@shop.example", "admin", "harbour lights 5")
    users.remove_user(ops, "ana@shop.example")
    assert [k["revoked"] for k in apikeys.list_keys(ops)] == [True]  # her key went with her

    kinds = [e["kind"] for e in reversed(audit.read(ops))]
    assert kinds == [
        "user_added", "user_added", "key_created", "user_disabled", "user_enabled",
        "password_reset", "user_role_changed", "user_disabled", "user_removed", "user_added",
        "user_removed",
    ]  # fmt: skip
    entries = audit.read(ops, kind="user_role_changed")
    assert entries[0]["detail"] == {"from": "viewer", "to": "admin"}
    assert entries[0]["actor_kind"] == "os" and entries[0]["target"] == "ana@shop.example"
    assert audit.read(ops, kind="password_reset")[0]["detail"] == {"sessions_ended": 1}


# -- a real server, changed by the CLI in another process ------------------------


def _tenure(*args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess:
    """``tenure ARGS`` in a process of its own, as an operator's shell runs it."""
    import tenure

    env = {**os.environ, "PYTHONPATH": str(Path(tenure.__file__).parents[1]), **env}
    return subprocess.run(
        [sys.executable, "-m", "tenure", *args], input=stdin, capture_output=True, text=True,
        env=env, timeout=120,
    )  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    needs_web()
    from tenure.access import users
    from tenure.store.workspace import Workspace
    from tenure.web import create_app

    settings = build_store(tmp_path_factory.mktemp("accounts"), customers=60)
    with Workspace.open(settings, create=False) as ws:
        users.add_user(ws.ops, *SECOND_ADMIN[:1], "admin", SECOND_ADMIN[1])
    url, stop = serve(create_app(settings, warm=False))
    yield Site(url, settings, settings.store)
    stop()


def _me(client, **headers) -> tuple[int, str | None]:
    r = client.get("/api/v1/me", headers=headers)
    return r.status_code, r.json().get("role") if r.status_code == 200 else None


def test_a_role_change_and_a_disable_by_the_cli_apply_to_the_next_request(site):
    store = str(site.store)
    viewer = site.login("viewer@shop.example")
    assert _me(viewer) == (200, "viewer") and _me(viewer) == (200, "viewer")  # now seen lately
    done = _tenure("user", "set-role", "viewer@shop.example", "analyst", "--store", store)
    assert done.returncode == 0, done.stderr
    assert _me(viewer) == (200, "analyst")
    done = _tenure("user", "set-role", "viewer@shop.example", "viewer", "--store", store)
    assert done.returncode == 0 and _me(viewer) == (200, "viewer")

    done = _tenure("user", "disable", "viewer@shop.example", "--store", store, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["disabled"] is True
    assert _me(viewer) == (401, None)
    with site.client() as c:  # and no new login
        form = c.get("/login").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
        r = c.post("/login", data={"email": "viewer@shop.example",
                                   "password": PASSWORDS["viewer@shop.example"], "csrf": csrf})  # fmt: skip
        assert r.status_code == 401
    done = _tenure("user", "enable", "viewer@shop.example", "--store", store)
    assert done.returncode == 0 and "Enabled viewer@shop.example" in done.stdout
    assert _me(site.login("viewer@shop.example")) == (200, "viewer")
    viewer.close()


def test_keys_of_a_disabled_user_and_keys_revoked_by_the_cli_stop_at_once(site):
    store = str(site.store)
    second = site.login(SECOND_ADMIN[0], SECOND_ADMIN[1])
    csrf = {"X-CSRF-Token": site.session_csrf(second)}
    made = second.post("/api/v1/apikeys", json={"scopes": ["read"], "name": "bi"}, headers=csrf)
    assert made.status_code == 201, made.text
    key = {"Authorization": f"Bearer {made.json()['key']}"}
    with site.client() as c:
        assert _me(c, **key)[0] == 200 and _me(c, **key)[0] == 200
        assert _tenure("user", "disable", SECOND_ADMIN[0], "--store", store).returncode == 0
        r = c.get("/api/v1/me", headers=key)
        assert r.status_code == 401 and "who is disabled" in r.json()["error"]["message"]
        assert _me(second) == (401, None)
        assert _tenure("user", "enable", SECOND_ADMIN[0], "--store", store).returncode == 0
        assert _me(c, **key)[0] == 200
        prefix = made.json()["prefix"]
        assert _tenure("apikey", "revoke", prefix, "--store", store).returncode == 0
        r = c.get("/api/v1/me", headers=key)
        assert r.status_code == 401 and f"{prefix} was revoked" in r.json()["error"]["message"]
    second.close()


def test_new_passwords_and_revoked_sessions_from_the_cli(site):
    store = str(site.store)
    one, two = site.login("analyst@shop.example"), site.login("analyst@shop.example")
    listed = _tenure("user", "sessions", "analyst@shop.example", "--store", store, "--json")
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)["sessions"]) >= 2
    ended = _tenure("user", "sessions", "analyst@shop.example", "--revoke", "--store", store,
                    "--json")  # fmt: skip
    assert json.loads(ended.stdout)["sessions_ended"] >= 2
    assert _me(one) == (401, None) and _me(two) == (401, None)

    weak = _tenure("user", "reset-password", "analyst@shop.example", "--store", store, "--json",
                   stdin="Password123\n")  # fmt: skip
    assert weak.returncode == 1 and "Password123" not in weak.stdout + weak.stderr
    error = json.loads(weak.stdout)["error"]
    assert error["code"] == "weak_password" and error["value"] is None
    three = site.login("analyst@shop.example")
    new = "orchid balcony 8"
    done = _tenure("user", "reset-password", "analyst@shop.example", "--store", store,
                   stdin=new + "\n")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert new not in done.stdout + done.stderr
    assert _me(three) == (401, None)
    assert _me(site.login("analyst@shop.example", new)) == (200, "analyst")


def test_the_user_commands_say_what_is_wrong(site, cli, monkeypatch):
    store = site.store
    monkeypatch.setattr("sys.stdin", io.StringIO("lantern field 1\n" * 5))
    for command in ("disable", "enable", "remove", "reset-password", "sessions"):
        r = cli("user", command, "--help")
        assert r.code == 0 and f"tenure user {command}" in r.out and "Example" in r.out
        r = cli("user", command, "nobody@shop.example", "--store", store, "--json")
        assert r.code == 1 and json.loads(r.out)["error"]["code"] == "not_found", command
    r = cli("user", "remove", "nul\x00@shop.example", "--store", store)
    assert r.code == 1 and r"\x00" in r.err
    monkeypatch.setattr("sys.stdin", io.StringIO("lantern field 2\n"))
    r = cli("user", "add", "x@shop.example", "--store", store)
    assert r.code == 0, r.err
    monkeypatch.setattr("sys.stdin", io.StringIO("kettle for x@shop.example\n"))
    r = cli("user", "reset-password", "x@shop.example", "--store", store)
    assert r.code == 1 and "contains the user's email" in r.err and "kettle" not in r.err
    r = cli("user", "remove", "x@shop.example", "--store", store, "--json")
    assert r.code == 0 and json.loads(r.out)["removed"] is True


# -- the same through the API, for admins ------------------------------------------


def test_admins_manage_users_through_the_api(site, caplog):
    admin = site.login("admin@shop.example")
    csrf = {"X-CSRF-Token": site.session_csrf(admin)}
    body = {"email": "cleo@shop.example", "role": "viewer", "password": "amber lighthouse 6"}
    assert admin.post("/api/v1/users", json=body, headers=csrf).status_code == 201
    cleo = site.login("cleo@shop.example", "amber lighthouse 6")
    assert _me(cleo) == (200, "viewer")

    # a viewer, an analyst or a read key cannot do any of it
    viewer = site.login("viewer@shop.example")
    v_csrf = {"X-CSRF-Token": site.session_csrf(viewer)}
    for method, path, payload in (
        ("PATCH", "/api/v1/users/cleo@shop.example", {"disabled": True}),
        ("DELETE", "/api/v1/users/cleo@shop.example", None),
        ("PUT", "/api/v1/users/cleo@shop.example/password", {"password": "x" * 12}),
        ("GET", "/api/v1/users/cleo@shop.example/sessions", None),
        ("DELETE", "/api/v1/users/cleo@shop.example/sessions", None),
    ):
        r = viewer.request(method, path, json=payload, headers=v_csrf)
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", path
    viewer.close()

    r = admin.patch("/api/v1/users/cleo@shop.example", json={"role": "analyst"}, headers=csrf)
    assert r.status_code == 200 and r.json()["role"] == "analyst"
    assert _me(cleo) == (200, "analyst")
    r = admin.patch("/api/v1/users/cleo@shop.example", json={"disabled": True}, headers=csrf)
    assert r.json()["disabled"] is True and _me(cleo) == (401, None)
    r = admin.patch("/api/v1/users/cleo@shop.example", json={"disabled": False}, headers=csrf)
    assert r.json()["disabled"] is False
    cleo = site.login("cleo@shop.example", "amber lighthouse 6")
    sessions = admin.get("/api/v1/users/cleo@shop.example/sessions").json()["sessions"]
    assert len(sessions) == 1 and set(sessions[0]) == {"created_at", "expires_at"}
    r = admin.delete("/api/v1/users/cleo@shop.example/sessions", headers=csrf)
    assert r.json() == {"email": "cleo@shop.example", "sessions_ended": 1}
    assert _me(cleo) == (401, None)

    # a refused password is never sent back or logged, whichever check refused it
    caplog.set_level(logging.DEBUG)
    for weak, code in (("qwertyuiop", "weak_password"), ("cleo rocks 2024", "weak_password"),
                       ("short", "invalid_request")):  # fmt: skip
        r = admin.put("/api/v1/users/cleo@shop.example/password", json={"password": weak},
                      headers=csrf)  # fmt: skip
        assert r.status_code == 422 and r.json()["error"]["code"] == code, weak
        assert weak not in r.text and weak not in caplog.text
    r = admin.put("/api/v1/users/cleo@shop.example/password",
                  json={"password": "saffron quay 3"}, headers=csrf)  # fmt: skip
    assert r.status_code == 200 and "saffron" not in r.text
    assert _me(site.login("cleo@shop.example", "saffron quay 3")) == (200, "analyst")

    r = admin.delete("/api/v1/users/cleo@shop.example", headers=csrf)
    assert r.status_code == 200 and r.json()["removed"] is True
    r = admin.get("/api/v1/users/cleo@shop.example/sessions")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    admin.close()


def test_the_api_keeps_the_last_admin(tmp_path):
    needs_web()
    from tenure.access import users
    from tenure.store.workspace import Workspace
    from tenure.web import create_app

    settings = build_store(tmp_path, customers=30)
    url, stop = serve(create_app(settings, warm=False))
    try:
        here = Site(url, settings, settings.store)
        one = here.login("admin@shop.example")
        csrf = {"X-CSRF-Token": here.session_csrf(one)}
        for method, payload in (("PATCH", {"role": "viewer"}), ("PATCH", {"disabled": True}),
                                ("DELETE", None)):  # fmt: skip
            r = one.request(method, "/api/v1/users/admin@shop.example", json=payload, headers=csrf)
            assert r.status_code == 422 and r.json()["error"]["code"] == "last_admin"
        with Workspace.open(settings, create=False) as ws:
            assert users.find_user(ws.ops, "admin@shop.example")["role"] == "admin"
    finally:
        stop()


def test_on_postgresql_a_disable_by_the_cli_applies_to_the_next_request(pg_database, tmp_path):
    """The same with the operational store on PostgreSQL, the CLI pointed at
    it by TENURE_OPS_URL as an operator's would be."""
    needs_web()
    from tenure.access import audit, users
    from tenure.config import load_settings
    from tenure.store.workspace import Workspace
    from tenure.web import create_app

    settings = replace(
        load_settings(store=tmp_path / "store", ops_url=pg_database), secret_key="k" * 40
    )
    with Workspace.open(settings) as ws:
        for email, password in PASSWORDS.items():
            users.add_user(ws.ops, email, email.split("@")[0], password)
    url, stop = serve(create_app(settings, warm=False))
    try:
        here = Site(url, settings, settings.store)
        analyst = here.login("analyst@shop.example")
        assert _me(analyst) == (200, "analyst") and _me(analyst) == (200, "analyst")
        store = str(settings.store)
        done = _tenure("user", "disable", "analyst@shop.example", "--store", store,
                       TENURE_OPS_URL=pg_database)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert _me(analyst) == (401, None)
        with Workspace.open(settings, create=False) as ws:
            newest = audit.read(ws.ops)[0]
        assert (newest["kind"], newest["actor_kind"]) == ("user_disabled", "os")
    finally:
        stop()
