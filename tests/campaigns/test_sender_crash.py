"""The sender killed with SIGKILL at each of its named points: no message
sent twice to a customer, none lost, every one accounted for.

Each trial queues a campaign of seven messages (some to customers who
consented, one whose consent was withdrawn, one to an address the server
refuses, one the server answers "busy" once, one already expired), lets a
sender in this process take a few first, then runs a sender in a child
process that SIGKILLs itself at one of :data:`tenure.campaigns.sender.POINTS`
(``tenure.faults``: at a named point, never by a timed kill). Then a sender
runs again once the dead one's claims have run out, and again after the
busy message's backoff.

The receiving server is a real SMTP server on loopback that keeps one
message per Message-ID, as mail systems drop a copy they have seen. After
each trial:

- each message that may be sent is in the mailbox once, and nothing else
  from the trial is (no drops, no duplicates, nothing to the unconsented);
- the server received exactly one copy more than that when the sender died
  between the server's acceptance and its record of it, and none more
  otherwise (at-least-once costs one resend, only there);
- every message has its fate and reason in the outbox: sent, blocked,
  failed or expired.

The same holds for signed webhooks to a gateway that sends once per
``Idempotency-Key`` (one trial per point).

The same trials run with the workspace's own gate
(:class:`tenure.campaigns.sending.SendGate`: the consent ledger, the
suppression list and a frequency cap of one e-mail a week) over a
population with customers who never consented, who withdrew, whose address
or whose customer id is suppressed, and one with two messages, the second
over the cap: none of those reaches the server, nothing twice, each
message's fate recorded (sent, blocked with the gate's reason, postponed
to when the cap frees, failed, expired), and each message sent counted
once against the cap.

In every other SMTP trial the messages are queued as a campaign's launch
queues them, unrendered, and the sender renders each in its claim: the
kills at each point find the same mailbox, each message with its text.

``TENURE_SENDER_TRIALS`` sets the SMTP trials per store and per gate (the
default keeps the suite quick; 100 for the acceptance run).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import sqlalchemy as sa

from tenure.campaigns import consent, outbox, sender, suppression
from tenure.campaigns.channels.smtp import SmtpProvider, SmtpSettings, message_id
from tenure.campaigns.channels.webhook import WebhookProvider
from tenure.campaigns.consent_settings import read
from tenure.campaigns.sending import SendGate
from tenure.campaigns.templates import Rendered
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import campaign_messages as messages_t
from tenure.store.ops_schema import contacts as contacts_t

from .conftest import consent_gate, grant

START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
DOMAIN = "shop.example"
KINDS = ("ok", "ok", "ok", "unconsented", "refused", "busy", "expired")
FATE = {"ok": "sent", "busy": "sent", "unconsented": "blocked", "refused": "failed",
        "expired": "expired"}  # fmt: skip


# read at import: the suite's fixtures clear TENURE_* variables for each test
ASKED = os.environ.get("TENURE_SENDER_TRIALS")


def trials(ops_url: str) -> int:
    if ASKED:
        return int(ASKED)
    return 9 if ops_url.startswith("sqlite") else 6


def provider(server) -> SmtpProvider:
    return SmtpProvider(SmtpSettings(host=server.host, port=server.port, security="none",
                                     sender=f"news@{DOMAIN}"))  # fmt: skip


def prepare(ops: OpsStore, server, trial: int, at: datetime) -> dict[str, str]:
    """The trial's campaign queued: each customer's kind, by customer id."""
    rng = random.Random(trial)
    kinds = list(KINDS)
    rng.shuffle(kinds)
    people = {f"T{trial}C{j}": kind for j, kind in enumerate(kinds)}
    grant(ops, *[who for who, kind in people.items() if kind != "unconsented"])
    # the odd trials queue as a launch does: unrendered, rendered by the sender's claim
    unrendered = []
    with ops.engine.begin() as conn:
        for who, kind in people.items():
            address = f"{who.lower()}@example.com"
            if kind == "refused":
                server.inbox.refuse[address] = 550
            if kind == "busy":
                server.inbox.busy[address] = 1
            if trial % 2 and kind != "expired":
                unrendered.append((who, address, "en"))
                continue
            outbox.enqueue(
                conn, campaign=f"trial{trial}", step="1", customer_id=who, occurrence="1",
                channel="email", purpose="marketing", recipient=address,
                message=Rendered("t", "en", f"Hello {who}", "Come back."), now=at,
                expires_at=at - timedelta(minutes=1) if kind == "expired" else None,
            )  # fmt: skip
        outbox.enqueue_unrendered(conn, campaign=f"trial{trial}", step="1", occurrence="1",
                                  channel="email", purpose="marketing", template="t",
                                  priority="normal", recipients=unrendered, now=at)  # fmt: skip
    return people


def render(conn, rows) -> list[Rendered]:
    """The sender's renderer for the unrendered messages: the same text as the
    rendered ones, so that the mailbox reads the same either way."""
    return [Rendered("t", row.locale, f"Hello {row.customer_id}", "Come back.") for row in rows]


def _child(url: str, server, point: str, at: datetime, batch: int) -> None:
    os.environ["TENURE_FAULT_AT"] = point
    ops = OpsStore.open(url, create=False)
    sender.send_all(ops, provider(server), consent_gate, now=at, batch=batch, rand=lambda: 1.0,
                    render=render)  # fmt: skip
    os._exit(0)


def fates(ops: OpsStore, campaign: str) -> dict[str, tuple[str, str | None]]:
    with ops.engine.connect() as conn:
        found = conn.execute(sa.select(messages_t.c.customer_id, messages_t.c.state,
                                       messages_t.c.reason)
                             .where(messages_t.c.campaign == campaign))  # fmt: skip
        return {who: (state, reason) for who, state, reason in found}


def test_a_sender_killed_at_any_point_sends_each_message_once_and_loses_none(ops, smtp_server):
    n = trials(ops.url)
    inbox = smtp_server.inbox
    ctx = multiprocessing.get_context("fork")
    killed = resent = 0
    for trial in range(n):
        point = sender.POINTS[trial % len(sender.POINTS)]
        at = START + timedelta(days=trial)
        people = prepare(ops, smtp_server, trial, at)
        rng = random.Random(1000 + trial)
        before = len(inbox.arrivals)
        first = rng.choice([0, 1])  # a message this process sends before the kill
        if first:
            local = provider(smtp_server)
            sender.send_due(ops, local, consent_gate, now=at, batch=first, rand=lambda: 1.0,
                            render=render)  # fmt: skip
            local.close()
        ops.engine.dispose()  # the child opens its own connections
        child = ctx.Process(target=_child,
                            args=(ops.url, smtp_server, point, at, rng.choice([1, 2, 7])))  # fmt: skip
        child.start()
        child.join(timeout=120)
        assert child.exitcode == -signal.SIGKILL, (trial, point, child.exitcode)
        killed += 1
        # the dead sender's claims run out; the busy message's retry comes a minute later
        recovery = provider(smtp_server)
        for later in (sender.LEASE, sender.LEASE + timedelta(hours=1)):
            sender.send_all(ops, recovery, consent_gate, now=at + later, rand=lambda: 1.0,
                            render=render)  # fmt: skip
        recovery.close()

        campaign = f"trial{trial}"
        # every message accounted for, with its reason
        got = fates(ops, campaign)
        assert {who: state for who, (state, _) in got.items()} == {
            who: FATE[kind] for who, kind in people.items()}, (trial, point)  # fmt: skip
        for who, (state, reason) in got.items():
            assert (reason is None) == (state == "sent"), (who, state, reason)
        with ops.engine.connect() as conn:
            counted = outbox.accounting(conn, campaign)
        assert counted["total"] == len(people)
        assert counted["states"]["pending"] == counted["states"]["sending"] == 0
        # the mailbox: each sendable message once, nothing else of the trial
        mine = {f"{w.lower()}@example.com": w for w in people}
        arrived = [m for m in inbox.arrivals[before:] if m["To"] in mine]
        assert len(arrived) == len(inbox.arrivals) - before
        kept = {m["Message-ID"]: m["To"] for m in arrived}
        wanted = {message_id(f"{campaign}:1:{w}:1", DOMAIN): f"{w.lower()}@example.com"
                  for w, kind in people.items() if FATE[kind] == "sent"}  # fmt: skip
        assert kept == wanted, (trial, point)  # no drop, no stranger, none to the unconsented
        # rendered by the sender or at the queue, each reads its customer's text
        assert all(m["Subject"] == f"Hello {mine[m['To']]}" for m in arrived), (trial, point)
        per_recipient = [m["To"] for m in {m["Message-ID"]: m for m in arrived}.values()]
        assert len(per_recipient) == len(set(per_recipient))  # no customer got two messages
        # at-least-once: one resend, only when killed between acceptance and record
        extra = len(arrived) - len(wanted)
        assert extra == (1 if point == "sender accepted" else 0), (trial, point, extra)
        resent += extra
    print(f"{n} trials, {killed} killed, {resent} resent and dropped by Message-ID")
    assert killed == n


class _Gateway(BaseHTTPRequestHandler):
    """An SMS gateway that sends a message once per Idempotency-Key."""

    posts: list[str] = []
    delivered: dict[str, bytes] = {}

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        key = self.headers["Idempotency-Key"]
        type(self).posts.append(key)
        type(self).delivered.setdefault(key, body)
        answer = json.dumps({"id": f"sms-{len(type(self).delivered)}"}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


def _webhook_child(url: str, gateway: str, point: str, at: datetime) -> None:
    os.environ["TENURE_FAULT_AT"] = point
    ops = OpsStore.open(url, create=False)
    sender.send_all(ops, WebhookProvider(gateway, "whsec", name="sms"), consent_gate, now=at)
    os._exit(0)


def test_a_sender_killed_at_any_point_posts_each_webhook_message_once(sqlite_ops):
    ops = sqlite_ops
    _Gateway.posts, _Gateway.delivered = [], {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    gateway = f"http://127.0.0.1:{server.server_address[1]}/sms"
    ctx = multiprocessing.get_context("fork")
    try:
        for trial, point in enumerate(sender.POINTS):
            at = START + timedelta(days=trial)
            people = [f"W{trial}C{j}" for j in range(4)]
            grant(ops, *people, channel="sms")
            with ops.engine.begin() as conn:
                for who in people:
                    outbox.enqueue(conn, campaign="sms", step=str(trial), customer_id=who,
                                   occurrence="1", channel="sms", purpose="marketing",
                                   recipient="+4366000000", now=at,
                                   message=Rendered("t", "en", "", f"Hello {who}"))  # fmt: skip
            posts = len(_Gateway.posts)
            ops.engine.dispose()
            child = ctx.Process(target=_webhook_child, args=(ops.url, gateway, point, at))
            child.start()
            child.join(timeout=120)
            assert child.exitcode == -signal.SIGKILL, (point, child.exitcode)
            sender.send_all(ops, WebhookProvider(gateway, "whsec", name="sms"), consent_gate,
                            now=at + sender.LEASE)  # fmt: skip
            keys = {f"sms:{trial}:{who}:1" for who in people}
            assert keys <= set(_Gateway.delivered)  # none lost
            sent = _Gateway.posts[posts:]
            assert set(sent) == keys
            assert len(sent) - len(keys) == (1 if point == "sender accepted" else 0), point
            assert {s for s, _ in fates(ops, "sms").values()} == {"sent"}
    finally:
        server.shutdown()
        server.server_close()


# the workspace's gate -------------------------------------------------------

RULES = read({"caps": {"email": {"messages": 1, "days": 7}}}, "tenure.toml")
REAL_KINDS = ("ok", "ok", "ok", "unconsented", "withdrawn", "address_suppressed",
              "customer_suppressed", "capped", "refused", "busy", "expired")  # fmt: skip
# each kind's messages (occurrence -> fate, and the gate's reason for one refused)
REAL_FATE = {
    "ok": {"1": ("sent", None)}, "busy": {"1": ("sent", None)},
    "unconsented": {"1": ("blocked", "consent_missing")},
    "withdrawn": {"1": ("blocked", "consent_withdrawn")},
    "address_suppressed": {"1": ("blocked", "suppressed")},
    "customer_suppressed": {"1": ("blocked", "suppressed")},
    "capped": {"1": ("sent", None), "2": ("pending", "frequency_cap")},
    "refused": {"1": ("failed", "SMTP 550")}, "expired": {"1": ("expired", "not sent by")},
}  # fmt: skip


def real_trials(ops_url: str) -> int:
    if ASKED:
        return int(ASKED)
    return 6 if ops_url.startswith("sqlite") else 3


def prepare_real(ops: OpsStore, server, trial: int, at: datetime) -> dict[str, str]:
    """The trial's population and campaign queued: each customer's kind."""
    rng = random.Random(trial)
    kinds = list(REAL_KINDS)
    rng.shuffle(kinds)
    people = {f"R{trial}C{j}": kind for j, kind in enumerate(kinds)}
    before = at - timedelta(days=30)
    for who, kind in people.items():
        address = f"{who.lower()}@example.com"
        if kind != "unconsented":
            consent.record(ops, who, "email", "marketing", True, source="import", at=before)
        if kind == "withdrawn":
            consent.record(ops, who, "email", "marketing", False, source="unsubscribe_link",
                           at=before + timedelta(days=1))  # fmt: skip
        if kind == "address_suppressed":
            suppression.suppress(ops, "email", address=address.upper(), at=before)
        if kind == "customer_suppressed":
            suppression.suppress(ops, None, customer_id=who, at=before)
        if kind == "refused":
            server.inbox.refuse[address] = 550
        if kind == "busy":
            server.inbox.busy[address] = 1
    with ops.engine.begin() as conn:
        for occurrence in ("1", "2"):
            for who, kind in people.items():
                if occurrence not in REAL_FATE[kind]:
                    continue
                outbox.enqueue(
                    conn, campaign=f"real{trial}", step="1", customer_id=who,
                    occurrence=occurrence, channel="email", purpose="marketing",
                    recipient=f"{who.lower()}@example.com", now=at,
                    message=Rendered("t", "en", f"Hello {who}", "Come back."),
                    expires_at=at - timedelta(minutes=1) if kind == "expired" else None,
                )  # fmt: skip
    return people


def _real_child(url: str, server, point: str, at: datetime, batch: int) -> None:
    os.environ["TENURE_FAULT_AT"] = point
    ops = OpsStore.open(url, create=False)
    sender.send_all(ops, provider(server), SendGate(RULES), now=at, batch=batch, rand=lambda: 1.0)
    os._exit(0)


def test_a_sender_killed_at_any_point_with_the_workspace_gate_sends_none_it_refuses(
    ops, smtp_server
):
    n = real_trials(ops.url)
    inbox = smtp_server.inbox
    ctx = multiprocessing.get_context("fork")
    killed = resent = refused_sends = 0
    tally: dict[str, int] = {}
    for trial in range(n):
        point = sender.POINTS[trial % len(sender.POINTS)]
        at = START + timedelta(days=10 * trial)  # a week and more apart: no cap carries over
        people = prepare_real(ops, smtp_server, trial, at)
        campaign = f"real{trial}"
        rng = random.Random(2000 + trial)
        before = len(inbox.arrivals)
        first = rng.choice([0, 1])
        if first:
            local = provider(smtp_server)
            sender.send_due(ops, local, SendGate(RULES), now=at, batch=first, rand=lambda: 1.0)
            local.close()
        ops.engine.dispose()
        child = ctx.Process(target=_real_child,
                            args=(ops.url, smtp_server, point, at, rng.choice([1, 2, 11])))  # fmt: skip
        child.start()
        child.join(timeout=120)
        assert child.exitcode == -signal.SIGKILL, (trial, point, child.exitcode)
        killed += 1
        recovery = provider(smtp_server)
        for later in (sender.LEASE, sender.LEASE + timedelta(hours=1)):
            sender.send_all(ops, recovery, SendGate(RULES), now=at + later, rand=lambda: 1.0)
        recovery.close()

        # every message accounted for: its fate, and the gate's reason for a refusal
        with ops.engine.connect() as conn:
            rows = conn.execute(sa.select(messages_t.c.dedup_key, messages_t.c.state,
                                          messages_t.c.reason, messages_t.c.next_at)
                                .where(messages_t.c.campaign == campaign)).all()  # fmt: skip
        expected = {f"{campaign}:1:{who}:{occ}": fate for who, kind in people.items()
                    for occ, fate in REAL_FATE[kind].items()}  # fmt: skip
        assert len(rows) == len(expected)
        for key, state, reason, next_at in rows:
            want_state, want_reason = expected[key]
            assert state == want_state, (trial, point, key, state, reason)
            if want_reason is None:
                assert reason is None, (key, reason)
            else:
                assert reason.startswith(want_reason), (key, reason)
            if state == "pending":  # postponed to when the cap frees, a week after the first
                assert clock_utc(next_at) >= at + timedelta(days=7), (key, next_at)
                postponed = clock_utc(next_at)
            tally[state] = tally.get(state, 0) + 1
        # the postponed message goes when the cap frees: a week after the first was
        # sent, which is its claim after the kill when the kill came before the send
        late = provider(smtp_server)
        for _ in range(2):
            if sender.send_all(ops, late, SendGate(RULES), now=postponed)["sent"]:
                break
            with ops.engine.connect() as conn:  # postponed again, to its new time
                postponed = clock_utc(conn.execute(
                    sa.select(sa.func.min(messages_t.c.next_at))
                    .where(messages_t.c.campaign == campaign, messages_t.c.state == "pending")
                ).scalar_one())  # fmt: skip
        else:
            raise AssertionError((trial, point, "the postponed message was never sent"))
        late.close()
        with ops.engine.connect() as conn:
            counted = {r for (r,) in conn.execute(
                sa.select(contacts_t.c.reference)
                .where(contacts_t.c.reference.like(f"{campaign}:%")))}  # fmt: skip
        sent_keys = {k for k, (state, _) in expected.items() if state in ("sent", "pending")}
        assert counted == sent_keys, (trial, point)  # each message sent counted once
        # the server: each message sent once, none to a customer the gate refused
        mine = {f"{w.lower()}@example.com" for w in people}
        arrived = [m for m in inbox.arrivals[before:] if m["To"] in mine]
        assert len(arrived) == len(inbox.arrivals) - before
        wanted = {message_id(k, DOMAIN) for k in sent_keys}
        assert {m["Message-ID"] for m in arrived} == wanted, (trial, point)
        refused = {f"{w.lower()}@example.com" for w, kind in people.items()
                   if REAL_FATE[kind]["1"][0] == "blocked"}  # fmt: skip
        refused_sends += sum(m["To"] in refused for m in arrived)
        extra = len(arrived) - len(wanted)
        assert extra == (1 if point == "sender accepted" else 0), (trial, point, extra)
        resent += extra
    print(f"{n} trials with the workspace's gate, {killed} killed, {resent} resent and dropped "
          f"by Message-ID, {refused_sends} sent to refused customers; fates {tally}")
    assert killed == n and refused_sends == 0


def clock_utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
