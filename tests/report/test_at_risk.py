"""The high-value customers at risk, decided by the library
(:func:`tenure.analysis.predictions.at_risk`) on ten customers worked by hand."""

from __future__ import annotations

from datetime import date

import pandas as pd

from tenure.analysis.predictions import at_risk
from tenure.predictions.scoring import Scores


def _scores(rows: list[tuple[str, float, float, int]]) -> Scores:
    customers = pd.DataFrame(
        rows, columns=["customer_id", "monetary_total", "p_alive", "recency_days"]
    )
    return Scores(customers, None, None, date(2026, 10, 31), "day", 365, 0.1, 1.0, "EUR")


def test_the_top_revenue_share_below_half_alive_within_the_window():
    rows = [
        # revenue 10..100: the 80 % quantile (linear) is 82, so the top 20 % are i, j
        ("a", 10.0, 0.1, 10), ("b", 20.0, 0.1, 10), ("c", 30.0, 0.9, 10),
        ("d", 40.0, 0.2, 10), ("e", 50.0, 0.9, 10), ("f", 60.0, 0.1, 10),
        ("g", 70.0, 0.3, 10), ("h", 80.0, 0.2, 10),
        ("i", 90.0, 0.4, 30),   # high, P(alive) under 0.5, bought 30 days ago: leaving
        ("j", 100.0, 0.2, 400),  # high, P(alive) under 0.5, past the 365-day window: lapsed
    ]  # fmt: skip
    found = at_risk(_scores(rows), top_percent=20, window_days=365)
    assert found.leaving["customer_id"].tolist() == ["i"]
    assert found.lapsed == 1
    # with the top 40 % (at or above the 60 % quantile, 64): g, h, i leaving
    # (g and h with P(alive) 0.3 and 0.2), highest revenue first
    found = at_risk(_scores(rows), top_percent=40, window_days=365)
    assert found.leaving["customer_id"].tolist() == ["i", "h", "g"]
    # P(alive) of exactly one half is not under it
    half = [(c, m, 0.5 if c == "i" else p, r) for c, m, p, r in rows]
    assert at_risk(_scores(half), top_percent=20, window_days=365).leaving.empty
