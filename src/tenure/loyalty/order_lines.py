"""The points of every order line, computed in DuckDB SQL over the
analytics store (see :mod:`.posting`, which writes them)."""

from __future__ import annotations

from datetime import date

from tenure.loyalty.policy import DEFAULT, Policy
from tenure.loyalty.rules import EarningRules
from tenure.sqltext import lit

TIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy keeps a time in SQLite


def lines_sql(
    rules: EarningRules,
    *,
    ingest_id: int | None = None,
    since: date | None = None,
    policy: Policy = DEFAULT,
    has_tiers: bool = False,
    has_refunded_amount: bool = False,
) -> str:
    """DuckDB SQL over the analytics store: one row per order line with its
    points, ordered by customer. An order without items is one line (``''``)
    on its amount. Amounts are in the reporting currency: an item's price
    times quantity times its order's exchange rate (an item without a price:
    its share of the order's amount by quantity)."""
    where = []
    if ingest_id is not None:
        where.append(
            f"(o._ingest_id = {int(ingest_id)} OR o.order_id IN "
            f"(SELECT order_id FROM order_items WHERE _ingest_id = {int(ingest_id)}))"
        )
    if since is not None:
        where.append(f"o.placed_at >= {lit(since.isoformat())}::TIMESTAMP")
    filt = ("WHERE " + " AND ".join(where)) if where else ""
    refunded = "o.refunded_amount_reporting" if has_refunded_amount else "NULL::DOUBLE"

    def rates(table: dict[str, float], name: str) -> str:
        if not table:
            return f"(SELECT NULL::VARCHAR AS k, NULL::DOUBLE AS {name} WHERE false)"
        values = ", ".join(f"({lit(k)}, {float(v)!r})" for k, v in table.items())
        return f"(SELECT * FROM (VALUES {values}) AS t(k, {name}))"

    multiplier = "1.0"
    tier_join = ""
    if has_tiers and rules.tier_multipliers:
        tier_join = ("LEFT JOIN member_tiers mt ON mt.customer_id = l.customer_id "
                     f"LEFT JOIN {rates(rules.tier_multipliers, 'mult')} tm ON tm.k = mt.tier")  # fmt: skip
        multiplier = "coalesce(tm.mult, 1.0)"
    window = int(policy.return_window_days)
    if policy.expiry_months is not None:
        expires = (f"l.placed_at + INTERVAL {int(policy.expiry_months)} MONTH"
                   if policy.expiry_months else "NULL::TIMESTAMP")  # fmt: skip
    elif policy.expiry_days is None:
        expires = "NULL::TIMESTAMP"
    else:
        expires = f"l.placed_at + INTERVAL {int(policy.expiry_days)} DAY"
    per_unit = float(rules.points_per_unit)
    return f"""
    WITH o AS (
      SELECT o.order_id, o.customer_id, o.placed_at, o.status, o.fx_rate,
             CAST(o.amount_reporting AS DOUBLE) AS amount,
             CAST({refunded} AS DOUBLE) AS refunded
      FROM orders o {filt}
    ), it AS (
      SELECT i.order_id, i.product_id, i.category, coalesce(i.quantity, 1) AS qty,
             CAST(i.unit_price AS DOUBLE) AS unit_price,
             sum(coalesce(i.quantity, 1)) OVER (PARTITION BY i.order_id) AS qty_all
      FROM order_items i WHERE i.order_id IN (SELECT order_id FROM o)
    ), l AS (
      SELECT o.order_id, coalesce(it.product_id, '') AS line, o.customer_id, o.placed_at,
             o.status, it.product_id, it.category,
             greatest(0, CASE
               WHEN it.order_id IS NULL THEN o.amount
               WHEN it.unit_price IS NULL THEN o.amount * it.qty / nullif(it.qty_all, 0)
               ELSE it.qty * it.unit_price * coalesce(CAST(o.fx_rate AS DOUBLE), 1.0)
             END) AS amount,
             CASE WHEN o.amount > 0 THEN least(1.0, greatest(0.0, o.refunded / o.amount))
             END AS share
      FROM o LEFT JOIN it ON it.order_id = o.order_id
    ), p AS (
      SELECT l.*, CAST(floor(coalesce(l.amount, 0)
                             * coalesce(pr.rate, cr.rate, {per_unit!r}) * {multiplier}
                             + 1e-9) AS BIGINT) AS points
      FROM l
      LEFT JOIN {rates(rules.products, "rate")} pr ON pr.k = l.product_id
      LEFT JOIN {rates(rules.categories, "rate")} cr ON cr.k = l.category
      {tier_join}
    )
    SELECT l.order_id, l.line, l.customer_id, l.points,
           CASE WHEN l.status IN ('refunded', 'cancelled') THEN l.points
                WHEN l.status = 'partially_refunded' THEN
                     CAST(round(l.points * coalesce(l.share, 0)) AS BIGINT)
                ELSE 0 END AS target,
           CAST(round(l.amount, 4) AS DOUBLE) AS amount,
           strftime(l.placed_at, '{TIME}') AS earned_at,
           strftime(l.placed_at + INTERVAL {window} DAY, '{TIME}') AS available_at,
           strftime({expires}, '{TIME}') AS expires_at
    FROM p l
    ORDER BY l.customer_id, l.placed_at, l.order_id, l.line
    """
