"""Period metrics on worked examples, on every engine."""

from __future__ import annotations

import math
import random
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from tenure.engine.context import Definitions
from tenure.engine.metrics import period_metrics
from tests.engine.conftest import orders_frame


def _orders(specs: list[tuple[str, str, float]], status: list[str] | None = None) -> pd.DataFrame:
    rows = [(f"o{i}", c, ts, amt) for i, (c, ts, amt) in enumerate(specs)]
    frame = orders_frame(rows)
    if status is not None:
        frame["status"] = status
    return frame


def _row(frame: pd.DataFrame, period: str) -> pd.Series:
    return frame.set_index("period").loc[period]


def test_design_retention_example(backend):
    """S = 100, N = 50, E = 125 gives a retention rate of 75 % (DESIGN.md)."""
    specs = [(f"kept{i}", "2024-01-15 10:00", 10.0) for i in range(75)]
    # active through 2024-06-08 (365-day window), so lost in June
    specs += [(f"gone{i}", "2023-06-10 10:00", 10.0) for i in range(25)]
    specs += [(f"new{i}", "2024-06-15 10:00", 10.0) for i in range(50)]
    ctx = backend.context(Definitions(as_of=date(2024, 6, 30)), orders=_orders(specs))
    june = _row(period_metrics(ctx, "month"), "2024-06")
    assert (june.customers_start, june.new_customers, june.customers_end) == (100, 50, 125)
    assert june.lost_customers == 25
    assert june.retention_rate == pytest.approx(75.0)


def test_design_churn_example(backend):
    """S = 200, L = 50 gives a churn rate of 25 % (DESIGN.md)."""
    specs = [(f"kept{i}", "2024-01-15 10:00", 10.0) for i in range(150)]
    specs += [(f"gone{i}", "2023-06-10 10:00", 10.0) for i in range(50)]
    ctx = backend.context(Definitions(as_of=date(2024, 6, 30)), orders=_orders(specs))
    june = _row(period_metrics(ctx, "month"), "2024-06")
    assert (june.customers_start, june.lost_customers) == (200, 50)
    assert june.churn_rate == pytest.approx(25.0)
    assert june.retention_rate == pytest.approx(75.0)


def _oracle(orders: pd.DataFrame, window: int, as_of: date) -> pd.DataFrame:
    """S, N, E, L per month by walking every customer's purchase days in Python."""
    days: dict[str, set[date]] = {}
    for c, ts in zip(orders.customer_id, orders.placed_at, strict=True):
        if ts.date() <= as_of:
            days.setdefault(c, set()).add(ts.date())

    def active(c: str, d: date) -> bool:
        return any(d - timedelta(days=window - 1) <= p <= d for p in days[c])

    first_month = min(min(v) for v in days.values()).replace(day=1)
    rows = []
    m = first_month
    while True:
        nxt = (m + timedelta(days=32)).replace(day=1)
        end = nxt - timedelta(days=1)
        if end > as_of:
            break
        before = m - timedelta(days=1)
        s = {c for c in days if active(c, before)}
        e = {c for c in days if active(c, end)}
        n = {c for c in days if m <= min(days[c]) <= end}
        rows.append((m.strftime("%Y-%m"), len(s), len(n), len(e), len(s - e)))
        m = nxt
    return pd.DataFrame(
        rows,
        columns=["period", "customers_start", "new_customers", "customers_end", "lost_customers"],
    )


# a window shorter than a month makes spells that cover no month end
@pytest.mark.parametrize(("seed", "window"), [(1, 45), (2, 90), (3, 6)])
def test_active_counts_match_a_day_by_day_oracle(backend, seed, window):
    rng = random.Random(seed)
    specs = []
    for c in range(40):
        start = date(2023, 1, 1) + timedelta(days=rng.randrange(500))
        for _ in range(rng.choice([1, 1, 2, 3, 6, 12])):
            d = start + timedelta(days=rng.randrange(0, 300 if window > 10 else 60))
            specs.append((f"c{c}", f"{d} {rng.randrange(24):02d}:00", 5.0))
    as_of = date(2024, 12, 31)
    orders = _orders(specs)
    got = period_metrics(
        backend.context(Definitions(activity_window=window, as_of=as_of), orders=orders)
    )
    want = _oracle(orders, window, as_of)
    cols = list(want.columns)
    pd.testing.assert_frame_equal(got[cols].reset_index(drop=True), want, check_dtype=False)
    assert got["lost_customers"].sum() > 0 and got["new_customers"].sum() == 40


def test_order_metrics_by_hand(backend):
    # January: c1 orders twice (100 + 50), c2 once (30), c3's order is refunded.
    # February: c2 again (20), c4 cancelled. March: nothing.
    specs = [
        ("c1", "2024-01-03 10:00", 100.0),
        ("c1", "2024-01-20 10:00", 50.0),
        ("c2", "2024-01-10 10:00", 30.0),
        ("c3", "2024-01-11 10:00", 70.0),
        ("c2", "2024-02-05 10:00", 20.0),
        ("c4", "2024-02-06 10:00", 99.0),
    ]
    status = ["completed", "completed", "completed", "refunded", "completed", "cancelled"]
    ctx = backend.context(Definitions(as_of=date(2024, 3, 31)), orders=_orders(specs, status))
    m = period_metrics(ctx, "month").set_index("period")
    jan, feb, mar = m.loc["2024-01"], m.loc["2024-02"], m.loc["2024-03"]
    assert (jan.orders, jan.revenue, jan.customers_ordering) == (3, 180.0, 2)
    assert jan.aov == pytest.approx(60.0)
    assert jan.purchase_frequency == pytest.approx(1.5)
    assert jan.repeat_purchase_rate == pytest.approx(50.0)  # c1 has 2 orders by Jan 31
    assert jan.repeat_revenue_share == pytest.approx(50 / 180 * 100)
    assert jan.new_customers == 2  # the refunded c3 was not acquired
    assert (feb.orders, feb.revenue) == (1, 20.0)
    assert feb.repeat_purchase_rate == pytest.approx(100.0)
    assert feb.repeat_revenue_share == pytest.approx(100.0)
    # an empty period: counts are 0, ratios are missing with the reason
    assert (mar.orders, mar.revenue) == (0, 0.0)
    assert math.isnan(mar.aov)
    assert mar.missing["aov"] == "no orders in this period"
    # no customers table with referrals, no surveys, no subscriptions: missing, never 0
    assert math.isnan(jan.referral_rate) and "referred_by" in jan.missing["referral_rate"]
    assert math.isnan(jan.nps) and jan.missing["nps"] == "no survey answers in the data"
    assert math.isnan(jan.mrr) and jan.missing["mrr"] == "no subscriptions in the data"


def test_time_zone_decides_the_month(backend):
    # 23:30 UTC on 31 January is 00:30 on 1 February in Berlin
    specs = [("c1", "2024-01-31 23:30", 10.0), ("c2", "2024-01-15 12:00", 10.0)]
    orders = _orders(specs)
    utc = period_metrics(backend.context(Definitions(as_of=date(2024, 2, 29)), orders=orders))
    berlin = period_metrics(
        backend.context(
            Definitions(timezone="Europe/Berlin", as_of=date(2024, 2, 29)), orders=orders
        )
    )
    assert list(utc["orders"]) == [2, 0]
    assert list(berlin["orders"]) == [1, 1]
    assert list(berlin["new_customers"]) == [1, 1]


def test_period_boundary_and_quarters(backend):
    specs = [
        ("c1", "2024-03-31 23:59:59", 10.0),  # last second of Q1
        ("c2", "2024-04-01 00:00:00", 20.0),  # first second of Q2
        ("c3", "2024-06-30 12:00:00", 30.0),
    ]
    ctx = backend.context(Definitions(as_of=date(2024, 7, 15)), orders=_orders(specs))
    q = period_metrics(ctx, "quarter")
    assert list(q["period"]) == ["2024-Q1", "2024-Q2"]  # Q3 is not complete
    assert list(q["revenue"]) == [10.0, 50.0]
    assert list(q["new_customers"]) == [1, 2]
    y = period_metrics(
        backend.context(Definitions(as_of=date(2024, 12, 31)), orders=_orders(specs)), "year"
    )
    assert list(y["period"]) == ["2024"] and y["orders"].iat[0] == 3


def test_historic_clv(backend):
    # 4 customers active all of 2024-06 except one lost: S = 4, E = 3, L = 1
    specs = [(f"c{i}", "2024-01-10 10:00", 10.0) for i in range(3)]
    specs += [("lost", "2023-06-20 10:00", 10.0)]
    specs += [("c0", "2024-06-10 10:00", 70.0)]
    ctx = backend.context(Definitions(as_of=date(2024, 6, 30)), orders=_orders(specs))
    june = _row(period_metrics(ctx, "month"), "2024-06")
    assert (june.customers_start, june.customers_end, june.lost_customers) == (4, 4 - 1, 1)
    # V = 70 / ((4 + 3) / 2) = 20 per active customer; L = 1 / 0.25 = 4 months
    assert june.historic_clv == pytest.approx(80.0)
    may = _row(period_metrics(ctx, "month"), "2024-05")
    assert np.isnan(may.historic_clv) and "unbounded" in may.missing["historic_clv"]
