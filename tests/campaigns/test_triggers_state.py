"""Trigger state: a crash between the entries and the watermark's commit
(stopped at the fault point ``trigger watermark``), segment entries and
exits across an ingest, the loyalty triggers on a hand-written ledger, and
the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tenure.campaigns import triggers
from tenure.config import load_settings
from tenure.ingestion.pipeline import ingest
from tenure.loyalty import ledger
from tenure.store.ops_schema import loyalty_tier_changes, service_recovery_tasks, trigger_state
from tenure.store.workspace import Workspace

SURVEYS = """response_id,customer_id,kind,score,answered_at
R1,K,nps,3,2024-03-07 10:00:00
R2,P,nps,9,2024-03-07 11:00:00
R3,U,nps,6,2024-03-08 10:00:00
"""
ORDERS = """order_id,customer_id,placed_at,amount
1,K,2024-03-02 12:00:00,10
2,P,2024-03-09 12:00:00,30
"""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def settings(tmp_path):
    s = load_settings(store=tmp_path / "store")
    with Workspace.open(s) as ws:
        for kind, text in (("orders", ORDERS), ("survey_responses", SURVEYS)):
            (tmp_path / f"{kind}.csv").write_text(text)
            ingest(kind, tmp_path / f"{kind}.csv", workspace=ws)
    return s


def _crash(settings, spec: str, key: str, as_of: str, backfill: bool) -> int:
    """Evaluate in another process, stopped (SIGKILL) at the fault point."""
    code = (f"from datetime import datetime, UTC\n"
            f"from tenure.campaigns import triggers\nfrom tenure.config import load_settings\n"
            f"from tenure.store.workspace import Workspace\n"
            f"s = load_settings(store={str(settings.store)!r})\n"
            f"with Workspace.open(s) as ws:\n"
            f"    triggers.evaluate(s, ws.ops, {spec!r}, key={key!r}, backfill={backfill!r},\n"
            f"        as_of=datetime.fromisoformat({as_of!r}).replace(tzinfo=UTC))\n")  # fmt: skip
    env = {**os.environ, "TENURE_FAULT_AT": triggers.FAULT_POINT, "TENURE_FAULT_SIGNAL": "KILL"}
    return subprocess.run([sys.executable, "-c", code], env=env, timeout=120).returncode


def _count(ops, table) -> int:
    with ops.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()


def test_a_crash_before_the_watermark_commits_nothing_and_yields_the_same_again(settings):
    assert _crash(settings, "nps_detractor", "recovery", "2024-03-09 00:00", True) == -9
    with Workspace.open(settings) as ws:
        assert _count(ws.ops, trigger_state) == 0
        assert _count(ws.ops, service_recovery_tasks) == 0  # the tasks rolled back with it
        got = triggers.evaluate(settings, ws.ops, "nps_detractor", key="recovery",
                                as_of=at("2024-03-09 00:00"), backfill=True)  # fmt: skip
        assert [r["occurrence"] for r in got.to_pylist()] == ["R1", "R3"]
        assert _count(ws.ops, service_recovery_tasks) == 2
        # from a watermark: the crashed evaluation's entries come again
        triggers.evaluate(settings, ws.ops, "event:order", key="o", as_of=at("2024-03-05 00:00"))
    assert _crash(settings, "event:order", "o", "2024-03-10 00:00", False) == -9
    with Workspace.open(settings) as ws:
        with ws.ops.engine.connect() as conn:
            mark = conn.execute(sa.select(trigger_state.c.watermark)
                                .where(trigger_state.c.key == "o")).scalar()  # fmt: skip
        assert mark.replace(tzinfo=UTC) == at("2024-03-05 00:00")
        again = triggers.evaluate(settings, ws.ops, "event:order", key="o",
                                  as_of=at("2024-03-10 00:00"))  # fmt: skip
        assert [r["occurrence"] for r in again.to_pylist()] == ["2"]


def test_segment_entries_and_exits_across_an_ingest(tmp_path):
    # P first bought on 1 June, Q on 25 June: both new (first purchase < 30
    # days before the as-of day, 25 June). Then Q and R buy on 15 July: the
    # as-of day moves on, P (44 days) is no longer new, R is.
    s = load_settings(store=tmp_path / "store")
    (tmp_path / "a.csv").write_text("order_id,customer_id,placed_at,amount\n"
                                    "1,P,2024-06-01 10:00:00,10\n2,Q,2024-06-25 10:00:00,10\n")
    (tmp_path / "b.csv").write_text("order_id,customer_id,placed_at,amount\n"
                                    "3,Q,2024-07-15 10:00:00,10\n4,R,2024-07-15 10:00:00,10\n")
    with Workspace.open(s) as ws:
        ingest("orders", tmp_path / "a.csv", workspace=ws)
        enter, leave = "segment_enter:business:new", "segment_leave:business:new"
        assert triggers.evaluate(s, ws.ops, enter, key="in", as_of=at("2024-06-26 00:00")).num_rows == 0
        assert triggers.evaluate(s, ws.ops, leave, key="out", as_of=at("2024-06-26 00:00")).num_rows == 0
        ingest("orders", tmp_path / "b.csv", workspace=ws)
        got_in = triggers.evaluate(s, ws.ops, enter, key="in", as_of=at("2024-07-16 00:00"))
        got_out = triggers.evaluate(s, ws.ops, leave, key="out", as_of=at("2024-07-16 00:00"))
        assert [(r["customer_id"], r["occurrence"]) for r in got_in.to_pylist()] == [("R", "enter-1")]
        assert [(r["customer_id"], r["occurrence"]) for r in got_out.to_pylist()] == [("P", "leave-1")]
        assert triggers.evaluate(s, ws.ops, enter, key="in", as_of=at("2024-07-17 00:00")).num_rows == 0
        # backfill: a new owner lets in every current member
        every = triggers.evaluate(s, ws.ops, enter, key="all", as_of=at("2024-07-17 00:00"),
                                  backfill=True)  # fmt: skip
        assert [r["customer_id"] for r in every.to_pylist()] == ["Q", "R"]


def test_tier_changes_and_points_about_to_expire(settings):
    with Workspace.open(settings) as ws:
        ops = ws.ops
        # K: 100 points expiring 2024-04-10, 40 of them spent; P: 50 expiring 2024-05-01
        ledger.earn(ops, "K", 100, at=at("2024-01-01 00:00"), expires_at=at("2024-04-10 00:00"))
        ledger.redeem(ops, "K", 40, at=at("2024-01-02 00:00"))
        ledger.earn(ops, "P", 50, at=at("2024-01-01 00:00"), expires_at=at("2024-05-01 00:00"))
        ledger.earn(ops, "U", 10, at=at("2024-01-01 00:00"), expires_at=at("2024-03-20 00:00"))
        ledger.redeem(ops, "U", 10, at=at("2024-01-02 00:00"))  # nothing left to expire
        with ops.engine.begin() as conn:
            conn.execute(sa.insert(loyalty_tier_changes), [
                {"customer_id": "K", "kind": "upgrade", "tier": "gold", "previous": "silver",
                 "at": at("2024-03-05 00:00")},
                {"customer_id": "P", "kind": "renew", "tier": "gold", "previous": "gold",
                 "at": at("2024-03-06 00:00")},
                {"customer_id": "P", "kind": "downgrade", "tier": "silver", "previous": "gold",
                 "at": at("2024-03-07 00:00")},
            ])  # fmt: skip
        # within 30 days of 2024-03-15: K's lot (expiry 10 April) entered on 11 March
        exp = triggers.evaluate(settings, ops, "points_expiring:30", key="x",
                                as_of=at("2024-03-15 00:00"), backfill=True).to_pylist()  # fmt: skip
        assert [(r["customer_id"], r["occurred_at"], r["context"]) for r in exp] == [
            ("K", at("2024-04-10 00:00") - timedelta(days=30), "60 points expire 2024-04-10")]
        later = triggers.evaluate(settings, ops, "points_expiring:30", key="x",
                                  as_of=at("2024-04-02 00:00")).to_pylist()  # fmt: skip
        assert [r["customer_id"] for r in later] == ["P"]  # 1 May - 30 days = 1 April
        tiers = triggers.evaluate(settings, ops, "tier_changed", key="t",
                                  as_of=at("2024-03-10 00:00"), backfill=True).to_pylist()  # fmt: skip
        assert [(r["customer_id"], r["context"]) for r in tiers] == [
            ("K", "silver -> gold"), ("P", "gold -> silver")]
        gold = triggers.check(settings, ops, "tier_changed:gold", as_of=at("2024-03-10 00:00"),
                              days=30)  # fmt: skip
        assert [r["customer_id"] for r in gold["first"]] == ["K"]


def test_the_command_line(settings, cli):
    store = str(settings.store)
    checked = cli("campaign", "triggers", "check", "event:order", "--store", store,
                  "--as-of", "2024-03-10T00:00:00", "--json")  # fmt: skip
    assert checked.code == 0, checked.err
    assert checked.json()["entries"] == 1
    run = cli("campaign", "triggers", "evaluate", "nps_detractor", "--key", "recovery",
              "--backfill", "--as-of", "2024-03-09T00:00:00", "--store", store, "--json")  # fmt: skip
    assert run.code == 0, run.err
    assert [r["customer_id"] for r in run.json()["rows"]] == ["K", "U"]
    listed = cli("campaign", "tasks", "list", "--store", store, "--json").json()["tasks"]
    assert [t["response_id"] for t in listed] == ["R1", "R3"]
    closed = cli("campaign", "tasks", "close", str(listed[0]["id"]), "--note", "called back",
                 "--store", store, "--json")  # fmt: skip
    assert (closed.json()["state"], closed.json()["note"]) == ("closed", "called back")
    still = cli("campaign", "tasks", "list", "--store", store, "--json").json()["tasks"]
    assert [t["response_id"] for t in still] == ["R3"]
    states = cli("campaign", "triggers", "list", "--store", store, "--json").json()["triggers"]
    assert [(s["key"], s["spec"], s["evaluations"]) for s in states] == [
        ("recovery", "nps_detractor", 1)]
    bad = cli("campaign", "triggers", "check", "date:wedding", "--store", store, "--json")
    assert bad.code == 1 and bad.json()["error"]["code"] == "bad_trigger"
    missing = cli("campaign", "tasks", "close", "999", "--store", store, "--json")
    assert missing.code == 1 and "Traceback" not in missing.err


def test_on_either_operational_store(settings, ops):
    """The same evaluations with the trigger state on SQLite and PostgreSQL."""
    got = triggers.evaluate(settings, ops, "nps_detractor", key="r", as_of=at("2024-03-09 00:00"),
                            backfill=True)  # fmt: skip
    assert [r["occurrence"] for r in got.to_pylist()] == ["R1", "R3"]
    assert triggers.evaluate(settings, ops, "nps_detractor", key="r",
                             as_of=at("2024-03-10 00:00")).num_rows == 0  # fmt: skip
    assert _count(ops, service_recovery_tasks) == 2
    seg = "segment_enter:business:new"
    assert triggers.evaluate(settings, ops, seg, key="s", as_of=at("2024-03-10 00:00"),
                             backfill=True).num_rows == 2  # K and P: first purchases this month
    assert triggers.evaluate(settings, ops, seg, key="s", as_of=at("2024-03-11 00:00")).num_rows == 0


def test_a_trigger_on_scores_not_kept_says_what_to_run(settings, cli):
    out = cli("campaign", "triggers", "check", "churn_risk_above:0.6", "--store",
              str(settings.store), "--json")  # fmt: skip
    assert out.code == 1
    error = out.json()["error"]
    assert error["code"] == "trigger_needs_data"
    assert "churn_predictions" in error["message"] and "tenure fit churn" in error["hint"]


def test_joined_to_the_callers_transaction_it_rolls_back_with_it(settings):
    with Workspace.open(settings) as ws:
        with pytest.raises(RuntimeError), triggers.transaction(ws.ops) as conn:
            got = triggers.evaluate(settings, ws.ops, "nps_detractor", key="j", conn=conn,
                                    as_of=at("2024-03-09 00:00"), backfill=True)  # fmt: skip
            assert got.num_rows == 2
            raise RuntimeError("the caller's own write failed")
        assert _count(ws.ops, trigger_state) == 0 and _count(ws.ops, service_recovery_tasks) == 0
        with triggers.transaction(ws.ops) as conn:
            triggers.evaluate(settings, ws.ops, "nps_detractor", key="j", conn=conn,
                              as_of=at("2024-03-09 00:00"), backfill=True)  # fmt: skip
        assert _count(ws.ops, trigger_state) == 1 and _count(ws.ops, service_recovery_tasks) == 2
