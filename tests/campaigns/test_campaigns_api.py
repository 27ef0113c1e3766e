"""``/api/v1/campaigns`` on a real Uvicorn server: the same documents as
the command line, the read and write scopes, one error shape."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest

from tests.campaigns.test_launch import _store
from tests.web.conftest import needs_web, serve
from tests.web.test_loyalty_api import Shop

# stops the launch after its first batch: a running campaign to pause
_PARTIAL = """
import sys
from tenure.config import load_settings
from tenure.campaigns.launch import launch
from tenure.store.workspace import Workspace
settings = load_settings(store=sys.argv[1])
with Workspace.open(settings, create=False) as ws:
    launch(settings, ws.ops, "win-back", batch=40)
"""


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    import secrets

    from tenure.access import apikeys
    from tenure.campaigns import definitions
    from tenure.campaigns.consent import write_transaction
    from tenure.store.workspace import Workspace
    from tenure.web import create_app

    needs_web()
    settings, template = _store(tmp_path_factory.mktemp("campaign-api"))
    with Workspace.open(settings, create=False) as ws:
        write = apikeys.create_key(ws.ops, ["read", "write"], name="crm")["key"]
        read = apikeys.create_key(ws.ops, ["read"], name="bi")["key"]
        with write_transaction(ws.ops) as conn:
            definitions.create(conn, definitions.spec(name="win-back", template=template,
                                                      audience=["lapsed:90"], holdout=0.2))  # fmt: skip
    env = {**os.environ, "TENURE_FAULT_AT": "campaign batch queued",
           "PYTHONPATH": os.pathsep.join(sys.path)}  # fmt: skip
    killed = subprocess.run([sys.executable, "-c", _PARTIAL, str(settings.store)], env=env,
                            capture_output=True, timeout=300)  # fmt: skip
    assert killed.returncode == -9
    settings = replace(settings, secret_key=secrets.token_urlsafe(40))
    url, stop = serve(create_app(settings, warm=False))
    yield Shop(url, settings, write, read)
    stop()


def test_reads_are_the_library_documents(shop, cli):
    with shop.client(shop.read_key) as reader:
        listed = reader.get("/api/v1/campaigns")
        one = reader.get("/api/v1/campaigns/win-back")
        missing = reader.get("/api/v1/campaigns/nobody")
        refused = reader.post("/api/v1/campaigns/win-back/pause")
    assert listed.status_code == 200 and one.status_code == 200
    store = str(shop.settings.store)
    assert one.json() == json.loads(cli("campaign", "status", "win-back", "--store", store,
                                        "--json").out)  # fmt: skip
    assert [c["name"] for c in listed.json()["campaigns"]] == ["win-back"]
    assert one.json()["campaign"]["state"] == "running" and one.json()["accounted"]
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "no_campaign"
    assert refused.status_code == 403


def test_pause_needs_write_and_stays_paused(shop):
    with shop.writer() as writer:
        first = writer.post("/api/v1/campaigns/win-back/pause")
        again = writer.post("/api/v1/campaigns/win-back/pause")
        state = writer.get("/api/v1/campaigns/win-back").json()["campaign"]["state"]
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json()["was"] == "running" and again.json()["was"] == "paused"
    assert state == "paused"
