"""Earning rules: read from tenure.toml or a rules file, checked on load,
and a line's points worked by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from tenure.config import load_settings
from tenure.errors import ConfigError
from tenure.loyalty.rules import EarningRules

RULES = """
points_per_unit = 1
categories = {books = 2, gift_cards = 0}
products = {"SKU-42" = 5}
tier_multipliers = {Gold = 1.5}

[bonuses]
first_order = 50
birthday = 200
"""


def test_a_rules_file_named_in_tenure_toml_is_read_beside_it(tmp_path):
    Path("rules.toml").write_text(RULES, encoding="utf-8")
    Path("tenure.toml").write_text('[loyalty]\nrules_file = "rules.toml"\n', encoding="utf-8")
    rules = load_settings().loyalty.earning
    assert rules.points_per_unit == 1
    assert rules.categories == {"books": 2.0, "gift_cards": 0.0}
    assert rules.products == {"SKU-42": 5.0}
    assert rules.bonus("birthday") == 200 and rules.bonus("review") == 0


def test_rules_in_the_loyalty_earning_table():
    Path("tenure.toml").write_text(
        "[loyalty.earning]\npoints_per_unit = 2\n[loyalty.earning.bonuses]\nsign_up = 100\n",
        encoding="utf-8",
    )
    rules = load_settings().loyalty.earning
    assert rules.points_per_unit == 2 and rules.bonuses == {"sign_up": 100}


def test_no_rules_means_nothing_is_earned_from_orders():
    Path("tenure.toml").write_text("[loyalty]\nreturn_window_days = 14\n", encoding="utf-8")
    assert load_settings().loyalty.earning is None


def test_line_points_by_hand():
    rules = EarningRules(1.0, {"books": 2.0}, {"SKU-42": 5.0}, {"Gold": 1.5})
    # 45.90 EUR at 1 a EUR: 45 (floor); a book at 2: 91.80 -> 91
    assert rules.line_points(45.90) == 45
    assert rules.line_points(45.90, category="books") == 91
    # the product's rate beats its category's: 10 x 5 = 50, x 1.5 for Gold = 75
    assert rules.line_points(10, product="SKU-42", category="books", tier="Gold") == 75
    # 2.9 x 10 is 28.999... in binary: still 29
    assert EarningRules(10.0).line_points(2.9) == 29


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('points_per_unit = "one"', "'points_per_unit' has the value 'one'"),
        ("points_per_unit = -1", "'points_per_unit' has the value -1"),
        ("categories = {books = 1e9}", "'categories.books' has the value 1000000000.0"),
        ("categories = 3", "'categories' has the value 3, which is not a table"),
        ("bonuses = {birthdays = 10}", "'bonuses.birthdays' is not a bonus event"),
        ("bonuses = {birthday = 1.5}", "'bonuses.birthday' has the value 1.5"),
        ("point_per_unit = 1", "unknown earning rule 'point_per_unit'"),
    ],
)
def test_a_bad_rule_names_the_file_the_key_and_the_value(tmp_path, text, named):
    Path("rules.toml").write_text(text + "\n", encoding="utf-8")
    Path("tenure.toml").write_text('[loyalty]\nrules_file = "rules.toml"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings()
    message = str(err.value)
    assert message.startswith("rules.toml: ") and named in message
    assert err.value.hint and "Fix it in" in err.value.hint


def test_a_missing_rules_file_and_bad_toml_are_named(tmp_path):
    Path("tenure.toml").write_text('[loyalty]\nrules_file = "nope.toml"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="nope.toml.*does not exist"):
        load_settings()
    Path("nope.toml").write_text("points_per_unit = = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="nope.toml is not valid TOML"):
        load_settings()


def test_rules_file_and_table_together_are_refused():
    Path("r.toml").write_text("points_per_unit = 1\n", encoding="utf-8")
    Path("tenure.toml").write_text(
        '[loyalty]\nrules_file = "r.toml"\n[loyalty.earning]\npoints_per_unit = 2\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="both 'rules_file' and"):
        load_settings()


def test_the_cli_shows_a_bad_rule_without_a_traceback(cli, store):
    Path("rules.toml").write_text("products = {A = -3}\n", encoding="utf-8")
    Path("tenure.toml").write_text('[loyalty]\nrules_file = "rules.toml"\n', encoding="utf-8")
    r = cli("loyalty", "post", "--store", store)
    assert r.code == 1
    assert "'products.A' has the value -3" in r.err and "Traceback" not in r.err
    r = cli("loyalty", "post", "--store", store, "--json")
    assert r.code == 1 and "products.A" in r.json()["error"]["message"]
