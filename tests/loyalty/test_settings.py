"""The [loyalty] table of tenure.toml: defaults, values read, and errors
that name the file, the key, the value and the fix."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tenure.config import LoyaltySettings, load_settings
from tenure.errors import ConfigError
from tenure.loyalty import Policy, Tier, TierProgram


def toml(text: str) -> None:
    Path("tenure.toml").write_text(text, encoding="utf-8")


def test_without_a_loyalty_table_the_ledger_keeps_its_defaults():
    settings = load_settings()
    assert settings.loyalty == LoyaltySettings()
    policy = Policy.from_settings(settings.loyalty)
    assert (policy.expiry_days, policy.return_window_days, policy.tiers) == (365, 30, None)
    at = datetime(2026, 3, 1, tzinfo=UTC)
    assert policy.expires(at) == datetime(2027, 3, 1, tzinfo=UTC)  # 365 days on


def test_the_loyalty_table_is_read_into_the_policy():
    toml("""
store = "shop"

[loyalty]
return_window_days = 14
expiry_months = 18
tier_basis = "spend"
tier_window = "calendar_year"
tier_grace_days = 30
tiers = [{name = "Gold", threshold = 1000}, {name = "Silver", threshold = 250.5}]
""")
    policy = Policy.from_settings(load_settings().loyalty)
    assert policy.return_window_days == 14
    # 18 calendar months from 31 August 2026: 28 February 2028 has no 31st, so the 29th
    assert policy.expires(datetime(2026, 8, 31, tzinfo=UTC)) == datetime(2028, 2, 29, tzinfo=UTC)
    assert policy.tiers == TierProgram((Tier("Silver", 250.5), Tier("Gold", 1000)),
                                       basis="spend", window="calendar_year", grace_days=30)  # fmt: skip


def test_expiry_zero_means_points_never_expire():
    toml("[loyalty]\nexpiry_days = 0\n")
    assert Policy.from_settings(load_settings().loyalty).expires(datetime(2026, 1, 1)) is None


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ("return_window_days = -3", ["'return_window_days'", "-3", "whole number"]),
        (
            'tier_window = "quarter"',
            ["'tier_window'", "'quarter'", "rolling_12_months or calendar_year"],
        ),
        ('tier_basis = "visits"', ["'tier_basis'", "'visits'", "points or spend"]),
        ('negative_balance = "allow"', ["'negative_balance'", "'allow'", "debt"]),
        ("expiry_days = 365\nexpiry_months = 12", ["'expiry_days'", "'expiry_months'", "keep one"]),
        ('tiers = [{name = "Gold"}]', ["tier 1", "threshold", 'tiers = [{name = "Silver"']),
        ('tiers = [{name = "A", threshold = 5}, {name = "A", threshold = 9}]', ["'A'", "twice"]),
        ("tierz = []", ["unknown setting 'tierz'", "tier_window"]),
    ],
)
def test_a_wrong_loyalty_setting_names_the_key_the_value_and_the_fix(table, words):
    toml(f"[loyalty]\n{table}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    text = str(caught.value)
    assert "tenure.toml [loyalty]" in text
    for word in words:
        assert word in text, text


def test_the_cli_reports_a_wrong_loyalty_setting_without_a_traceback(cli, store):
    toml('[loyalty]\ntier_grace_days = "a month"\n')
    r = cli("loyalty", "balance", "C1", "--store", store, "--json")
    assert r.code == 1
    assert "'tier_grace_days'" in r.json()["error"]["message"]
    assert "Traceback" not in r.err
