"""A template's variables come from what the store keeps: the profile, the
loyalty ledger and the kept predictions, each checked here against the
table it is kept in, read with plain SQL."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import duckdb
import pytest

from tenure.campaigns.personal import context_for, preview
from tenure.campaigns.templates import Parts, Template
from tenure.config import load_settings
from tenure.errors import NotFoundError
from tenure.store.ops import OpsStore

AS_OF = datetime(2026, 1, 15, tzinfo=UTC)
OFFER = Template("points", {
    "en": Parts("{{ first_name }}, your points",
                "You have {{ points.balance | number }} points{% if points.tier %} "
                "({{ points.tier }}){% endif %}. Next order: {{ next_order.date | date }}."),
    "de": Parts("{{ first_name }}, deine Punkte",
                "Du hast {{ points.balance | number }} Punkte. Nächste Bestellung: "
                "{{ next_order.date | date }}."),
})  # fmt: skip


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from tenure.cli.app import main

    folder = tmp_path_factory.mktemp("demo")
    import sys

    argv, sys.argv = sys.argv, ["tenure", "demo", "--customers", "200", "--store",
                                str(folder / "store"), "--out", str(folder / "files"),
                                "--no-report", "--json"]  # fmt: skip
    try:
        main()
    except SystemExit as exc:
        assert not exc.code
    finally:
        sys.argv = argv
    settings = load_settings(store=folder / "store")
    ops = OpsStore.open(settings.ops_database_url)
    yield settings, ops
    ops.close()


def _member_with_a_prediction(settings) -> tuple[str, str, str, str, object]:
    members = sqlite3.connect(settings.store / "ops.sqlite")
    balances = dict(members.execute(
        "SELECT customer_id, SUM(points) FROM loyalty_entries GROUP BY customer_id"))  # fmt: skip
    members.close()
    con = duckdb.connect(str(settings.analytics_path), read_only=True)
    rows = con.execute(
        "SELECT c.customer_id, c.name, c.email, c.locale, p.next_purchase_date "
        "FROM customers c JOIN customer_predictions p USING (customer_id) "
        "WHERE p.next_purchase_date IS NOT NULL AND c.locale LIKE 'de%' ORDER BY 1"
    ).fetchall()
    con.close()
    for row in rows:
        if row[0] in balances:
            return (*row, balances[row[0]])
    pytest.fail("the demo has no German-speaking member with a predicted next order")


def test_the_variables_are_those_the_store_keeps(demo):
    settings, ops = demo
    who, name, email, locale, next_date, points = _member_with_a_prediction(settings)
    ctx = context_for(settings, ops, who, as_of=AS_OF, recommendations=["Tea"])
    assert (ctx["name"], ctx["email"], ctx["locale"]) == (name, email, locale)
    assert ctx["first_name"] == name.split()[0]
    assert ctx["points"]["balance"] == points
    assert ctx["next_order"] == {"date": next_date, "days": (next_date - AS_OF.date()).days}
    assert ctx["recommendations"] == ["Tea"]
    assert ctx["currency"] == "EUR"
    message, used = preview(settings, ops, OFFER, who, as_of=AS_OF, recommendations=["Tea"])
    assert message.locale == "de"  # the profile's de-DE falls back to de
    assert message.subject == f"{name.split()[0]}, deine Punkte"
    assert message.text == (f"Du hast {points:,} Punkte. Nächste Bestellung: "
                            f"{next_date:%d.%m.%Y}.").replace(",", ".")  # fmt: skip
    assert used == ctx


def test_a_customer_outside_the_program_has_no_points(demo):
    settings, ops = demo
    con = duckdb.connect(str(settings.analytics_path), read_only=True)
    everyone = [
        r[0] for r in con.execute("SELECT customer_id FROM customers ORDER BY 1").fetchall()
    ]
    con.close()
    members = sqlite3.connect(settings.store / "ops.sqlite")
    enrolled = {r[0] for r in members.execute("SELECT customer_id FROM loyalty_members")}
    members.close()
    outsider = next(c for c in everyone if c not in enrolled)
    assert context_for(settings, ops, outsider, as_of=AS_OF)["points"] is None
    with pytest.raises(NotFoundError, match="no customer 'NOPE'"):
        context_for(settings, ops, "NOPE")


def _template_folder(root) -> str:
    for loc, parts in OFFER.variants.items():
        (root / "points" / loc).mkdir(parents=True)
        (root / "points" / loc / "subject.txt").write_text(parts.subject, encoding="utf-8")
        (root / "points" / loc / "body.txt").write_text(parts.text, encoding="utf-8")
    return str(root / "points")


def test_the_command_line_previews_and_test_sends(demo, cli, tmp_path, smtp_server):
    import json

    settings, _ = demo
    who, name, _, _, next_date, points = _member_with_a_prediction(settings)
    folder = _template_folder(tmp_path)
    shown = cli("campaign", "preview", folder, who, "--store", settings.store, "--json")
    assert shown.code == 0, shown.err
    doc = shown.json()
    assert (doc["locale"], doc["subject"]) == ("de", f"{name.split()[0]}, deine Punkte")
    assert doc["variables"]["points"]["balance"] == points
    assert doc["variables"]["next_order"]["date"] == next_date.isoformat()
    english = cli("campaign", "preview", folder, who, "--locale", "en-GB", "--store",
                  settings.store, "--json").json()  # fmt: skip
    assert english["subject"] == f"{name.split()[0]}, your points"

    sent = cli("campaign", "test-send", folder, who, "--to", "qa@shop.example", "--from",
               "news@shop.example", "--smtp-host", smtp_server.host, "--smtp-port",
               smtp_server.port, "--security", "none", "--store", settings.store, "--json")  # fmt: skip
    assert sent.code == 0, sent.err
    mail = smtp_server.inbox.arrivals[0]
    assert (mail["To"], mail["Subject"]) == ("qa@shop.example", doc["subject"])
    assert mail["Message-ID"] == sent.json()["provider_message_id"]
    with sqlite3.connect(settings.store / "ops.sqlite") as conn:
        kept = conn.execute("SELECT recipient, customer_id, test, state FROM campaign_messages "
                            "WHERE provider_message_id = ?", (mail["Message-ID"],)).fetchall()  # fmt: skip
    assert kept == [("qa@shop.example", who, 1, "sent")]

    missing = cli("campaign", "preview", folder, "NOPE", "--store", settings.store, "--json")
    assert missing.code == 1
    assert json.loads(missing.out)["error"]["message"].startswith("there is no customer 'NOPE'")
