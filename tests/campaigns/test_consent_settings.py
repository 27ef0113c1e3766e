"""[campaigns] in tenure.toml: read from the file, and each wrong value
refused with the file, the key, the value and what to write."""

from __future__ import annotations

from datetime import time

import pytest

from tenure.campaigns.consent_settings import Cap, SendingRules, read
from tenure.config import load_settings
from tenure.errors import ConfigError


def test_read_from_tenure_toml(tmp_path, monkeypatch):
    (tmp_path / "tenure.toml").write_text(
        'timezone = "Europe/Paris"\n[campaigns.caps]\nemail = {messages = 3, days = 7}\n'
        "[campaigns.budget]\nmessages = 4\ndays = 7\npriorities = {high = 4, low = 2}\n"
        '[campaigns.quiet_hours]\nstart = "21:00"\nend = "08:00"\n'
        '[campaigns.journeys]\nanything = "read by the journeys"\n'
    )
    monkeypatch.chdir(tmp_path)
    rules = SendingRules.from_settings(load_settings())
    assert rules.caps == {"email": Cap(3, 7.0)}
    assert rules.budget.priorities == (("high", 4), ("low", 2))
    assert (rules.quiet_start, rules.quiet_end) == (time(21), time(8))
    assert rules.default_timezone == "Europe/Paris"  # the workspace's zone is the fallback
    assert rules.budget.ceiling(None) == 2  # no 'normal': the middle of two is the second


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"caps": {"email": {"messages": 0, "days": 7}}},
         "f.toml [campaigns.caps] email.messages = 0: it must be a whole number, 1 or more"),
        ({"caps": {"sms": 3}}, "f.toml [campaigns.caps] sms = 3: it must give messages and days"),
        ({"budget": {"messages": 4, "days": 7, "priorities": {"high": 3, "low": 4}}},
         "priorities.low = 4: it is above the ceiling of 'high' (3)"),
        ({"budget": {"messages": 4, "days": 7, "priorities": {"high": 5}}},
         "priorities.high = 5: it is above the budget's messages (4)"),
        ({"quiet_hours": {"start": "9pm", "end": "08:00"}},
         "start = '9pm': it is not a time of day HH:MM"),
        ({"sending": {"default_timezone": "Berlin"}},
         "default_timezone = 'Berlin': it is not an IANA time zone"),
        ({"sending": {"soft_bounces": 3}}, "unknown setting 'soft_bounces'"),
    ],
)  # fmt: skip
def test_wrong_values_are_named_with_their_fix(raw, message):
    with pytest.raises(ConfigError) as caught:
        read(raw, "f.toml")
    assert message in str(caught.value)
    assert caught.value.hint
