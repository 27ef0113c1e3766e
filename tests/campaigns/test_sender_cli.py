"""``tenure campaign send`` end to end: the outbox sent through the SMTP
channel of tenure.toml, to a real server on loopback, with the workspace's
gate; errors that name the setting, without a traceback."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tenure.campaigns import consent, outbox
from tenure.campaigns.templates import Rendered
from tenure.config import load_settings
from tenure.store.workspace import Workspace

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 10:00 in Berlin
RULES = """
[campaigns.sending]
default_timezone = "Europe/Berlin"

[campaigns.caps]
email = {messages = 1, days = 7}

[campaigns.quiet_hours]
start = "21:00"
end = "08:00"
"""


def smtp_table(server, **more: str) -> str:
    values = {"host": f'"{server.host}"', "port": str(server.port), "security": '"none"',
              "from": '"news@shop.example"', **more}  # fmt: skip
    return "\n[campaigns.smtp]\n" + "".join(f"{k} = {v}\n" for k, v in values.items())


@pytest.fixture
def queued(store, tmp_path):
    """A workspace with C1 (two messages), C2 consenting and C3 not."""
    with Workspace.open(load_settings(store=store)) as ws:
        for who in ("C1", "C2"):
            consent.record(ws.ops, who, "email", "marketing", True, source="import",
                           at=datetime(2026, 1, 1, tzinfo=UTC))  # fmt: skip
        with ws.ops.engine.begin() as conn:
            for campaign, who in (("welcome", "C1"), ("win-back", "C1"), ("welcome", "C2"),
                                  ("welcome", "C3")):  # fmt: skip
                outbox.enqueue(conn, campaign=campaign, step="1", customer_id=who,
                               occurrence="1", channel="email", purpose="marketing",
                               recipient=f"{who.lower()}@example.com", now=NOW,
                               message=Rendered("t", "en", f"Hello {who}", "Come back."))  # fmt: skip
    return store


def test_send_once_sends_blocks_and_postpones_with_the_settings_gate(cli, queued, tmp_path,
                                                                     smtp_server):  # fmt: skip
    (tmp_path / "tenure.toml").write_text(RULES + smtp_table(smtp_server))
    s = ("--store", queued)
    r = cli("campaign", "send", "--once", "--at", "2026-03-02T09:00", "--json", *s)
    assert r.code == 0, r.err
    doc = r.json()
    assert (doc["sent"], doc["blocked"], doc["postponed"], doc["failed"]) == (2, 1, 1, 0)
    # C1's second message waits for the cap to free: a week after the first
    assert doc["next_due"] == "2026-03-09T09:00:00+00:00"
    assert sorted(m["To"] for m in smtp_server.inbox.arrivals) == [
        "c1@example.com", "c2@example.com"]  # fmt: skip
    # at 22:00 in Berlin the postponed message waits for the end of quiet hours
    night = cli("campaign", "send", "--once", "--at", "2026-03-09T21:00", *s)
    assert night.code == 0, night.err
    assert night.out.strip() == ("0 sent, 0 blocked, 1 postponed, 0 to retry, 0 failed, "
                                 "0 expired; next due 2026-03-10T07:00:00+00:00")  # fmt: skip
    morning = cli("campaign", "send", "--once", "--at", "2026-03-10T07:00", "--json", *s)
    assert (morning.json()["sent"], morning.json()["next_due"]) == (1, None)
    assert len(smtp_server.inbox.to("c1@example.com")) == 2


@pytest.mark.parametrize(
    ("table", "said"),
    [
        ("", "messages are due on the channel(s) email, which tenure.toml does not configure"),
        ("smtp:port = 0", "[campaigns.smtp] port = 0: it must be a port number."),
        ('smtp:username = "news"', "[campaigns.smtp] username = 'news', but "
                                   "TENURE_SMTP_PASSWORD is not set."),
        ("smtp:colour = 1", "[campaigns.smtp]: unknown setting 'colour'."),
        ('hook:url = "https://gw.example/sms"\nsecret_env = "TENURE_SMS_SECRET"',
         "[campaigns.webhooks.sms] secret_env = 'TENURE_SMS_SECRET', but TENURE_SMS_SECRET is "
         "not set."),
    ],
)  # fmt: skip
def test_a_wrong_or_missing_channel_names_the_setting_and_sends_nothing(
    cli, queued, tmp_path, smtp_server, table, said
):
    text = RULES
    if table.startswith("smtp:"):
        key, _, value = table[5:].partition(" = ")
        text += smtp_table(smtp_server, **{key: value})
    elif table.startswith("hook:"):
        text += "\n[campaigns.webhooks.sms]\n" + table[5:] + "\n"
    (tmp_path / "tenure.toml").write_text(text)
    r = cli("campaign", "send", "--once", "--at", "2026-03-02T09:00", "--json", "--store", queued)
    assert r.code == 1
    error = r.json()["error"]
    assert said in error["message"]
    assert error["hint"]
    assert "Traceback" not in r.err
    assert smtp_server.inbox.arrivals == []
