"""Joining the program: a member once, and the sign-up bonus the earning
rules declare granted once, whatever the retry; values by hand."""

from __future__ import annotations

from datetime import UTC, datetime

from tenure import loyalty
from tenure.loyalty.bonus import join
from tenure.loyalty_rules import EarningRules

AT = datetime(2026, 4, 1, 9, tzinfo=UTC)
LATER = datetime(2026, 4, 2, 9, tzinfo=UTC)


def test_a_customer_joins_once_with_the_sign_up_bonus_once(ops):
    rules = EarningRules(bonuses={"sign_up": 100})
    first = join(ops, "J1", rules=rules, at=AT)
    assert first["new"] and first["joined_at"].startswith("2026-04-01T09:00")
    assert (first["bonus"]["points"], first["bonus"]["replayed"]) == (100, False)
    again = join(ops, "J1", rules=rules, at=LATER)  # a retry, a day later
    assert not again["new"] and again["joined_at"] == first["joined_at"]
    assert again["bonus"] == dict(first["bonus"], replayed=True)
    assert loyalty.balance(ops, "J1", at=LATER)["balance"] == 100
    assert loyalty.check_invariant(ops, "J1").problems == []


def test_a_member_already_earning_joins_without_a_second_membership(ops):
    loyalty.earn(ops, "J2", 40, at=AT)
    doc = join(ops, "J2", rules=EarningRules(bonuses={"sign_up": 25}), at=LATER)
    assert not doc["new"] and doc["joined_at"].startswith("2026-04-01")
    assert loyalty.balance(ops, "J2", at=LATER)["balance"] == 40 + 25
    # without a sign-up bonus declared, joining grants nothing
    assert join(ops, "J3", rules=EarningRules(), at=AT)["bonus"] is None
    assert join(ops, "J4", at=AT)["bonus"] is None
    assert loyalty.balance(ops, "J3", at=AT)["balance"] == 0


def test_the_cli_joins_and_says_so(cli, store, tmp_path, monkeypatch):
    toml = tmp_path / "tenure.toml"
    toml.write_text("[loyalty.earning.bonuses]\nsign_up = 150\n")
    monkeypatch.setenv("TENURE_CONFIG", str(toml))
    r = cli("loyalty", "join", "C9", "--store", store)
    assert r.code == 0 and "C9 joined the program. Sign-up bonus: 150 points" in r.out
    doc = cli("loyalty", "join", "C9", "--store", store, "--json").json()
    assert (doc["new"], doc["bonus"]["replayed"]) == (False, True)
    assert cli("loyalty", "balance", "C9", "--store", store, "--json").json()["balance"] == 150
    bad = cli("loyalty", "join", "C\x01", "--store", store, "--json")
    assert bad.code == 1 and "error" in bad.json()
