"""Charts whose data is made on the server: what the page carries."""

from __future__ import annotations

import numpy as np
import pandas as pd

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
