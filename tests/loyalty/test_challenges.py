"""Challenges and badges: "3 orders in 30 days" from ingested orders and
"a first review" from recorded events; progress out of the target in its
window, and a badge with its bonus given once; values worked by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from tenure.config import load_settings
from tenure.errors import ConfigError, IdempotencyKeyReusedError
from tenure.loyalty import balance, check_invariant
from tenure.loyalty.challenges import (
    challenge_progress,
    completed_at,
    record_event,
    settle_challenges,
)
from tenure.loyalty_settings import Challenge, Program
from tenure.refresh import ingest
from tenure.store.ops_schema import loyalty_badges

PROGRAM = Program(challenges=(
    Challenge("regular", "orders", "Regular", count=3, days=30, points=100),
    Challenge("critic", "event", "Critic", event="review", points=50),
))  # fmt: skip


def _day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_completion_is_the_count_th_time_within_the_window():
    days = [_day(d) for d in ("2026-01-01", "2026-01-20", "2026-02-15", "2026-02-18")]
    # 1 Jan -> 15 Feb is 45 days, 20 Jan -> 15 Feb holds only 2; 20 Jan -> 18 Feb: 29 days
    assert completed_at(days[:3], 3, 30) is None
    assert completed_at(days, 3, 30) == _day("2026-02-18")
    # exactly 30 days apart is within 30 days
    assert completed_at(
        [_day("2026-01-01"), _day("2026-01-10"), _day("2026-01-31")], 3, 30
    ) == _day("2026-01-31")
    assert completed_at(days, 2, None) == _day("2026-01-20")


def _orders(tmp_path, store, name: str, rows: list[str]) -> None:
    path = tmp_path / name
    path.write_text("order_id,customer_id,placed_at,amount,status\n" + "\n".join(rows) + "\n")
    ingest("orders", path, store=store)


def test_three_orders_in_30_days_shows_progress_then_gives_its_badge_once(ops, tmp_path):
    store = tmp_path / "store"
    _orders(tmp_path, store, "o1.csv", ["O1,C1,2026-01-01,10,completed",
                                         "O2,C1,2026-01-20,10,completed",
                                         "O3,C1,2026-02-15,10,completed",
                                         "O4,C1,2026-02-16,10,cancelled"])  # fmt: skip
    at = _day("2026-02-16T12:00:00")
    assert settle_challenges(ops, store, ["C1"], at=at, program=PROGRAM)["badges"] == []
    doc = challenge_progress(ops, store, "C1", at=at, program=PROGRAM)
    regular = doc["challenges"][0]
    # in the 30 days to 16 Feb (from 17 Jan): 20 Jan and 15 Feb; the cancelled one is not counted
    assert (regular["progress"], regular["target"], regular["completed"]) == (2, 3, False)
    assert (regular["window_start"], regular["window_end"]) == (
        "2026-01-17T12:00:00+00:00", "2026-02-16T12:00:00+00:00")  # fmt: skip
    _orders(tmp_path, store, "o2.csv", ["O5,C1,2026-02-18,10,completed"])
    at = _day("2026-02-20")
    [badge] = settle_challenges(ops, store, ["C1"], at=at, program=PROGRAM)["badges"]
    assert (badge["badge"], badge["completed_at"], badge["points"]) == (
        "Regular", "2026-02-18T00:00:00+00:00", 100)  # fmt: skip
    assert settle_challenges(ops, store, None, at=at, program=PROGRAM)["badges"] == []
    assert balance(ops, "C1", at=at)["balance"] == 100
    doc = challenge_progress(ops, store, "C1", at=at, program=PROGRAM)
    assert (doc["challenges"][0]["progress"], doc["challenges"][0]["completed"]) == (3, True)
    assert [b["badge"] for b in doc["badges"]] == ["Regular"]
    check_invariant(ops)


def test_a_first_review_gives_its_badge_and_bonus_once(ops):
    at = _day("2026-03-01")
    before = challenge_progress(ops, None, "C2", at=at, program=PROGRAM)["challenges"][1]
    assert (before["progress"], before["target"], before["window_start"]) == (0, 1, None)
    first = record_event(ops, "C2", "review", key="rev-1", at=at, program=PROGRAM)
    assert [(b["badge"], b["points"]) for b in first["badges"]] == [("Critic", 50)]
    assert record_event(ops, "C2", "review", key="rev-1", at=at, program=PROGRAM)["replayed"]
    second = record_event(ops, "C2", "review", at=at, program=PROGRAM)
    assert second["badges"] == [] and not second["replayed"]
    assert balance(ops, "C2", at=at)["balance"] == 50
    with ops.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(loyalty_badges)
                            ).scalar_one() == 1  # fmt: skip
    with pytest.raises(IdempotencyKeyReusedError, match="rev-1"):
        record_event(ops, "C3", "review", key="rev-1", at=at, program=PROGRAM)


def test_a_review_earns_the_bonus_the_rules_declare_once_per_event(ops):
    from tenure.loyalty_rules import EarningRules

    at, rules = _day("2026-03-01"), EarningRules(bonuses={"review": 30})
    first = record_event(ops, "C4", "review", key="rev-9", at=at, rules=rules)
    assert (first["bonus"]["points"], first["bonus"]["replayed"]) == (30, False)
    # the same event again (its key): the same bonus, nothing more
    again = record_event(ops, "C4", "review", key="rev-9", at=at, rules=rules)
    assert again["replayed"] and again["bonus"]["entry_id"] == first["bonus"]["entry_id"]
    record_event(ops, "C4", "review", key="rev-10", at=at, rules=rules)  # another review
    # a survey answer: no bonus declared; without rules, none either
    assert record_event(ops, "C4", "survey", at=at, rules=rules)["bonus"] is None
    assert record_event(ops, "C4", "review", at=at)["bonus"] is None
    assert balance(ops, "C4", at=at)["balance"] == 30 + 30
    assert check_invariant(ops, "C4").problems == []


@pytest.mark.parametrize(("text", "words"), [
    ('{id = "r", kind = "orders", count = 3}', ["challenge 'r'", "needs 'days'"]),
    ('{id = "r", kind = "streak", count = 3}', ["'kind'", "'streak'"]),
    ('{id = "r", kind = "orders", count = 0, days = 30}', ["'count'", "value 0"]),
    ('{id = "r", kind = "event", event = ""}', ["'event'", "''"]),
])  # fmt: skip
def test_a_bad_challenge_setting_names_the_key_and_the_value(tmp_path, monkeypatch, text, words):
    path = tmp_path / "tenure.toml"
    path.write_text(f"[loyalty]\nchallenges = [{text}]\n")
    monkeypatch.setenv("TENURE_CONFIG", str(path))
    with pytest.raises(ConfigError) as info:
        load_settings()
    for word in words:
        assert word in str(info.value)


def test_the_cli_records_an_event_and_shows_progress(cli, store, tmp_path, monkeypatch):
    toml = tmp_path / "tenure.toml"
    toml.write_text('[loyalty]\nchallenges = [{id = "regular", kind = "orders", count = 3, '
                    'days = 30, badge = "Regular"}, {id = "critic", kind = "event", '
                    'event = "review", badge = "Critic", points = 50}]\n')  # fmt: skip
    monkeypatch.setenv("TENURE_CONFIG", str(toml))
    r = cli("loyalty", "event", "C1", "review", "--store", store)
    assert r.code == 0 and "Badge 'Critic' and 50 points for challenge critic." in r.out
    doc = cli("loyalty", "challenges", "C1", "--store", store, "--json").json()
    assert [(c["id"], c["progress"], c["target"]) for c in doc["challenges"]] == [
        ("regular", 0, 3), ("critic", 1, 1)]  # fmt: skip
    human = cli("loyalty", "challenges", "C1", "--store", store)
    assert "0/3" in human.out and "Critic" in human.out


def test_the_stores_count_of_completions_matches_the_rule_on_real_orders(tmp_path):
    """The first 5,000 orders of the CDNOW log, through the real ingest: the
    completions the store counts (window functions) are those of the rule
    applied order by order in Python."""
    from pathlib import Path

    import lifetimes

    from tenure.loyalty.orders import completions

    log = Path(lifetimes.__file__).parent / "datasets" / "CDNOW_master.txt"
    rows = [line.split() for line in log.read_text().splitlines()[1:5001]]
    path = tmp_path / "cdnow.csv"
    path.write_text("order_id,customer_id,placed_at,amount\n" + "".join(
        f"N{i},{c},{d[:4]}-{d[4:6]}-{d[6:]},{a}\n" for i, (c, d, _, a) in enumerate(rows)))  # fmt: skip
    store = tmp_path / "store"
    ingest("orders", path, store=store)
    by_customer: dict[str, list[datetime]] = {}
    for c, d, _, _ in rows:
        by_customer.setdefault(c, []).append(datetime.strptime(d, "%Y%m%d").replace(tzinfo=UTC))
    until = datetime(1998, 7, 1)
    for count, days in ((3, 30), (2, 7), (5, 365)):
        expected = {}
        for c, times in by_customer.items():
            when = completed_at(sorted(times), count, days)
            if when is not None:
                expected[c] = when
        found = {c: t.replace(tzinfo=UTC) for c, t in
                 completions(store, None, count, days, until).items()}  # fmt: skip
        assert found == expected and len(found) > 10, (count, days)
