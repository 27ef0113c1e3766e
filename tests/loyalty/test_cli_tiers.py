"""``tenure loyalty tiers | tier | reverse | adjust`` and the tier in
``balance``: the CLI contract over the library, with tiers declared in
tenure.toml."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

TIERS = """
[loyalty]
tier_grace_days = 30
tiers = [{name = "Silver", threshold = 500}, {name = "Gold", threshold = 2000}]
"""


@pytest.fixture
def tiered(tmp_path):
    Path("tenure.toml").write_text(TIERS, encoding="utf-8")


def test_balance_shows_the_tier_reached_and_what_gold_still_needs(cli, store, tiered):
    r = cli("loyalty", "earn", "C1", "300", "--store", store, "--json")
    assert r.json()["tier"] is None
    # 300 + 250 = 550: Silver at this write
    r = cli("loyalty", "earn", "C1", "250", "--amount", "49.90", "--store", store, "--json")
    assert r.code == 0, r.err
    assert r.json()["tier"] == "Silver" and r.json()["entry"]["amount"] == 49.9
    doc = cli("loyalty", "balance", "C1", "--store", store, "--json").json()
    assert doc["tier"] == "Silver"
    progress = doc["tier_progress"]
    assert progress["next_tier"] == {"name": "Gold", "threshold": 2000, "needed": 1450}
    # kept 12 months from the upgrade, and a downgrade no sooner than 30 days after
    kept = datetime.fromisoformat(progress["kept_until"])
    since = datetime.fromisoformat(progress["since"])
    assert (kept.year, kept.month, kept.day) == (since.year + 1, since.month, since.day)
    assert datetime.fromisoformat(progress["downgrade_from"]) - kept == timedelta(days=30)
    human = cli("loyalty", "balance", "C1", "--store", store)
    assert "Tier: Silver, kept until" in human.out and "Gold: 1,450 points to go." in human.out


def test_tiers_counts_members_and_a_manual_tier_holds_until_its_day(cli, store, tiered):
    cli("loyalty", "earn", "A", "100", "--store", store)
    cli("loyalty", "earn", "B", "600", "--store", store)
    cli("loyalty", "earn", "C", "2500", "--store", store)
    doc = cli("loyalty", "tiers", "--store", store, "--json").json()
    assert [(t["name"], t["threshold"], t["members"]) for t in doc["tiers"]] == [
        ("Silver", 500, 1), ("Gold", 2000, 1),
    ]  # fmt: skip
    assert (doc["no_tier"], doc["members"], doc["manual"]) == (1, 3, 0)
    last = (datetime.now(UTC) + timedelta(days=40)).date().isoformat()
    r = cli("loyalty", "tier", "A", "Gold", "--until", last, "--store", store, "--json")
    assert r.code == 0, r.err
    # held to the end of its last day
    assert r.json()["until"] == f"{date.fromisoformat(last) + timedelta(days=1)}T00:00:00+00:00"
    assert (r.json()["tier"], r.json()["previous"]) == ("Gold", None)
    doc = cli("loyalty", "tiers", "--store", store, "--json").json()
    assert [t["members"] for t in doc["tiers"]] == [1, 2] and doc["manual"] == 1
    human = cli("loyalty", "tiers", "--store", store)
    assert human.code == 0 and "Silver" in human.out and "(no tier)" in human.out
    history = cli("loyalty", "history", "A", "--store", store, "--json").json()
    assert [(c["kind"], c["tier"]) for c in history["tier_changes"]] == [("manual", "Gold")]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["tier", "A", "Platinum", "--until", "2099-01-01"], "there is no tier 'Platinum'"),
        (["tier", "A", "Gold", "--until", "2020-01-01"], "--until 2020-01-02 has passed"),
        (["tier", "A", "Gold", "--until", "soon"], "--until 'soon' is not a date."),
        (["tier", "Z", "Gold", "--until", "2099-01-01"], "customer 'Z' is not a loyalty member"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_tier_errors_are_one_json_document(cli, store, tiered, args, words):
    cli("loyalty", "earn", "A", "5", "--store", store)
    r = cli("loyalty", *args, "--store", store, "--json")
    assert r.code == 1
    assert words in r.json()["error"]["message"], r.json()
    assert "Traceback" not in r.err


def test_tiers_without_declared_tiers_says_how_to_declare_them(cli, store):
    cli("loyalty", "earn", "A", "5", "--store", store)
    r = cli("loyalty", "tiers", "--store", store, "--json")
    assert r.code == 1
    assert "no tiers" in r.json()["error"]["message"]
    assert "[loyalty]" in r.json()["error"]["hint"]


def test_reverse_and_adjust_from_the_command_line(cli, store):
    cli("loyalty", "earn", "C1", "100", "--store", store)  # entry 1
    cli("loyalty", "redeem", "C1", "80", "--store", store)  # entry 2: 20 left
    # reversing the earning takes the 20 left and owes the 80 spent
    r = cli("loyalty", "reverse", "C1", "1", "--reason", "refund", "--key", "r1",
            "--store", store, "--json")  # fmt: skip
    assert r.code == 0, r.err
    assert (r.json()["entry"]["points"], r.json()["balance"], r.json()["debt"]) == (-100, -80, 80)
    again = cli("loyalty", "reverse", "C1", "1", "--reason", "refund", "--key", "r1",
                "--store", store, "--json")  # fmt: skip
    assert again.out == r.out and "nothing changed" in again.err
    # a goodwill adjustment of 50 pays 50 of the debt: balance -30
    r = cli("loyalty", "adjust", "C1", "50", "--reason", "goodwill", "--store", store, "--json")
    assert (r.json()["debt_paid"], r.json()["balance"]) == (50, -30)
    # a negative adjustment is an argument, not an option
    r = cli("loyalty", "adjust", "C1", "-5", "--reason", "typo", "--store", store)
    assert r.code == 0, r.err
    assert "Took 5 points for C1" in r.out and "Balance: -35 points" in r.out
    r = cli("loyalty", "reverse", "C1", "1", "--store", store, "--json")
    assert r.code == 1 and r.json()["error"]["code"] == "over_reversal"
    r = cli("loyalty", "adjust", "C1", "5", "--store", store)
    assert r.code == 2  # --reason is required
