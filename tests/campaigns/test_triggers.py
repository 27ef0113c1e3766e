"""Triggers against a small store worked by hand.

Customers (zone, birthday, sign-up in UTC):

- K  Pacific/Kiritimati (UTC+14), born 1990-03-10, signed up 2024-03-01 10:00
- P  Pacific/Pago_Pago (UTC-11), born 1985-03-10, signed up 2024-03-05 10:00
- U  no zone (the fallback, UTC here), born 1970-03-10
- L  no zone, born 2000-02-29
- M  Europe/Berlin (UTC+1 in March), signed up 2023-03-10 09:00

So the 2024 birthdays of K, U and P begin at 2024-03-09 10:00, 2024-03-10
00:00 and 2024-03-10 11:00 UTC: K's local day starts before U's, P's after,
across the date line. M's first anniversary begins at local midnight,
2024-03-09 23:00 UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from tenure.campaigns import service_tasks, triggers
from tenure.config import load_settings
from tenure.errors import InputError
from tenure.ingestion.pipeline import ingest
from tenure.store import analytics
from tenure.store.ops_schema import service_recovery_tasks, trigger_state
from tenure.store.workspace import Workspace

CUSTOMERS = """customer_id,email,created_at,time_zone,birthday
K,k@x.example,2024-03-01 10:00:00,Pacific/Kiritimati,1990-03-10
P,p@x.example,2024-03-05 10:00:00,Pacific/Pago_Pago,1985-03-10
U,u@x.example,,,1970-03-10
L,l@x.example,,,2000-02-29
M,m@x.example,2023-03-10 09:00:00,Europe/Berlin,
"""
ORDERS = """order_id,customer_id,placed_at,amount
1,K,2024-03-02 12:00:00,10
2,K,2024-03-08 12:00:00,20
3,P,2024-03-09 12:00:00,30
4,M,2024-03-09 18:00:00,40
"""
# K's cart is bought within the hour; P adds twice (the cart is the second
# add) and does not buy for 2 h; U adds and never buys
EVENTS = """customer_id,name,occurred_at
K,add_to_cart,2024-03-08 11:00:00
P,add_to_cart,2024-03-08 10:00:00
P,add_to_cart,2024-03-08 11:00:00
U,add_to_cart,2024-03-08 20:00:00
M,app_open,2024-03-08 09:00:00
"""
TICKETS = """ticket_id,customer_id,opened_at,resolved_at
T1,K,2024-03-01 09:00:00,2024-03-03 09:00:00
T2,P,2024-03-04 09:00:00,
"""
SURVEYS = """response_id,customer_id,kind,score,answered_at,comment
R1,K,nps,3,2024-03-07 10:00:00,too slow
R2,P,nps,9,2024-03-07 11:00:00,
R3,U,nps,6,2024-03-08 10:00:00,
R4,M,csat,2,2024-03-08 11:00:00,
"""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trig")
    files = {"customers": CUSTOMERS, "orders": ORDERS, "events": EVENTS,
             "support_tickets": TICKETS, "survey_responses": SURVEYS}  # fmt: skip
    s = load_settings(store=folder / "store")
    with Workspace.open(s) as ws:
        for kind, text in files.items():
            (folder / f"{kind}.csv").write_text(text)
            ingest(kind, folder / f"{kind}.csv", workspace=ws)
    return s


@pytest.fixture
def env(made):
    """The settings and the operational store, its trigger state emptied."""
    with Workspace.open(made) as ws:
        with ws.ops.engine.begin() as conn:
            for table in ("trigger_state", "trigger_members", "service_recovery_tasks"):
                conn.execute(sa.text(f"DELETE FROM {table}"))
        yield made, ws.ops


def _got(table) -> list[tuple]:
    return [(r["customer_id"], r["occurrence"]) for r in table.to_pylist()]


@pytest.mark.parametrize("spec, expected", [
    ("event:order", [("K", "1"), ("K", "2")]),
    ("event:first_order", [("K", "first_order")]),
    ("event:sign_up", [("M", "sign_up"), ("K", "sign_up"), ("P", "sign_up")]),
    ("event:ticket_closed", [("K", "T1")]),
    ("event:survey_answered", [("K", "R1"), ("P", "R2"), ("U", "R3"), ("M", "R4")]),
    ("event:survey_answered:nps", [("K", "R1"), ("P", "R2"), ("U", "R3")]),
])  # fmt: skip
def test_events_up_to_the_as_of_time_with_backfill(env, spec, expected):
    settings, ops = env
    got = triggers.evaluate(settings, ops, spec, key="k", as_of=at("2024-03-09 00:00"),
                            backfill=True)  # fmt: skip
    assert _got(got) == expected
    assert got.column_names == ["customer_id", "occurrence", "occurred_at", "context"]


def test_abandoned_carts_after_the_wait(env):
    settings, ops = env
    got = triggers.evaluate(settings, ops, "event:cart_abandoned:2h", key="cart",
                            as_of=at("2024-03-09 00:00"), backfill=True)  # fmt: skip
    rows = got.to_pylist()
    assert [(r["customer_id"], r["occurred_at"]) for r in rows] == [
        ("P", at("2024-03-08 13:00")), ("U", at("2024-03-08 22:00"))]
    # U's wait ends at 22:00: not yet at 21:59
    early = triggers.check(settings, ops, "event:cart_abandoned:2h", as_of=at("2024-03-08 21:59"))
    assert [r["customer_id"] for r in early["first"]] == ["P"]


def test_a_named_event_has_a_stable_key_without_an_id(env):
    settings, ops = env
    one = triggers.check(settings, ops, "event:app_open", as_of=at("2024-03-09 00:00"))
    two = triggers.check(settings, ops, "event:app_open", as_of=at("2024-03-09 00:00"), days=2)
    assert one["entries"] == two["entries"] == 1
    assert one["first"][0]["occurrence"] == two["first"][0]["occurrence"]


def test_first_evaluation_is_a_baseline_then_only_what_is_new(env):
    settings, ops = env
    assert triggers.evaluate(settings, ops, "event:order", key="j",
                             as_of=at("2024-03-09 00:00")).num_rows == 0  # fmt: skip
    new = triggers.evaluate(settings, ops, "event:order", key="j", as_of=at("2024-03-10 00:00"))
    assert _got(new) == [("P", "3"), ("M", "4")]
    again = triggers.evaluate(settings, ops, "event:order", key="j", as_of=at("2024-03-10 00:00"))
    assert again.num_rows == 0
    with ops.engine.connect() as conn:
        row = conn.execute(sa.select(trigger_state)).one()
    assert (row.key, row.spec, row.evaluations) == ("j", "event:order", 3)


def test_birthdays_in_each_customers_zone_across_the_date_line(env):
    settings, ops = env
    key = "journey:birthday"
    assert triggers.evaluate(settings, ops, "date:birthday", key=key,
                             as_of=at("2024-03-09 09:00")).num_rows == 0  # fmt: skip
    first = triggers.evaluate(settings, ops, "date:birthday", key=key, as_of=at("2024-03-09 12:00"))
    assert _got(first) == [("K", "2024")]
    assert first.to_pylist()[0]["occurred_at"] == at("2024-03-09 10:00")
    assert _got(triggers.evaluate(settings, ops, "date:birthday", key=key,
                                  as_of=at("2024-03-10 06:00"))) == [("U", "2024")]  # fmt: skip
    assert _got(triggers.evaluate(settings, ops, "date:birthday", key=key,
                                  as_of=at("2024-03-10 12:00"))) == [("P", "2024")]  # fmt: skip
    assert triggers.evaluate(settings, ops, "date:birthday", key=key,
                             as_of=at("2024-03-11 12:00")).num_rows == 0  # fmt: skip


@pytest.mark.parametrize("baseline, then, day", [
    ("2025-02-27 00:00", "2025-03-01 00:00", "2025-02-28 00:00"),  # not a leap year
    ("2024-02-28 12:00", "2024-03-01 00:00", "2024-02-29 00:00"),
])  # fmt: skip
def test_a_29_february_birthday(env, baseline, then, day):
    settings, ops = env
    triggers.evaluate(settings, ops, "date:birthday", key="b", as_of=at(baseline))
    got = triggers.evaluate(settings, ops, "date:birthday", key="b", as_of=at(then))
    assert [(r["customer_id"], r["occurrence"], r["occurred_at"]) for r in got.to_pylist()] == [
        ("L", then[:4], at(day))]


def test_anniversary_of_the_sign_up_in_the_local_zone(env):
    settings, ops = env
    triggers.evaluate(settings, ops, "date:anniversary", key="a", as_of=at("2024-03-09 12:00"))
    got = triggers.evaluate(settings, ops, "date:anniversary", key="a", as_of=at("2024-03-10 00:00"))
    assert [(r["customer_id"], r["occurrence"], r["occurred_at"]) for r in got.to_pylist()] == [
        ("M", "2024", at("2024-03-09 23:00"))]


def test_unknown_zones_fall_back_to_the_sending_default(made, tmp_path):
    (tmp_path / "tenure.toml").write_text(f'store = "{made.store}"\n[campaigns.sending]\n'
                                          'default_timezone = "Asia/Tokyo"\n')  # fmt: skip
    settings = load_settings(store=made.store)
    with Workspace.open(settings) as ws:
        got = triggers.check(settings, ws.ops, "date:birthday", as_of=at("2024-03-09 15:30"),
                             days=0.1)  # fmt: skip
    # U (no zone) in Tokyo: midnight of 10 March is 15:00 UTC on the 9th
    assert [(r["customer_id"], r["occurred_at"]) for r in got["first"]] == [
        ("U", "2024-03-09T15:00:00+00:00")]


def test_an_nps_detractor_opens_one_task_per_answer(env):
    settings, ops = env
    got = triggers.evaluate(settings, ops, "nps_detractor", key="recovery",
                            as_of=at("2024-03-09 00:00"), backfill=True)  # fmt: skip
    assert _got(got) == [("K", "R1"), ("U", "R3")]  # 3 and 6; 9 and a CSAT 2 are not
    assert triggers.evaluate(settings, ops, "nps_detractor", key="recovery",
                             as_of=at("2024-03-10 00:00")).num_rows == 0  # fmt: skip
    # another owner sees the same answers; the tasks stay one per answer
    assert triggers.evaluate(settings, ops, "nps_detractor", key="other",
                             as_of=at("2024-03-10 00:00"), backfill=True).num_rows == 2  # fmt: skip
    with ops.engine.connect() as conn:
        found = service_tasks.listing(conn, "all")
    assert [(t["customer_id"], t["response_id"], t["score"], t["comment"], t["state"])
            for t in found] == [("K", "R1", 3.0, "too slow", "open"), ("U", "R3", 6.0, None, "open")]


def test_a_check_commits_nothing(env):
    settings, ops = env
    doc = triggers.check(settings, ops, "nps_detractor", as_of=at("2024-03-09 00:00"), days=7)
    assert doc["entries"] == 2
    with ops.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(service_recovery_tasks)).scalar() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(trigger_state)).scalar() == 0


def test_crossing_a_churn_threshold_enters_once(env):
    settings, ops = env
    con = analytics.connect(settings.analytics_path)
    try:
        con.execute("CREATE OR REPLACE TABLE churn_predictions "
                    "(customer_id VARCHAR, churn_probability DOUBLE)")  # fmt: skip
        con.execute("INSERT INTO churn_predictions VALUES ('K', 0.7), ('P', 0.5)")
    finally:
        con.close()

    def scores(sql: str):
        c = analytics.connect(settings.analytics_path)
        try:
            c.execute(sql)
        finally:
            c.close()

    def run(day: str):
        return _got(triggers.evaluate(settings, ops, "churn_risk_above:0.6", key="risk",
                                      as_of=at(day)))  # fmt: skip

    assert run("2024-03-09 00:00") == []  # K above already: the baseline
    scores("UPDATE churn_predictions SET churn_probability = 0.65 WHERE customer_id = 'P';"
           "INSERT INTO churn_predictions VALUES ('U', 0.9)")
    assert run("2024-03-10 00:00") == [("P", "enter-1"), ("U", "enter-1")]
    scores("UPDATE churn_predictions SET churn_probability = 0.95 WHERE customer_id = 'P'")
    assert run("2024-03-11 00:00") == []  # staying above is no new entry
    scores("UPDATE churn_predictions SET churn_probability = 0.3 WHERE customer_id = 'K'")
    assert run("2024-03-12 00:00") == []
    scores("UPDATE churn_predictions SET churn_probability = 0.8 WHERE customer_id = 'K'")
    assert run("2024-03-13 00:00") == [("K", "enter-1")]  # crossed again, from below


@pytest.mark.parametrize("text, says", [
    ("evnt:order", "known kind"),
    ("event:", "names no event"),
    ("event:cart_abandoned", "how long a cart waits"),
    ("event:cart_abandoned:2 weeks", "how long a cart waits"),
    ("event:order:5", "does not take"),
    ("date:wedding", "birthday or anniversary"),
    ("segment_enter:rfm:nobody", "no rfm segment"),
    ("segment_leave:persona:x", "no persona"),
    ("churn_risk_above:1.5", "between 0 and 1"),
    ("overdue:-3", "whole number"),
    ("p_alive_below:x", "no number"),
    ("nps_detractor:7", "takes no argument"),
])  # fmt: skip
def test_bad_specs_say_what_to_write(text, says):
    with pytest.raises(InputError) as caught:
        triggers.parse(text, source="journeys.toml")
    message = str(caught.value)
    assert says in message and text.strip() in message and "journeys.toml" in message
    assert caught.value.hint


@pytest.mark.parametrize("text", ["event:order", "event:cart_abandoned:2h", "date:birthday",
                                  "segment_enter:rfm:At Risk", "churn_risk_above:0.6",
                                  "overdue:14", "tier_changed:gold", "points_expiring:30",
                                  "nps_detractor", "event:survey_answered:nps"])  # fmt: skip
def test_written_forms_round_trip(text):
    t = triggers.parse(text)
    assert triggers.parse(t.text) == t


def test_p_alive_and_overdue_crossings(env):
    # the as-of day of the scores is the store's last purchase day, 9 March:
    # K's next order was due on 20 February (18 days overdue), P's on 1 March (8)
    from tenure.predictions.store import PREDICTIONS_DDL

    settings, ops = env

    def scores(*sql: str):
        c = analytics.connect(settings.analytics_path)
        try:
            for one in sql:
                c.execute(one)
        finally:
            c.close()

    scores("DROP TABLE IF EXISTS customer_predictions", PREDICTIONS_DDL,
           "INSERT INTO customer_predictions (customer_id, p_alive, next_purchase_date) VALUES "
           "('K', 0.2, DATE '2024-02-20'), ('P', 0.5, DATE '2024-03-01')")
    for spec in ("p_alive_below:0.3", "overdue:14"):
        assert triggers.evaluate(settings, ops, spec, key=spec, as_of=at("2024-03-10 00:00")).num_rows == 0
    # P falls to 0.25 and its expected order moves to 24 February: 14 days
    scores("UPDATE customer_predictions SET p_alive = 0.25, next_purchase_date = DATE '2024-02-24' "
           "WHERE customer_id = 'P'")
    for spec in ("p_alive_below:0.3", "overdue:14"):
        got = triggers.evaluate(settings, ops, spec, key=spec, as_of=at("2024-03-11 00:00"))
        assert _got(got) == [("P", "enter-1")], spec
