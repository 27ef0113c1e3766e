"""The playbooks load, hold out 10 %, and render in English and German; and
``tenure journey`` end to end: a playbook installed, run twice on a set
clock, entered from a file, its status and measurement, errors as one JSON
document."""

from __future__ import annotations

import json
from datetime import date

import pytest

from tenure.campaigns import holdouts, journeys_spec, triggers
from tenure.campaigns.journeys_playbooks import NAMES, folder, listing
from tenure.campaigns.templates import load_template
from tests.campaigns.test_launch import _store

# the subject of each playbook's first message, as written in its templates
FIRST = {
    "welcome": ("Welcome, Ann!", "Willkommen, Ann!"),
    "onboarding": ("Getting started", "Erste Schritte"),
    "post-purchase": ("Thank you for your order", "Danke für Ihre Bestellung"),
    "birthday": ("Happy birthday, Ann!", "Alles Gute zum Geburtstag, Ann!"),
    "replenishment": ("Time to stock up?", "Zeit für Nachschub?"),
    "at-risk-outreach": ("We would like to hear from you", "Wir würden gern von Ihnen hören"),
    "win-back": ("We miss you", "Wir vermissen Sie"),
}
CONTEXT = {"customer_id": "C1", "name": "Ann Lee", "first_name": "Ann", "email": "a@x.example",
           "today": date(2026, 3, 1), "currency": "EUR", "points": None, "clv": None,
           "p_alive": None, "recommendations": [],
           "next_order": {"date": date(2026, 2, 20), "days": -9}}  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_every_playbook_loads_and_renders_in_both_locales(name):
    d = journeys_spec.from_file(folder(name) / "journey.toml")
    assert d.name == name and d.holdout == pytest.approx(0.1)
    if isinstance(d.entry, str):
        assert triggers.parse(d.entry).text == d.entry  # a trigger as written
    sends = [s for s in d.steps if s.type == "send"]
    assert sends
    for step in sends:
        template = load_template(journeys_spec.Path(step.template))
        en, de = (template.render(CONTEXT, loc) for loc in ("en", "de-DE"))
        assert en.locale == "en" and de.locale == "de"
        assert en.text and de.text and en.text != de.text
    first = load_template(journeys_spec.Path(sends[0].template))
    assert (first.render(CONTEXT, "en").subject.strip(),
            first.render(CONTEXT, "de").subject.strip()) == FIRST[name]  # fmt: skip


def test_the_replenishment_reminder_formats_the_date_per_locale():
    d = journeys_spec.from_file(folder("replenishment") / "journey.toml")
    template = load_template(journeys_spec.Path(d.steps[0].template))
    assert "Feb 20, 2026" in template.render(CONTEXT, "en").text
    assert "20.02.2026" in template.render(CONTEXT, "de").text


def test_the_listing_names_all_seven():
    assert [p["name"] for p in listing()] == list(NAMES)
    assert all(p["holdout"] == pytest.approx(0.1) for p in listing())


@pytest.fixture
def shop(tmp_path):
    settings, _ = _store(tmp_path)  # 600 customers; the even ones lapsed since 2024-01-10
    return settings


def test_a_playbook_installed_run_twice_and_measured(cli, shop, tmp_path):
    store = str(shop.store)
    made = cli("journey", "create", "--playbook", "win-back", "--store", store, "--json")
    assert made.code == 0, made.err
    doc = json.loads(made.out)
    assert doc["journey"]["version"] == 1 and (shop.store / "journeys" / "win-back").is_dir()
    salt = doc["journey"]["salt"]
    # a journey that cannot run (an entry no trigger reads) does not hold up the others
    (tmp_path / "odd.toml").write_text(
        'name = "odd"\nentry = "!! not a trigger !!"\n[[steps]]\nid = "a"\ntype = "wait"\n'
        'delay = "1d"\n')  # fmt: skip
    assert cli("journey", "create", tmp_path / "odd.toml", "--store", store).code == 0
    ran = json.loads(cli("journey", "run", "--at", "2024-07-01T09:00", "--store", store,
                         "--json").out)["journeys"]  # fmt: skip
    assert [j["journey"] for j in ran] == ["odd", "win-back"] and "error" in ran[0]
    first = ran[1]
    from tenure.store.workspace import Workspace

    with Workspace.open(shop, create=False) as ws, ws.ops.engine.connect() as conn:
        control = holdouts.global_control(conn)
    lapsed = [f"c{i:04d}" for i in range(0, 600, 2)]
    arms = holdouts.assign(lapsed, salt=salt, holdout=0.1, control=control)
    treated = [c for c, a in zip(lapsed, arms, strict=True) if a == "treatment"]
    with_address = [c for c in treated if int(c[1:]) % 10 != 0]
    assert first["entered"]["entered"] == 300
    assert first["entered"]["arms"]["treatment"] == len(treated)
    assert first["queued"] == len(with_address)
    assert first["exited"] == {"no email address": len(treated) - len(with_address)}
    again = json.loads(cli("journey", "run", "win-back", "--at", "2024-07-01T10:00", "--store",
                           store, "--json").out)["journeys"][0]  # fmt: skip
    assert again["queued"] == 0 and again["entered"]["entered"] == 0
    week = json.loads(cli("journey", "run", "win-back", "--at", "2024-07-08T09:00", "--store",
                          store, "--json").out)["journeys"][0]  # fmt: skip
    assert week["queued"] == len(with_address) and week["completed"] == len(with_address)
    status = json.loads(cli("journey", "status", "win-back", "--measure", "--store", store,
                            "--json").out)  # fmt: skip
    assert status["accounted"] and status["entries"] == 300
    assert status["messages"]["pending"] == 2 * len(with_address)
    assert status["measure"]["assignments"]["file"] == "journey win-back"
    text = cli("journey", "status", "win-back", "--store", store)
    assert text.code == 0 and "accounted: yes" in text.out


def test_enter_from_a_file_and_errors_as_json(cli, shop, tmp_path):
    store = str(shop.store)
    cli("journey", "create", "--playbook", "welcome", "--store", store)
    (tmp_path / "who.csv").write_text("customer_id\nc0001\nc0003\n")
    entered = json.loads(cli("journey", "enter", "welcome", "--customers", tmp_path / "who.csv",
                             "--store", store, "--json").out)  # fmt: skip
    assert entered["entered"] == 2
    again = json.loads(cli("journey", "enter", "welcome", "--customers", tmp_path / "who.csv",
                           "--store", store, "--json").out)  # fmt: skip
    assert again["not_entered"] == {"entered already": 2}
    missing = cli("journey", "status", "nope", "--store", store, "--json")
    assert missing.code == 1 and json.loads(missing.out)["error"]["code"] == "no_journey"
    twice = cli("journey", "create", "--playbook", "welcome", "--store", store, "--json")
    assert twice.code == 1 and json.loads(twice.out)["error"]["code"] == "exists"
    bad = cli("journey", "create", "--playbook", "nope", "--store", store)
    assert bad.code == 1 and "Playbooks: welcome" in bad.err and "Traceback" not in bad.err


@pytest.mark.parametrize("command", ["list", "playbooks", "create", "update", "enter", "run",
                                     "status", "pause", "resume"])
def test_every_journey_command_has_an_example(cli, command):
    r = cli("journey", command, "--help")
    assert r.code == 0 and "Example" in r.out and f"tenure journey {command}" in r.out


def test_a_triggered_playbook_enters_only_what_happens_after_its_first_run(cli, shop, tmp_path):
    """post-purchase is entered by any order: its first run records the
    trigger's baseline (the 600 orders before it enter no one), the next
    enters exactly the orders placed in between, each once."""
    from tenure.ingestion.pipeline import ingest
    from tenure.store.workspace import Workspace

    store = str(shop.store)
    assert cli("journey", "create", "--playbook", "post-purchase", "--store", store).code == 0

    def entered(when: str) -> int:
        out = cli("journey", "run", "post-purchase", "--at", when, "--store", store, "--json").out
        return json.loads(out)["journeys"][0]["entered"]["entered"]

    assert entered("2024-07-01T09:00") == 0
    (tmp_path / "new.csv").write_text("order_id,customer_id,placed_at,amount\n"
                                      "n1,c0001,2024-07-01 12:00:00,10\n"
                                      "n2,c0002,2024-07-01 13:00:00,10\n"
                                      "n3,c0003,2024-07-03 12:00:00,10\n")  # fmt: skip
    with Workspace.open(shop, create=False) as ws:
        ingest("orders", tmp_path / "new.csv", workspace=ws)
    assert entered("2024-07-02T09:00") == 2  # n1 and n2; n3 is not yet placed
    assert entered("2024-07-02T09:00") == 0
    assert entered("2024-07-04T09:00") == 1  # n3
    status = json.loads(cli("journey", "status", "post-purchase", "--store", store,
                            "--json").out)  # fmt: skip
    assert status["entries"] == 3
