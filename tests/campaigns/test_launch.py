"""Launching a campaign on a real store: assignments, the outbox, idempotency,
a real process killed between batches, pause, status, and measurement from
the stored assignments equal to that of an exported file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from tenure.campaigns import definitions, holdouts, launch_status
from tenure.campaigns.consent import write_transaction
from tenure.campaigns.launch import launch, pause, plan
from tenure.config import load_settings
from tenure.errors import InputError
from tenure.ingestion.pipeline import ingest
from tenure.store.ops_schema import campaign_assignments, campaign_messages
from tenure.store.workspace import Workspace

N = 600
AT = datetime(2024, 7, 1, 9, 0, tzinfo=UTC)


def _store(folder: Path, ops_url: str | None = None):
    """N customers: c0000..c0599; the even ones last ordered on 2024-01-10
    (lapsed 90 days on 2024-06-30, the last day of data), the odd ones on
    2024-06-30. Every tenth customer has no e-mail address."""
    rows = []
    for i in range(N):
        day = "2024-01-10" if i % 2 == 0 else "2024-06-30"
        rows.append(f"o{i},c{i:04d},{day} 12:00:00,{10 + i % 7}")
    (folder / "orders.csv").write_text("order_id,customer_id,placed_at,amount\n" + "\n".join(rows))
    people = [f"c{i:04d},{'' if i % 10 == 0 else f'c{i}@x.example'},Ann {i},de-DE"
              for i in range(N)]  # fmt: skip
    (folder / "customers.csv").write_text("customer_id,email,name,locale\n" + "\n".join(people))
    settings = load_settings(store=folder / "store", ops_url=ops_url)
    with Workspace.open(settings) as ws:
        ingest("customers", folder / "customers.csv", workspace=ws)
        ingest("orders", folder / "orders.csv", workspace=ws)
    template = folder / "win-back"
    for loc, hello in (("en", "Hello"), ("de", "Hallo")):
        (template / loc).mkdir(parents=True)
        (template / loc / "subject.txt").write_text(f"{hello} {{{{ first_name }}}}")
        (template / loc / "body.txt").write_text(f"{hello} {{{{ name }}}}, {{{{ today }}}}.")
    return settings, template


@pytest.fixture
def shop(tmp_path):
    yield from _shop(tmp_path)


def _shop(tmp_path, ops_url=None):
    settings, template = _store(tmp_path, ops_url)
    ws = Workspace.open(settings, create=False)
    with write_transaction(ws.ops) as conn:
        holdouts.set_global_share(conn, 0.05)
        values = definitions.spec(name="win-back", template=template, audience=["lapsed:90"],
                                  holdout=0.2, salt="fixed-salt")  # fmt: skip
        definitions.create(conn, values)
    yield settings, ws.ops, template
    ws.close()


def _expected(ops):
    """Each lapsed customer's arm, worked from the documented hash."""
    with ops.engine.connect() as conn:
        control = holdouts.global_control(conn)
    out = {}
    for i in range(0, N, 2):
        c = f"c{i:04d}"
        if holdouts.draw(control.salt, c) < 0.05:
            out[c] = "global_control"
        elif holdouts.draw("fixed-salt", c) < 0.2:
            out[c] = "holdout"
        else:
            out[c] = "treatment"
    return out


def _assignments(ops):
    with ops.engine.connect() as conn:
        return dict(conn.execute(sa.select(campaign_assignments.c.customer_id,
                                           campaign_assignments.c.arm)).all())  # fmt: skip


def _messages(ops):
    with ops.engine.connect() as conn:
        return conn.execute(sa.select(campaign_messages.c.customer_id,
                                      campaign_messages.c.subject)).all()  # fmt: skip


def _send(settings, ops, server, now=None):
    """The outbox sent into a real SMTP server on loopback by the sender,
    rendering the launched messages, with a gate that lets every message by."""
    from tenure.campaigns import sender
    from tenure.campaigns.channels.smtp import SmtpProvider, SmtpSettings
    from tenure.campaigns.send_render import CampaignRenderer

    from .conftest import Decision

    provider = SmtpProvider(SmtpSettings(host=server.host, port=server.port, security="none",
                                         sender="news@shop.example", sender_name="Shop"))  # fmt: skip
    try:
        return sender.send_all(ops, provider, lambda *_: Decision(True),
                               now=now or datetime.now(UTC),
                               render=CampaignRenderer(settings))  # fmt: skip
    finally:
        provider.close()


def test_launch_assigns_and_queues_the_treatment_only(shop):
    settings, ops, _ = shop
    expected = _expected(ops)
    before = plan(settings, ops, "win-back")
    done = launch(settings, ops, "win-back", batch=64, at=AT)
    assert _assignments(ops) == expected
    treated = sorted(c for c, a in expected.items() if a == "treatment")
    with_address = [c for c in treated if int(c[1:]) % 10 != 0]
    messages = _messages(ops)
    assert sorted(c for c, _ in messages) == with_address
    assert set(dict(messages).values()) == {""}  # queued unrendered: the sender renders
    assert done["queued"] == len(with_address)
    assert done["skipped"] == len(treated) - len(with_address)
    assert done["state"] == "done"
    counts = {a: list(expected.values()).count(a) for a in holdouts.ARMS}
    assert before["arms"] == counts == done["assigned"]["arms"]
    assert before["eligible"] == N // 2
    st = launch_status.status(ops, "win-back")
    assert st["accounted"] and st["assigned"] == N // 2
    assert st["fates"]["pending"] == len(with_address)
    assert st["fates"]["no_message"] == {"no email address": len(treated) - len(with_address)}
    assert st["fates"]["held_out"] == counts["holdout"] + counts["global_control"]


def test_launch_twice_is_launch_once(shop):
    settings, ops, _ = shop
    launch(settings, ops, "win-back", batch=64, at=AT)
    first = (_assignments(ops), sorted(_messages(ops)))
    again = launch(settings, ops, "win-back", batch=64)
    assert again["assigned"] is None and again["queued"] == 0
    assert (_assignments(ops), sorted(_messages(ops))) == first


def test_power_before_launch(shop):
    from tenure.campaigns.power import mde

    settings, ops, _ = shop
    doc = plan(settings, ops, "win-back", baseline=0.1)
    arms = doc["arms"]
    assert doc["power"]["mde_absolute"] == pytest.approx(
        float(mde(0.3, arms["treatment"], arms["holdout"])))


_KILLED = """
import sys
from tenure.config import load_settings
from tenure.campaigns.launch import launch
from tenure.store.workspace import Workspace
settings = load_settings(store=sys.argv[1])
with Workspace.open(settings, create=False) as ws:
    launch(settings, ws.ops, "win-back", batch=40)
"""


@pytest.mark.parametrize("point", ["campaign assigned", "campaign batch queued"])
def test_killed_launch_completes_without_duplicates(shop, point):
    settings, ops, _ = shop
    env = {**os.environ, "TENURE_FAULT_AT": point, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", _KILLED, str(settings.store)], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == -9, proc.stderr
    expected = _expected(ops)
    treated = sorted(c for c, a in expected.items() if a == "treatment")
    # killed after the first batch of 40 treated customers committed
    first = [c for c in treated[:40] if int(c[1:]) % 10 != 0]
    partial = sorted(c for c, _ in _messages(ops))
    assert partial == ([] if point == "campaign assigned" else first)
    launch(settings, ops, "win-back", batch=40)
    assert _assignments(ops) == expected
    messages = [c for c, _ in _messages(ops)]
    assert len(messages) == len(set(messages))
    assert sorted(messages) == sorted(c for c, a in expected.items()
                                      if a == "treatment" and int(c[1:]) % 10 != 0)  # fmt: skip
    assert launch_status.status(ops, "win-back")["accounted"]


def test_pause_stops_queueing_and_launch_resumes(shop):
    settings, ops, _ = shop
    env = {**os.environ, "TENURE_FAULT_AT": "campaign batch queued",
           "PYTHONPATH": os.pathsep.join(sys.path)}  # fmt: skip
    subprocess.run([sys.executable, "-c", _KILLED, str(settings.store)], env=env,
                   capture_output=True, timeout=300)  # fmt: skip
    assert pause(ops, "win-back")["was"] == "running"
    st = launch_status.status(ops, "win-back")
    treated = sorted(c for c, a in _expected(ops).items() if a == "treatment")
    assert st["campaign"]["state"] == "paused"
    assert st["fates"]["held"] == sum(int(c[1:]) % 10 != 0 for c in treated[:40])
    assert st["fates"]["not_queued"] > 0 and st["accounted"]
    resumed = launch(settings, ops, "win-back", batch=40)
    assert resumed["state"] == "done"
    assert launch_status.status(ops, "win-back")["fates"]["not_queued"] == 0


def test_measure_equals_the_exported_file(shop, tmp_path):
    from tenure.campaigns.measure import measure_campaign

    settings, ops, _ = shop
    launch(settings, ops, "win-back", at=AT)
    stored = launch_status.measure(settings, ops, "win-back", window=30)
    exported = tmp_path / "assignments.csv"
    n = launch_status.export_assignments(ops, "win-back", exported)
    from_file = measure_campaign(settings, exported, window=30,
                                 split={"control": 0.2, "treatment": 0.8})  # fmt: skip
    expected = _expected(ops)
    assert n == sum(a != "global_control" for a in expected.values())
    assert stored["arms"] == from_file["arms"]
    assert json.dumps(stored["lifts"]) == json.dumps(from_file["lifts"])
    sizes = {a["name"]: a["n"] for a in stored["arms"]}
    assert sizes == {"control": list(expected.values()).count("holdout"),
                     "treatment": list(expected.values()).count("treatment")}


def test_the_sender_renders_and_keeps_each_launched_message(shop, smtp_server):
    settings, ops, _ = shop
    launch(settings, ops, "win-back", batch=64, at=AT)
    done = _send(settings, ops, smtp_server)
    treated = sorted(c for c, a in _expected(ops).items()
                     if a == "treatment" and int(c[1:]) % 10 != 0)  # fmt: skip
    assert done["sent"] == len(treated)
    got = {m["To"]: m for m in smtp_server.inbox.arrivals}
    i = int(treated[0][1:])
    mail = got[f"c{i}@x.example"]
    # first_name and name in German; today is the launch day, not the day it was sent
    assert mail["Subject"] == "Hallo Ann"
    assert mail.get_content().strip() == f"Hallo Ann {i}, 2024-07-01."
    with ops.engine.connect() as conn:
        kept = conn.execute(sa.select(campaign_messages.c.subject, campaign_messages.c.body_text,
                                      campaign_messages.c.rendered, campaign_messages.c.state)
                            .where(campaign_messages.c.customer_id == treated[0])).one()  # fmt: skip
    assert kept == ("Hallo Ann", f"Hallo Ann {i}, 2024-07-01.", True, "sent")


def test_pause_holds_queued_messages_until_the_campaign_resumes(shop, smtp_server):
    settings, ops, _ = shop
    launch(settings, ops, "win-back", batch=64, at=AT)
    queued = launch_status.status(ops, "win-back")["fates"]["pending"]
    assert pause(ops, "win-back")["was"] == "done"  # done queueing, its messages waiting
    held = _send(settings, ops, smtp_server)
    st = launch_status.status(ops, "win-back")
    assert held["claimed"] == 0 and smtp_server.inbox.arrivals == []
    assert st["fates"]["held"] == queued and st["fates"]["pending"] == 0 and st["accounted"]
    assert launch(settings, ops, "win-back")["state"] == "done"  # resumed
    sent = _send(settings, ops, smtp_server)
    st = launch_status.status(ops, "win-back")
    assert sent["sent"] == queued == len(smtp_server.inbox.arrivals) == st["fates"]["sent"]
    assert st["fates"]["held"] == 0 and st["accounted"]
    with pytest.raises(InputError, match="none waits"):  # nothing left to hold
        pause(ops, "win-back")


def test_a_template_error_stops_the_launch_before_anything_is_queued(shop):
    settings, ops, template = shop
    (template / "de" / "body.txt").write_text("Hallo {{ points.balance }}")
    with pytest.raises(InputError) as caught:
        launch(settings, ops, "win-back", batch=500, at=AT)
    assert caught.value.code == "template_variable" and "body.txt" in caught.value.render()
    assert _messages(ops) == []  # the batch's transaction was rolled back


def test_launch_twice_on_postgresql(tmp_path, pg_database):
    for settings, ops, _ in _shop(tmp_path, pg_database):
        expected = _expected(ops)
        first = launch(settings, ops, "win-back", batch=64, at=AT)
        again = launch(settings, ops, "win-back", batch=64)
        assert _assignments(ops) == expected
        treated = [c for c, a in expected.items() if a == "treatment" and int(c[1:]) % 10 != 0]
        assert sorted(c for c, _ in _messages(ops)) == sorted(treated)
        assert first["queued"] == len(treated) and again["queued"] == 0
        assert launch_status.status(ops, "win-back")["accounted"]


def test_a_message_that_cannot_be_rendered_when_sent_fails_with_the_reason(shop, smtp_server):
    settings, ops, template = shop
    launch(settings, ops, "win-back", batch=500, at=AT)
    (template / "de" / "body.txt").write_text("Hallo {{ tier.name }}")  # edited since the launch
    done = _send(settings, ops, smtp_server)
    st = launch_status.status(ops, "win-back")
    queued = done["failed"]
    assert queued > 0 and done["sent"] == 0 and smtp_server.inbox.arrivals == []
    assert st["fates"]["failed"] == queued and st["accounted"]
    assert st["not_sent"] == {"failed": {"template": queued}}
    with ops.engine.connect() as conn:
        reason = conn.execute(sa.select(campaign_messages.c.reason).limit(1)).scalar_one()
    assert "body.txt" in reason and "tier" in reason
