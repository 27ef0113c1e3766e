"""Cohort triangles and per-customer summaries as literal values from tiny
order lists, on every engine."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from tenure.engine.cohorts import cohort_matrix
from tenure.engine.context import Definitions
from tenure.engine.summaries import customer_summary
from tests.engine.conftest import orders_frame

N = np.nan

# Cohort 2024-01: a, b, c. Cohort 2024-02: d, e. Cohort 2024-03: f.
# a buys in Jan, Feb, Mar; b in Jan and Mar; c only in Jan; d in Feb and Mar;
# e only in Feb (plus a refunded order in Mar, which does not count); f in Mar.
ORDERS = [
    ("o1", "a", "2024-01-05 10:00", 10.0),
    ("o2", "b", "2024-01-06 10:00", 20.0),
    ("o3", "c", "2024-01-31 22:00", 30.0),
    ("o4", "a", "2024-02-02 10:00", 5.0),
    ("o5", "d", "2024-02-10 10:00", 40.0),
    ("o6", "e", "2024-02-11 10:00", 50.0),
    ("o7", "a", "2024-03-01 10:00", 15.0),
    ("o8", "b", "2024-03-03 10:00", 25.0),
    ("o9", "d", "2024-03-04 10:00", 60.0),
    ("o10", "e", "2024-03-05 10:00", 99.0),
    ("o11", "f", "2024-03-30 10:00", 70.0),
]
STATUS = ["completed"] * 9 + ["refunded", "completed"]


def _orders() -> pd.DataFrame:
    frame = orders_frame(ORDERS)
    frame["status"] = STATUS
    return frame


@pytest.fixture
def ctx(backend):
    return backend.context(Definitions(as_of=date(2024, 3, 31)), orders=_orders())


def _values(matrix: pd.DataFrame) -> list[list[float]]:
    return matrix.drop(columns=["cohort", "size"]).to_numpy(dtype="float64").tolist()


def test_cohort_triangles(ctx):
    customers = cohort_matrix(ctx, "month", "customers")
    assert list(customers["cohort"]) == ["2024-01", "2024-02", "2024-03"]
    assert list(customers["size"]) == [3, 2, 1]
    # Jan: 3/3; Feb: a -> 1/3; Mar: a, b -> 2/3. Feb cohort: 2/2, then d -> 1/2.
    np.testing.assert_allclose(
        _values(customers),
        [[100.0, 100 / 3, 200 / 3], [100.0, 50.0, N], [100.0, N, N]],
    )
    revenue = cohort_matrix(ctx, "month", "revenue")
    # Jan cohort revenue: 60, 5, 40 -> 100 %, 5/60, 40/60. Feb: 90, 60 (e's refund left out).
    np.testing.assert_allclose(
        _values(revenue),
        [[100.0, 5 / 60 * 100, 40 / 60 * 100], [100.0, 60 / 90 * 100, N], [100.0, N, N]],
    )
    cumulative = cohort_matrix(ctx, "month", "cumulative_revenue")
    np.testing.assert_allclose(
        _values(cumulative), [[20.0, 65 / 3, 35.0], [45.0, 75.0, N], [70.0, N, N]]
    )


def test_cohorts_by_an_attribute_pool_the_cohorts_that_reached_each_period(backend):
    customers = pd.DataFrame(
        {"customer_id": list("abcdef"), "country": ["DE", "DE", "FR", "DE", "FR", None]}
    )
    ctx = backend.context(
        Definitions(as_of=date(2024, 3, 31)), orders=_orders(), customers=customers
    )
    m = cohort_matrix(ctx, "month", "customers", by="country").set_index("cohort")
    # DE: a, b (Jan), d (Feb). Period 1: a yes, b no, d yes -> 2/3. Period 2 only
    # the Jan cohort has reached it: a and b -> 2/2.
    assert m.loc["DE", "size"] == 3
    np.testing.assert_allclose(
        m.loc["DE", [0, 1, 2]].to_numpy(dtype=float), [100.0, 200 / 3, 100.0]
    )
    # FR: c (Jan), e (Feb): period 1: neither -> 0 %, period 2: c no -> 0 %
    np.testing.assert_allclose(m.loc["FR", [0, 1, 2]].to_numpy(dtype=float), [100.0, 0.0, 0.0])
    assert m.loc["(none)", "size"] == 1  # f has no country


def test_customer_summary_by_hand(ctx):
    s = customer_summary(ctx).to_pandas().set_index("customer_id")
    a = s.loc["a"]
    # a: purchase days Jan 5, Feb 2, Mar 1 (as-of Mar 31)
    assert (a.orders, a.purchase_days, a.x) == (3, 3, 2)
    assert a.t_x == (date(2024, 3, 1) - date(2024, 1, 5)).days == 56
    assert a["T"] == (date(2024, 3, 31) - date(2024, 1, 5)).days == 86
    assert a.recency_days == 30
    assert a.monetary_total == pytest.approx(30.0)
    assert a.monetary_avg_repeat == pytest.approx(10.0)  # (5 + 15) / 2
    assert a.cohort == "2024-01" and bool(a.active)
    e = s.loc["e"]
    # e's March order was refunded: one purchase, one refund
    assert (e.orders, e.x, e.refunded_orders, e.refunded_amount) == (1, 0, 1, 99.0)
    assert np.isnan(e.monetary_avg_repeat)
    weeks = customer_summary(ctx, time_unit="week").to_pandas().set_index("customer_id")
    # exact on every engine (Spark rounds a decimal division to 6 places)
    assert weeks.loc["a", "t_x"] == 56 / 7
    assert weeks.loc["a", "T"] == 86 / 7
    quarters = customer_summary(ctx, cohort_period="quarter").to_pandas()
    assert set(quarters["cohort"]) == {"2024-Q1"}


def test_two_orders_on_one_day_are_one_purchase_day(backend):
    orders = orders_frame(
        [
            ("o1", "a", "2024-01-05 09:00", 10.0),
            ("o2", "a", "2024-01-05 18:00", 20.0),
            ("o3", "a", "2024-01-09 10:00", 30.0),
        ]
    )
    s = customer_summary(backend.context(Definitions(as_of=date(2024, 1, 31)), orders=orders))
    row = s.to_pandas().iloc[0]
    assert (row.orders, row.purchase_days, row.x, row.t_x, row["T"]) == (3, 2, 1, 4.0, 26.0)


def test_a_customer_whose_first_order_is_a_refund_is_acquired_by_the_next(backend):
    orders = orders_frame(
        [("o1", "z", "2024-01-10 10:00", 50.0), ("o2", "z", "2024-02-10 10:00", 20.0)]
    )
    orders["status"] = ["refunded", "completed"]
    ctx = backend.context(Definitions(as_of=date(2024, 2, 29)), orders=orders)
    row = customer_summary(ctx).to_pandas().iloc[0]
    assert (row.cohort, row.orders, row.x, row["T"], row.refunded_orders) == (
        "2024-02",
        1,
        0,
        19.0,
        1,
    )
    m = cohort_matrix(ctx, "month", "customers")
    assert list(m["cohort"]) == ["2024-02"]


def test_first_category_is_the_largest_line_of_the_first_purchase(backend):
    orders = orders_frame(
        [("o1", "a", "2024-01-05 10:00", 30.0), ("o2", "a", "2024-01-20 10:00", 90.0),
         ("o3", "b", "2024-01-06 10:00", 20.0)]
    )  # fmt: skip
    items = pd.DataFrame(
        {
            "order_id": ["o1", "o1", "o2", "o3", "o3"],
            "product_id": ["p1", "p2", "p3", "p4", "p5"],
            "category": ["shoes", "home", "sports", "home", "apparel"],
            "quantity": [1, 2, 1, 1, 1],
            "unit_price": [10.0, 10.0, 90.0, 10.0, 10.0],
        }
    )
    ctx = backend.context(Definitions(as_of=date(2024, 1, 31)), orders=orders, order_items=items)
    s = customer_summary(ctx).to_pandas().set_index("customer_id")
    # a's first order: shoes 10, home 2 x 10 = 20 -> home. b: a tie of 10 and 10 -> apparel
    assert s.loc["a", "first_category"] == "home"
    assert s.loc["b", "first_category"] == "apparel"


def test_btyd_statistics_are_the_summary_counted(backend):
    from tenure.engine.summaries import btyd_statistics

    orders = orders_frame(
        [
            ("o1", "a", "2024-01-05 10:00", 10.0),
            ("o2", "a", "2024-01-09 10:00", 10.0),
            ("o3", "b", "2024-01-05 11:00", 10.0),
            ("o4", "b", "2024-01-09 12:00", 10.0),
            ("o5", "c", "2024-01-20 10:00", 10.0),
        ]
    )
    ctx = backend.context(Definitions(as_of=date(2024, 1, 31)), orders=orders)
    stats = btyd_statistics(ctx, time_unit="week").to_pandas().sort_values("x", ignore_index=True)
    # a and b share x = 1, t_x = 4 days, T = 26 days; c has x = 0, T = 11 days
    assert stats.to_dict("records") == [
        {"x": 0, "t_x": 0.0, "T": 11 / 7, "weight": 1},
        {"x": 1, "t_x": 4 / 7, "T": 26 / 7, "weight": 2},
    ]
