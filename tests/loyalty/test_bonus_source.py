"""A referral's and a challenge's points are read from one place: the
``referrals`` and ``challenges`` settings; the earning rules' deprecated
``bonuses.referral`` and ``bonuses.challenge`` may only agree with them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import tenure
from tenure import loyalty
from tenure.config import load_settings
from tenure.errors import ConfigError
from tenure.loyalty.bonus import award_bonus
from tenure.loyalty_settings import Program

from ..conftest import write

REFERRALS = "referrals = {advocate_points = 300, friend_points = 150}\n"


def toml(text: str) -> None:
    Path("tenure.toml").write_text(text, encoding="utf-8")


def test_a_referral_bonus_that_differs_from_the_referrals_setting_is_refused(cli):
    toml(f"[loyalty]\n{REFERRALS}[loyalty.earning.bonuses]\nreferral = 500\n")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    text = str(caught.value)
    assert "'bonuses.referral' is 500" in text
    assert "'referrals.advocate_points' is 300" in text
    assert "tenure.toml" in text and "remove the deprecated 'bonuses.referral'" in text
    # the command line: exit 1, one JSON document, no traceback
    r = cli("loyalty", "balance", "C1", "--json")
    assert r.code == 1 and "Traceback" not in r.err
    assert "'bonuses.referral' is 500" in json.loads(r.out)["error"]["message"]


def test_a_referral_bonus_that_agrees_is_accepted_and_the_rules_pay_the_program(ops):
    toml(f"[loyalty]\n{REFERRALS}[loyalty.earning.bonuses]\nreferral = 300\n")
    assert load_settings().loyalty.earning.bonus("referral") == 300


def test_without_a_referral_bonus_the_rules_pay_the_advocates_points(ops):
    toml(f"[loyalty]\n{REFERRALS}[loyalty.earning]\npoints_per_unit = 1\n")
    rules = load_settings().loyalty.earning
    # an integration granting the event by the rules gives what a settled
    # referral gives its advocate: the 300 declared under referrals
    posted = award_bonus(ops, "C1", "referral", key="friend-C2", rules=rules)
    assert posted is not None and loyalty.balance(ops, "C1")["balance"] == 300


def test_a_referral_bonus_alone_still_serves_an_integration():
    toml("[loyalty.earning.bonuses]\nreferral = 500\n")
    settings = load_settings().loyalty
    assert settings.referrals is None and settings.earning.bonus("referral") == 500


CHALLENGE = '{id = "pair", kind = "orders", count = 2, days = 30, badge = "Pair"'


def test_a_challenge_bonus_that_differs_from_a_challenges_points_is_refused():
    toml(f"[loyalty]\nchallenges = [{CHALLENGE}, points = 50}}]\n"
         "[loyalty.earning.bonuses]\nchallenge = 100\n")  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        load_settings()
    text = str(caught.value)
    assert "'bonuses.challenge' is 100" in text
    assert "challenge 'pair' has 'points' 50" in text
    assert "remove the deprecated 'bonuses.challenge'" in text


def test_a_challenge_without_points_is_paid_the_challenge_bonus(tmp_path):
    toml(f"[loyalty]\nchallenges = [{CHALLENGE}}}]\n[loyalty.earning.bonuses]\nchallenge = 30\n")
    settings = load_settings()
    assert Program.from_settings(settings.loyalty).challenges[0].points == 30
    # settled after an ingest: C1's two orders in 30 days earn the 30 points
    orders = write(tmp_path / "orders.csv", "order_id,customer_id,placed_at,amount,currency\n"
                   "O1,C1,2026-10-01 10:00:00,10,EUR\nO2,C1,2026-10-02 10:00:00,10,EUR\n")  # fmt: skip
    result = tenure.ingest("orders", orders, store=tmp_path / "store")
    badge = result.refreshed["loyalty_settled"]["challenges"]["badges"][0]
    assert badge["challenge"] == "pair" and badge["points"] == 30
