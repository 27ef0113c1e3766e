"""Survey scores and subscription metrics on worked examples, on every engine.

Every expected value is worked out by hand in the comments; the intervals
are recomputed here from their textbook formulas, not taken from the module.
"""

from __future__ import annotations

import math
from datetime import date
from statistics import NormalDist

import pandas as pd
import pytest

from tenure.engine import surveys
from tenure.engine.context import Context, Definitions
from tenure.engine.metrics import period_metrics
from tests.engine.conftest import orders_frame

Z = NormalDist().inv_cdf(0.975)  # 1.95996...
T_975_4 = 2.776  # Student's t, 0.975 quantile, 4 degrees of freedom (printed tables)


def _nps_interval(n: int, promoters: int, detractors: int) -> tuple[float, float]:
    """The normal interval of a difference of two shares of one multinomial sample."""
    p, d = promoters / n, detractors / n
    se = 100 * math.sqrt((p + d - (p - d) ** 2) / n)
    score = 100 * (p - d)
    return max(-100.0, score - Z * se), min(100.0, score + Z * se)


def _orders(specs: list[tuple[str, str, float]], status: list[str] | None = None) -> pd.DataFrame:
    frame = orders_frame([(f"o{i}", c, ts, amt) for i, (c, ts, amt) in enumerate(specs)])
    if status is not None:
        frame["status"] = status
    return frame


def _answers(specs: list[tuple[str, str, float, str]]) -> pd.DataFrame:
    """Survey answers from (customer, kind, score, answered_at)."""
    return pd.DataFrame(
        {
            "response_id": [f"r{i}" for i in range(len(specs))],
            "customer_id": [s[0] for s in specs],
            "kind": [s[1] for s in specs],
            "score": [float(s[2]) for s in specs],
            "answered_at": pd.to_datetime([s[3] for s in specs]),
        }
    )


def _subscriptions(
    specs: list[tuple[str, str, str | None, float | None]], *, with_mrr: bool = True
) -> pd.DataFrame:
    """Subscriptions from (customer, started_at, ended_at or None, mrr)."""
    frame = pd.DataFrame(
        {
            "subscription_id": [f"s{i}" for i in range(len(specs))],
            "customer_id": [s[0] for s in specs],
            "started_at": pd.to_datetime([s[1] for s in specs]),
            "ended_at": pd.to_datetime([s[2] for s in specs]),
        }
    )
    if with_mrr:
        frame["mrr"] = [s[3] for s in specs]
    return frame


def _by_period(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.set_index("period")


# -- the score functions ------------------------------------------------------


def test_nps_function():
    # 10 answers: 5 promoters, 2 detractors -> 50 % - 20 % = 30
    # variance term (0.5 + 0.2 - 0.3^2) / 10 = 0.061, se = 100 * sqrt(0.061) = 24.698
    # 30 -/+ 1.95996 * 24.698 = [-18.408, 78.408]
    score, low, high = surveys.nps(10, 5, 2)
    assert score == pytest.approx(30.0)
    assert (low, high) == pytest.approx(_nps_interval(10, 5, 2))
    assert (low, high) == pytest.approx((-18.4075, 78.4075), abs=1e-3)
    # all promoters: 100 with no spread at all
    assert surveys.nps(4, 4, 0) == pytest.approx((100.0, 100.0, 100.0))
    # all detractors: -100
    assert surveys.nps(3, 0, 3) == pytest.approx((-100.0, -100.0, -100.0))
    # 1 promoter of 2: 50, se = 100 * sqrt((0.5 - 0.25) / 2) = 35.36, 50 + 69.3 clipped to 100
    score, low, high = surveys.nps(2, 1, 0)
    assert score == pytest.approx(50.0)
    assert low == pytest.approx(50 - Z * 100 * math.sqrt(0.125))  # -19.30
    assert high == 100.0


def test_csat_function():
    # 8 satisfied of 10, Wilson 95 %: centre (0.8 + z^2/20) / (1 + z^2/10) = 0.7167,
    # half-width z * sqrt(0.8 * 0.2 / 10 + z^2 / 400) / (1 + z^2/10) = 0.2266,
    # so [0.4902, 0.9433]
    score, low, high = surveys.csat(10, 8)
    assert score == pytest.approx(80.0)
    assert low == pytest.approx(49.02, abs=0.01)
    assert high == pytest.approx(94.33, abs=0.01)
    # 10 of 10: lower bound n / (n + z^2) = 10 / 13.8415 = 0.7225, upper 1
    score, low, high = surveys.csat(10, 10)
    assert score == pytest.approx(100.0)
    assert low == pytest.approx(100 * 10 / (10 + Z**2))
    assert high == pytest.approx(100.0)
    # 0 of 10: lower 0, upper z^2 / (n + z^2) = 0.2775
    score, low, high = surveys.csat(10, 0)
    assert (score, low) == (0.0, 0.0)
    assert high == pytest.approx(100 * Z**2 / (10 + Z**2))


def test_ces_function():
    # scores 5, 6, 7, 4, 3: mean 5, deviations 0, 1, 2, -1, -2, sum of squares 10,
    # variance 10 / 4 = 2.5, se = sqrt(2.5 / 5) = 0.7071, half = 2.776 * 0.7071 = 1.963
    total, squares = 5 + 6 + 7 + 4 + 3, 25 + 36 + 49 + 16 + 9
    mean, low, high = surveys.ces(5, total, squares)
    assert mean == pytest.approx(5.0)
    assert low == pytest.approx(5 - T_975_4 * math.sqrt(0.5), abs=1e-3)  # 3.037
    assert high == pytest.approx(5 + T_975_4 * math.sqrt(0.5), abs=1e-3)  # 6.963
    # all answers equal: no spread, the interval is the point
    assert surveys.ces(3, 18.0, 108.0) == pytest.approx((6.0, 6.0, 6.0))
    # one answer: a mean, but no interval
    mean, low, high = surveys.ces(1, 6.0, 36.0)
    assert mean == 6.0 and math.isnan(low) and math.isnan(high)


# -- surveys through the engine ---------------------------------------------


def test_survey_metrics_by_hand(backend):
    # 20 customers buy in January, 5 more in February; a 365-day window keeps
    # them all active: E = 20 at the end of January, 25 at the end of February.
    specs = [(f"c{i:02d}", "2024-01-05 10:00", 10.0) for i in range(20)]
    specs += [(f"n{i}", "2024-02-10 10:00", 10.0) for i in range(5)]
    # January: 10 NPS answers from c00..c09 -- promoters 10, 10, 9, 9, 9;
    # passives 8, 7, 7; detractors 6, 0 -- and 5 CES answers from c00..c04.
    nps_scores = [10, 10, 9, 9, 9, 8, 7, 7, 6, 0]
    answers = [(f"c{i:02d}", "nps", s, "2024-01-20 09:00") for i, s in enumerate(nps_scores)]
    answers += [(f"c{i:02d}", "ces", s, "2024-01-25 09:00") for i, s in enumerate([5, 6, 7, 4, 3])]
    # February: only CSAT, 10 answers from 9 customers (c18 answers twice);
    # 8 of them are 4 or 5.
    csat_scores = [5, 5, 5, 4, 4, 4, 4, 4, 3, 1]
    who = [f"c{i:02d}" for i in range(10, 19)] + ["c18"]
    answers += [(c, "csat", s, "2024-02-15 09:00") for c, s in zip(who, csat_scores, strict=True)]
    # answered after the as-of day: not seen
    answers += [("c00", "nps", 0, "2024-03-01 09:00")]
    ctx = backend.context(
        Definitions(as_of=date(2024, 2, 29)),
        orders=_orders(specs),
        survey_responses=_answers(answers),
    )
    m = _by_period(period_metrics(ctx, "month"))
    assert list(m.index) == ["2024-01", "2024-02"]
    jan, feb = m.loc["2024-01"], m.loc["2024-02"]

    # NPS: (5 - 2) / 10 = 30
    assert jan.nps == pytest.approx(30.0)
    assert jan.nps_n == 10
    assert (jan.nps_ci_low, jan.nps_ci_high) == pytest.approx(_nps_interval(10, 5, 2))
    # CES: mean 5, t interval 5 -/+ 2.776 * sqrt(2.5 / 5)
    assert jan.ces == pytest.approx(5.0)
    assert jan.ces_n == 5
    assert jan.ces_ci_low == pytest.approx(5 - T_975_4 * math.sqrt(0.5), abs=1e-3)
    assert jan.ces_ci_high == pytest.approx(5 + T_975_4 * math.sqrt(0.5), abs=1e-3)
    # no CSAT in January
    assert math.isnan(jan.csat) and jan.csat_n == 0
    assert jan.missing["csat"] == "no csat answers in this period"

    # February: CSAT 8 / 10 = 80 %, Wilson [49.02, 94.33]
    assert feb.csat == pytest.approx(80.0)
    assert feb.csat_n == 10
    assert feb.csat_ci_low == pytest.approx(49.02, abs=0.01)
    assert feb.csat_ci_high == pytest.approx(94.33, abs=0.01)
    # no NPS and no CES in February: missing, never 0
    assert math.isnan(feb.nps) and feb.nps_n == 0
    assert math.isnan(feb.nps_ci_low) and math.isnan(feb.nps_ci_high)
    assert feb.missing["nps"] == "no nps answers in this period"
    assert math.isnan(feb.ces) and feb.missing["ces"] == "no ces answers in this period"

    # response rate = customers who answered / customers active at the end
    assert (jan.customers_end, feb.customers_end) == (20, 25)
    assert jan.survey_response_rate == pytest.approx(10 / 20 * 100)  # 50 %
    assert feb.survey_response_rate == pytest.approx(9 / 25 * 100)  # 36 %
    assert "survey_response_rate" not in jan.missing


# -- subscriptions ----------------------------------------------------------

# MRR per customer at each month end (a subscription is active at the end of
# every day from its start day to the day before its end):
#
#   customer  Dec 31  Jan 31  Feb 29  Mar 31
#   A         100     100     150     150    A2 (+50) from Feb 15: expansion in Feb
#   B         200     200     -       -      ends Feb 1 00:00: active through Jan 31
#   C         -       80      80      80     starts Jan 31, the last day of January
#   D         120     120     120     -      ends Mar 10
#   E         300     300     300     100    E1 ends Mar 1, E2 (100) starts Mar 1
#   Z         -       -       -       -      starts and ends on Feb 10: never counted
#   total     720     800     650     330
SUBSCRIPTIONS = [
    ("A", "2023-12-01 09:00", None, 100.0),
    ("A", "2024-02-15 09:00", None, 50.0),
    ("B", "2023-12-15 09:00", "2024-02-01 00:00", 200.0),
    ("C", "2024-01-31 12:00", None, 80.0),
    ("D", "2023-12-01 09:00", "2024-03-10 09:00", 120.0),
    ("E", "2023-12-01 09:00", "2024-03-01 00:00", 300.0),
    ("E", "2024-03-01 00:00", None, 100.0),
    ("Z", "2024-02-10 09:00", "2024-02-10 17:00", 999.0),
]


def test_subscription_metrics_by_hand(backend):
    ctx = backend.context(
        Definitions(active_by="subscription", as_of=date(2024, 3, 31)),
        subscriptions=_subscriptions(SUBSCRIPTIONS),
    )
    # with no orders, "auto" reads activity from the subscriptions alone too
    assert Context(ctx.source, Definitions(as_of=date(2024, 3, 31))).active_by == "subscription"
    m = _by_period(period_metrics(ctx, "month"))
    assert list(m.index) == ["2023-12", "2024-01", "2024-02", "2024-03"]
    dec, jan, feb, mar = (m.loc[p] for p in m.index)

    assert list(m["mrr"]) == pytest.approx([720.0, 800.0, 650.0, 330.0])
    assert list(m["subscribers_start"]) == [0, 4, 5, 4]
    assert list(m["subscribers_end"]) == [4, 5, 4, 3]

    # December starts from nothing: the rates are missing with a reason
    assert math.isnan(dec.logo_churn_rate)
    assert dec.missing["logo_churn_rate"] == "no subscriptions were active at the start"
    assert math.isnan(dec.revenue_churn_rate) and math.isnan(dec.net_revenue_retention)
    assert dec.missing["net_revenue_retention"] == (
        "no recurring revenue at the start of this period"
    )
    # January: nobody leaves; C is new and does not count towards NRR
    assert jan.logo_churn_rate == pytest.approx(0.0)
    assert jan.revenue_churn_rate == pytest.approx(0.0)
    assert jan.net_revenue_retention == pytest.approx(100.0)  # 720 / 720
    # February: B (200) churns, A expands by 50
    assert feb.logo_churn_rate == pytest.approx(1 / 5 * 100)  # 20 %
    assert feb.revenue_churn_rate == pytest.approx(200 / 800 * 100)  # 25 %
    assert feb.net_revenue_retention == pytest.approx((800 - 200 + 50) / 800 * 100)  # 81.25 %
    # March: D (120) churns, E contracts 300 -> 100
    assert mar.logo_churn_rate == pytest.approx(1 / 4 * 100)  # 25 %
    assert mar.revenue_churn_rate == pytest.approx((120 + 200) / 650 * 100)  # 49.23 %
    assert mar.net_revenue_retention == pytest.approx((650 - 320) / 650 * 100)  # 50.77 %

    # customer retention from the subscriptions: E's two subscriptions touch
    # (Feb 29 and Mar 1), so E stays; Z is never active at the end of a day
    counts = m[["customers_start", "new_customers", "customers_end", "lost_customers"]]
    assert counts.values.tolist() == [
        [0, 4, 4, 0],  # A, B, D, E new
        [4, 1, 5, 0],  # C new
        [5, 0, 4, 1],  # B lost
        [4, 0, 3, 1],  # D lost
    ]
    assert math.isnan(dec.retention_rate)
    assert jan.retention_rate == pytest.approx((5 - 1) / 4 * 100)  # 100 %
    assert feb.retention_rate == pytest.approx((4 - 0) / 5 * 100)  # 80 %
    assert (feb.churn_rate, mar.churn_rate) == pytest.approx((20.0, 25.0))
    assert mar.retention_rate == pytest.approx(3 / 4 * 100)  # 75 %
    # no orders, so no order metrics: missing, never 0
    assert (jan.orders, jan.revenue) == (0, 0.0)
    assert math.isnan(jan.aov)


def test_a_short_gap_spell_does_not_lose_a_customer(backend):
    # X: active at the end of January (s1), a short subscription inside
    # February (s2, Feb 10-13), and active again from Feb 20 (s3): X is active
    # at the start and at the end of February, so nobody is lost.
    subs = _subscriptions(
        [
            ("X", "2024-01-10 09:00", "2024-02-03 09:00", 10.0),
            ("X", "2024-02-10 09:00", "2024-02-14 09:00", 10.0),
            ("X", "2024-02-20 09:00", None, 10.0),
        ]
    )
    ctx = backend.context(Definitions(as_of=date(2024, 2, 29)), subscriptions=subs)
    feb = _by_period(period_metrics(ctx, "month")).loc["2024-02"]
    assert (feb.customers_start, feb.customers_end) == (1, 1)
    assert feb.lost_customers == 0
    assert feb.churn_rate == pytest.approx(0.0)


def test_either_definition_and_subscriptions_without_mrr(backend):
    # a 30-day purchase window; subscriptions carry no mrr
    #   P  order Jan 10                  active Jan 10 - Feb 8
    #   Q  subscription Jan 15 - Mar 5   active Jan 15 - Mar 4
    #   R  subscription Jan 5 - Feb 1,   active Jan 5 - Jan 31, then Feb 20 - Mar 20
    #      order Feb 20
    #   S  order Jan 20, subscription    active from Jan 20 on (the two overlap)
    #      from Feb 10
    orders = _orders(
        [("P", "2024-01-10 10:00", 10.0), ("R", "2024-02-20 10:00", 10.0)]
        + [("S", "2024-01-20 10:00", 10.0)]
    )
    subs = _subscriptions(
        [
            ("Q", "2024-01-15 09:00", "2024-03-05 09:00", None),
            ("R", "2024-01-05 09:00", "2024-02-01 09:00", None),
            ("S", "2024-02-10 09:00", None, None),
        ],
        with_mrr=False,
    )
    ctx = backend.context(
        Definitions(activity_window=30, as_of=date(2024, 3, 31)), orders=orders, subscriptions=subs
    )
    assert ctx.active_by == "either"  # "auto" with both orders and subscriptions
    m = _by_period(period_metrics(ctx, "month"))
    assert list(m.index) == ["2024-01", "2024-02", "2024-03"]
    jan, feb, mar = (m.loc[p] for p in m.index)
    cols = ["customers_start", "new_customers", "customers_end", "lost_customers"]
    counts = m[[*cols, "reactivated_customers"]]
    assert counts.values.tolist() == [
        [0, 4, 4, 0, 0],  # P, Q, R, S all active on Jan 31
        [4, 0, 3, 1, 0],  # P lost; R stays through its purchase
        [3, 0, 1, 2, 0],  # Q and R lost; S stays
    ]
    # February starts less than 30 days after P's purchase: no buyer could
    # have lapsed by its start, so its flow rates are held back with the reason
    assert math.isnan(feb.retention_rate) and math.isnan(feb.churn_rate)
    assert "no customer active by a purchase could have lapsed" in feb.missing["churn_rate"]
    assert mar.retention_rate == pytest.approx(1 / 3 * 100)  # 33.3 %
    assert mar.churn_rate == pytest.approx(2 / 3 * 100)  # 66.7 %

    # subscribers at month ends: Jan 31 Q, R; Feb 29 Q, S; Mar 31 S
    assert list(m["subscribers_start"]) == [0, 2, 2]
    assert list(m["subscribers_end"]) == [2, 2, 1]
    assert feb.logo_churn_rate == pytest.approx(50.0)  # R of Q, R
    assert mar.logo_churn_rate == pytest.approx(50.0)  # Q of Q, S
    # without mrr, the revenue metrics are missing with the reason
    for period in (jan, feb, mar):
        for col in ("mrr", "revenue_churn_rate", "net_revenue_retention"):
            assert math.isnan(period[col])
            assert period.missing[col] == "the subscriptions have no mrr"
