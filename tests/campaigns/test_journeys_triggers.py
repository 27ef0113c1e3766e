"""Journeys entered by a trigger, on a small store worked by hand: the
first run records the trigger's baseline and enters no one, later runs
enter exactly what happened since, once; the trigger's watermark commits
with the enrolments.

Customers (zone, birthday), and their orders (UTC):

- A  no zone (UTC), born 1970-05-01; orders 2024-03-01 10:00, 2024-03-06 10:00
- B  no zone, born 1980-05-01; first order 2024-03-05 12:00
- C  no zone, born 1990-05-01; orders 2024-03-06 12:00, 2024-03-09 12:00
- D  no zone, born 2000-05-01; first order 2024-03-08 12:00
- K  Pacific/Kiritimati (UTC+14), born 1990-03-10; no order
- P  Pacific/Pago_Pago (UTC-11), born 1985-03-10; no order
- U  no zone, born 1970-03-10; no order

So with the baseline at 2024-03-04 00:00 the first orders after it are
B's and C's by 2024-03-07 00:00 and D's by 2024-03-10 00:00; A's second
order is no first order. The 2024 birthdays of K, U and P begin at local
midnight: 2024-03-09 10:00, 2024-03-10 00:00 and 2024-03-10 11:00 UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from tenure.campaigns import holdouts, journeys, journeys_spec
from tenure.campaigns.consent import write_transaction
from tenure.campaigns.journeys_runner import run
from tenure.config import load_settings
from tenure.ingestion.pipeline import ingest
from tenure.store import analytics
from tenure.store.ops_schema import journey_members, trigger_state
from tenure.store.ops_schema import journeys as journeys_t
from tenure.store.workspace import Workspace

CUSTOMERS = """customer_id,email,time_zone,birthday
A,a@x.example,,1970-05-01
B,b@x.example,,1980-05-01
C,c@x.example,,1990-05-01
D,d@x.example,,2000-05-01
K,k@x.example,Pacific/Kiritimati,1990-03-10
P,p@x.example,Pacific/Pago_Pago,1985-03-10
U,u@x.example,,1970-03-10
"""
ORDERS = """order_id,customer_id,placed_at,amount
1,A,2024-03-01 10:00:00,10
2,B,2024-03-05 12:00:00,20
3,A,2024-03-06 10:00:00,30
4,C,2024-03-06 12:00:00,40
5,D,2024-03-08 12:00:00,50
6,C,2024-03-09 12:00:00,60
"""
JOURNEY = """
name = "{name}"
entry = "{entry}"
reentry = "{reentry}"
holdout = 0

[[steps]]
id = "pause"
type = "wait"
delay = "1d"
"""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    folder = tmp_path_factory.mktemp("jt")
    settings = load_settings(store=folder / "store")
    with Workspace.open(settings) as ws:
        for kind, text in (("customers", CUSTOMERS), ("orders", ORDERS)):
            (folder / f"{kind}.csv").write_text(text)
            ingest(kind, folder / f"{kind}.csv", workspace=ws)
        with write_transaction(ws.ops) as conn:
            holdouts.set_global_share(conn, 0.0)  # everyone treated: the entries are the test
    return settings, folder


@pytest.fixture
def env(made):
    settings, folder = made
    with Workspace.open(settings, create=False) as ws:
        yield settings, ws.ops, folder


def _create(ops, folder: Path, name: str, entry: str, reentry: str = "never") -> None:
    path = folder / f"{name}.toml"
    path.write_text(JOURNEY.format(name=name, entry=entry, reentry=reentry))
    with write_transaction(ops) as conn:
        journeys.create(conn, journeys_spec.from_file(path), at=at("2024-01-01 00:00"))


def _entered(settings, ops, name: str, when: str) -> tuple[int, list[tuple[str, str]]]:
    """A run at `when`: how many entered, and who (with their occurrence)."""
    doc = run(settings, ops, name, at=at(when))["journeys"][0]
    return doc["entered"]["entered"], _members(ops, name, at(when))


def _members(ops, name: str, entered_at: datetime | None = None) -> list[tuple[str, str]]:
    m, j = journey_members, journeys_t
    query = (sa.select(m.c.customer_id, m.c.occurrence).join(j, j.c.id == m.c.journey_id)
             .where(j.c.name == name).order_by(m.c.customer_id, m.c.occurrence))  # fmt: skip
    if entered_at is not None:
        query = query.where(m.c.entered_at == entered_at)
    with ops.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(query)]


def _watermark(ops, key: str) -> datetime | None:
    with ops.engine.connect() as conn:
        found = conn.execute(sa.select(trigger_state.c.watermark)
                             .where(trigger_state.c.key == key)).scalar()  # fmt: skip
    return None if found is None else found.replace(tzinfo=UTC)


def test_first_orders_after_the_watermark_enter_once(env):
    settings, ops, folder = env
    _create(ops, folder, "first", "event:first_order")
    assert _entered(settings, ops, "first", "2024-03-04 00:00") == (0, [])  # the baseline
    assert _watermark(ops, "journey:first") == at("2024-03-04 00:00")
    assert _entered(settings, ops, "first", "2024-03-07 00:00") == (
        2, [("B", "first_order"), ("C", "first_order")])
    # the same time again finds nothing new; a later run only D
    assert _entered(settings, ops, "first", "2024-03-07 00:00")[0] == 0
    assert _entered(settings, ops, "first", "2024-03-10 00:00") == (1, [("D", "first_order")])
    assert _members(ops, "first") == [("B", "first_order"), ("C", "first_order"),
                                      ("D", "first_order")]  # fmt: skip
    assert _watermark(ops, "journey:first") == at("2024-03-10 00:00")


def test_birthdays_enter_at_local_midnight_once_a_year(env):
    settings, ops, folder = env
    _create(ops, folder, "bday", "date:birthday", reentry="every")
    assert _entered(settings, ops, "bday", "2024-03-09 09:00") == (0, [])
    assert _entered(settings, ops, "bday", "2024-03-09 12:00") == (1, [("K", "2024")])
    assert _entered(settings, ops, "bday", "2024-03-10 06:00") == (1, [("U", "2024")])
    assert _entered(settings, ops, "bday", "2024-03-10 12:00") == (1, [("P", "2024")])
    assert _entered(settings, ops, "bday", "2024-03-11 12:00") == (0, [])
    # the next run, a year on, finds the 1 May birthdays of 2024 that fell
    # in between, and K, P and U again with the new year's occurrence
    assert _entered(settings, ops, "bday", "2025-03-10 12:00") == (7, [
        ("A", "2024"), ("B", "2024"), ("C", "2024"), ("D", "2024"),
        ("K", "2025"), ("P", "2025"), ("U", "2025")])  # fmt: skip


def test_a_churn_risk_crossing_enters_under_the_reentry_rule(env):
    settings, ops, folder = env

    def scores(sql: str) -> None:
        con = analytics.connect(settings.analytics_path)
        try:
            con.execute(sql)
        finally:
            con.close()

    scores("CREATE OR REPLACE TABLE churn_predictions "
           "(customer_id VARCHAR, churn_probability DOUBLE);"
           "INSERT INTO churn_predictions VALUES ('K', 0.7), ('P', 0.5)")  # fmt: skip
    _create(ops, folder, "risk", "churn_risk_above:0.6", reentry="after 90d")
    assert _entered(settings, ops, "risk", "2024-03-09 00:00") == (0, [])  # K above already
    scores("UPDATE churn_predictions SET churn_probability = 0.65 WHERE customer_id = 'P';"
           "INSERT INTO churn_predictions VALUES ('U', 0.9)")
    assert _entered(settings, ops, "risk", "2024-03-10 00:00") == (
        2, [("P", "enter-1"), ("U", "enter-1")])
    assert _entered(settings, ops, "risk", "2024-03-11 00:00") == (0, [])  # still above
    # K crosses from below; P drops and crosses again within 90 days: the
    # trigger fires (enter-2) and the re-entry rule keeps P out
    scores("UPDATE churn_predictions SET churn_probability = 0.3 WHERE customer_id IN ('K', 'P')")
    assert _entered(settings, ops, "risk", "2024-03-12 00:00") == (0, [])
    scores("UPDATE churn_predictions SET churn_probability = 0.8 WHERE customer_id IN ('K', 'P')")
    doc = run(settings, ops, "risk", at=at("2024-03-13 00:00"))["journeys"][0]["entered"]
    assert (doc["entered"], doc["not_entered"]) == (1, {"re-entry rule": 1})
    assert _members(ops, "risk", at("2024-03-13 00:00")) == [("K", "enter-1")]


def test_entries_refused_leave_the_watermark_where_it_was(env, monkeypatch):
    """The watermark and the enrolments are one transaction: a run whose
    enrolment fails (made to fail in ``journeys_entry._enter``) moves
    neither, and loses none of them; the next run enters them once. The
    order's id is 41 characters, kept as a short occurrence."""
    from tenure.campaigns import journeys_entry

    settings, ops, folder = env
    _create(ops, folder, "orders", "event:order", reentry="every")
    run(settings, ops, "orders", at=at("2024-03-07 00:00"))  # the baseline
    long_id = "x" * 41  # longer than an occurrence is kept
    path = folder / "long.csv"
    path.write_text(f"order_id,customer_id,placed_at,amount\n{long_id},B,2024-03-07 06:00:00,5\n")
    with Workspace.open(settings, create=False) as ws:
        ingest("orders", path, workspace=ws)
    real = journeys_entry._enter

    def refused(*args, **kwargs):
        real(*args, **kwargs)  # written, then refused before the commit
        raise RuntimeError("the enrolment failed")

    monkeypatch.setattr(journeys_entry, "_enter", refused)
    with pytest.raises(RuntimeError, match="enrolment failed"):
        run(settings, ops, "orders", at=at("2024-03-08 00:00"))
    assert _watermark(ops, "journey:orders") == at("2024-03-07 00:00")
    assert _members(ops, "orders") == []
    monkeypatch.setattr(journeys_entry, "_enter", real)
    run(settings, ops, "orders", at=at("2024-03-08 00:00"))
    assert _watermark(ops, "journey:orders") == at("2024-03-08 00:00")
    assert [m[0] for m in _members(ops, "orders")] == ["B"]
