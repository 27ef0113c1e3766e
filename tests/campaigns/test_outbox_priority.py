"""The outbox's priority with the workspace's gate and a real SMTP server
on loopback: where the contact budget has room for one message, the higher
priority campaign's is sent, whichever was queued first, and the other is
kept unsent with the budget as its reason; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from tenure.campaigns import consent, definitions, outbox, sender
from tenure.campaigns.channels.smtp import SmtpProvider, SmtpSettings
from tenure.campaigns.consent_settings import read
from tenure.campaigns.sending import SendGate
from tenure.campaigns.templates import Rendered
from tenure.store.ops_schema import campaign_messages as m

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # noon UTC: no quiet hours are set
RULES = {"budget": {"messages": 1, "days": 7, "priorities": {"high": 1, "normal": 1, "low": 1}}}


def _campaign(ops, tmp_path, name: str, priority: str) -> None:
    folder = tmp_path / name / "en"
    folder.mkdir(parents=True)
    (folder / "subject.txt").write_text(f"{name}")
    (folder / "body.txt").write_text(f"{name} for you")
    with ops.engine.begin() as conn:
        definitions.create(conn, definitions.spec(name=name, template=folder.parent,
                                                  audience=["lapsed:90"], priority=priority))


def _queue(ops, campaign: str, priority: str, at: datetime) -> None:
    with ops.engine.begin() as conn:
        outbox.enqueue(conn, campaign=campaign, step="1", customer_id="C1", occurrence="1",
                       channel="email", purpose="marketing", recipient="c1@x.example",
                       message=Rendered(campaign, "en", campaign, f"{campaign} for you"),
                       priority=priority, now=at)  # fmt: skip


def test_the_budget_goes_to_the_higher_priority(ops, tmp_path, smtp_server):
    consent.record(ops, "C1", "email", "marketing", True, source="import", at=NOW - timedelta(days=1))
    _campaign(ops, tmp_path, "newsletter", "low")
    _campaign(ops, tmp_path, "win-back", "high")
    # the low one queued first, and due earlier: the claim still takes the high one first
    _queue(ops, "newsletter", "low", NOW - timedelta(minutes=5))
    _queue(ops, "win-back", "high", NOW - timedelta(minutes=1))
    provider = SmtpProvider(SmtpSettings(host=smtp_server.host, port=smtp_server.port,
                                         security="none", sender="news@shop.example"))  # fmt: skip
    try:
        done = sender.send_due(ops, provider, SendGate(read(RULES, "test")), now=NOW)
    finally:
        provider.close()
    assert done["sent"] == 1 and done["postponed"] == 1
    assert [mail["Subject"] for mail in smtp_server.inbox.arrivals] == ["win-back"]
    with ops.engine.connect() as conn:
        rows = {r.campaign: r for r in conn.execute(
            sa.select(m.c.campaign, m.c.state, m.c.reason, m.c.priority, m.c.next_at))}
        counted = outbox.accounting(conn, "newsletter")["states"]
    assert (rows["win-back"].state, rows["win-back"].priority) == ("sent", 2)
    low = rows["newsletter"]
    assert (low.state, low.priority) == ("pending", 0) and counted["pending"] == 1
    assert low.reason.startswith("contact_budget: 1 message(s) over all channels in the last 7")
    # sent no earlier than the window frees its place: a week after the one sent
    assert low.next_at.replace(tzinfo=UTC) == NOW + timedelta(days=7)
