"""The consent ledger: the state after sequences of events, idempotency
keys, and concurrent writes from real processes on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenure.campaigns import consent
from tenure.errors import IdempotencyKeyReusedError, InputError
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import consent_events


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def states(ops) -> dict[tuple[str, str], str]:
    return {(c["channel"], c["purpose"]): c["state"] for c in consent.state(ops, "C1")["consents"]}


def test_the_state_is_the_latest_event(ops):
    consent.record(
        ops, "C1", "email", "marketing", True, source="import", at=at("2026-01-01 09:00")
    )
    consent.record(ops, "C1", "email", "marketing", False, source="unsubscribe_link",
                   at=at("2026-02-01 09:00"))  # fmt: skip
    consent.record(ops, "C1", "sms", "marketing", True, source="api", at=at("2026-02-02 09:00"))
    assert states(ops) == {("email", "marketing"): "withdrawn", ("sms", "marketing"): "granted"}
    # granted again later: granted
    consent.record(ops, "C1", "email", "marketing", True, source="api", at=at("2026-03-01 09:00"))
    assert states(ops)[("email", "marketing")] == "granted"
    # an older withdrawal imported late does not undo the newer grant
    consent.record(ops, "C1", "email", "marketing", False, source="import",
                   at=at("2026-02-15 09:00"))  # fmt: skip
    assert states(ops)[("email", "marketing")] == "granted"
    # two events at the same moment: the one recorded last decides
    consent.record(ops, "C1", "email", "marketing", False, source="api", at=at("2026-03-01 09:00"))
    assert states(ops)[("email", "marketing")] == "withdrawn"
    # every event is kept, in the order they took effect
    history = consent.history(ops, "C1")["events"]
    assert [(e["channel"], e["state"], e["source"], e["at"][:10]) for e in history] == [
        ("email", "granted", "import", "2026-01-01"),
        ("email", "withdrawn", "unsubscribe_link", "2026-02-01"),
        ("sms", "granted", "api", "2026-02-02"),
        ("email", "withdrawn", "import", "2026-02-15"),
        ("email", "granted", "api", "2026-03-01"),
        ("email", "withdrawn", "api", "2026-03-01"),
    ]


def test_a_key_records_once_and_refuses_other_values(ops):
    first, replayed = consent.record(ops, "C1", "email", "marketing", True, source="api", key="k1")
    again, replayed_again = consent.record(ops, "C1", "email", "marketing", True, source="api",
                                           key="k1")  # fmt: skip
    assert (replayed, replayed_again, again.id) == (False, True, first.id)
    with pytest.raises(IdempotencyKeyReusedError, match="'k1' was first used"):
        consent.record(ops, "C1", "email", "marketing", False, source="api", key="k1")
    with ops.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(consent_events)).scalar() == 1


def test_bad_names_are_refused_with_the_value(sqlite_ops):
    with pytest.raises(InputError, match=r"the channel 'E mail' is not a name"):
        consent.record(sqlite_ops, "C1", "E mail", "marketing", True, source="api")
    with pytest.raises(InputError, match="customer id"):
        consent.record(sqlite_ops, " ", "email", "marketing", True, source="api")


PROCESSES = 12


def _writer(url: str, start, results, i: int) -> None:
    """One client: five events of its own, and the shared key 'same' once."""
    ops = OpsStore.open(url, create=False)
    start.wait()
    try:
        for k in range(5):
            consent.record(ops, "C1", "email", "marketing", (i + k) % 2 == 0, source="api",
                           at=at(f"2026-01-01 00:{i:02d}:{k:02d}"), key=f"w{i}-{k}")  # fmt: skip
        event, replayed = consent.record(ops, "C2", "sms", "marketing", False, source="api",
                                         at=at("2026-01-02 00:00"), key="same")  # fmt: skip
        results.put(("ok", event.id, replayed))
    except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on it
        results.put(("error", repr(exc), None))
    finally:
        ops.close()


def test_concurrent_writers_from_processes(ops):
    ops.engine.dispose()
    ctx = multiprocessing.get_context("fork")
    start, results = ctx.Barrier(PROCESSES), ctx.Queue()
    workers = [ctx.Process(target=_writer, args=(ops.url, start, results, i))
               for i in range(PROCESSES)]  # fmt: skip
    for w in workers:
        w.start()
    got = [results.get(timeout=300) for _ in workers]
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
    assert [g for g in got if g[0] != "ok"] == []
    # the shared key: one event, the same for every writer; one recorded it
    assert len({g[1] for g in got}) == 1
    assert sum(not g[2] for g in got) == 1
    with ops.engine.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(consent_events)).scalar()
    assert count == PROCESSES * 5 + 1
    # the latest event of C1 is writer 11's last (00:11:04): (11 + 4) odd, withdrawn
    assert consent.state(ops, "C1")["consents"][0]["state"] == "withdrawn"


EVENTS = st.lists(
    st.tuples(st.sampled_from(["email", "sms"]), st.sampled_from(["marketing", "transactional"]),
              st.booleans(), st.integers(0, 5)),
    min_size=1, max_size=15,
)  # fmt: skip


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(events=EVENTS)
def test_the_state_is_the_latest_event_whatever_the_order(sqlite_ops, events):
    """Events recorded in any order, several at the same moment: the state
    of each pair is that of the event with the latest moment, the last
    recorded among those at that moment (an oracle over the list)."""
    import uuid

    customer = uuid.uuid4().hex  # each example its own customer in the one store
    oracle: dict[tuple[str, str], tuple[int, int, bool]] = {}
    for order, (channel, purpose, granted, day) in enumerate(events):
        consent.record(sqlite_ops, customer, channel, purpose, granted, source="api",
                       at=at(f"2026-01-0{day + 1} 09:00"))  # fmt: skip
        if (channel, purpose) not in oracle or (day, order) >= oracle[(channel, purpose)][:2]:
            oracle[(channel, purpose)] = (day, order, granted)
    got = {(c["channel"], c["purpose"]): c["state"] == "granted"
           for c in consent.state(sqlite_ops, customer)["consents"]}  # fmt: skip
    assert got == {pair: granted for pair, (_, _, granted) in oracle.items()}
    assert len(consent.history(sqlite_ops, customer)["events"]) == len(events)
