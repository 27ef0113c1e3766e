"""Churn features, churn labels and subscription durations as literal values
from a tiny business, on every engine.

Every expected value is worked out by hand in the comments. The as-of day is
Sunday 30 June 2024 (2024 is a leap year): "the last 30 days" are 1-30 June,
the last 90 from 2 April, the last 180 from 3 January, and the 90 before the
last 90 are 3 January to 1 April.
"""

from __future__ import annotations

from datetime import date

import ibis
import numpy as np
import pandas as pd
import pytest

from tenure.datamodel import KINDS
from tenure.engine.context import Context, Definitions
from tenure.engine.durations import subscription_durations
from tenure.engine.features import (
    EVENT_FEATURES,
    PURCHASE_FEATURES,
    SUBSCRIPTION_FEATURES,
    SURVEY_FEATURES,
    TICKET_FEATURES,
    churn_features,
    churn_labels,
)
from tenure.engine.source import Source
from tenure.errors import ConfigError
from tests.engine.conftest import duckdb_tables, orders_frame

AS_OF = date(2024, 6, 30)
N = np.nan

ORDERS = [
    # a: purchase days 10 Jan, 15 Apr, 20 Jun (two orders); a refund and a
    # cancellation in May; a purchase after the as-of day
    ("o1", "a", "2024-01-10 09:00", 20.0, "completed"),
    ("o2", "a", "2024-04-15 09:00", 30.0, "completed"),
    ("o3", "a", "2024-06-20 09:00", 50.0, "completed"),
    ("o4", "a", "2024-06-20 18:00", 10.0, "pending"),
    ("o5", "a", "2024-05-01 09:00", 99.0, "refunded"),
    ("o6", "a", "2024-05-02 09:00", 15.0, "cancelled"),
    ("o7", "a", "2024-07-15 09:00", 70.0, "completed"),
    # b: one purchase on 1 Feb, the next on 15 Sep
    ("o8", "b", "2024-02-01 09:00", 40.0, "completed"),
    ("o9", "b", "2024-09-15 09:00", 45.0, "completed"),
    # c: one purchase long ago (inactive: more than 365 days)
    ("o10", "c", "2023-01-01 09:00", 25.0, "completed"),
    # e: a purchase on the as-of day, at its last minute
    ("o11", "e", "2024-06-30 23:59", 15.0, "completed"),
    # f: first purchase the day after
    ("o12", "f", "2024-07-01 00:00", 12.0, "completed"),
]


def _orders() -> pd.DataFrame:
    return orders_frame(ORDERS, ("order_id", "customer_id", "placed_at", "amount", "status"))


def _frame(rows: list[tuple], columns: list[str], times: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=columns)
    for col in times:
        frame[col] = pd.to_datetime(frame[col])
    return frame


def _subscriptions() -> pd.DataFrame:
    return _frame(
        [
            # d: no purchase; active at the as-of day, ends 1 August
            ("s1", "d", "2024-03-01 08:00", "2024-08-01 08:00", 10.0, "plus"),
            # e: ended 1 May
            ("s2", "e", "2024-01-01 08:00", "2024-05-01 08:00", 5.0, "basic"),
        ],
        ["subscription_id", "customer_id", "started_at", "ended_at", "mrr", "plan"],
        ["started_at", "ended_at"],
    )


def _tickets() -> pd.DataFrame:
    return _frame(
        [
            ("t1", "a", "2024-06-01 10:00", "2024-06-02 10:00"),  # 24 hours
            ("t2", "a", "2024-06-29 10:00", "2024-07-02 10:00"),  # open at the as-of day
            ("t3", "b", "2024-01-05 08:00", "2024-01-05 14:00"),  # 6 hours, long ago
            ("t4", "b", "2024-07-03 08:00", None),  # after the as-of day
        ],
        ["ticket_id", "customer_id", "opened_at", "resolved_at"],
        ["opened_at", "resolved_at"],
    )


def _surveys() -> pd.DataFrame:
    return _frame(
        [
            ("r1", "a", "nps", 9.0, "2024-03-01 10:00"),
            ("r2", "a", "nps", 3.0, "2024-06-10 10:00"),  # a's last NPS by the as-of day
            ("r3", "a", "nps", 10.0, "2024-07-10 10:00"),  # after it
            ("r4", "a", "csat", 4.0, "2024-06-02 10:00"),
            ("r5", "a", "csat", 5.0, "2024-06-03 10:00"),
            ("r6", "b", "csat", 1.0, "2024-08-01 10:00"),  # after: b has none
        ],
        ["response_id", "customer_id", "kind", "score", "answered_at"],
        ["answered_at"],
    )


def _events() -> pd.DataFrame:
    return _frame(
        [
            ("e1", "a", "app_open", "2024-06-25 10:00"),  # last 30 days
            ("e2", "a", "app_open", "2024-05-15 10:00"),  # the 30 before
            ("e3", "a", "app_open", "2024-04-01 10:00"),  # older
            ("e4", "a", "app_open", "2024-07-02 10:00"),  # after
            ("e5", "c", "app_open", "2024-06-30 12:00"),
        ],
        ["event_id", "customer_id", "name", "occurred_at"],
        ["occurred_at"],
    )


def _everything(backend, **defs) -> Context:
    return Context(_source(backend), Definitions(as_of=AS_OF, **defs))


def _source(backend) -> Source:
    return backend.source(
        orders=_orders(),
        subscriptions=_subscriptions(),
        support_tickets=_tickets(),
        survey_responses=_surveys(),
        events=_events(),
    )


EXPECTED = pd.DataFrame.from_dict(
    {
        # a: 3 purchase days, 4 orders, 20 + 30 + 60 = 110; 10 Jan to 30 Jun is 172 days,
        # 10 Jan to 20 Jun 162 -> 81 between; last 90: 15 Apr, 20 Jun (90); the 90
        # before: 10 Jan (20) -> trends (2 - 1) / 3 and (90 - 20) / 110
        "a": [172, 10, 3, 4, 110.0, 27.5, 81.0, 1, 2, 3, 60.0, 90.0, 110.0, 1 / 3, 70 / 110,
              1, 1, 0, 0.0, 0, 0, 2, 1, 24.0, 3.0, 4.5, 1, 1],
        # b: 1 Feb to 30 Jun is 150 days; the purchase falls in the 90 before -> -1
        "b": [150, 150, 1, 1, 40.0, 40.0, N, 0, 0, 1, 0.0, 0.0, 40.0, -1.0, -1.0,
              0, 0, 0, 0.0, 0, 0, 0, 0, 6.0, N, N, 0, 0],
        # c: 1 Jan 2023 to 30 Jun 2024 is 546 days
        "c": [546, 546, 1, 1, 25.0, 25.0, N, 0, 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0,
              0, 0, 0, 0.0, 0, 0, 0, 0, N, N, N, 1, 0],
        # d: subscribed from 1 Mar (121 days before), 1 Mar to 30 Jun = 122 days
        "d": [121, N, 0, 0, 0.0, N, N, 0, 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0,
              0, 0, 1, 10.0, 122, 0, 0, 0, N, N, N, 0, 0],
        # e: bought on the as-of day; subscribed 1 Jan to 30 Apr (121 days), then
        # cancelled; first seen 1 Jan, 181 days before
        "e": [181, 0, 1, 1, 15.0, 15.0, N, 1, 1, 1, 15.0, 15.0, 15.0, 1.0, 1.0,
              0, 0, 0, 0.0, 121, 1, 0, 0, N, N, N, 0, 0],
    },
    orient="index",
    columns=["tenure_days", *PURCHASE_FEATURES, *SUBSCRIPTION_FEATURES, *TICKET_FEATURES, *SURVEY_FEATURES,
             *EVENT_FEATURES],
)  # fmt: skip


def test_churn_features_by_hand(backend):
    ctx = _everything(backend)
    table = churn_features(ctx)
    assert list(table.columns) == ["customer_id", *EXPECTED.columns]
    got = table.to_pandas().set_index("customer_id").sort_index()
    # f bought only after the as-of day: not a customer yet
    assert list(got.index) == ["a", "b", "c", "d", "e"]
    pd.testing.assert_frame_equal(
        got.astype("float64"), EXPECTED.astype("float64"), check_names=False, rtol=1e-12
    )
    schema = table.schema()
    assert {str(schema[c]) for c in ("frequency", "orders", "tickets_90", "events_30")} == {"int64"}
    assert {str(schema[c]) for c in ("monetary_total", "mrr", "last_nps", "revenue_trend")} == {
        "float64"
    }


def test_features_leave_out_the_tables_a_source_lacks():
    ctx = Context(_duckdb(orders=_orders()), Definitions(as_of=AS_OF))
    table = churn_features(ctx)
    assert list(table.columns) == ["customer_id", "tenure_days", *PURCHASE_FEATURES]
    # the same purchase features as with every table
    got = table.to_pandas().set_index("customer_id").sort_index()
    expected = EXPECTED.loc[["a", "b", "c", "e"], ["tenure_days", *PURCHASE_FEATURES]]
    expected.loc["e", "tenure_days"] = 0  # without the subscription, e is first seen on 30 Jun
    pd.testing.assert_frame_equal(
        got.astype("float64"), expected.astype("float64"), check_names=False
    )


def test_a_business_of_subscriptions_only():
    ctx = Context(_duckdb(subscriptions=_subscriptions()), Definitions(as_of=AS_OF))
    table = churn_features(ctx)
    assert list(table.columns) == ["customer_id", "tenure_days", *SUBSCRIPTION_FEATURES]
    got = table.to_pandas().set_index("customer_id").sort_index()
    expected = EXPECTED.loc[["d", "e"], ["tenure_days", *SUBSCRIPTION_FEATURES]]
    pd.testing.assert_frame_equal(
        got.astype("float64"), expected.astype("float64"), check_names=False
    )
    assert ctx.active_by == "subscription"
    labels = churn_labels(ctx, 30).to_pandas()
    assert labels.to_dict("records") == [{"customer_id": "d", "churned": False}]


def test_churn_labels_by_hand(backend):
    source = _source(backend)

    def labels(horizon: int, active_by: str = "auto") -> dict[str, bool]:
        ctx = Context(source, Definitions(as_of=AS_OF, active_by=active_by))
        frame = churn_labels(ctx, horizon).to_pandas()
        return dict(zip(frame["customer_id"], frame["churned"].astype(bool), strict=True))

    # active at 30 Jun under "either" (auto, with orders and subscriptions): a, b, e
    # bought within 365 days, d is subscribed; c is not active and f not yet a customer.
    # Within 30 days: a buys on 15 Jul; b not before 15 Sep; d's subscription runs
    # to 31 Jul; e neither buys nor subscribes.
    assert labels(30) == {"a": False, "b": True, "d": False, "e": True}
    # within 90 days (to 28 Sep): b buys on 15 Sep; d's subscription has ended
    assert labels(90) == {"a": False, "b": False, "d": True, "e": True}
    assert labels(30, "purchase") == {"a": False, "b": True, "e": True}
    assert labels(90, "subscription") == {"d": True}


def _duckdb(**frames: pd.DataFrame) -> Source:
    return Source(ibis.duckdb.from_connection(duckdb_tables(**frames)), {k: k for k in KINDS})


def test_a_label_horizon_is_whole_days():
    ctx = Context(_duckdb(orders=_orders()), Definitions(as_of=AS_OF))
    with pytest.raises(ConfigError, match="horizon"):
        churn_labels(ctx, 0)


# -- subscription durations -------------------------------------------------------


def _durations_frames() -> dict[str, pd.DataFrame]:
    subs = _frame(
        [
            # renewal on 29 Feb (31 Jan + 1 month, clipped): one month, 29 days
            ("s1", "a", "2024-01-31 10:00", "2024-02-29 10:00", "basic"),
            # 15 Jan to 14 Mar: the second renewal (15 Mar) not reached -> 1 month, 59 days
            ("s2", "b", "2024-01-15 10:00", "2024-03-14 10:00", "plus"),
            # active: 10 Mar to 30 Jun -> renewals 10 Apr, May, Jun -> 3 months, 112 days
            ("s3", "c", "2024-03-10 10:00", None, "plus"),
            # ends after the as-of day, so active at it: 31 May to 30 Jun, the
            # renewal due 30 Jun (clipped) passed -> 1 month, 30 days
            ("s4", "d", "2024-05-31 10:00", "2024-08-15 10:00", "basic"),
            # starts after the as-of day: left out
            ("s5", "e", "2024-07-05 10:00", None, "basic"),
            # ended on the as-of day: churned; 488 days, 16 months, 1 year
            ("s6", "f", "2023-02-28 10:00", "2024-06-30 00:00", None),
            # 29 Feb 2020 to 28 Feb 2021: a whole year (and 12 months), 365 days
            ("s7", "g", "2020-02-29 10:00", "2021-02-28 10:00", "basic"),
            # 31 Mar 22:30 UTC to 30 Jun 22:30 UTC: in Berlin 1 Apr to 1 Jul
            ("s8", "h", "2024-03-31 22:30", "2024-06-30 22:30", "basic"),
        ],
        ["subscription_id", "customer_id", "started_at", "ended_at", "plan"],
        ["started_at", "ended_at"],
    )
    subs["mrr"] = 10.0
    customers = pd.DataFrame(
        {"customer_id": list("abcdefgh"), "country": list("DDFF") + [None] * 4}
    )
    return {"subscriptions": subs, "customers": customers}


def test_subscription_durations_by_hand(backend):
    source = backend.source(**_durations_frames())
    ctx = Context(source, Definitions(as_of=AS_OF))
    table = subscription_durations(ctx)
    assert list(table.columns) == [
        "customer_id", "subscription_id", "started_at", "duration_days", "periods", "lifetime",
        "churned", "plan", "mrr", "country",
    ]  # fmt: skip
    got = table.to_pandas().set_index("subscription_id").sort_index()
    assert list(got.index) == ["s1", "s2", "s3", "s4", "s6", "s7", "s8"]
    assert got["duration_days"].tolist() == [29, 59, 112, 30, 488, 365, 91]
    # s8 in UTC: 31 Mar to 30 Jun, the renewal due 30 Jun (clipped) passed
    assert got["periods"].tolist() == [1, 1, 3, 1, 16, 12, 3]
    # the period each churned one ended in: s1 on its 1st renewal date (29 Feb),
    # s2 between its 1st and 2nd, s6 two days after its 16th (28 Jun), s7 and
    # s8 on their 12th and 3rd; active ones keep their renewals survived
    assert got["lifetime"].tolist() == [1, 2, 3, 1, 17, 12, 3]
    assert got["churned"].tolist() == [True, True, False, False, True, True, True]
    assert got.loc["s1", "started_at"] == pd.Timestamp("2024-01-31")
    assert got.loc["s2", "plan"] == "plus" and got.loc["s6", "plan"] is None
    assert got.loc["s3", "country"] == "F" and got.loc["s8", "country"] is None
    assert got["mrr"].tolist() == [10.0] * 7

    years = subscription_durations(ctx, "year").to_pandas().set_index("subscription_id")
    assert years.sort_index()["periods"].tolist() == [0, 0, 0, 0, 1, 1, 0]
    assert years.sort_index()["lifetime"].tolist() == [1, 1, 0, 0, 2, 1, 1]

    # in Berlin s8 starts on 1 Apr and ends on 1 Jul, after the as-of day:
    # active, 90 days, 2 renewals (1 May, 1 Jun)
    berlin = Context(source, Definitions(as_of=AS_OF, timezone="Europe/Berlin"))
    s8 = subscription_durations(berlin).to_pandas().set_index("subscription_id").loc["s8"]
    assert (s8.duration_days, s8.periods, bool(s8.churned)) == (90, 2, False)
    assert s8.started_at == pd.Timestamp("2024-04-01")


def test_a_subscription_ended_on_its_first_day_lasted_one_period():
    subs = _frame(
        [
            ("s1", "a", "2024-03-01 10:00", "2024-03-01 18:00"),  # the 1st: the day before is Feb
            ("s2", "b", "2024-03-15 10:00", "2024-03-15 18:00"),
        ],
        ["subscription_id", "customer_id", "started_at", "ended_at"],
        ["started_at", "ended_at"],
    )
    ctx = Context(_duckdb(subscriptions=subs), Definitions(as_of=AS_OF))
    got = subscription_durations(ctx).to_pandas().sort_values("subscription_id")
    assert got["periods"].tolist() == [0, 0]
    assert got["lifetime"].tolist() == [1, 1]


def test_durations_need_a_known_period():
    ctx = Context(_duckdb(**_durations_frames()), Definitions(as_of=AS_OF))
    with pytest.raises(ConfigError, match="month or year"):
        subscription_durations(ctx, "week")
