"""Creating and launching campaigns over ``/api/v1/campaigns`` on a real
Uvicorn server: the documents and numbers of the command line's --json,
Idempotency-Key replays, the write scope, audit entries, a launch run in
the server's background, the audience in pages, and the global control."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import replace

import pytest
import sqlalchemy as sa

from tenure.access import audit
from tenure.store.ops_schema import campaign_messages
from tests.campaigns.test_launch import _store
from tests.campaigns.test_measure_global import assert_same
from tests.web.conftest import needs_web, serve
from tests.web.test_loyalty_api import Shop

TEMPLATE = "templates/win-back"


def _body(name, **more):
    return {"name": name, "template": TEMPLATE, "audience": ["lapsed:90"], "holdout": "20%",
            "salt": "fixed-salt", **more}  # fmt: skip


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    import secrets

    from tenure.access import apikeys
    from tenure.store.workspace import Workspace
    from tenure.web import create_app

    needs_web()
    folder = tmp_path_factory.mktemp("campaign-api-write")
    settings, template = _store(folder)
    shutil.copytree(template, settings.store / TEMPLATE)
    with Workspace.open(settings, create=False) as ws:
        write = apikeys.create_key(ws.ops, ["read", "write"], name="crm")["key"]
        read = apikeys.create_key(ws.ops, ["read"], name="bi")["key"]
    settings = replace(settings, secret_key=secrets.token_urlsafe(40))
    url, stop = serve(create_app(settings, warm=False))
    shop = Shop(url, settings, write, read)
    shop.outside = template  # a template folder outside the workspace
    yield shop
    stop()


def _launched(client, name):
    """The campaign's status once the launch this server runs has ended
    (the launch runs in the server's background: the client polls)."""
    for _ in range(600):
        doc = client.get(f"/api/v1/campaigns/{name}").json()
        if "launch" in doc and not doc["launch"]["running"]:
            return doc
        time.sleep(0.1)
    raise AssertionError(f"the launch of {name} did not end")


def _audit(shop, kind):
    ops = shop.ops()
    try:
        return audit.read(ops, kind=kind)
    finally:
        ops.close()


def test_create_is_the_command_lines_and_replays_under_its_key(shop, cli):
    key = {"Idempotency-Key": "create-api-1"}
    with shop.writer() as writer:
        first = writer.post("/api/v1/campaigns", json=_body("api-one"), headers=key)
        again = writer.post("/api/v1/campaigns", json=_body("api-one"), headers=key)
        other = writer.post("/api/v1/campaigns", json=_body("api-two"), headers=key)
        taken = writer.post("/api/v1/campaigns", json=_body("api-one"))
    assert first.status_code == 201 and first.headers["location"] == "/api/v1/campaigns/api-one"
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert other.status_code == 422  # the key was first sent with another body
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert taken.status_code == 422 and taken.json()["error"]["code"] == "campaign_exists"
    listed = json.loads(cli("campaign", "list", "--store", str(shop.settings.store),
                            "--json").out)["campaigns"]  # fmt: skip
    assert [c for c in listed if c["name"] == "api-one"] == [first.json()]
    doc = first.json()
    assert doc["state"] == "draft" and doc["holdout"] == 0.2 and doc["audience"] == ["lapsed:90"]
    assert doc["template"] == str((shop.settings.store / TEMPLATE).resolve())
    entries = [e for e in _audit(shop, "campaign_create") if e["target"] == "api-one"]
    assert len(entries) == 1  # the replay added none
    assert entries[0]["actor"].endswith("crm") or entries[0]["actor_kind"] == "key"
    assert entries[0]["detail"]["idempotency_key"] == "create-api-1"


def test_create_refuses_what_the_file_would_and_more(shop):
    outside = str(shop.outside)
    with shop.writer() as writer:
        answers = {
            "absolute outside": writer.post("/api/v1/campaigns", json=_body("x1", template=outside)),
            "escaping": writer.post("/api/v1/campaigns", json=_body("x2", template="../../win-back")),
            "bad holdout": writer.post("/api/v1/campaigns", json=_body("x3", holdout=2)),
            "bad audience": writer.post("/api/v1/campaigns", json=_body("x8", audience="lapsed:x")),
            "unknown key": writer.post("/api/v1/campaigns", json=_body("x4", colour="red")),
            "missing key": writer.post("/api/v1/campaigns", json={"name": "x5"}),
            "too large": writer.post("/api/v1/campaigns",
                                     json=_body("x6", salt="s" * 2_000_000)),
        }  # fmt: skip
    with shop.client(shop.read_key) as reader:
        answers["read scope"] = reader.post("/api/v1/campaigns", json=_body("x7"))
    codes = {what: (r.status_code, r.json()["error"]["code"]) for what, r in answers.items()}
    assert codes["absolute outside"] == (422, "template_outside_workspace")
    assert codes["escaping"] == (422, "template_outside_workspace")
    assert codes["bad holdout"] == (422, "bad_share")
    assert codes["bad audience"] == (422, "bad_audience")
    assert answers["bad audience"].json()["error"]["column"] == "audience"
    assert codes["unknown key"][0] == codes["missing key"][0] == 422
    assert codes["too large"] == (413, "content_too_large")
    assert codes["read scope"][0] == 403
    for r in answers.values():
        assert set(r.json()["error"]) >= {"code", "message"}
    with shop.client(shop.read_key) as reader:
        names = [c["name"] for c in reader.get("/api/v1/campaigns").json()["campaigns"]]
    assert not any(n.startswith("x") for n in names)


def test_launch_in_the_background_gives_the_command_lines_numbers(shop, cli):
    store = str(shop.settings.store)
    with shop.writer() as writer:
        for name in ("by-api", "by-cli"):  # the same salt: the same arms
            assert writer.post("/api/v1/campaigns", json=_body(name)).status_code == 201
        plan = writer.post("/api/v1/campaigns/by-api/launch", json={"plan": True})
        cli_plan = json.loads(cli("campaign", "launch", "by-api", "--plan", "--store", store,
                                  "--json").out)  # fmt: skip
        key = {"Idempotency-Key": "launch-by-api"}
        accepted = writer.post("/api/v1/campaigns/by-api/launch", json={"batch": 50}, headers=key)
        doc = _launched(writer, "by-api")
        replayed = writer.post("/api/v1/campaigns/by-api/launch", json={"batch": 50},
                               headers=key)  # fmt: skip
        again = _launched(writer, "by-api")
    assert plan.status_code == 200 and plan.json() == cli_plan
    assert accepted.status_code == 202
    assert accepted.headers["location"] == "/api/v1/campaigns/by-api"
    assert accepted.json() == {"campaign": "by-api", "state": "draft", "launch": "accepted",
                               "status": "/api/v1/campaigns/by-api"}  # fmt: skip
    assert replayed.status_code == 202 and replayed.json() == accepted.json()
    assert replayed.headers["idempotent-replayed"] == "true"
    by_cli = json.loads(cli("campaign", "launch", "by-cli", "--store", store, "--json").out)
    result = doc["launch"]["result"]
    assert doc["launch"]["error"] is None
    # the same audience, arms, power and messages as the command line's launch
    renamed = {**result, "campaign": "by-cli",
               "assigned": {**result["assigned"], "campaign": "by-cli"}}  # fmt: skip
    assert renamed == by_cli
    assert result["queued"] == by_cli["queued"] > 0 and result["state"] == "done"
    assert result["assigned"]["arms"] == by_cli["assigned"]["arms"] == plan.json()["plan"]["arms"]
    # launched again: nothing more queued, never a message twice
    assert again["launch"]["result"]["queued"] == 0 and again["launch"]["result"]["assigned"] is None
    status = {k: v for k, v in again.items() if k != "launch"}
    assert status == json.loads(cli("campaign", "status", "by-api", "--store", store,
                                    "--json").out)  # fmt: skip
    assert status["progress"] == {"treatment": status["arms"]["treatment"],
                                  "queued": result["queued"], "no_message": result["skipped"],
                                  "left": 0}  # fmt: skip
    ops = shop.ops()
    try:
        with ops.engine.connect() as conn:
            sent = conn.execute(sa.select(sa.func.count()).where(
                campaign_messages.c.campaign == "by-api")).scalar_one()  # fmt: skip
    finally:
        ops.close()
    assert sent == result["queued"]
    entries = [e for e in _audit(shop, "campaign_launch") if e["target"] == "by-api"]
    assert len(entries) == 1 and entries[0]["detail"]["state"] == "draft"


def test_launch_refusals(shop):
    with shop.writer() as writer:
        missing = writer.post("/api/v1/campaigns/nobody/launch")
        bad = writer.post("/api/v1/campaigns/by-api/launch", json={"batch": 0})
    with shop.client(shop.read_key) as reader:
        scoped = reader.post("/api/v1/campaigns/by-api/launch")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "no_campaign"
    assert bad.status_code == 422 and scoped.status_code == 403


def test_audience_pages_are_the_command_lines_rows(shop, cli):
    store = str(shop.settings.store)
    whole = json.loads(cli("campaign", "audience", "by-api", "--sort", "customer_id",
                           "--limit", "1000", "--store", store, "--json").out)  # fmt: skip
    rows = []
    with shop.client(shop.read_key) as reader:
        first = reader.get("/api/v1/campaigns/by-api/audience",
                           params={"sort": "customer_id", "limit": 7}).json()  # fmt: skip
        for offset in range(0, whole["customers"], 100):
            page = reader.get("/api/v1/campaigns/by-api/audience",
                              params={"sort": "customer_id", "limit": 100, "offset": offset})
            rows += page.json()["rows"]
    assert rows == whole["rows"] and len(rows) == whole["customers"] == 300
    assert first == {**whole, "rows": whole["rows"][:7]}
    exports = [e for e in _audit(shop, "export") if e["target"] == "campaign by-api audience"]
    assert len(exports) >= 4


def test_the_global_control_is_the_command_lines(shop, cli):
    store = str(shop.settings.store)
    with shop.client(shop.read_key) as reader:
        answer = reader.get("/api/v1/global-control", params={"window": 30})
        bad = reader.get("/api/v1/global-control", params={"metric": "likes"})
    expected = json.loads(cli("campaign", "measure", "--global-control", "--window", "30",
                              "--store", store, "--json").out)  # fmt: skip
    assert answer.status_code == 200
    assert_same(answer.json(), expected)
    assert answer.json()["global_control"]["campaigns"] == 2
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "unknown_metric"


def test_a_campaigns_measurement_is_the_command_lines(shop, cli):
    store = str(shop.settings.store)
    with shop.client(shop.read_key) as reader:
        answer = reader.get("/api/v1/campaigns/by-api/measure", params={"metric": "orders"})
    expected = json.loads(cli("campaign", "status", "by-api", "--measure", "--metric", "orders",
                              "--store", store, "--json").out)["measure"]  # fmt: skip
    assert answer.status_code == 200
    assert_same(answer.json(), expected)
    assert [a["name"] for a in expected["arms"]] == ["control", "treatment"]


# stops a launch of the command line after its first batch, killed (SIGKILL)
_PARTIAL = """
import sys
from tenure.config import load_settings
from tenure.campaigns.launch import launch
from tenure.store.workspace import Workspace
settings = load_settings(store=sys.argv[1])
with Workspace.open(settings, create=False) as ws:
    launch(settings, ws.ops, sys.argv[2], batch=40)
"""


def test_a_launch_killed_elsewhere_completes_through_the_api(shop):
    import os
    import subprocess
    import sys

    with shop.writer() as writer:
        assert writer.post("/api/v1/campaigns", json=_body("killed")).status_code == 201
        env = {**os.environ, "TENURE_FAULT_AT": "campaign batch queued",
               "PYTHONPATH": os.pathsep.join(sys.path)}  # fmt: skip
        killed = subprocess.run([sys.executable, "-c", _PARTIAL, str(shop.settings.store),
                                 "killed"], env=env, capture_output=True, timeout=300)  # fmt: skip
        assert killed.returncode == -9
        before = writer.get("/api/v1/campaigns/killed").json()
        assert writer.post("/api/v1/campaigns/killed/launch").status_code == 202
        after = _launched(writer, "killed")
    done = before["progress"]["queued"] + before["progress"]["no_message"]
    assert before["campaign"]["state"] == "running" and done == 40  # one batch
    assert before["progress"]["left"] > 0 and "launch" not in before
    assert after["launch"]["result"]["assigned"] is None  # assigned before the kill
    assert after["progress"]["left"] == 0 and after["campaign"]["state"] == "done"
    assert after["progress"]["queued"] == (before["progress"]["queued"]
                                           + after["launch"]["result"]["queued"])  # fmt: skip
    ops = shop.ops()
    try:
        with ops.engine.connect() as conn:
            m = campaign_messages.c
            total, customers = conn.execute(
                sa.select(sa.func.count(), sa.func.count(sa.distinct(m.customer_id)))
                .where(m.campaign == "killed")).one()  # fmt: skip
    finally:
        ops.close()
    assert total == customers == after["progress"]["queued"] and after["accounted"]


def test_a_launch_that_fails_says_why_in_the_status(shop):
    with shop.writer() as writer:
        made = writer.post("/api/v1/campaigns", json=_body("at-risk", audience=["churn_risk:0.5"]))
        accepted = writer.post("/api/v1/campaigns/at-risk/launch")
        doc = _launched(writer, "at-risk")
    assert made.status_code == 201 and accepted.status_code == 202
    error = doc["launch"]["error"]
    assert doc["launch"]["result"] is None and doc["campaign"]["state"] == "draft"
    assert error["code"] and "churn" in (error["message"] + (error["hint"] or "")).lower()


def test_create_and_launch_on_postgresql(tmp_path, pg_database, cli, monkeypatch):
    import secrets

    from tenure.access import apikeys
    from tenure.store.ops import OpsStore
    from tenure.store.workspace import Workspace
    from tenure.web import create_app

    needs_web()
    settings, template = _store(tmp_path, pg_database)
    shutil.copytree(template, settings.store / TEMPLATE)
    with Workspace.open(settings, create=False) as ws:
        write = apikeys.create_key(ws.ops, ["read", "write"], name="crm")["key"]
    settings = replace(settings, secret_key=secrets.token_urlsafe(40))
    url, stop = serve(create_app(settings, warm=False))
    try:
        shop = Shop(url, settings, write, write)
        key = {"Idempotency-Key": "pg-launch"}
        with shop.writer() as writer:
            assert writer.post("/api/v1/campaigns", json=_body("pg")).status_code == 201
            first = writer.post("/api/v1/campaigns/pg/launch", headers=key)
            doc = _launched(writer, "pg")
            again = writer.post("/api/v1/campaigns/pg/launch", headers=key)
            _launched(writer, "pg")
            status = writer.get("/api/v1/campaigns/pg").json()
    finally:
        stop()
    assert first.status_code == again.status_code == 202
    assert again.headers["idempotent-replayed"] == "true"
    del status["launch"]
    monkeypatch.setenv("TENURE_OPS_URL", pg_database)  # the command line's store too
    assert status == json.loads(cli("campaign", "status", "pg", "--store", str(settings.store),
                                    "--json").out)  # fmt: skip
    ops = OpsStore.open(pg_database)
    try:
        with ops.engine.connect() as conn:
            sent = conn.execute(sa.select(sa.func.count())
                                .where(campaign_messages.c.campaign == "pg")).scalar_one()  # fmt: skip
        kinds = [e["kind"] for e in audit.read(ops) if e["target"] == "pg"]
    finally:
        ops.close()
    assert sent == doc["launch"]["result"]["queued"] == status["progress"]["queued"] > 0
    assert sorted(kinds) == ["campaign_create", "campaign_launch"]
