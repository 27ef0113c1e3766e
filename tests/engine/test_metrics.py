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


# The data begins more than one activity window before the periods the
# examples look at: before that, nobody could have lapsed, and churn is missing.
FOUNDER = ("founder", "2022-01-10 10:00", 10.0)


def test_design_retention_example(backend):
    """S = 100, N = 50, E = 125 gives a retention rate of 75 % (DESIGN.md)."""
    specs = [FOUNDER] + [(f"kept{i}", "2024-01-15 10:00", 10.0) for i in range(75)]
    # active through 2024-06-08 (365-day window), so lost in June
    specs += [(f"gone{i}", "2023-06-10 10:00", 10.0) for i in range(25)]
    specs += [(f"new{i}", "2024-06-15 10:00", 10.0) for i in range(50)]
    ctx = backend.context(Definitions(as_of=date(2024, 6, 30)), orders=_orders(specs))
    june = _row(period_metrics(ctx, "month"), "2024-06")
    assert (june.customers_start, june.new_customers, june.customers_end) == (100, 50, 125)
    assert (june.lost_customers, june.reactivated_customers) == (25, 0)
    assert june.retention_rate == pytest.approx(75.0)


def test_design_churn_example(backend):
    """S = 200, L = 50 gives a churn rate of 25 % (DESIGN.md)."""
    specs = [FOUNDER] + [(f"kept{i}", "2024-01-15 10:00", 10.0) for i in range(150)]
    specs += [(f"gone{i}", "2023-06-10 10:00", 10.0) for i in range(50)]
    ctx = backend.context(Definitions(as_of=date(2024, 6, 30)), orders=_orders(specs))
    june = _row(period_metrics(ctx, "month"), "2024-06")
    assert (june.customers_start, june.lost_customers) == (200, 50)
    assert june.churn_rate == pytest.approx(25.0)
    assert june.retention_rate == pytest.approx(75.0)


def _oracle(orders: pd.DataFrame, window: int, as_of: date) -> pd.DataFrame:
    """S, N, E, L, R per month by walking every customer's purchase days in Python."""
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
        n = {c for c in e - s if m <= min(days[c]) <= end}
        r = {c for c in e - s if min(days[c]) < m}
        rows.append((m.strftime("%Y-%m"), len(s), len(n), len(e), len(s - e), len(r)))
        m = nxt
    columns = ["customers_start", "new_customers", "customers_end", "lost_customers"]
    return pd.DataFrame(rows, columns=["period", *columns, "reactivated_customers"])


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
    assert got["lost_customers"].sum() > 0 and got["reactivated_customers"].sum() > 0
    if window > 31:  # nobody can be first active and gone within one month
        assert got["new_customers"].sum() == 40


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
    specs = [FOUNDER] + [(f"c{i}", "2024-01-10 10:00", 10.0) for i in range(3)]
    specs += [("lost", "2023-06-20 10:00", 10.0)]
    specs += [("c0", "2024-06-10 10:00", 70.0)]
    ctx = backend.context(Definitions(as_of=date(2024, 6, 30)), orders=_orders(specs))
    june = _row(period_metrics(ctx, "month"), "2024-06")
    assert (june.customers_start, june.customers_end, june.lost_customers) == (4, 4 - 1, 1)
    # V = 70 / ((4 + 3) / 2) = 20 per active customer; L = 1 / 0.25 = 4 months
    assert june.historic_clv == pytest.approx(80.0)
    may = _row(period_metrics(ctx, "month"), "2024-05")
    assert np.isnan(may.historic_clv) and "unbounded" in may.missing["historic_clv"]


def test_flows_by_hand_with_reactivation(backend):
    """A 30-day window, four customers, counts worked out on paper.

    a: buys 2024-01-05 and 2024-03-10: active to 02-03, lost in February,
       back in March (active 03-10 to 04-08), lost in April.
    b: buys 2024-01-20 and 2024-02-15: active 01-20 to 03-15 in one spell,
       lost in March.
    c: buys 2024-02-03 and 2024-02-08: first active in February, gone on
       03-09; never active at a month end after February.
    d: buys 2024-03-02, and 2024-03-03: active to 04-01; new in March, still
       active at the end of March (and of no month after).
    """
    specs = [
        ("a", "2024-01-05 10:00", 10.0), ("a", "2024-03-10 10:00", 10.0),
        ("b", "2024-01-20 10:00", 10.0), ("b", "2024-02-15 10:00", 10.0),
        ("c", "2024-02-03 10:00", 10.0), ("c", "2024-02-08 10:00", 10.0),
        ("d", "2024-03-02 10:00", 10.0), ("d", "2024-03-03 10:00", 10.0),
    ]  # fmt: skip
    ctx = backend.context(
        Definitions(activity_window=30, as_of=date(2024, 5, 31)), orders=_orders(specs)
    )
    m = period_metrics(ctx, "month")
    cols = ["customers_start", "customers_end", "new_customers", "lost_customers",
            "reactivated_customers"]  # fmt: skip
    got = {r.period: tuple(int(v) for v in r[cols]) for _, r in m.iterrows()}
    #                 S  E  N  L  R
    assert got == {
        "2024-01": (0, 2, 2, 0, 0),  # a and b new
        "2024-02": (2, 2, 1, 1, 0),  # a lost, c new, b kept
        "2024-03": (2, 2, 1, 2, 1),  # b and c lost, a back, d new
        "2024-04": (2, 0, 0, 2, 0),  # a and d lost
        "2024-05": (0, 0, 0, 0, 0),
    }
    for s, e, n, lost, r in got.values():
        assert s - lost + n + r == e
    march = _row(m, "2024-03")
    # retention (E - N) / S = (2 - 1) / 2; churn 2 / 2; reactivation 1 / 2
    assert (march.retention_rate, march.churn_rate, march.reactivation_rate) == (50.0, 100.0, 50.0)
    # the first purchase is 2024-01-05: February starts less than 30 days after
    feb = _row(m, "2024-02")
    assert math.isnan(feb.churn_rate) and math.isnan(feb.retention_rate)
    assert "30-day activity window" in feb.missing["churn_rate"]
    assert "2024-02-04" in feb.missing["reactivation_rate"]


@pytest.mark.parametrize(
    ("start", "counts"),
    [
        # at the end of 01-31 a and b are active; at the end of 03-31 a and d: b is
        # lost, d is new (c came and went), a was active at both ends
        (date(2024, 1, 31), (2, 2, 1, 1, 0)),
        # at the end of 02-29 b and c: both lost; a is back, d is new
        (date(2024, 2, 29), (2, 2, 1, 2, 1)),
    ],
)
def test_window_counts_by_hand(backend, start, counts):
    """S, E, N, L, R between two days (the twelve-month retention's counts),
    on the event list of the test above."""
    from tenure.engine.activity import window_counts
    from tenure.engine.periods import day_number

    specs = [
        ("a", "2024-01-05 10:00", 10.0), ("a", "2024-03-10 10:00", 10.0),
        ("b", "2024-01-20 10:00", 10.0), ("b", "2024-02-15 10:00", 10.0),
        ("c", "2024-02-03 10:00", 10.0), ("c", "2024-02-08 10:00", 10.0),
        ("d", "2024-03-02 10:00", 10.0), ("d", "2024-03-03 10:00", 10.0),
    ]  # fmt: skip
    ctx = backend.context(
        Definitions(activity_window=30, as_of=date(2024, 5, 31)), orders=_orders(specs)
    )
    got = window_counts(ctx, day_number(start), day_number(date(2024, 3, 31)))
    keys = ("customers_start", "customers_end", "new_customers", "lost_customers",
            "reactivated_customers")  # fmt: skip
    assert tuple(got[k] for k in keys) == counts


def test_no_churn_before_one_window_has_passed(backend):
    """With a 365-day window nobody who bought can be lost in the data's
    first year: those periods have no retention, churn or CLV, with the
    reason; the first period starting a window after the first purchase has."""
    specs = [("a", "2023-03-15 10:00", 10.0), ("b", "2023-05-01 10:00", 10.0)]
    specs += [("b", "2024-04-20 10:00", 10.0)]
    ctx = backend.context(Definitions(as_of=date(2024, 6, 30)), orders=_orders(specs))
    m = period_metrics(ctx, "month").set_index("period")
    early = m.loc["2023-04":"2024-03"]
    assert early["churn_rate"].isna().all() and early["retention_rate"].isna().all()
    assert early["historic_clv"].isna().all()
    for why in early["missing"]:
        assert why["churn_rate"] == why["retention_rate"] == why["historic_clv"]
        # 2023-03-15 + 365 days is 2024-03-14 (2024 is a leap year)
        assert "2023-03-15" in why["churn_rate"] and "2024-03-14" in why["churn_rate"]
    # 2024-04 starts 383 days after the first purchase. a, active to 2024-03-13,
    # was lost in March; b's second purchase carries them on: S = 1, E = 1
    april = m.loc["2024-04"]
    assert (april.customers_start, april.lost_customers, april.churn_rate) == (1, 0, 0.0)
    assert april.retention_rate == 100.0 and "churn_rate" not in april.missing


@pytest.fixture(scope="module")
def demo_settings(tmp_path_factory):
    """The demo business (orders and subscriptions), 300 customers, in a store."""
    from tenure.config import load_settings
    from tenure.datasets.demo import generate_demo
    from tenure.ingestion.pipeline import ingest
    from tenure.store.workspace import Workspace

    folder = tmp_path_factory.mktemp("flows")
    files = generate_demo(folder / "files", customers=300, seed=3)
    settings = load_settings(store=folder / "store", reporting_currency="EUR")
    with Workspace.open(settings) as ws:
        for kind in ("fx_rates", "customers", "orders", "subscriptions"):
            ingest(kind, files.by_kind()[kind], workspace=ws)
    return settings


@pytest.mark.parametrize("active_by", ["purchase", "subscription", "either"])
@pytest.mark.parametrize(("period", "window"), [("month", 365), ("quarter", 60), ("year", 30)])
def test_every_period_reconciles_on_the_demo(demo_settings, active_by, period, window):
    """S - L + N + R = E in every row, whatever the definition; so retention
    = 100 - churn + reactivation and is never below 0."""
    from tenure.engine.context import Context
    from tenure.engine.source import open_source

    defs = Definitions(activity_window=window, active_by=active_by)
    with open_source(demo_settings) as src:
        m = period_metrics(Context(src, defs), period)
    s, e = m["customers_start"], m["customers_end"]
    n, lost, r = m["new_customers"], m["lost_customers"], m["reactivated_customers"]
    assert ((s - lost + n + r) == e).all()
    assert (n >= 0).all() and (r >= 0).all() and (lost <= s).all()
    rated = m.dropna(subset=["retention_rate"])
    assert len(rated) > 0
    np.testing.assert_allclose(
        rated["retention_rate"], 100 - rated["churn_rate"] + rated["reactivation_rate"]
    )
    assert (rated["retention_rate"] >= 0).all()
    if active_by == "subscription":  # periods are held back only for purchases
        assert not any("activity window" in str(w) for w in m["missing"])


def test_spells_of_purchase_days_worked_by_hand(backend):
    """With a 10-day window, a purchase day d keeps its customer active from
    d to d + 9: days that overlap or touch (the next starts the day after
    one ends) make one spell, a gap starts another."""
    from tenure.engine.activity import spells

    specs = [
        ("a", "2024-01-01 09:00", 5.0), ("a", "2024-01-05 23:00", 5.0),  # overlap
        ("a", "2024-01-11 08:00", 5.0),  # touches Jan 1-10: one spell to Jan 20
        ("a", "2024-01-22 12:00", 5.0),  # after a one-day gap (Jan 21)
        ("a", "2024-02-20 10:00", 5.0), ("a", "2024-02-20 18:00", 5.0),  # one day, two orders
        ("b", "2024-03-03 10:00", 5.0),  # a single day
        ("c", "2024-01-01 10:00", 5.0), ("c", "2024-01-02 10:00", 5.0),
        ("c", "2024-01-03 10:00", 5.0),
    ]  # fmt: skip
    defs = Definitions(as_of=date(2024, 3, 31), activity_window=10, active_by="purchase")
    ctx = backend.context(defs, orders=_orders(specs))
    got = spells(ctx).to_pandas()
    got = sorted(
        (r.customer_id, pd.Timestamp(r.start_date).date(), pd.Timestamp(r.end_date).date(),
         r.end_day - r.start_day)
        for r in got.itertuples()
    )  # fmt: skip
    d = date
    assert got == [
        ("a", d(2024, 1, 1), d(2024, 1, 20), 19),
        ("a", d(2024, 1, 22), d(2024, 1, 31), 9),
        ("a", d(2024, 2, 20), d(2024, 2, 29), 9),
        ("b", d(2024, 3, 3), d(2024, 3, 12), 9),
        ("c", d(2024, 1, 1), d(2024, 1, 12), 11),
    ]
