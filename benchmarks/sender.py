"""The campaign sender pushing messages into an SMTP server on loopback,
beside a plain smtplib loop sending the same messages.

Starts a real SMTP server (aiosmtpd) in a child process, queues N messages
(default 5,000) in a fresh SQLite operational store (not timed), then times
``tenure.campaigns.sender.send_all``: each message claimed in batches with a
send-time gate that reads a consent table, sent over one kept connection
with its Message-ID, and recorded as sent. Beside it, the same messages sent
by a loop of ``smtplib.SMTP.send_message`` over one connection, with no
outbox, no gate and no record: what the sender's bookkeeping costs. Prints
messages/s, seconds, peak RSS and the ratio; the target is ≥ 200 messages/s.
``--postgres URL`` (an empty database) times the sender on PostgreSQL too.
``--launched`` queues them instead as a campaign's launch does, unrendered
(a store of N customers ingested, a win-back campaign launched to them; not
timed), so that the time includes rendering each message at send time.
``--gate workspace`` times it with the workspace's own gate instead
(:class:`tenure.campaigns.sending.SendGate`: the consent ledger, the
suppression list, a cap of 3 e-mails a week, a contact budget and quiet
hours, each message sent counted).

    python benchmarks/sender.py [--messages N] [--postgres URL] [--gate consent-table|workspace] [--launched] [--json]
"""

from __future__ import annotations

import argparse
import multiprocessing
import smtplib
import socket
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate
from pathlib import Path

from _common import Log, cpu_seconds, fmt_ratio, json_out, load, machine_line, peak_rss_mib

TARGET = 200.0  # messages/s


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server(port: int, arrivals, distinct, ready) -> None:
    import email

    from aiosmtpd.controller import Controller

    seen: set[str] = set()

    class Count:
        async def handle_DATA(self, server, session, envelope):
            mail = email.message_from_bytes(envelope.content)
            with arrivals.get_lock():
                arrivals.value += 1
            if mail["Message-ID"] not in seen:
                seen.add(mail["Message-ID"])
                with distinct.get_lock():
                    distinct.value += 1
            return "250 2.0.0 accepted"

    controller = Controller(Count(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    while True:
        time.sleep(3600)


def _workspace_gate():
    from tenure.campaigns.consent_settings import read
    from tenure.campaigns.sending import SendGate

    rules = read({"caps": {"email": {"messages": 3, "days": 7}},
                  "budget": {"messages": 4, "days": 7},
                  "quiet_hours": {"start": "21:00", "end": "08:00"}}, "benchmark")  # fmt: skip
    return SendGate(rules)


def _consents(conn, who: list[str], now: datetime, ledger: bool) -> None:
    import sqlalchemy as sa

    conn.execute(sa.text("CREATE TABLE bench_consents (customer_id VARCHAR(200) PRIMARY KEY, "
                         "granted BOOLEAN NOT NULL)"))  # fmt: skip
    conn.execute(sa.text("INSERT INTO bench_consents VALUES (:c, TRUE)"), [{"c": c} for c in who])
    if ledger:  # the workspace's gate reads the consent ledger
        from tenure.campaigns import consent

        for c in who:
            consent.append(conn, c, "email", "marketing", True, source="import",
                           at=now.replace(year=2025))  # fmt: skip


def _launched(folder: Path, n: int, now: datetime, ledger: bool, log: Log):
    """A store of ``n`` customers and a win-back campaign launched to them:
    its messages queued unrendered. The settings and the campaign."""
    import sqlalchemy as sa
    from campaign_launch import _paths, _store

    from tenure.campaigns import definitions, holdouts
    from tenure.campaigns.consent import write_transaction
    from tenure.campaigns.launch import launch
    from tenure.store.ops_schema import campaign_messages
    from tenure.store.workspace import Workspace

    _store(folder, n, log)
    settings, template = _paths(folder)
    with Workspace.open(settings, create=False) as ws:
        with write_transaction(ws.ops) as conn:
            holdouts.set_global_share(conn, 0.05)
            definitions.create(conn, definitions.spec(
                name="bench", template=template, audience=["lapsed:90"], holdout=0.1))
        launch(settings, ws.ops, "bench")
        with ws.ops.engine.begin() as conn:
            who = list(conn.execute(sa.select(campaign_messages.c.customer_id)).scalars())
            _consents(conn, who, now, ledger)
    return settings


def _queue(ops, n: int, now: datetime, ledger: bool = False) -> None:
    from tenure.campaigns import outbox
    from tenure.campaigns.templates import Parts, Template

    template = Template("bench", {"en": Parts(
        "{{ first_name }}, we kept your basket",
        "Hello {{ first_name }},\n\nyou have {{ points | number }} points.\n",
        "<p>Hello {{ first_name }}</p><p>You have {{ points | number }} points.</p>")})  # fmt: skip
    with ops.engine.begin() as conn:
        _consents(conn, [f"C{i:07d}" for i in range(n)], now, ledger)
        for i in range(n):
            who = f"C{i:07d}"
            outbox.enqueue(conn, campaign="bench", step="1", customer_id=who, occurrence="1",
                           channel="email", purpose="marketing", recipient=f"{who}@example.com",
                           message=template.render({"first_name": who, "points": i}, "en"),
                           headers={"List-Unsubscribe": f"<https://shop.example/u/{who}>"},
                           now=now)  # fmt: skip


class _Decision:
    def __init__(self, allowed: bool, reason: str | None) -> None:
        self.allowed, self.reason = allowed, reason


def _gate(conn, customer_id, channel, purpose, now):
    import sqlalchemy as sa

    row = conn.execute(sa.text("SELECT granted FROM bench_consents WHERE customer_id = :c"),
                       {"c": customer_id}).first()  # fmt: skip
    return _Decision(bool(row and row[0]), None if row and row[0] else "no consent")


def _time_sender(url: str, port: int, n: int, log: Log, gate_kind: str,
                 launched: Path | None = None) -> dict:  # fmt: skip
    from tenure.campaigns import outbox, sender
    from tenure.campaigns.channels.smtp import SmtpProvider, SmtpSettings
    from tenure.store.ops import OpsStore

    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # outside quiet hours
    t = time.perf_counter()
    workspace = gate_kind == "workspace"
    gate = _workspace_gate() if workspace else _gate
    render, campaign = None, "bench"
    if launched is not None:
        from tenure.campaigns.send_render import CampaignRenderer

        # a launch queues its messages due now; they are sent the next day at noon
        # (outside the quiet hours), as of which the consents were given before
        now = (datetime.now(UTC) + timedelta(days=1)).replace(hour=12, minute=0)
        settings = _launched(launched, n, now, workspace, log)
        url, render = settings.ops_database_url, CampaignRenderer(settings)
        ops = OpsStore.open(url)
    else:
        ops = OpsStore.open(url)
        _queue(ops, n, now, ledger=workspace)
    with ops.engine.connect() as conn:
        queued = outbox.accounting(conn, campaign)["total"]
    log(f"queued {queued:,} messages in {time.perf_counter() - t:.1f} s (not timed)")
    provider = SmtpProvider(SmtpSettings(host="127.0.0.1", port=port, security="none",
                                         sender="news@shop.example"))  # fmt: skip
    t, cpu = time.perf_counter(), cpu_seconds()
    done = sender.send_all(ops, provider, gate, now=now, render=render)
    seconds, cpu = time.perf_counter() - t, cpu_seconds() - cpu
    provider.close()
    with ops.engine.connect() as conn:
        counted = outbox.accounting(conn, campaign)
    ops.close()
    assert counted["states"]["sent"] == queued, counted
    return {"seconds": round(seconds, 2), "messages_per_s": round(done["sent"] / seconds, 1),
            "cpu_s": round(cpu, 2), "sent": done["sent"], "load_after": load(),
            "rendered_at_send": launched is not None}  # fmt: skip


def _time_smtplib(port: int, n: int) -> dict:
    # the same parts and headers the sender's SMTP provider builds
    t, cpu = time.perf_counter(), cpu_seconds()
    conn = smtplib.SMTP("127.0.0.1", port, timeout=30)
    for i in range(n):
        who = f"C{i:07d}"
        mail = MIMEMultipart("alternative")
        mail.attach(MIMEText(f"Hello {who},\n\nyou have {i:,} points.\n", "plain", "utf-8"))
        mail.attach(MIMEText(f"<p>Hello {who}</p><p>You have {i:,} points.</p>", "html", "utf-8"))
        mail["From"] = "news@shop.example"
        mail["To"] = f"{who}@example.com"
        mail["Subject"] = f"{who}, we kept your basket"
        mail["Date"] = formatdate(usegmt=True)
        mail["Message-ID"] = f"<plain.{i}@shop.example>"
        mail["List-Unsubscribe"] = f"<https://shop.example/u/{who}>"
        conn.send_message(mail)
    conn.quit()
    seconds, cpu = time.perf_counter() - t, cpu_seconds() - cpu
    return {"seconds": round(seconds, 2), "messages_per_s": round(n / seconds, 1),
            "cpu_s": round(cpu, 2)}  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--messages", type=int, default=5_000)
    p.add_argument("--postgres", help="a PostgreSQL URL (an empty database) to time as well")
    p.add_argument("--gate", choices=("consent-table", "workspace"), default="consent-table",
                   help="the gate the sender asks: a consent table, or the workspace's own")
    p.add_argument("--launched", action="store_true",
                   help="queue as a campaign's launch does (unrendered): time rendering at send")
    p.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "tenure-bench")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    log = Log(args.json)
    args.workdir.mkdir(parents=True, exist_ok=True)
    ctx = multiprocessing.get_context("fork")
    arrivals, distinct, ready = ctx.Value("i", 0), ctx.Value("i", 0), ctx.Event()
    port = _free_port()
    server = ctx.Process(target=_server, args=(port, arrivals, distinct, ready), daemon=True)
    server.start()
    ready.wait(30)
    n = args.messages
    results: dict = {"messages": n, "machine": machine_line(), "target_per_s": TARGET,
                     "gate": args.gate, "launched": args.launched}  # fmt: skip
    try:
        targets = [("sqlite", f"sqlite:///{args.workdir / 'sender-bench.sqlite'}")]
        (args.workdir / "sender-bench.sqlite").unlink(missing_ok=True)
        if args.postgres:
            targets.append(("postgresql", args.postgres))
        for name, url in targets:
            before = arrivals.value
            launched = None
            if args.launched and name == "sqlite":
                launched = Path(tempfile.mkdtemp(prefix="tenure-bench-", dir=args.workdir))
            r = _time_sender(url, port, n, log, args.gate, launched)
            r["received"] = arrivals.value - before
            r["peak_rss_mib"] = round(peak_rss_mib())
            results[name] = r
            what = ", rendered at send" if r["rendered_at_send"] else ""
            log(f"tenure sender ({name}, {args.gate} gate{what}): {r['sent']:,} messages in "
                f"{r['seconds']:.2f} s "
                f"({r['messages_per_s']:,.0f} messages/s; {r['cpu_s']:.1f} CPU s; load "
                f"{r['load_after']}), peak RSS {r['peak_rss_mib']:,} MiB; the server "
                f"received {r['received']:,}")  # fmt: skip
        before = arrivals.value
        plain = _time_smtplib(port, n)
        plain["received"] = arrivals.value - before
        results["plain_smtplib"] = plain
        log(f"plain smtplib loop: {n:,} messages in {plain['seconds']:.2f} s "
            f"({plain['messages_per_s']:,.0f} messages/s; {plain['cpu_s']:.1f} CPU s; no "
            f"outbox, gate or record)")  # fmt: skip
        ratio = fmt_ratio(plain["seconds"], results["sqlite"]["seconds"])
        results["sender_vs_plain"] = ratio
        log(f"the sender on SQLite runs at {ratio} the plain loop's speed")
        ok = results["sqlite"]["messages_per_s"] >= TARGET
        log(f"target ≥ {TARGET:.0f} messages/s: {'met' if ok else 'MISSED'}")
    finally:
        server.terminate()
        (args.workdir / "sender-bench.sqlite").unlink(missing_ok=True)
    if args.json:
        json_out(results)
    sys.exit(0)


if __name__ == "__main__":
    main()
