"""Segment sizes read from the store's customer summary alone (no pass over
the order log, no join to the customers table) equal a hand-written DuckDB
query of the raw orders, and every output of ``tenure.segments`` holds the
same rows."""

from __future__ import annotations

import math

import duckdb
import pytest

import tenure
from tenure.engine.context import Context, Definitions
from tenure.engine.source import open_store
from tenure.jsondoc import records
from tenure.segmentation.business import Thresholds
from tenure.segmentation.sizes import scores
from tests.conftest import demo_store

# RFM as a user writes it from the order log: purchases only, recency in days
# from the last purchase day to the data's last purchase day, quintiles by
# percent rank over whole sorts, the named segments of rfm.py's grid.
SQL = """
WITH p AS (
  SELECT customer_id, CAST(placed_at AS DATE) AS day, amount_reporting AS amount
  FROM orders
  WHERE coalesce(status, 'completed') IN ('completed', 'pending', 'partially_refunded')
), s AS (
  SELECT customer_id, (SELECT max(day) FROM p) - max(day) AS recency_days,
         count(*) AS orders, CAST(sum(amount) AS DOUBLE) AS monetary_total
  FROM p GROUP BY customer_id
), q AS (
  SELECT *,
    least(floor(5 * percent_rank() OVER (ORDER BY recency_days DESC))::INT + 1, 5) AS r,
    least(floor(5 * percent_rank() OVER (ORDER BY orders))::INT + 1, 5) AS f,
    least(floor(5 * percent_rank() OVER (ORDER BY monetary_total))::INT + 1, 5) AS m
  FROM s
), n AS (
  SELECT *, (f + m + 1) // 2 AS fm FROM q
), named AS (
  SELECT *, CASE
    WHEN r >= 4 AND fm >= 4 THEN 'champions'
    WHEN r = 5 AND fm = 1 THEN 'new'
    WHEN r = 4 AND fm = 1 THEN 'promising'
    WHEN r >= 4 THEN 'potential loyalists'
    WHEN r = 3 AND fm >= 4 THEN 'loyal'
    WHEN r = 3 AND fm = 3 THEN 'need attention'
    WHEN r = 3 THEN 'about to sleep'
    WHEN r = 1 AND fm >= 4 THEN 'can''t lose them'
    WHEN fm >= 3 THEN 'at risk'
    WHEN r = 2 THEN 'hibernating'
    ELSE 'lost' END AS segment
  FROM n
)
SELECT segment, count(*), sum(monetary_total), avg(recency_days), avg(orders)
FROM named GROUP BY segment
"""


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    return demo_store(tmp_path_factory.mktemp("sizes-demo"), customers=400, seed=5)[0]


def test_sizes_from_the_summary_equal_sql_over_the_order_log(settings):
    con = duckdb.connect(str(settings.analytics_path), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        expected = {row[0]: row[1:] for row in con.execute(SQL).fetchall()}
    finally:
        con.close()
    got = tenure.segments(store=settings.store, active_by="purchase", output="records")
    assert sum(e[0] for e in expected.values()) > 300  # most of the demo's customers bought
    assert len(expected) >= 8  # a spread over the segments, not one bucket
    for row in got:
        customers, revenue, recency, orders = expected.get(row["segment"], (0, 0.0, None, None))
        assert row["customers"] == customers, row["segment"]
        assert math.isclose(row["revenue"], revenue, rel_tol=1e-12), row["segment"]
        if customers:
            assert math.isclose(row["avg_recency_days"], recency, rel_tol=1e-12)
            assert math.isclose(row["avg_orders"], orders, rel_tol=1e-12)
        else:
            assert row["avg_recency_days"] is None and row["avg_orders"] is None
    total = sum(e[0] for e in expected.values())
    assert math.isclose(sum(r["share"] for r in got), 100.0, rel_tol=1e-12)
    assert got[0]["share"] == expected["champions"][0] / total * 100.0


def test_the_scores_read_neither_the_order_log_nor_the_customers(settings):
    defs = Definitions.from_settings(settings, active_by="purchase")
    with open_store(settings) as src:
        ctx = Context(src, defs)
        sql = src.con.compile(scores(ctx, Thresholds()))
    assert 'FROM "customer_activity"' in sql
    assert 'FROM "orders"' not in sql and 'FROM "customers"' not in sql


@pytest.mark.parametrize("kind", ["rfm", "business"])
def test_records_pandas_and_arrow_give_the_same_sizes(settings, kind):
    common = {"store": settings.store, "kind": kind}
    got = tenure.segments(output="records", **common)
    frame = tenure.segments(**common)
    table = tenure.segments(output="arrow", **common)
    assert got == records(frame)
    assert got == [{k: (None if v != v else v) for k, v in row.items()} for row in
                   table.to_pylist()]  # fmt: skip
    assert got.attrs["definitions"]["as_of"] == frame.attrs["definitions"]["as_of"]
    assert got.attrs["thresholds"] == frame.attrs["thresholds"]
    assert tenure.analysis.segments_document(got, kind) == tenure.analysis.segments_document(
        frame, kind
    )
