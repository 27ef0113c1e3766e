"""Starting the server, and the commands that let people in."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from tenure.errors import ConfigError
from tests.web.conftest import build_store, needs_web


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    needs_web()
    return build_store(tmp_path_factory.mktemp("serve"), customers=60)


def test_a_given_secret_must_be_long_and_not_the_demos(settings):
    from tenure.web import create_app
    from tenure.web.secret import DEMO_SECRET

    for secret, says in ((DEMO_SECRET, "demo's published one"), ("short", "needs 32 or more")):
        with pytest.raises(ConfigError, match=says):
            create_app(replace(settings, secret_key=secret))
    with pytest.raises(ConfigError, match="not a demo store"):
        create_app(replace(settings, secret_key=None), demo=True, warm=False)
    assert create_app(settings).state.demo is False
    assert create_app(settings).state.secret == settings.secret_key


def test_without_a_given_secret_one_is_made_once_and_kept_owner_only(settings):
    import os
    import stat

    from tenure.web import create_app

    kept = settings.store / "secret.key"
    kept.unlink(missing_ok=True)
    first = create_app(replace(settings, secret_key=None), warm=False).state.secret
    assert len(first) >= 48 and kept.read_text().strip() == first
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    # the next start uses it: sessions outlive a restart
    assert create_app(replace(settings, secret_key=None), warm=False).state.secret == first
    os.chmod(kept, 0o644)  # a key others could read is refused, with the fix
    with pytest.raises(ConfigError, match=r"can be read by others \(mode 644\)") as refused:
        create_app(replace(settings, secret_key=None), warm=False)
    assert f"chmod 600 {kept}" in refused.value.hint
    # deleting it rotates the key
    kept.unlink()
    second = create_app(replace(settings, secret_key=None), warm=False).state.secret
    assert second != first and kept.read_text().strip() == second


def test_the_demo_store_serves_with_the_demo_login(settings, tmp_path):
    from tenure.access import DEMO_EMAIL, DEMO_PASSWORD, demo_login, is_demo
    from tenure.store.workspace import Workspace
    from tenure.web import create_app
    from tests.web.conftest import serve

    with Workspace.open(settings, create=False) as ws:
        assert not is_demo(ws.ops)
        assert demo_login(ws.ops) == {"email": DEMO_EMAIL, "password": DEMO_PASSWORD}
        assert demo_login(ws.ops) is not None  # a second demo run on the store is fine
        assert is_demo(ws.ops)
    url, stop = serve(create_app(replace(settings, secret_key=None), demo=True, warm=False))
    try:
        import httpx

        with httpx.Client(base_url=url) as c:
            page = c.get("/login")
            assert DEMO_EMAIL in page.text and DEMO_PASSWORD in page.text
    finally:
        stop()


def test_users_and_keys_from_the_command_line(settings, cli, monkeypatch):
    import io

    store = settings.store
    monkeypatch.setattr("sys.stdin", io.StringIO("a fine passphrase\n"))
    out = cli("user", "add", "Cli@Shop.example", "--role", "analyst", "--store", store, "--json")
    assert out.code == 0, out.err
    assert json.loads(out.out)["email"] == "cli@shop.example"
    assert json.loads(out.out)["scopes"] == ["read", "write"]
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    out = cli("user", "add", "weak@shop.example", "--store", store)
    assert out.code == 1 and "10 or more" in out.err
    out = cli("user", "add", "x@shop.example", "--role", "boss", "--store", store)
    assert out.code == 1 and "viewer, analyst, admin" in out.err
    made = cli("apikey", "create", "--scope", "read", "--store", store, "--json")
    assert made.code == 0, made.err
    key = json.loads(made.out)["key"]
    assert key.startswith("tk_") and json.loads(made.out)["scopes"] == ["read"]
    listed = cli("apikey", "list", "--store", store, "--json")
    assert key not in listed.out and json.loads(listed.out)["api_keys"][-1]["scopes"] == ["read"]
    bad = cli("apikey", "create", "--scope", "everything", "--store", store)
    assert bad.code == 1 and "read, write, admin" in bad.err
    prefix = json.loads(made.out)["prefix"]
    assert cli("apikey", "revoke", prefix, "--store", store).code == 0
    again = cli("apikey", "revoke", prefix, "--store", store)
    assert again.code == 1 and "no active API key" in again.err
    users = json.loads(cli("user", "list", "--store", store, "--json").out)["users"]
    assert "cli@shop.example" in {u["email"] for u in users}
