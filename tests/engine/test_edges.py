"""Edges found in review: identical intervals, subscription-only businesses,
subscriptions without MRR, and warehouse tables without a customers table."""

from __future__ import annotations

import math
from datetime import date

import ibis
import pandas as pd

from tenure.engine.context import Context, Definitions
from tenure.engine.metrics import period_metrics
from tenure.engine.source import Source
from tenure.engine.summaries import customer_summary
from tests.engine.conftest import duckdb_tables


def _subs(rows):
    frame = pd.DataFrame(
        rows, columns=["subscription_id", "customer_id", "started_at", "ended_at", "mrr"]
    )
    frame["started_at"] = pd.to_datetime(frame["started_at"])
    frame["ended_at"] = pd.to_datetime(frame["ended_at"])
    return frame


def test_identical_subscriptions_are_one_interval_on_a_parallel_engine():
    # 20,000 customers, each with a short subscription in January and two open
    # ones started the same June day: enough rows for DuckDB to run the window
    # passes in parallel, where tied rows could be ordered differently
    n = 20_000
    rows = []
    for i in range(n):
        rows.append((f"s{i}a", f"c{i}", "2023-01-05 09:00", "2023-02-10 09:00", 10.0))
        rows.append((f"s{i}b", f"c{i}", "2023-06-01 10:00", None, 10.0))
        rows.append((f"s{i}c", f"c{i}", "2023-06-01 12:00", None, 10.0))
    raw = duckdb_tables(subscriptions=_subs(rows))
    src = Source(ibis.duckdb.from_connection(raw), {"subscriptions": "subscriptions"})
    m = period_metrics(Context(src, Definitions(as_of=date(2023, 12, 31))), "month").set_index(
        "period"
    )
    assert m.loc["2023-01", "customers_end"] == n
    assert (m.loc["2023-02", "customers_end"], m.loc["2023-02", "lost_customers"]) == (0, n)
    assert list(m.loc["2023-03":"2023-05", "customers_end"]) == [0, 0, 0]
    assert list(m.loc["2023-06":"2023-12", "customers_end"]) == [n] * 7


def test_a_subscription_business_without_orders_or_mrr():
    # a: from 10 January, open; b: 5 February to 20 March. No orders, no MRR column.
    subs = pd.DataFrame(
        {
            "subscription_id": ["s1", "s2"],
            "customer_id": ["a", "b"],
            "started_at": pd.to_datetime(["2024-01-10 09:00", "2024-02-05 09:00"]),
            "ended_at": pd.to_datetime([None, "2024-03-20 09:00"]),
        }
    )
    con = ibis.duckdb.connect()
    src = Source.from_ibis(con, {"subscriptions": con.create_table("subs", subs)})
    m = period_metrics(Context(src, Definitions(as_of=date(2024, 4, 30))), "month").set_index(
        "period"
    )
    march = m.loc["2024-03"]
    assert (march.customers_start, march.lost_customers, march.churn_rate) == (2, 1, 50.0)
    # no orders: CLV is missing, never 0; no MRR column: MRR is missing
    assert (
        math.isnan(march.historic_clv) and march.missing["historic_clv"] == "no orders in the data"
    )
    assert math.isnan(march.mrr) and march.missing["mrr"] == "the subscriptions have no mrr"
    assert march.logo_churn_rate == 50.0


def test_a_summary_without_a_customers_table_keeps_subscribers_who_never_ordered():
    orders = pd.DataFrame(
        {
            "order_id": ["o1"],
            "customer_id": ["a"],
            "placed_at": pd.to_datetime(["2024-03-10 10:00"]),
            "status": ["completed"],
            "amount_reporting": [20.0],
        }
    )
    subs = _subs([("s1", "b", "2024-01-10 09:00", None, 5.0)])
    subs["mrr_reporting"] = subs["mrr"]
    con = ibis.duckdb.connect()
    src = Source.from_ibis(
        con, {"orders": con.create_table("o", orders), "subscriptions": con.create_table("s", subs)}
    )
    s = customer_summary(Context(src, Definitions(as_of=date(2024, 3, 31)))).to_pandas()
    s = s.set_index("customer_id")
    assert sorted(s.index) == ["a", "b"]
    assert (s.loc["b", "orders"], bool(s.loc["b", "active"])) == (0, True)
    assert bool(s.loc["a", "active"])
