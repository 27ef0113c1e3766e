"""RFM scores, named RFM segments, business segments, sizes and movements,
on small hand-made sets of customers where every rank is worked out by hand.

percent_rank = (rank - 1) / (n - 1), tied customers sharing the lowest rank;
score = min(5, floor(5 * percent_rank) + 1); recency is ranked from the
oldest to the most recent, so the most recent customer scores 5.
"""

from __future__ import annotations

from datetime import date

import ibis
import pandas as pd
import pytest

from tenure.engine.context import Definitions
from tenure.segmentation import business
from tenure.segmentation.business import Thresholds
from tenure.segmentation.rfm import SEGMENTS, rfm_scores
from tenure.segmentation.sizes import NOT_YET, assign, segment_sizes, transition_matrix
from tests.engine import conftest as engine_fixtures
from tests.engine.conftest import orders_frame

# the engine tests' fixtures: each test here runs on DuckDB and on Spark
backend = engine_fixtures.backend
spark_con = engine_fixtures.spark_con

# The grid of rfm.py's docstring, R -> FM -> segment.
GRID = {
    5: {1: "new", 2: "potential loyalists", 3: "potential loyalists", 4: "champions", 5: "champions"},
    4: {1: "promising", 2: "potential loyalists", 3: "potential loyalists", 4: "champions", 5: "champions"},
    3: {1: "about to sleep", 2: "about to sleep", 3: "need attention", 4: "loyal", 5: "loyal"},
    2: {1: "hibernating", 2: "hibernating", 3: "at risk", 4: "at risk", 5: "at risk"},
    1: {1: "lost", 2: "lost", 3: "at risk", 4: "can't lose them", 5: "can't lose them"},
}  # fmt: skip


def _orders(specs: list[tuple], status: list[str] | None = None) -> pd.DataFrame:
    frame = orders_frame([(f"o{i}", c, ts, amt) for i, (c, ts, amt) in enumerate(specs)])
    if status is not None:
        frame["status"] = status
    return frame


def _summary(rows: list[tuple[str, int, int, float]]) -> ibis.Table:
    """A minimal customer summary: (customer_id, recency_days, orders, monetary_total)."""
    return ibis.memtable(
        pd.DataFrame(
            {
                "customer_id": [r[0] for r in rows],
                "recency_days": pd.array([r[1] for r in rows], dtype="Int64"),
                "orders": pd.array([r[2] for r in rows], dtype="int64"),
                "monetary_total": pd.array([r[3] for r in rows], dtype="Float64"),
            }
        )
    )


def _scored(rows: list[tuple[str, int, int, float]]) -> pd.DataFrame:
    return rfm_scores(_summary(rows)).to_pandas().set_index("customer_id").sort_index()


# -- the named segments, directly on the scoring expression ---------------------


def test_every_grid_cell_gives_its_named_segment():
    # 25 customers, one per (R, FM) cell, with F = M = FM. Each of the five
    # values of recency, orders and revenue is held by exactly 5 customers, so
    # a value's tie group k (1..5) has rank 5(k - 1) + 1 and percent rank
    # 5(k - 1) / 24; 5 * pr = 0, 1.04, 2.08, 3.13, 4.17 -> score k.
    rows = [(f"r{r}fm{fm}", 60 - 10 * r, fm, 100.0 * fm) for r in range(1, 6) for fm in range(1, 6)]
    rows.append(("never", None, 0, None))  # no purchase: not scored, not ranked
    got = _scored(rows)
    assert "never" not in got.index
    assert len(got) == 25
    for r in range(1, 6):
        for fm in range(1, 6):
            row = got.loc[f"r{r}fm{fm}"]
            assert (row.r, row.f, row.m, row.fm) == (r, fm, fm, fm)
            assert row.rfm == f"{r}{fm}{fm}"
            assert row.segment == GRID[r][fm], (r, fm)
    assert set(got["segment"]) == set(SEGMENTS)  # all 11 reachable


def test_fm_rounds_half_up():
    # 5 customers with distinct values: percent ranks 0, .25, .5, .75, 1, so
    # scores 1..5 in order. (R, F, M) below; FM = round((F + M) / 2), half up.
    rfm = {"a": (1, 1, 2), "b": (2, 2, 3), "c": (3, 3, 4), "d": (4, 4, 5), "e": (5, 5, 1)}
    rows = [(c, 60 - 10 * r, f, 100.0 * m) for c, (r, f, m) in rfm.items()]
    got = _scored(rows)
    assert list(got["fm"]) == [2, 3, 4, 5, 3]  # 1.5 -> 2, 2.5 -> 3, 3.5 -> 4, 4.5 -> 5, 3
    assert list(got["segment"]) == [
        "lost",  # R1 FM2
        "at risk",  # R2 FM3
        "loyal",  # R3 FM4
        "champions",  # R4 FM5
        "potential loyalists",  # R5 FM3
    ]


# -- RFM and business segments through the engine -------------------------------

# as-of 2024-06-30, a 120-day activity window (active: last purchase at most
# 119 days before). recency, tenure = days from the last / first purchase.
#
#   customer  purchases                          orders  revenue  recency  tenure
#   c1        Jun 25 (40)                        1       40       5        5
#   c2        Mar 1, Apr 1, Jun 20 (200 each)    3       600      10       121
#   c3        Feb 15, Mar 20 (250 each)          2       500      102      136
#   c4        Jun 1, Jun 10 (30 each)            2       60       20       29
#   c5        Jan 10 (900)                       1       900      172      172
#   c6        Apr 30, May 31 (60 each)           2       120      30       61
#   c7        May 31 (10); a refunded 5000 and   1       10       30       30
#             a cancelled 3000 that do not count
#   c8        only a refunded order              0       -        -        -
SHOP = [
    ("c1", "2024-06-25 12:00", 40.0),
    ("c2", "2024-03-01 12:00", 200.0),
    ("c2", "2024-04-01 12:00", 200.0),
    ("c2", "2024-06-20 12:00", 200.0),
    ("c3", "2024-02-15 12:00", 250.0),
    ("c3", "2024-03-20 12:00", 250.0),
    ("c4", "2024-06-01 12:00", 30.0),
    ("c4", "2024-06-10 12:00", 30.0),
    ("c5", "2024-01-10 12:00", 900.0),
    ("c6", "2024-04-30 12:00", 60.0),
    ("c6", "2024-05-31 12:00", 60.0),
    ("c7", "2024-05-31 12:00", 10.0),
    ("c7", "2024-06-29 12:00", 5000.0),
    ("c7", "2024-06-28 12:00", 3000.0),
    ("c8", "2024-06-15 12:00", 70.0),
]
SHOP_STATUS = ["completed"] * 12 + ["refunded", "cancelled", "refunded"]

# n = 7: pr = (rank - 1) / 6, 5 * pr = 0, 0.83, 1.67, 2.5, 3.33, 4.17, 5
# -> scores by rank 1, 1, 2, 3, 4, 5, 5.
# R: recency 172 (c5), 102 (c3), 30, 30 (c6, c7 tie at rank 3), 20 (c4), 10 (c2),
#    5 (c1) -> c5 1, c3 1, c6 2, c7 2, c4 4, c2 5, c1 5
# F: orders 1 (c1, c5, c7 tie at rank 1), 2 (c3, c4, c6 tie at rank 4), 3 (c2 rank 7)
#    -> 1, 3, 5
# M: 10 (c7), 40 (c1), 60 (c4), 120 (c6), 500 (c3), 600 (c2), 900 (c5)
#    -> 1, 1, 2, 3, 4, 5, 5
# FM = (F + M + 1) // 2.
EXPECTED_RFM = {
    # customer: (r, f, m, fm, segment)
    "c1": (5, 1, 1, 1, "new"),
    "c2": (5, 5, 5, 5, "champions"),
    "c3": (1, 3, 4, 4, "can't lose them"),
    "c4": (4, 3, 2, 3, "potential loyalists"),  # FM 2.5 -> 3
    "c5": (1, 1, 5, 3, "at risk"),
    "c6": (2, 3, 3, 3, "at risk"),
    "c7": (2, 1, 1, 1, "hibernating"),
}
# Thresholds(20, 90, 30): high value = revenue percent rank >= 0.8: c2 (5/6)
# and c5 (1); at risk = active and recency >= 90: c3; new = tenure < 30: c1, c4
# (not c7, tenure exactly 30); lapsed = not active: c5 (172 > 119).
EXPECTED_BUSINESS = {
    # customer: (is_new, is_at_risk, is_high_value, value_segment)
    "c1": (True, False, False, "new"),
    "c2": (False, False, True, "high value"),
    "c3": (False, True, False, "at risk"),
    "c4": (True, False, False, "new"),
    "c5": (False, False, True, "lapsed"),
    "c6": (False, False, False, "active"),
    "c7": (False, False, False, "active"),
}


def test_rfm_and_business_segments_by_hand(backend):
    ctx = backend.context(
        Definitions(activity_window=120, as_of=date(2024, 6, 30)),
        orders=_orders(SHOP, SHOP_STATUS),
    )
    table = assign(ctx, Thresholds(high_value_top_percent=20, at_risk_days=90, new_days=30))
    got = table.to_pandas().set_index("customer_id").sort_index()
    assert list(got.index) == sorted(EXPECTED_RFM)  # c8 never purchased
    assert got["recency_days"].to_dict() == {
        "c1": 5, "c2": 10, "c3": 102, "c4": 20, "c5": 172, "c6": 30, "c7": 30
    }  # fmt: skip
    for c, (r, f, m, fm, segment) in EXPECTED_RFM.items():
        row = got.loc[c]
        assert (row.r, row.f, row.m, row.fm, row.segment) == (r, f, m, fm, segment), c
        assert row.rfm == f"{r}{f}{m}"
    for c, (is_new, at_risk, high, label) in EXPECTED_BUSINESS.items():
        row = got.loc[c]
        assert (bool(row.is_new), bool(row.is_at_risk), bool(row.is_high_value)) == (
            is_new,
            at_risk,
            high,
        ), c
        assert row.value_segment == label, c

    # sizes: 7 customers, revenue 40 + 600 + 500 + 60 + 900 + 120 + 10 = 2230
    rfm = segment_sizes(table, "segment", SEGMENTS).set_index("segment")
    assert list(rfm.index) == list(SEGMENTS)
    assert rfm["customers"].to_dict() == {
        "champions": 1, "loyal": 0, "potential loyalists": 1, "new": 1, "promising": 0,
        "need attention": 0, "about to sleep": 0, "at risk": 2, "can't lose them": 1,
        "hibernating": 1, "lost": 0,
    }  # fmt: skip
    assert rfm["share"].sum() == pytest.approx(100.0)
    assert rfm["revenue_share"].sum() == pytest.approx(100.0)
    assert rfm.loc["at risk", "share"] == pytest.approx(2 / 7 * 100)  # c5, c6
    assert rfm.loc["at risk", "revenue"] == pytest.approx(900 + 120)
    assert rfm.loc["at risk", "revenue_share"] == pytest.approx(1020 / 2230 * 100)
    assert rfm.loc["at risk", "avg_recency_days"] == pytest.approx((172 + 30) / 2)
    assert (rfm.loc["loyal", "share"], rfm.loc["loyal", "revenue"]) == (0.0, 0.0)

    sizes = segment_sizes(table, "value_segment", business.LABELS).set_index("segment")
    assert list(sizes.index) == list(business.LABELS)
    assert sizes["customers"].to_dict() == {
        "new": 2, "at risk": 1, "high value": 1, "active": 2, "lapsed": 1
    }  # fmt: skip
    assert sizes["revenue"].to_dict() == pytest.approx(
        {"new": 100.0, "at risk": 500.0, "high value": 600.0, "active": 130.0, "lapsed": 900.0}
    )
    assert sizes["share"].sum() == pytest.approx(100.0)
    assert sizes["revenue_share"].sum() == pytest.approx(100.0)
    assert sizes.loc["new", "share"] == pytest.approx(2 / 7 * 100)
    assert sizes.loc["new", "avg_recency_days"] == pytest.approx((5 + 20) / 2)
    assert sizes.loc["active", "avg_orders"] == pytest.approx((2 + 1) / 2)

    # Other thresholds on the same data, Thresholds(40, 102, 31): high value =
    # percent rank >= 0.6: c3 (4/6), c2, c5; at risk = recency >= 102: c3
    # (exactly 102), who keeps the at-risk label and is flagged high value;
    # new = tenure < 31: c1, c4 and now c7 (tenure 30).
    table = assign(ctx, Thresholds(high_value_top_percent=40, at_risk_days=102, new_days=31))
    got = table.to_pandas().set_index("customer_id").sort_index()
    assert got["value_segment"].to_dict() == {
        "c1": "new", "c2": "high value", "c3": "at risk", "c4": "new",
        "c5": "lapsed", "c6": "active", "c7": "new",
    }  # fmt: skip
    assert sorted(got.index[got["is_high_value"]]) == ["c2", "c3", "c5"]
    assert sorted(got.index[got["is_at_risk"]]) == ["c3"]
    assert sorted(got.index[got["is_new"]]) == ["c1", "c4", "c7"]


# -- movements between two dates ---------------------------------------------------

# A 120-day window; from 2024-03-31 to 2024-06-30.
#
#   customer  purchases                      at Mar 31              at Jun 30
#   a         Mar 20 (50)                    recency 11, tenure 11  recency 102
#   b         Feb 15 (100), Jun 1 (100)      recency 45             recency 29
#   c         May 10 (30)                    -                      recency 51
#   d         Jun 20 (20)                    -                      recency 10
#   e         Jan 5 (1000)                   recency 86             recency 177
#   f         Oct 1 2023 (10)                recency 182            recency 273
MOVES = [
    ("a", "2024-03-20 12:00", 50.0),
    ("b", "2024-02-15 12:00", 100.0),
    ("b", "2024-06-01 12:00", 100.0),
    ("c", "2024-05-10 12:00", 30.0),
    ("d", "2024-06-20 12:00", 20.0),
    ("e", "2024-01-05 12:00", 1000.0),
    ("f", "2023-10-01 12:00", 10.0),
]


def _matrix(order: tuple[str, ...], moves: dict[tuple[str, str], int]) -> pd.DataFrame:
    rows = [*order, NOT_YET]
    frame = pd.DataFrame(0, index=rows, columns=list(order), dtype="int64")
    for (a, b), n in moves.items():
        frame.loc[a, b] = n
    frame.index.name, frame.columns.name = "from", "to"
    return frame


def test_transition_matrix(backend):
    source = backend.source(orders=_orders(MOVES))
    defs = Definitions(activity_window=120)
    start, end = date(2024, 3, 31), date(2024, 6, 30)
    thresholds = Thresholds(high_value_top_percent=20, at_risk_days=90, new_days=30)

    # Business. At Mar 31: a, b, e, f; revenue ranks f 0, a 1/3, b 2/3, e 1 -> e
    # high value; f lapsed (182 > 119); a new (tenure 11); b active.
    # At Jun 30: revenue f 10, d 20, c 30, a 50, b 200, e 1000 -> ranks 0, .2,
    # .4, .6, .8, 1 -> b and e at or above 0.8; e lapsed (177), f lapsed; a at
    # risk (102 >= 90); d new (tenure 10); c active.
    got = transition_matrix(source, defs, thresholds, start, end, kind="business")
    want = _matrix(
        business.LABELS,
        {
            ("new", "at risk"): 1,  # a
            ("active", "high value"): 1,  # b
            ("high value", "lapsed"): 1,  # e
            ("lapsed", "lapsed"): 1,  # f
            (NOT_YET, "active"): 1,  # c
            (NOT_YET, "new"): 1,  # d
        },
    )
    pd.testing.assert_frame_equal(got, want)

    # RFM. At Mar 31, n = 4, pr = (rank - 1) / 3 -> scores by rank 1, 2, 4, 5:
    # R f 1, e 2, b 4, a 5; F all 1 (one order each, tied); M f 1, a 2, b 4, e 5;
    # FM f 1, a 2, b 3, e 3 -> f lost, e at risk, a and b potential loyalists.
    # At Jun 30, n = 6, pr = (rank - 1) / 5 -> score = min(5, rank):
    # R f 1, e 2, a 3, c 4, b 5, d 5; F b 5, the others 1 (tied);
    # M f 1, d 2, c 3, a 4, b 5, e 5; FM f 1, d 2, c 2, a 3, b 5, e 3
    # -> f lost, e at risk, a need attention, c and d potential loyalists,
    # b champions.
    got = transition_matrix(source, defs, thresholds, start, end, kind="rfm")
    want = _matrix(
        SEGMENTS,
        {
            ("lost", "lost"): 1,  # f
            ("at risk", "at risk"): 1,  # e
            ("potential loyalists", "champions"): 1,  # b
            ("potential loyalists", "need attention"): 1,  # a
            (NOT_YET, "potential loyalists"): 2,  # c, d
        },
    )
    pd.testing.assert_frame_equal(got, want)
    assert int(got.to_numpy().sum()) == 6
