"""A customer's messages read from the outbox, on SQLite and PostgreSQL:
after a real sender run against a loopback SMTP server and a gate that
refuses one of them, each message has its state, when it was sent or why
not, and the message as rendered; test sends and other customers' messages
are left out."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tenure.campaigns import messages, outbox, sender
from tenure.errors import NotFoundError

from .conftest import consent_gate, grant
from .test_sender import NOW, UNSUBSCRIBE, rendered, smtp


def _enqueue(ops, who: str, step: str, campaign: str = "win-back", at=NOW) -> int:
    with ops.engine.begin() as conn:
        return outbox.enqueue(conn, campaign=campaign, step=step, customer_id=who,
                              occurrence="1", channel="email", purpose="marketing",
                              recipient=f"{who.lower()}@example.com", message=rendered(who),
                              headers=UNSUBSCRIBE, now=at)  # fmt: skip


def test_a_customers_messages_newest_first_with_their_fate(ops, smtp_server):
    grant(ops, "C1")
    first = _enqueue(ops, "C1", "1")
    second = _enqueue(ops, "C1", "2", campaign="welcome", at=NOW + timedelta(minutes=1))
    _enqueue(ops, "C2", "1")  # no consent: blocked, and not C1's
    provider = smtp(smtp_server)
    done = sender.send_due(ops, provider, consent_gate, now=NOW + timedelta(minutes=2))
    provider.close()
    assert (done["sent"], done["blocked"]) == (2, 1)
    with ops.engine.connect() as conn:
        mine = messages.for_customer(conn, "C1")
        theirs = messages.for_customer(conn, "C2")
        body = messages.rendered(conn, "C1", first)
        with pytest.raises(NotFoundError, match="no message"):
            messages.rendered(conn, "C2", first)  # another customer's message
    assert mine["total"] == 2 and [m["id"] for m in mine["messages"]] == [second, first]
    assert [(m["campaign"], m["step"], m["state"]) for m in mine["messages"]] == [
        ("welcome", "2", "sent"), ("win-back", "1", "sent")]  # fmt: skip
    assert all(m["sent_at"] and m["reason"] is None for m in mine["messages"])
    assert mine["messages"][0]["subject"] == "We miss you, C1"
    (refused,) = theirs["messages"]
    # the gate's reason, kept with the message; it was never sent
    assert refused["state"] == "blocked" and refused["sent_at"] is None
    assert refused["reason"] == "no marketing consent for email"
    assert body["body_text"] == "Hello C1, come back." and body["body_html"] == "<p>Hello C1</p>"
    assert len(smtp_server.inbox.to("c1@example.com")) == 2


def test_test_sends_are_not_the_customers_messages(ops):
    from types import SimpleNamespace

    _enqueue(ops, "C1", "1")
    with ops.engine.begin() as conn:
        outbox.record_test(conn, customer_id="C1", channel="email",
                           recipient="staff@shop.example", message=rendered("C1"), headers={},
                           result=SimpleNamespace(ok=True, provider_message_id="p1", error=None),
                           key="test:C1:1", now=NOW)  # fmt: skip
    with ops.engine.connect() as conn:
        found = messages.for_customer(conn, "C1")
    assert found["total"] == 1 and found["messages"][0]["state"] == "pending"
