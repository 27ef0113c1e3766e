"""A real SMTP server on loopback, a consent table for the send-time gate,
and the operational store on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from dataclasses import dataclass, field
from datetime import datetime

import pytest
import sqlalchemy as sa

from tenure.store.ops import OpsStore


@pytest.fixture(params=["sqlite", "postgresql"])
def ops_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ops.sqlite'}"
    return request.getfixturevalue("pg_database")


@pytest.fixture
def ops(ops_url):
    store = OpsStore.open(ops_url)
    consents.create(store.engine)
    yield store
    store.close()


@pytest.fixture
def sqlite_ops(tmp_path):
    store = OpsStore.open(f"sqlite:///{tmp_path / 'ops.sqlite'}")
    consents.create(store.engine)
    yield store
    store.close()


# the send-time gate ---------------------------------------------------------
# A table of the tests' own and a gate that reads it on the claim's
# connection, as tenure.campaigns.gate.may_contact does with the consent
# ledger: the sender is tested with a real gate over a real table.

_meta = sa.MetaData()
consents = sa.Table(
    "test_consents",
    _meta,
    sa.Column("customer_id", sa.String(200), primary_key=True),
    sa.Column("channel", sa.String(40), primary_key=True),
    sa.Column("purpose", sa.String(40), primary_key=True),
    sa.Column("granted", sa.Boolean, nullable=False),
    sa.Column("reason", sa.Text),
)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str | None = None


def consent_gate(conn: sa.Connection, customer_id: str, channel: str, purpose: str,
                 now: datetime) -> Decision:  # fmt: skip
    row = conn.execute(
        sa.select(consents.c.granted, consents.c.reason).where(
            consents.c.customer_id == customer_id, consents.c.channel == channel,
            consents.c.purpose == purpose)
    ).first()  # fmt: skip
    if row is None:
        return Decision(False, f"no {purpose} consent for {channel}")
    if not row.granted:
        return Decision(False, row.reason or "consent withdrawn")
    return Decision(True)


def grant(ops: OpsStore, *customers: str, channel: str = "email", purpose: str = "marketing",
          granted: bool = True, reason: str | None = None) -> None:  # fmt: skip
    with ops.engine.begin() as conn:
        for who in customers:
            conn.execute(consents.insert().values(customer_id=who, channel=channel,
                                                  purpose=purpose, granted=granted,
                                                  reason=reason))  # fmt: skip


# a real SMTP server on loopback --------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Inbox:
    """What the server received. ``arrivals`` is every message in order, as
    sent; ``mailbox`` keeps one per Message-ID, as a mail system that drops a
    copy it has seen. ``refuse`` answers a recipient with a code (550: a
    permanent failure); ``busy`` answers 451 that many more times."""

    arrivals: list[email.message.EmailMessage] = field(default_factory=list)
    mailbox: dict[str, email.message.EmailMessage] = field(default_factory=dict)
    refuse: dict[str, int] = field(default_factory=dict)
    busy: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            if address in self.refuse:
                return f"{self.refuse[address]} 5.1.1 no such user"
            if self.busy.get(address, 0) > 0:
                self.busy[address] -= 1
                return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.arrivals.append(mail)
            self.mailbox.setdefault(mail["Message-ID"], mail)
        return "250 2.0.0 accepted"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        with self.lock:
            return [m for m in self.arrivals if m["To"] == address]


@dataclass
class SmtpServer:
    host: str
    port: int
    inbox: Inbox


@pytest.fixture
def smtp_server():
    try:
        from aiosmtpd.controller import Controller
    except ImportError:
        from tests.conftest import skip_or_fail

        skip_or_fail("aiosmtpd is not installed (pip install aiosmtpd)")
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield SmtpServer("127.0.0.1", port, inbox)
    controller.stop()


def senders_at_once(ops: OpsStore, provider_for, gate, now: datetime, *, senders: int = 2,
                    batch: int = 7) -> list[dict]:
    """What each of ``senders`` threads sending the outbox at the same moment
    reported (each with its own provider from ``provider_for()``); fails the
    test if one raised."""
    from tenure.campaigns import sender

    results: list[dict] = []
    errors: list[BaseException] = []

    def run() -> None:
        provider = provider_for()
        try:
            results.append(sender.send_all(ops, provider, gate, now=now, batch=batch))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            provider.close()

    threads = [threading.Thread(target=run) for _ in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    return results
