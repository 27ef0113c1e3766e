"""Goals: targets from a change, progress and trend, industry benchmarks, and
``tenure goal set / list / remove`` end to end."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from tenure.engine import periods
from tenure.errors import ConfigError, InputError
from tenure.goals import industry, progress
from tenure.goals.targets import target_value
from tests.conftest import write

# -- targets -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "change", "baseline", "target"),
    [
        ("churn_rate", "-10%", 20.0, 18.0),  # 20 x 0.9
        ("churn_rate", "-2pp", 20.0, 18.0),  # 20 - 2
        ("churn_rate", "=75", 20.0, 75.0),
        ("retention_rate", "75", 70.0, 75.0),  # a bare number is the target itself
        ("aov", "+5%", 40.0, 42.0),  # 40 x 1.05
        ("retention_rate", "+3.5pp", 60.0, 63.5),
        ("nps", "=-20", -30.0, -20.0),  # NPS may be negative
        ("revenue", " +50 % ", 1000.0, 1500.0),
    ],
)
def test_target_value_worked_examples(metric, change, baseline, target):
    assert target_value(metric, change, baseline) == pytest.approx(target)


@pytest.mark.parametrize(
    ("metric", "change", "baseline", "what", "hint"),
    [
        # percentage points make sense for rates only
        ("aov", "+2pp", 40.0, "aov is not a rate", "(+10%)"),
        # a rate's target must lie in [0, 100]
        ("churn_rate", "-2pp", 1.0, "outside its possible range [0, 100]", "smaller change"),
        ("retention_rate", "=120", 70.0, "outside its possible range [0, 100]", "smaller change"),
        ("retention_rate", "+50%", 80.0, "the target 120 for retention_rate", "smaller change"),
        ("aov", "-150%", 40.0, "outside its possible range [0, ]", "smaller change"),
        # a change that changes nothing
        ("churn_rate", "+0%", 20.0, "asks for no change", "-10%"),
        ("churn_rate", "=20", 20.0, "asks for no change", "-10%"),
        ("churn_rate", "-0pp", 20.0, "asks for no change", "-10%"),
        # changes tenure cannot read
        ("churn_rate", "ten percent", 20.0, "'ten percent' is not one tenure reads", "-2pp"),
        ("churn_rate", "-10%%", 20.0, "is not one tenure reads", "=75"),
        ("churn_rate", "", 20.0, "is not one tenure reads", "=75"),
        ("churn_rate", "=75%", 20.0, "mixes = with %", "=75"),
        # relative to nothing
        ("churn_rate", "-10%", 0.0, "is 0 in the baseline period", "=5"),
    ],
)
def test_target_value_errors(metric, change, baseline, what, hint):
    with pytest.raises(ConfigError) as info:
        target_value(metric, change, baseline)
    assert what in info.value.what
    assert hint in info.value.hint


def test_unknown_metric_suggests_the_closest():
    with pytest.raises(ConfigError) as info:
        target_value("retension_rate", "+5%", 70.0)
    assert "'retension_rate' is not a metric a goal can track" in info.value.what
    assert info.value.hint.startswith("Did you mean retention_rate? ")
    assert "churn_rate" in info.value.hint and "aov" in info.value.hint


def test_unknown_metric_far_from_any_lists_them_without_a_guess():
    with pytest.raises(ConfigError) as info:
        target_value("zzz", "+5%", 70.0)
    assert "Did you mean" not in info.value.hint
    assert info.value.hint.startswith("Metrics: ")


# -- progress ----------------------------------------------------------------------


def _frame(metric: str, first: str, values: list[float]) -> pd.DataFrame:
    """A monthly metrics frame: period, period_start, and the metric."""
    start = periods.index_of(date.fromisoformat(first), "month")
    index = range(start, start + len(values))
    return pd.DataFrame(
        {
            "period": [periods.label(i, "month") for i in index],
            "period_start": [periods.start_of(i, "month") for i in index],
            metric: values,
        }
    )


def _goal(metric: str, baseline: float, target: float, deadline: str) -> dict:
    return {
        "metric": metric,
        "period": "month",
        "baseline_value": baseline,
        "target_value": target,
        "deadline": date.fromisoformat(deadline),
    }


# Churn falls by one point a month, January to June 2025: 20, 19, ..., 15. The
# least-squares line is the data itself, so December 2025 projects to
# 15 - 6 = 9.
CHURN = _frame("churn_rate", "2025-01-01", [20.0, 19.0, 18.0, 17.0, 16.0, 15.0])
AS_OF = date(2025, 6, 30)


@pytest.mark.parametrize(
    ("target", "deadline", "status", "progress_pct"),
    [
        (16.0, "2025-12-31", "achieved", 125.0),  # June's 15 is already below 16
        (10.0, "2025-06-30", "missed", 50.0),  # the deadline is today, 15 > 10
        (10.0, "2025-12-31", "on track", 50.0),  # projected 9 <= 10
        (5.0, "2025-12-31", "off track", 100 / 3),  # projected 9 > 5
    ],
)
def test_progress_statuses(target, deadline, status, progress_pct):
    out = progress.evaluate(_goal("churn_rate", 20.0, target, deadline), CHURN, AS_OF)
    assert out["status"] == status
    assert (out["current_period"], out["current_value"]) == ("2025-06", 15.0)
    # (current - baseline) / (target - baseline)
    assert out["progress"] == pytest.approx(progress_pct)
    assert out["trend_per_period"] == pytest.approx(-1.0)
    # the deadline's month: December 2025 (or June itself for the missed goal)
    months_ahead = 6 if deadline == "2025-12-31" else 0
    assert out["projected_value"] == pytest.approx(15.0 - months_ahead)


def test_progress_needs_three_periods_for_a_trend():
    two = CHURN.head(2)  # 20, 19
    out = progress.evaluate(_goal("churn_rate", 20.0, 10.0, "2025-12-31"), two, date(2025, 2, 28))
    assert out["status"] == "not enough data"
    assert out["trend_per_period"] is None and out["projected_value"] is None
    assert (out["current_period"], out["current_value"]) == ("2025-02", 19.0)
    assert out["progress"] == pytest.approx(10.0)  # 1 of the 10 points


def test_progress_with_no_value_at_all():
    empty = _frame("nps", "2025-01-01", [np.nan, np.nan, np.nan])
    out = progress.evaluate(_goal("nps", 10.0, 20.0, "2025-12-31"), empty, date(2025, 3, 31))
    assert out == {
        "current_period": None,
        "current_value": None,
        "progress": None,
        "trend_per_period": None,
        "projected_value": None,
        "projection_bounded": False,
        "status": "not enough data",
    }


# Retention, October 2024 to July 2025: missing, 0, 0, then January to June
# 61, 60, 62, 63, 63, 66, then missing. The line goes through the last six
# values only (January..June, x = 0..5): they are 60 + x plus the residuals
# 1, -1, 0, 0, -1, 1, which sum to 0 and are orthogonal to x, so the
# least-squares line is exactly y = 60 + x. December 2025 is x = 11: 71.
RETENTION = _frame(
    "retention_rate",
    "2024-10-01",
    [np.nan, 0.0, 0.0, 61.0, 60.0, 62.0, 63.0, 63.0, 66.0, np.nan],
)


@pytest.mark.parametrize(("target", "status"), [(70.0, "on track"), (72.0, "off track")])
def test_progress_projects_the_least_squares_line(target, status):
    goal = _goal("retention_rate", 61.0, target, "2025-12-31")
    out = progress.evaluate(goal, RETENTION, date(2025, 7, 31))
    assert out["trend_per_period"] == pytest.approx(1.0)
    assert out["projected_value"] == pytest.approx(71.0)
    assert out["status"] == status
    # the latest value skips July's gap
    assert (out["current_period"], out["current_value"]) == ("2025-06", 66.0)
    assert out["progress"] == pytest.approx((66 - 61) / (target - 61) * 100)


# Churn falls by 5 points a month, January to June 2025: 30, 25, ..., 5. The
# line is the data itself and gives 5 - 5 x 6 = -25 for December: no churn
# rate is below 0, so the projection is 0, which reaches a target of 4.5
# (5 less 10 %). Retention rising by 4 points a month, 70 to 90, would pass
# 100 by December (90 + 24 = 114): the projection is 100, which reaches 95.
@pytest.mark.parametrize(
    ("metric", "values", "baseline", "target", "projected"),
    [
        ("churn_rate", [30.0, 25.0, 20.0, 15.0, 10.0, 5.0], 5.0, 4.5, 0.0),
        ("retention_rate", [70.0, 74.0, 78.0, 82.0, 86.0, 90.0], 90.0, 95.0, 100.0),
        ("new_customers", [60.0, 50.0, 40.0, 30.0, 20.0, 10.0], 10.0, 12.0, 0.0),
    ],
)
def test_projections_stay_within_what_the_metric_can_be(
    metric, values, baseline, target, projected
):
    frame = _frame(metric, "2025-01-01", values)
    out = progress.evaluate(_goal(metric, baseline, target, "2025-12-31"), frame, AS_OF)
    assert out["trend_per_period"] == pytest.approx(values[1] - values[0])
    assert out["projected_value"] == projected and out["projection_bounded"] is True
    # on track when the bounded projection reaches the target
    reaches = projected <= target if target < baseline else projected >= target
    assert out["status"] == ("on track" if reaches else "off track")


def test_a_projection_inside_the_range_is_not_bounded():
    out = progress.evaluate(_goal("churn_rate", 20.0, 10.0, "2025-12-31"), CHURN, AS_OF)
    assert (out["projected_value"], out["projection_bounded"]) == (pytest.approx(9.0), False)


def test_every_metric_a_goal_can_track_declares_its_bounds():
    from tenure.engine.metrics import COLUMNS
    from tenure.goals.targets import METRICS

    for info in METRICS.values():
        assert info.name in COLUMNS
        assert info.low is not None, info.name  # nothing a goal tracks is unbounded below
        if info.unit == "percent" and info.name not in (
            "reactivation_rate", "revenue_churn_rate", "net_revenue_retention"
        ):  # fmt: skip
            assert (info.low, info.high) == (0.0, 100.0), info.name


# -- industry benchmarks -----------------------------------------------------------


def test_benchmarks_file_adds_and_replaces_industries(tmp_path):
    path = write(
        tmp_path / "bench.csv",
        "industry,retention_rate,source\n"
        "SaaS,92.5,Our survey 2024\n"
        " Retail ,70%,Retail panel\n"
        "Media,55,\n",
    )
    table = industry.load(path)
    assert table["saas"] == industry.Benchmark("saas", 92.5, "Our survey 2024")
    assert table["retail"] == industry.Benchmark("retail", 70.0, "Retail panel")
    # a row without a source names the file it came from
    assert table["media"].source == str(path)
    # the built-in rows the file does not name stay
    assert table["insurance"].retention_rate == 83.0
    assert set(table) == {
        "retail", "it services", "insurance", "professional services", "saas", "media",
    }  # fmt: skip
    assert industry.pick("SaaS", path).retention_rate == 92.5


def test_no_benchmarks_file_gives_the_built_in_table():
    table = industry.load(None)
    assert table["retail"].retention_rate == 63.0
    assert "Statista" in table["retail"].source


@pytest.mark.parametrize("bad", ["high", "150", "-3", ""])
def test_bad_retention_rate_names_file_line_and_column(tmp_path, bad):
    path = write(
        tmp_path / "bench.csv",
        f"industry,retention_rate,source\nSaaS,92.5,ours\nTelecom,{bad},ours\n",
    )
    with pytest.raises(InputError) as info:
        industry.load(path)
    err = info.value
    assert (err.source, err.row, err.column) == (str(path), 3, "retention_rate")
    assert err.render().startswith(f"{path} line 3, column 'retention_rate': ")
    assert "is not a percentage from 0 to 100" in err.what
    assert "72.5" in err.hint


def test_benchmarks_file_without_the_columns(tmp_path):
    path = write(tmp_path / "bench.csv", "sector,rate\nSaaS,92\n")
    with pytest.raises(InputError) as info:
        industry.load(path)
    assert "has no column industry, retention_rate" in info.value.what
    assert "sector, rate" in info.value.what


def test_benchmarks_file_that_does_not_exist(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        industry.load(tmp_path / "nope.csv")


def test_unknown_industry_lists_the_known_ones():
    with pytest.raises(ConfigError) as info:
        industry.pick("aerospace")
    assert "insurance, it services, professional services, retail" in info.value.hint


# -- tenure goal -------------------------------------------------------------------

# With the default 365-day window, a purchase on day d keeps its customer
# active from d to d + 364:
#   P1 2024-05-10            -> active to 2025-05-09
#   P2 2024-03-01, 2025-02-01 -> active throughout
#   P3 2024-06-01            -> active to 2025-05-31
#   P4 2024-04-20, 2025-06-15 -> active to 2025-04-19, again from 2025-06-15
#   P5 2025-01-05            -> active throughout
# The latest purchase is on 2025-06-15, so May 2025 is the last complete month.
# The first purchase is on 2024-03-01: no buyer can lapse before 2025-03-01,
# so churn is missing up to February 2025. From March (S active at the
# start, L lost): Mar 5/0 -> 0; Apr 5/1 (P4) -> 20; May 4/1 (P1) -> 25.
GOAL_SHOP = """order_id,customer_id,placed_at,amount
1,P2,2024-03-01,10
2,P4,2024-04-20,10
3,P1,2024-05-10,10
4,P3,2024-06-01,10
5,P5,2025-01-05,10
6,P2,2025-02-01,10
7,P4,2025-06-15,10
"""


@pytest.fixture
def goal_store(cli, tmp_path, store):
    r = cli("ingest", "orders", write(tmp_path / "orders.csv", GOAL_SHOP), "--store", store)
    assert r.code == 0, r.err
    return store


def test_goal_set_list_remove_round_trip(cli, goal_store):
    store = goal_store
    metrics = json.loads(cli("metrics", "--json", "--store", store).out)["metrics"]
    last = metrics[-1]
    assert (last["period"], last["customers_start"], last["lost_customers"]) == ("2025-05", 4, 1)
    assert last["churn_rate"] == pytest.approx(25.0)

    r = cli("goal", "set", "churn_rate", "-10%", "--by", "2025-12-31", "--json", "--store", store)
    assert r.code == 0, r.err
    goal = json.loads(r.out)
    # the baseline is the last complete month's churn_rate, as tenure metrics shows it
    assert (goal["baseline_period"], goal["baseline_value"]) == (last["period"], last["churn_rate"])
    assert goal["target_value"] == pytest.approx(22.5)  # 25 x 0.9
    assert (goal["metric"], goal["change"], goal["period"]) == ("churn_rate", "-10%", "month")
    assert goal["deadline"] == "2025-12-31"
    assert goal["definitions"] == {"activity_window": 365, "active_by": "auto", "timezone": "UTC"}

    listed = json.loads(cli("goal", "list", "--json", "--store", store).out)["goals"]
    assert len(listed) == 1
    g = listed[0]
    assert g["id"] == goal["id"]
    assert (g["baseline_period"], g["baseline_value"]) == ("2025-05", last["churn_rate"])
    assert g["target_value"] == pytest.approx(22.5)
    assert (g["current_period"], g["current_value"]) == ("2025-05", 25.0)
    assert g["progress"] == pytest.approx(0.0)
    # the months with a value, x = 0..2 (March to May): 0, 20, 25. Slope =
    # sum((x - 1) y) / sum((x - 1)^2) = 25 / 2 a month; December 2025 is x = 9:
    # 15 + 12.5 x 8 = 115, more than a rate can be: the projection is 100, above
    # the target: off track.
    assert g["trend_per_period"] == pytest.approx(12.5)
    assert g["projected_value"] == 100.0 and g["projection_bounded"] is True
    assert g["status"] == "off track"

    r = cli("goal", "remove", str(goal["id"]), "--json", "--store", store)
    assert r.code == 0, r.err
    assert json.loads(r.out) == {"removed": goal["id"]}
    assert json.loads(cli("goal", "list", "--json", "--store", store).out) == {"goals": []}

    # a removed goal, or one that never was, cannot be removed
    for missing in (str(goal["id"]), "99"):
        r = cli("goal", "remove", missing, "--store", store)
        assert r.code == 1
        assert f"there is no goal {missing}." in r.err
        assert "tenure goal list" in r.err
    r = cli("goal", "remove", "99", "--json", "--store", store)
    assert r.code == 1 and json.loads(r.out)["error"]["message"] == "there is no goal 99."


def test_goal_set_refuses_what_it_cannot_track(cli, goal_store):
    store = goal_store

    def error(*args: str) -> str:
        r = cli("goal", "set", *args, "--store", store)
        assert r.code == 1, (r.out, r.err)
        assert "Traceback" not in r.err
        return r.err

    # a deadline before the data's last day (2025-06-15), or on it
    err = error("churn_rate", "-10%", "--by", "2025-06-01")
    assert "the deadline 2025-06-01 is not after the data's last day, 2025-06-15" in err
    assert "--by" in err
    assert "not after the data's last day" in error("churn_rate", "-10%", "--by", "2025-06-15")
    assert "'2025-02-30' is not a date" in error("churn_rate", "-10%", "--by", "2025-02-30")
    assert "Did you mean churn_rate?" in error("churn_rat", "-10%", "--by", "2025-12-31")
    # no survey answers: NPS has no value to start from
    err = error("nps", "+10pp", "--by", "2025-12-31")
    assert "nps has no value in any month yet (no survey answers in the data)" in err
    # nothing was recorded
    assert json.loads(cli("goal", "list", "--json", "--store", store).out) == {"goals": []}
