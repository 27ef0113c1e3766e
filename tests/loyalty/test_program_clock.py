"""The program's clock ([loyalty] timezone): tier windows, a manual tier's
end and a birthday, worked by hand.

Europe/Berlin is UTC+1 in winter (CET) and UTC+2 in summer (CEST); summer
time began on 29 March 2026 and begins on 28 March 2027, and ended on
25 October 2026. The UTC instants below follow from those offsets.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tenure.config import load_settings
from tenure.errors import ConfigError
from tenure.loyalty import Policy, Tier, TierProgram, balance, earn
from tenure.loyalty.tiers import period_end, window_start

SILVER = (Tier("Silver", 500),)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def program(window: str, zone: str) -> TierProgram:
    return TierProgram(SILVER, window=window, timezone=zone)


def policy(window: str, zone: str) -> Policy:
    return Policy(expiry_days=None, tiers=program(window, zone))


@pytest.mark.parametrize(
    ("zone", "tier", "kept_until"),
    [
        # 2026 holds 300 + 200 = 500: Silver, kept through 2027 (to 2028-01-01 00:00 UTC)
        ("UTC", "Silver", "2028-01-01T00:00:00+00:00"),
        # 23:30 UTC on 31 December is 00:30 on 1 January 2027 in Berlin:
        # 2026 holds 300, 2027 holds 200, neither reaches 500
        ("Europe/Berlin", None, None),
    ],
)
def test_an_order_at_2330_utc_on_new_years_eve_counts_in_the_programs_year(
    sqlite_ops, zone, tier, kept_until
):
    p = policy("calendar_year", zone)
    earn(sqlite_ops, "C1", 300, at=utc("2026-06-01 12:00"), policy=p)
    last = earn(sqlite_ops, "C1", 200, at=utc("2026-12-31 23:30"), policy=p)
    assert last.doc["tier"] == tier
    progress = balance(sqlite_ops, "C1", at=utc("2027-01-01 06:00"), policy=p)["tier_progress"]
    # the qualifying value of the year so far: Berlin's 2027 began before the order
    assert progress["qualifying"] == (0 if zone == "UTC" else 200)
    assert progress["kept_until"] == kept_until


def test_a_berlin_year_ends_at_23_utc_on_new_years_eve(sqlite_ops):
    p = policy("calendar_year", "Europe/Berlin")
    # 22:30 UTC is 23:30 in Berlin, still 2026: Silver, kept through 2027,
    # that is to midnight on 1 January 2028 in Berlin, 23:00 UTC the day before
    done = earn(sqlite_ops, "C1", 500, at=utc("2026-12-31 22:30"), policy=p)
    assert done.doc["tier"] == "Silver"
    progress = balance(sqlite_ops, "C1", at=utc("2027-06-01 00:00"), policy=p)["tier_progress"]
    assert progress["kept_until"] == "2027-12-31T23:00:00+00:00"


@pytest.mark.parametrize(
    ("zone", "start", "end"),
    [
        ("UTC", "2027-01-01 00:00", "2028-01-01 00:00"),
        # midnight in Berlin in winter is 23:00 UTC the day before
        ("Europe/Berlin", "2026-12-31 23:00", "2027-12-31 23:00"),
    ],
)
def test_calendar_year_boundaries(zone, start, end):
    p = program("calendar_year", zone)
    assert window_start(p, utc("2027-07-01 12:00")) == utc(start)
    # a tier reached in 2026 (in that zone) is kept to the start of 2028 there
    assert period_end(p, utc("2026-07-01 12:00")) == utc(end)


@pytest.mark.parametrize(
    ("zone", "reached", "kept_until"),
    [
        # UTC has no summer time: 12 months later at the same UTC hour
        ("UTC", "2026-03-28 11:00", "2027-03-28 11:00"),
        # 12:00 CET (11:00 UTC) on 28 March 2026 is kept to 12:00 on 28 March
        # 2027, summer time by then (CEST): 10:00 UTC
        ("Europe/Berlin", "2026-03-28 11:00", "2027-03-28 10:00"),
        # 12:00 CET on 30 October 2026 (after summer time ended on the 25th)
        # is kept to 12:00 on 30 October 2027, still summer time (CEST
        # ends on 31 October 2027): 10:00 UTC
        ("Europe/Berlin", "2026-10-30 11:00", "2027-10-30 10:00"),
    ],
)
def test_a_rolling_period_keeps_the_programs_wall_clock_across_summer_time(
    zone, reached, kept_until
):
    assert period_end(program("rolling_12_months", zone), utc(reached)) == utc(kept_until)


@pytest.mark.parametrize(("zone", "qualifying"), [("UTC", 500), ("Europe/Berlin", 0)])
def test_a_rolling_window_drops_an_earning_at_the_programs_12_months(sqlite_ops, zone,
                                                                      qualifying):  # fmt: skip
    p = policy("rolling_12_months", zone)
    earn(sqlite_ops, "C1", 500, at=utc("2026-03-28 11:00"), policy=p)
    # 10:30 UTC on 28 March 2027 is 12:30 CEST in Berlin: the window began at
    # 12:30 CET on 28 March 2026, 11:30 UTC, after the earning; in UTC it
    # began at 10:30 UTC, before it
    doc = balance(sqlite_ops, "C1", at=utc("2027-03-28 10:30"), policy=p)
    assert doc["tier_progress"]["qualifying"] == qualifying
    # and the Silver reached then is no longer held once its period is over
    assert doc["tier"] == ("Silver" if zone == "UTC" else None)


def toml(text: str) -> None:
    with open("tenure.toml", "w", encoding="utf-8") as f:
        f.write(text)


def test_the_programs_time_zone_is_read_from_the_loyalty_table():
    toml('[loyalty]\ntimezone = "Europe/Berlin"\ntiers = [{name = "Silver", threshold = 500}]\n')
    settings = load_settings()
    assert settings.loyalty.timezone == "Europe/Berlin"
    assert Policy.from_settings(settings.loyalty).tiers.timezone == "Europe/Berlin"


def test_without_a_time_zone_the_tiers_keep_utc():
    toml('[loyalty]\ntiers = [{name = "Silver", threshold = 500}]\n')
    settings = load_settings()
    assert settings.loyalty.timezone is None
    assert Policy.from_settings(settings.loyalty).tiers.timezone == "UTC"


@pytest.mark.parametrize("value", ['"Europe/Berlinn"', '"CEST+2"', '""', "1"])
def test_a_wrong_time_zone_names_the_file_the_key_the_value_and_the_fix(value):
    toml(f"[loyalty]\ntimezone = {value}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    text = str(caught.value)
    assert "tenure.toml [loyalty]" in text and "'timezone'" in text
    assert repr(__import__("tomllib").loads(f"v = {value}")["v"]) in text
    assert 'timezone = "Europe/Berlin"' in text and "UTC" in text


@pytest.mark.parametrize(
    ("zone", "last", "until"),
    [
        ("UTC", "2099-07-31", "2099-08-01T00:00:00+00:00"),
        # midnight on 1 August in Berlin is summer time (UTC+2): 22:00 UTC
        ("Europe/Berlin", "2099-07-31", "2099-07-31T22:00:00+00:00"),
        # midnight on 1 February, winter time (UTC+1): 23:00 UTC
        ("Europe/Berlin", "2099-01-31", "2099-01-31T23:00:00+00:00"),
    ],
)
def test_a_manual_tier_ends_at_the_end_of_its_last_day_on_the_programs_clock(
    cli, store, zone, last, until
):
    toml(f'[loyalty]\ntimezone = "{zone}"\ntiers = [{{name = "Silver", threshold = 500}}]\n')
    assert cli("loyalty", "earn", "C1", "10", "--store", store).code == 0
    r = cli("loyalty", "tier", "C1", "Silver", "--until", last, "--store", store, "--json")
    assert r.code == 0, r.err
    assert r.json()["until"] == until
    table = cli("loyalty", "tiers", "--store", store, "--json").json()
    assert table["timezone"] == zone
    assert f"over a rolling 12 months ({zone})" in cli("loyalty", "tiers", "--store", store).out


BIRTHDAYS = """customer_id,birthday,time_zone
C1,1990-03-15,
C2,1990-03-15,America/Los_Angeles
"""


@pytest.mark.parametrize(("program_zone", "granted"), [(None, 0), ("Pacific/Auckland", 1)])
def test_a_birthday_without_a_members_zone_is_on_the_programs_clock(
    cli, store, tmp_path, program_zone, granted
):
    """At 12:00 UTC on 14 March 2026 it is 01:00 on 15 March in Auckland
    (UTC+13): C1's birthday on the program's clock, not yet in the business's
    time zone (UTC). C2 has a zone of their own, where it is 05:00 on 14 March."""
    from tenure.loyalty.bonus import birthday_bonuses
    from tenure.loyalty.posting import birthday_zone
    from tenure.loyalty.rules import EarningRules
    from tenure.store.ops import OpsStore

    from ..conftest import write

    zone = f'timezone = "{program_zone}"\n' if program_zone else ""
    toml(f"[loyalty]\n{zone}")
    people = write(tmp_path / "c.csv", BIRTHDAYS)
    assert cli("ingest", "customers", people, "--store", store).code == 0
    settings = load_settings(store=store)
    assert birthday_zone(settings) == (program_zone or "UTC")
    ops = OpsStore.open(settings.ops_database_url)
    try:
        for c in ("C1", "C2"):
            earn(ops, c, 1, at=utc("2026-01-01 00:00"))
        at = utc("2026-03-14 12:00")
        rules = EarningRules(bonuses={"birthday": 200})
        assert birthday_bonuses(ops, settings.analytics_path, rules, at=at,
                                timezone=birthday_zone(settings)) == granted  # fmt: skip
        assert balance(ops, "C1", at=at)["balance"] == 1 + 200 * granted
        assert balance(ops, "C2", at=at)["balance"] == 1
    finally:
        ops.close()
