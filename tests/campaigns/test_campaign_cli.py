"""``tenure campaign list | create | launch | pause | status`` end to end on
a real store: JSON documents, errors as one JSON document, help with an
example, and tables within 80 columns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.campaigns.test_launch import N, _store

COMMANDS = ("list", "create", "audience", "launch", "pause", "status")


@pytest.fixture
def shop(tmp_path):
    settings, template = _store(tmp_path)
    return str(settings.store), template


def test_create_launch_status_pause(cli, shop, tmp_path):
    store, template = shop
    made = cli("campaign", "create", "win-back", "--audience", "lapsed:90", "--template",
               template, "--holdout", "20%", "--store", store, "--json")  # fmt: skip
    assert made.code == 0, made.err
    doc = json.loads(made.out)
    assert doc["state"] == "draft" and doc["holdout"] == pytest.approx(0.2)
    plan = json.loads(cli("campaign", "launch", "win-back", "--plan", "--store", store,
                          "--json").out)["plan"]  # fmt: skip
    assert plan["eligible"] == N // 2 and sum(plan["arms"].values()) == N // 2
    launched = json.loads(cli("campaign", "launch", "win-back", "--store", store, "--json").out)
    assert launched["state"] == "done" and launched["assigned"]["arms"] == plan["arms"]
    assert launched["assigned"]["power"] == plan["power"]
    status = json.loads(cli("campaign", "status", "win-back", "--store", store, "--json").out)
    assert status["accounted"] and status["arms"] == plan["arms"]
    assert status["fates"]["pending"] == launched["queued"]
    listed = json.loads(cli("campaign", "list", "--store", store, "--json").out)
    assert [c["name"] for c in listed["campaigns"]] == ["win-back"]
    text = cli("campaign", "status", "win-back", "--store", store, "--export",
               tmp_path / "a.csv")  # fmt: skip
    assert text.code == 0 and "accounted for" in text.out
    # every line within 80 columns but the file's own path
    assert max(len(line) for line in text.out.splitlines() if "a.csv" not in line) <= 80
    lines = (tmp_path / "a.csv").read_text().splitlines()
    assert lines[0] == "customer_id,group,assigned_at"
    assert len(lines) - 1 == plan["arms"]["treatment"] + plan["arms"]["holdout"]
    paused = cli("campaign", "pause", "win-back", "--store", store, "--json")
    assert paused.code == 0 and json.loads(paused.out)["was"] == "done"  # its messages held


def test_create_from_a_file(cli, shop, tmp_path):
    store, template = shop
    spec = tmp_path / "campaign.toml"
    spec.write_text(f'name = "welcome"\ntemplate = "{template.name}"\n'
                    'audience = ["first_order:30"]\nholdout = 0.5\n')  # fmt: skip
    made = cli("campaign", "create", "--file", spec, "--store", store, "--json")
    assert made.code == 0, made.err
    assert json.loads(made.out)["audience"] == ["first_order:30"]


@pytest.mark.parametrize("body, key, words", [
    ('name = "x"\ntemplate = "win-back"\naudience = ["lapsed:9"]\nholdot = 0.1\n', "holdot",
     "unknown key"),
    ('name = "x"\ntemplate = "win-back"\naudience = ["lapsed"]\n', "audience", "KIND:VALUE"),
    ('name = "x"\ntemplate = "win-back"\naudience = ["lapsed:9"]\nholdout = 2\n', "holdout",
     "not a share"),
    ('name = "x"\naudience = ["lapsed:9"]\n', "template", "missing"),
    ('name = "x"\ntemplate = "nowhere"\naudience = ["lapsed:9"]\n', "template", "does not exist"),
])  # fmt: skip
def test_file_errors_name_file_key_and_value(cli, shop, tmp_path, body, key, words):
    store, template = shop
    spec = template.parent / "bad.toml"
    spec.write_text(body)
    got = cli("campaign", "create", "--file", spec, "--store", store, "--json")
    assert got.code == 1
    error = json.loads(got.out)["error"]
    assert error["source"] == str(spec) and error["column"] == key
    assert words in error["message"] and error["hint"]
    assert "Traceback" not in got.err


def test_unknown_campaign_is_one_json_error(cli, shop):
    store, _ = shop
    got = cli("campaign", "status", "nobody", "--store", store, "--json")
    assert got.code == 1 and json.loads(got.out)["error"]["code"] == "no_campaign"


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_an_example(cli, command):
    got = cli("campaign", command, "--help")
    assert got.code == 0 and "Example" in got.out and f"tenure campaign {command}" in got.out


def test_audience_list(cli, shop, tmp_path):
    store, template = shop
    cli("campaign", "create", "win-back", "--audience", "lapsed:90", "--template", template,
        "--store", store)  # fmt: skip
    got = cli("campaign", "audience", "win-back", "--sort", "customer_id", "--limit", "3",
              "--export", tmp_path / "all.csv", "--store", store, "--json")  # fmt: skip
    assert got.code == 0, got.err
    doc = json.loads(got.out)
    assert doc["customers"] == N // 2
    assert [r["customer_id"] for r in doc["rows"]] == ["c0000", "c0002", "c0004"]
    assert len((tmp_path / "all.csv").read_text().splitlines()) == N // 2 + 1
    text = cli("campaign", "audience", "win-back", "--store", store)
    assert text.code == 0 and max(len(line) for line in text.out.splitlines()) <= 80


def test_a_campaign_and_a_journey_never_share_a_name(cli, shop):
    """Their messages' dedup keys begin with the name: each side refuses
    the other's."""
    store, template = shop
    assert cli("journey", "create", "--playbook", "welcome", "--store", store).code == 0
    taken = cli("campaign", "create", "welcome", "--audience", "lapsed:90", "--template",
                template, "--store", store, "--json")  # fmt: skip
    assert taken.code == 1
    error = json.loads(taken.out)["error"]
    assert error["code"] == "campaign_exists" and "journey 'welcome'" in error["message"]
    assert cli("campaign", "create", "win-back", "--audience", "lapsed:90", "--template",
               template, "--store", store).code == 0  # fmt: skip
    refused = cli("journey", "create", "--playbook", "win-back", "--store", store, "--json")
    assert refused.code == 1
    error = json.loads(refused.out)["error"]
    assert error["code"] == "journey_exists" and "campaign 'win-back'" in error["message"]
    assert not (Path(store) / "journeys" / "win-back").exists()  # no copy left to trip over
    listed = json.loads(cli("campaign", "list", "--store", store, "--json").out)
    assert [c["name"] for c in listed["campaigns"]] == ["win-back"]
