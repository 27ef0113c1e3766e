"""Charts whose data is made on the server: what the page carries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tenure.report import charts


def test_histogram_carries_the_counts_not_the_values():
    # 0, 1, ..., 99 and a missing value in 10 bins: 10 in each, the missing one left out
    values = pd.Series([*range(100), None], dtype="float64")
    fig = charts.histogram(values, "t", "x", ".,", bins=10)
    (bar,) = fig.data
    assert list(bar.y) == [10] * 10
    np.testing.assert_allclose(bar.x, np.arange(10) * 9.9 + 4.95)
    np.testing.assert_allclose(bar.width, [9.9] * 10)
    np.testing.assert_allclose(bar.customdata[0], [0.0, 9.9])
    np.testing.assert_allclose(bar.customdata[-1], [89.1, 99.0])
    # a million values make a page of 10 counts, not of a million numbers
    big = pd.Series(np.random.default_rng(1).exponential(50.0, 1_000_000))
    html = charts.to_html(charts.histogram(big, "t", "x", ".,", bins=10), "h")
    assert sum(charts.histogram(big, "t", "x", ".,", bins=10).data[0].y) == 1_000_000
    assert len(html) < 20_000


def test_histogram_of_nothing_is_an_empty_chart():
    fig = charts.histogram(pd.Series([], dtype="float64"), "t", "x", ".,")
    assert len(fig.data[0].y) == 0


# -- axes at round numbers ------------------------------------------------------------


def _is_round(step: float) -> bool:
    """1, 2, 2.5 or 5 times a power of ten."""
    power = 10 ** np.floor(np.log10(step))
    return any(np.isclose(step, m * power) for m in (1, 2, 2.5, 5, 10))


@pytest.mark.parametrize(
    ("span", "step"),
    [(100, 20), (7.3, 2), (0.047, 0.01), (1_234, 250), (9, 2), (10, 2), (11, 2.5), (24, 5)],
)
def test_nice_steps_by_hand(span, step):
    # span / 5 ticks: 20 -> 20; 1.46 -> 2; 0.0094 -> 0.01; 246.8 -> 250; 1.8 -> 2;
    # 2 -> 2; 2.2 -> 2.5; 4.8 -> 5
    assert charts.nice_step(span) == pytest.approx(step)


def _frame(**cols) -> pd.DataFrame:
    n = len(next(iter(cols.values())))
    return pd.DataFrame({"period": [f"2025-{i + 1:02d}" for i in range(n)], **cols})


def test_rate_lines_start_at_zero_with_round_ticks():
    # retention between 61.3 and 93.7, churn 6.3 to 38.7: 0 to 100 in steps of 20
    frame = _frame(
        retention_rate=[93.7, 80.1, 61.3], churn_rate=[6.3, 19.9, 38.7],
        reactivation_rate=[0.0, 0.0, np.nan],
    )  # fmt: skip
    fig = charts.lines(
        frame, [("retention_rate", "r"), ("churn_rate", "c"), ("reactivation_rate", "a")],
        "t", ".,", percent=True,
    )  # fmt: skip
    y = fig.layout.yaxis
    assert (tuple(y.range), y.dtick, y.tick0) == ((0, 100), 20, 0)


def test_money_lines_and_their_second_axis():
    frame = _frame(revenue=[41_234.0, 52_871.0, 47_000.0], orders=[1_310, 1_511, 1_402])
    fig = charts.lines(frame, [("revenue", "rev")], "t", ".,", secondary=[("orders", "o")])
    y, y2 = fig.layout.yaxis, fig.layout.yaxis2
    # 52,871 / 5 = 10,574 -> a step of 20,000, the top tick 60,000
    assert (tuple(y.range), y.dtick) == ((0, 60_000), 20_000)
    # 1,511 / 5 = 302 -> 500, top 2,000
    assert (tuple(y2.range), y2.dtick) == ((0, 2_000), 500)
    for axis in (y, y2):
        assert axis.range[0] == 0 and _is_round(axis.dtick)
        assert axis.range[1] % axis.dtick == 0


def test_the_flows_chart_has_lost_customers_below_zero_and_the_rest_from_zero():
    frame = _frame(
        new_customers=[120, 80, 95], reactivated_customers=[10, 25, 5],
        lost_customers=[60, 140, 70], customers_end=[2_300, 2_265, 2_295],
    )  # fmt: skip
    fig = charts.flows(frame, "t", ".,")
    assert [t.name for t in fig.data] == [
        "new (N)",
        "back after a lapse (R)",
        "lost (L)",
        "active at the end (E)",
    ]
    assert list(fig.data[1].y) == [10, 25, 5]
    bars, line = fig.layout.yaxis, fig.layout.yaxis2
    # bars from -140 to 130: a span of 270 / 5 = 54 -> steps of 100, -200 to 200
    assert (tuple(bars.range), bars.dtick, bars.tick0) == ((-200, 200), 100, 0)
    # the active customers' axis starts at 0, not at 2,265: 2,300 / 5 = 460 -> 500
    assert (tuple(line.range), line.dtick) == ((0, 2_500), 500)


def test_a_score_axis_may_go_below_zero_but_ticks_stay_round():
    frame = _frame(nps=[-12.0, 4.0], nps_n=[50, 60], nps_ci_low=[-25.0, -8.0],
                   nps_ci_high=[1.0, 16.0])  # fmt: skip
    y = charts.scores(frame, "nps", "t", ".,").layout.yaxis
    # -25 to 16: a span of 41 / 5 = 8.2 -> 10; from -30 to 20
    assert (tuple(y.range), y.dtick) == ((-30, 20), 10)


def test_histogram_and_holdout_axes_start_at_zero():
    fig = charts.histogram(pd.Series(np.arange(100.0)), "t", "x", ".,", bins=10)
    assert (tuple(fig.layout.yaxis.range), fig.layout.yaxis.dtick) == ((0, 10), 2)
    freq = pd.DataFrame({"x": [0, 1, 2], "actual": [0.2, 0.9, 1.7], "predicted": [0.25, 0.8, 1.9]})
    y = charts.by_frequency(freq, "t", ".,").layout.yaxis
    assert (tuple(y.range), y.dtick) == ((0, 2), 0.5)
