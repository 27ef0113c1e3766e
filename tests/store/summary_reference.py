"""The customer summary as a query grouping the purchases per customer and
day, then per customer: the way it was first built, kept as the reference
the store's own build is held to."""

from __future__ import annotations

from tenure.sqltext import lit, q
from tenure.store import summary


def select_sql(timezone: str) -> str:
    """The summary's rows in ``timezone`` as the query grouping the purchases
    per customer and day, then per customer, once built them (the reference
    the store's summary is held to)."""
    where, ingest_id = "true", None
    local = summary._local(timezone)
    purchase = ", ".join(lit(s) for s in summary.PURCHASE_STATUSES)
    cols = ", ".join(f"CAST({q(n)} AS {t}) AS {q(n)}" for n, t in summary.COLUMNS)
    # Over the whole log, the orders are read again where each is used, not
    # kept aside (DuckDB keeps a query's part used twice): kept, 10M orders
    # took twice the CPU and spilled beyond a 2GB memory limit. The
    # customers' rows ("c", far fewer) are kept. A few customers' orders
    # are cheaper kept than found again.
    orders = "NOT MATERIALIZED " if where == "true" else ""
    return f"""
WITH o AS {orders}(
    SELECT order_id, customer_id, placed_at, coalesce(status, 'completed') AS status,
           amount_reporting AS amount, CAST({local} AS DATE) AS local_date
    FROM orders WHERE {where}
), o2 AS {orders}(
    SELECT *, local_date - DATE '1970-01-01' AS day FROM o
), p AS {orders}(
    SELECT * FROM o2 WHERE status IN ({purchase})
), d AS (
    SELECT customer_id, day, min(local_date) AS local_date, count(*) AS orders,
           sum(amount) AS amount, min(placed_at) AS first_at, max(placed_at) AS last_at
    FROM p GROUP BY customer_id, day
), c AS MATERIALIZED (
    SELECT customer_id, min(day) AS first_day, max(day) AS last_day,
           min(local_date) AS first_date, count(*) AS purchase_days, sum(orders) AS orders,
           sum(amount) AS total, arg_min(amount, day) AS first_day_amount,
           arg_min(orders, day) AS first_day_orders, min(first_at) AS first_order_at,
           max(last_at) AS last_order_at
    FROM d GROUP BY customer_id
), r AS (
    SELECT customer_id, count(*) AS all_orders, max(day) AS last_any_day,
           count(*) FILTER (WHERE status IN ('refunded', 'partially_refunded'))
               AS refunded_orders,
           sum(CASE WHEN status = 'refunded' THEN amount ELSE 0 END) AS refunded_amount,
           count(*) FILTER (WHERE status = 'cancelled') AS cancelled_orders
    FROM o2 GROUP BY customer_id
), firsts AS (
    SELECT p.order_id, p.customer_id FROM p JOIN c
    ON p.customer_id = c.customer_id AND p.day = c.first_day
), per AS (
    SELECT f.customer_id, i.category,
           sum(CAST(coalesce(i.unit_price, 0) AS DOUBLE)
               * CAST(coalesce(i.quantity, 1) AS DOUBLE)) AS value
    FROM order_items i JOIN firsts f ON i.order_id = f.order_id
    WHERE i.category IS NOT NULL GROUP BY f.customer_id, i.category
), cat AS (
    SELECT customer_id, category AS first_category FROM (
        SELECT *, row_number() OVER (PARTITION BY customer_id ORDER BY value DESC, category)
            AS rn FROM per
    ) WHERE rn = 1
)
SELECT {cols}, CAST({"NULL" if ingest_id is None else int(ingest_id)} AS BIGINT) AS _ingest_id
FROM r LEFT JOIN c USING (customer_id) LEFT JOIN cat USING (customer_id)
"""
