"""Journeys on a real store (its operational part on SQLite and on
PostgreSQL), on a clock the tests set: waits counted from
when a member reached them, an order ending a member before its second
message, splits, re-entry rules, an edit removing a step, and the runner
run twice. Every expected value is worked by hand from the journey file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa

from tenure.campaigns import holdouts, journeys, journeys_spec, journeys_status
from tenure.campaigns.consent import write_transaction
from tenure.campaigns.journeys_entry import SCHEMA, enter
from tenure.campaigns.journeys_runner import run
from tenure.config import load_settings
from tenure.errors import InputError
from tenure.ingestion.pipeline import ingest
from tenure.store.ops_schema import campaign_messages, journey_members
from tenure.store.workspace import Workspace

T0 = datetime(2024, 7, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
PEOPLE = [f"c{i:02d}" for i in range(1, 7)]

THREE_STEPS = """
name = "win-back"
entry = ["lapsed:30"]
holdout = 0
goals = ["order"]
reentry = "{reentry}"

[[steps]]
id = "first"
type = "send"
template = "mail"

[[steps]]
id = "wait1"
type = "wait"
delay = "3d"

[[steps]]
id = "second"
type = "send"
template = "mail"

[[steps]]
id = "wait2"
type = "wait"
delay = "2d"

[[steps]]
id = "third"
type = "send"
template = "mail"
"""


def _store(folder: Path, ops_url: str | None = None):
    """Six customers (c01..c06) with addresses, English but c02 (German);
    c06 has no address. Each ordered once, on 2024-06-01."""
    orders = "\n".join(f"o{c},{c},2024-06-01 12:00:00,20" for c in PEOPLE)
    (folder / "orders.csv").write_text("order_id,customer_id,placed_at,amount\n" + orders)
    people = "\n".join(f"{c},{'' if c == 'c06' else c + '@x.example'},Ann {c},"
                       f"{'de-DE' if c == 'c02' else 'en'}" for c in PEOPLE)  # fmt: skip
    (folder / "customers.csv").write_text("customer_id,email,name,locale\n" + people)
    settings = load_settings(store=folder / "store", ops_url=ops_url)
    with Workspace.open(settings) as ws:
        ingest("customers", folder / "customers.csv", workspace=ws)
        ingest("orders", folder / "orders.csv", workspace=ws)
    for loc, hello in (("en", "Hello"), ("de", "Hallo")):
        (folder / "mail" / loc).mkdir(parents=True)
        (folder / "mail" / loc / "subject.txt").write_text(f"{hello} {{{{ first_name }}}}")
        (folder / "mail" / loc / "body.txt").write_text(f"{hello} {{{{ name }}}}.")
    return settings


def _order(settings, folder: Path, customer: str, placed: str) -> None:
    path = folder / f"late-{customer}.csv"
    path.write_text(f"order_id,customer_id,placed_at,amount\nlate-{customer},{customer},{placed},30")
    with Workspace.open(settings, create=False) as ws:
        ingest("orders", path, workspace=ws)


@pytest.fixture
def shop(tmp_path, ops_url):
    settings = _store(tmp_path, None if ops_url.startswith("sqlite") else ops_url)
    ws = Workspace.open(settings, create=False)
    with write_transaction(ws.ops) as conn:
        holdouts.set_global_share(conn, 0.0)
    yield settings, ws.ops, tmp_path
    ws.close()


def _create(ops, folder: Path, text: str, name: str = "journey.toml"):
    path = folder / name
    path.write_text(text)
    with write_transaction(ops) as conn:
        return journeys.create(conn, journeys_spec.from_file(path), at=T0)


def _entrants(ids, day="2024-07-01"):
    return pa.table({"customer_id": ids, "occurrence": [day] * len(ids),
                     "occurred_at": [T0] * len(ids)}, schema=SCHEMA)  # fmt: skip


def _sent(ops):
    """(customer, step, occurrence) of every message in the outbox."""
    m = campaign_messages
    with ops.engine.connect() as conn:
        return sorted(conn.execute(sa.select(m.c.customer_id, m.c.step, m.c.occurrence)).all())


def _members(ops):
    m = journey_members
    with ops.engine.connect() as conn:
        return {r[0]: r[1:] for r in conn.execute(
            sa.select(m.c.customer_id, m.c.state, m.c.step, m.c.due_at, m.c.exit_reason))}


def _due(value):
    return None if value is None else value.replace(tzinfo=UTC) if value.tzinfo is None else value


def test_three_steps_with_waits_and_an_order_ending_one_member(shop):
    settings, ops, folder = shop
    _create(ops, folder, THREE_STEPS.format(reentry="never"))
    ids = ["c01", "c02", "c03", "c06"]
    assert enter(ops, "win-back", _entrants(ids), at=T0)["entered"] == 4
    run(settings, ops, "win-back", at=T0, enter_now=False)
    day = "2024-07-01"
    assert _sent(ops) == [(c, "first", day) for c in ("c01", "c02", "c03")]
    members = _members(ops)
    assert members["c06"][0::3] == ("exited", "no email address")
    assert members["c01"][:2] == ("active", "wait1")
    assert _due(members["c01"][2]) == T0 + 3 * DAY
    # a day later nothing is due
    assert run(settings, ops, "win-back", at=T0 + DAY, enter_now=False)["journeys"][0]["queued"] == 0
    _order(settings, folder, "c02", "2024-07-03 10:00:00")  # c02 orders on day 2
    late = T0 + 3 * DAY + timedelta(hours=5)  # the run is five hours late
    done = run(settings, ops, "win-back", at=late, enter_now=False)["journeys"][0]
    assert done["queued"] == 2 and done["exited"] == {"goal: order": 1}
    members = _members(ops)
    assert members["c02"][0::3] == ("exited", "goal: order")
    # the second wait counts from when the first one ended, not from the late run
    assert _due(members["c01"][2]) == T0 + 5 * DAY
    run(settings, ops, "win-back", at=T0 + 5 * DAY, enter_now=False)
    assert _sent(ops) == sorted([(c, s, day) for c in ("c01", "c03")
                                 for s in ("first", "second", "third")] + [("c02", "first", day)])
    st = journeys_status.status(ops, "win-back")
    assert st["accounted"] and st["entries"] == 4 and st["completed"] == 2
    assert st["exited"] == {"goal: order": 1, "no email address": 1}
    assert st["messages"]["pending"] == 7


def test_running_twice_sends_nothing_twice(shop):
    settings, ops, folder = shop
    _create(ops, folder, THREE_STEPS.format(reentry="never"))
    enter(ops, "win-back", _entrants(["c01", "c03"]), at=T0)
    for _ in range(2):
        run(settings, ops, "win-back", at=T0 + 3 * DAY, enter_now=False)
    assert _sent(ops) == [(c, s, "2024-07-01") for c in ("c01", "c03") for s in ("first", "second")]


SPLIT = """
name = "split"
entry = ["lapsed:30"]
holdout = 0
salt = "s1"

[[steps]]
id = "wait"
type = "wait_until"
condition = "order"
timeout = "5d"
next = "thanks"
on_timeout = "coin"

[[steps]]
id = "coin"
type = "split"
random = 0.5
yes = "nudge-a"
no = "nudge-b"

[[steps]]
id = "nudge-a"
type = "send"
template = "mail"
next = "end"

[[steps]]
id = "nudge-b"
type = "send"
template = "mail"
next = "end"

[[steps]]
id = "thanks"
type = "send"
template = "mail"

[[steps]]
id = "end"
type = "exit"
reason = "journey over"
"""


def test_wait_until_and_splits(shop):
    settings, ops, folder = shop
    _create(ops, folder, SPLIT)
    ids = ["c01", "c02", "c03", "c04", "c05"]
    enter(ops, "split", _entrants(ids), at=T0)
    _order(settings, folder, "c03", "2024-07-02 10:00:00")
    run(settings, ops, "split", at=T0 + 2 * DAY, enter_now=False)
    # c03 ordered: thanked at once; the others wait for the timeout
    assert _sent(ops) == [("c03", "thanks", "2024-07-01")]
    run(settings, ops, "split", at=T0 + 5 * DAY, enter_now=False)
    coin = {c: "nudge-a" if holdouts.draw("s1.coin", c) < 0.5 else "nudge-b"
            for c in ("c01", "c02", "c04", "c05")}  # fmt: skip
    assert sorted(coin.values()) != ["nudge-a"] * 4  # the draw splits these four
    assert _sent(ops) == sorted([("c03", "thanks", "2024-07-01")]
                                + [(c, s, "2024-07-01") for c, s in coin.items()])  # fmt: skip
    members = _members(ops)
    assert {c: m[0::3] for c, m in members.items()} == {
        **{c: ("exited", "journey over") for c in coin}, "c03": ("exited", "journey over")}


def test_reentry_after_days_and_never(shop):
    settings, ops, folder = shop
    _create(ops, folder, THREE_STEPS.format(reentry="after 10d"))
    assert enter(ops, "win-back", _entrants(["c01"]), at=T0)["entered"] == 1
    again = enter(ops, "win-back", _entrants(["c01"]), at=T0)
    assert again["entered"] == 0 and again["not_entered"] == {"entered already": 1}
    soon = enter(ops, "win-back", _entrants(["c01"], "2024-07-06"), at=T0 + 5 * DAY)
    assert soon["not_entered"] == {"re-entry rule": 1}
    later = enter(ops, "win-back", _entrants(["c01"], "2024-07-11"), at=T0 + 10 * DAY)
    assert later["entered"] == 1
    run(settings, ops, "win-back", at=T0 + 10 * DAY, enter_now=False)
    occurrences = [o for c, s, o in _sent(ops) if s == "first"]
    assert occurrences == ["2024-07-01", "2024-07-11"]
    _create(ops, folder, THREE_STEPS.format(reentry="never").replace('"win-back"', '"once"'),
            "once.toml")  # fmt: skip
    enter(ops, "once", _entrants(["c01"]), at=T0)
    never = enter(ops, "once", _entrants(["c01"], "2024-08-01"), at=T0 + 31 * DAY)
    assert never["not_entered"] == {"re-entry rule": 1}


def test_a_long_occurrence_is_kept_short_and_entered_once(shop):
    """An order id of 60 characters (the occurrence of ``event:order``) is
    kept as its first 23 characters, ``~`` and 16 hex digits of its
    BLAKE2b hash: 40 characters, the same at every run."""
    import hashlib

    settings, ops, folder = shop
    _create(ops, folder, THREE_STEPS.format(reentry="every"))
    long = "ORDER-" + "x" * 50 + "-001"
    table = _entrants(["c01"], long)
    assert enter(ops, "win-back", table, at=T0)["entered"] == 1
    again = enter(ops, "win-back", table, at=T0)
    assert again["entered"] == 0 and again["not_entered"] == {"entered already": 1}
    run(settings, ops, "win-back", at=T0, enter_now=False)
    kept = long[:23] + "~" + hashlib.blake2b(long.encode(), digest_size=8).hexdigest()
    assert len(kept) == 40
    assert [o for _, s, o in _sent(ops) if s == "first"] == [kept]


def test_a_send_steps_priority_goes_with_its_message(shop):
    """The outbox ranks priorities high 2, normal 1, low 0 (the contact
    budget gives its place to the higher); a step's own priority is kept."""
    settings, ops, folder = shop
    text = THREE_STEPS.format(reentry="never").replace(
        'id = "first"\ntype = "send"\n', 'id = "first"\ntype = "send"\npriority = "high"\n')
    _create(ops, folder, text)
    enter(ops, "win-back", _entrants(["c01"]), at=T0)
    run(settings, ops, "win-back", at=T0 + 3 * DAY, enter_now=False)
    m = campaign_messages
    with ops.engine.connect() as conn:
        ranks = dict(conn.execute(sa.select(m.c.step, m.c.priority)).all())
    assert ranks == {"first": 2, "second": 1}


def test_an_edit_removing_a_step_exits_or_moves_its_members(shop):
    settings, ops, folder = shop
    _create(ops, folder, THREE_STEPS.format(reentry="never"))
    enter(ops, "win-back", _entrants(["c01", "c03"]), at=T0)
    enter(ops, "win-back", _entrants(["c04"]), at=T0 + 3 * DAY)
    run(settings, ops, "win-back", at=T0 + 3 * DAY, enter_now=False)
    # c01, c03 wait in wait2; c04 in wait1. Version 2 drops wait2 and third.
    edited = THREE_STEPS.format(reentry="never").split('[[steps]]\nid = "wait2"')[0]
    path = folder / "v2.toml"
    path.write_text(edited)
    with write_transaction(ops) as conn:
        done = journeys.update(conn, journeys_spec.from_file(path), at=T0 + 4 * DAY)
    assert done == {"journey": "win-back", "version": 2, "was": 1, "moved": {},
                    "exited": {"wait2": 2}, "stayed": 1}  # fmt: skip
    members = _members(ops)
    assert members["c01"][0::3] == ("exited", "step wait2 removed in version 2")
    assert members["c04"][:2] == ("active", "wait1")
    # version 3 puts "third" back and moves wait1's members there
    path.write_text(THREE_STEPS.format(reentry="never").replace('id = "wait1"', 'id = "pause"')
                    + '\n[moves]\nwait1 = "third"\n')  # fmt: skip
    # (TOML: a table after the array of tables belongs at the top level)
    with write_transaction(ops) as conn:
        done = journeys.update(conn, journeys_spec.from_file(path), at=T0 + 4 * DAY)
    assert done["moved"] == {"wait1": 1}
    run(settings, ops, "win-back", at=T0 + 4 * DAY, enter_now=False)
    assert ("c04", "third", "2024-07-01") in _sent(ops)
    assert journeys_status.status(ops, "win-back")["accounted"]


def test_holdout_drawn_at_entry_and_measured(shop):
    settings, ops, folder = shop
    with write_transaction(ops) as conn:
        holdouts.set_global_share(conn, 0.2)
        control = holdouts.global_control(conn)
    _create(ops, folder, THREE_STEPS.format(reentry="never").replace("holdout = 0",
                                                                     'holdout = 0.5\nsalt = "h"'))
    enter(ops, "win-back", _entrants(PEOPLE[:5]), at=T0)
    expected = {}
    for c in PEOPLE[:5]:
        if holdouts.draw(control.salt, c) < 0.2:
            expected[c] = "global_control"
        elif holdouts.draw("h", c) < 0.5:
            expected[c] = "holdout"
        else:
            expected[c] = "treatment"
    run(settings, ops, "win-back", at=T0, enter_now=False)
    assert sorted(c for c, *_ in _sent(ops)) == sorted(c for c, a in expected.items()
                                                       if a == "treatment")  # fmt: skip
    st = journeys_status.status(ops, "win-back")
    assert st["held_out"] == sum(a != "treatment" for a in expected.values()) and st["accounted"]
    csv_path = folder / "a.csv"
    n = journeys_status.export_assignments(ops, "win-back", csv_path)
    assert n == sum(a != "global_control" for a in expected.values())


def test_a_step_going_nowhere_is_refused(tmp_path):
    (tmp_path / "j.toml").write_text('name = "x"\nentry = ["lapsed:3"]\n[[steps]]\nid = "a"\n'
                                     'type = "wait"\ndelay = "1d"\nnext = "b"\n')
    with pytest.raises(InputError, match="'b', which is not a step"):
        journeys_spec.from_file(tmp_path / "j.toml")


AUDIENCE_SPLIT = """
name = "new-or-not"
entry = ["lapsed:0"]
holdout = 0
reentry = "every"

[[steps]]
id = "new"
type = "split"
condition = "first_order:10"
yes = "hello"
no = "again"

[[steps]]
id = "hello"
type = "send"
template = "mail"
next = "end"

[[steps]]
id = "again"
type = "send"
template = "mail"

[[steps]]
id = "end"
type = "exit"
reason = "sent"
"""


def test_a_split_on_an_audience_and_an_entry_source_passed_in(shop):
    settings, ops, folder = shop
    # c04 first ordered on 2024-05-01: outside the 10 days up to 2024-06-01
    _order(settings, folder, "c04", "2024-05-01 12:00:00")
    _create(ops, folder, AUDIENCE_SPLIT)

    def two_occurrences(settings, ops, journey, *, at):
        # the column contract of a trigger: two occurrences for c01, one for c04
        return pa.table({"customer_id": ["c01", "c01", "c04"],
                         "occurrence": ["order-1", "order-2", "order-3"],
                         "occurred_at": [at, at, at]}, schema=SCHEMA)  # fmt: skip

    done = run(settings, ops, "new-or-not", at=T0, entries=two_occurrences)["journeys"][0]
    assert done["entered"]["entered"] == 3 and done["queued"] == 3
    assert _sent(ops) == [("c01", "hello", "order-1"), ("c01", "hello", "order-2"),
                          ("c04", "again", "order-3")]  # fmt: skip
    again = run(settings, ops, "new-or-not", at=T0 + DAY, entries=two_occurrences)
    assert again["journeys"][0]["entered"]["not_entered"] == {"entered already": 3}
    assert len(_sent(ops)) == 3


def test_pause_holds_members_and_resume_goes_on(shop):
    settings, ops, folder = shop
    _create(ops, folder, THREE_STEPS.format(reentry="never"))
    enter(ops, "win-back", _entrants(["c01"]), at=T0)
    with write_transaction(ops) as conn:
        journeys.set_state(conn, "win-back", "paused")
    held = run(settings, ops, "win-back", at=T0, enter_now=False)["journeys"][0]
    assert held == {"journey": "win-back", "state": "paused"} and _sent(ops) == []
    with write_transaction(ops) as conn:
        journeys.set_state(conn, "win-back", "active")
    run(settings, ops, "win-back", at=T0, enter_now=False)
    assert _sent(ops) == [("c01", "first", "2024-07-01")]


def test_an_occurrence_with_a_colon_is_kept_with_a_dash(shop):
    settings, ops, folder = shop
    _create(ops, folder, THREE_STEPS.format(reentry="every"))
    enter(ops, "win-back", _entrants(["c01"], "2024-07-01T09:00"), at=T0)
    run(settings, ops, "win-back", at=T0, enter_now=False)
    assert _sent(ops) == [("c01", "first", "2024-07-01T09-00")]
    with pytest.raises(InputError, match="empty occurrence"):
        enter(ops, "win-back", _entrants(["c01"], ""), at=T0)
