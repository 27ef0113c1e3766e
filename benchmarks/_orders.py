"""Orders for the end-to-end benchmarks, generated with DuckDB SQL.

One batch is N orders for about N / 7.3 customers (the ratio of the
project's targets: 7.3M orders, 1M customers) written to Parquet with the
columns ``tenure ingest orders`` reads without a mapping: ``order_id``,
``customer_id``, ``placed_at`` (TIMESTAMP, UTC), ``amount``
(DECIMAL(12,2)), ``currency`` (EUR) and ``status``. Customers arrive at a
uniform time, buy at a rate of their own until they drop out (a year on
average), so that BG/NBD has a real drop-out to fit. About 94 % of the
orders are completed, 4 % refunded, 2 % cancelled; amounts are log-normal
(median about 45). No Python loop per row: 100M orders take minutes.

A later batch (``--extra``) continues the same business: order ids after
the first batch's, times in the ``days`` after its end, customers drawn
from the first batch's plus about 2 % new ones.

Identifiers have a fixed width (``O`` + 10 digits, ``C`` + 9 digits), so a
batch's ids never collide with another's and sort like numbers.
"""

from __future__ import annotations

import json
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from _common import sql_path

ORDERS_PER_CUSTOMER = 7.3
START = date(2022, 1, 1)
SPAN_DAYS = 1096  # 2022-01-01 .. 2024-12-31


def customers_for(rows: int) -> int:
    """The range of customer ids: about 80 % of them get an order, so that
    N orders come from about N / 7.3 customers."""
    return max(1, round(rows / ORDERS_PER_CUSTOMER / 0.8))


def generate(
    rows: int,
    path: Path,
    *,
    seed: int = 20240601,
    customers: int | None = None,
    first_order: int = 1,
    start: date = START,
    span_days: int = SPAN_DAYS,
    new_share: float = 0.0,
) -> dict[str, Any]:
    """Write ``rows`` orders to ``path`` (Parquet); what was written.

    With ``new_share`` > 0 the batch continues an existing one: customers
    are drawn uniformly from ``customers`` and ``new_share`` more of them
    (new ones), instead of the acquire-then-lapse pattern."""
    import duckdb

    started = time.perf_counter()
    customers = customers or customers_for(rows)
    span_s = span_days * 86_400
    offset = seed * 2**36  # distinct hash inputs per seed (rows < 2**32)

    def uniform(expr: str, stream: int) -> str:
        return f"(hash(({expr}) * 16 + {stream} + {offset}) / 18446744073709551616.0)"

    tmp = path.with_name(path.name + ".tmp")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    amount = (
        "round(greatest(0.5, exp(3.8 + 0.8 * sqrt(-2 * ln(1 - u_amount1))"
        " * cos(2 * pi() * u_amount2))), 2)::DECIMAL(12, 2)"
    )
    status = (
        "CASE WHEN u_status < 0.04 THEN 'refunded' WHEN u_status < 0.06 THEN 'cancelled' "
        "ELSE 'completed' END"
    )
    order_u = f"""
        SELECT i, {uniform("i", 1)} AS u_pick, {uniform("i", 2)} AS u_time,
               {uniform("i", 3)} AS u_status, {uniform("i", 4)} AS u_amount1,
               {uniform("i", 5)} AS u_amount2
        FROM range({first_order}, {first_order + rows}) AS t(i)"""
    if new_share > 0:
        pool = max(customers + 1, round(customers * (1 + new_share)))
        query = f"""
          WITH u AS ({order_u})
          SELECT i, least({pool - 1}, floor(u_pick * {pool}))::BIGINT + 1 AS c,
                 u_time * {span_s} AS at_s, u_status, u_amount1, u_amount2
          FROM u"""
    else:
        # Each customer arrives at a uniform time, buys at a rate of their
        # own (log-normal) until they drop out (exponential lifetime, mean a
        # year) or the data ends. Each order picks its customer with
        # probability proportional to rate x active time (an as-of join on
        # the running sum), then a uniform time in that customer's active
        # span: purchases are Poisson given the customer, as BG/NBD assumes.
        cu = f"(({{}}) + {2**33})"
        query = f"""
          WITH c AS (
            SELECT c, arrive_s,
                   least({span_s}, arrive_s + life_s) - arrive_s AS active_s,
                   rate * (least({span_s}, arrive_s + life_s) - arrive_s + 86400) AS w
            FROM (
              SELECT c,
                     {uniform(cu.format("c"), 6)} * {span_s} AS arrive_s,
                     -ln(1 - {uniform(cu.format("c"), 7)}) * 365 * 86400 AS life_s,
                     exp(0.8 * sqrt(-2 * ln(1 - {uniform(cu.format("c"), 8)}))
                         * cos(2 * pi() * {uniform(cu.format("c"), 9)})) AS rate
              FROM range(1, {customers + 1}) AS t(c)
            )
          ), cum AS (
            SELECT c, arrive_s, active_s,
                   (sum(w) OVER (ORDER BY c) - w) / sum(w) OVER () AS from_w
            FROM c
          ), u AS ({order_u})
          SELECT u.i, cum.c, cum.arrive_s + u.u_time * cum.active_s AS at_s,
                 u.u_status, u.u_amount1, u.u_amount2
          FROM u ASOF JOIN cum ON u.u_pick >= cum.from_w"""
    con.execute(
        f"""
        COPY (
          SELECT 'O' || lpad(i::VARCHAR, 10, '0') AS order_id,
                 'C' || lpad(c::VARCHAR, 9, '0') AS customer_id,
                 TIMESTAMP '{start.isoformat()}' + to_seconds(floor(at_s)::BIGINT) AS placed_at,
                 {amount} AS amount,
                 'EUR' AS currency,
                 {status} AS status
          FROM ({query})
        ) TO {sql_path(tmp)} (FORMAT parquet)
        """
    )
    count, n_customers, first, last = con.execute(
        f"SELECT count(*), count(DISTINCT customer_id), min(placed_at)::DATE, "
        f"max(placed_at)::DATE FROM read_parquet({sql_path(tmp)})"
    ).fetchone()
    con.close()
    tmp.replace(path)
    return {
        "rows": int(count),
        "customers": int(n_customers),
        "customer_ids": customers,  # ids run from 1 to this (new ones above it)
        "first_order": first_order,
        "first_day": first.isoformat(),
        "last_day": last.isoformat(),
        "parquet_mib": round(path.stat().st_size / 2**20, 1),
        "generate_s": round(time.perf_counter() - started, 2),
    }


def cached(rows: int, workdir: Path, seed: int, log: Any) -> tuple[Path, dict[str, Any]]:
    """The first batch of ``rows`` orders in ``workdir``, generated once per
    rows and seed (the figures beside it in a .json file)."""
    path = workdir / f"orders-{rows}-seed{seed}.parquet"
    meta_path = path.with_suffix(".json")
    if path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        log(f"orders: reusing {path} ({meta['rows']:,} orders, {meta['customers']:,} customers)")
        return path, meta
    log(f"orders: generating {rows:,} into {path} ...")
    meta = generate(rows, path, seed=seed)
    meta_path.write_text(json.dumps(meta, indent=2), encoding="utf-8")
    log(
        f"  {meta['rows']:,} orders, {meta['customers']:,} customers, {meta['first_day']} .. "
        f"{meta['last_day']}, {meta['parquet_mib']:.0f} MiB in {meta['generate_s']:.1f} s "
        "(not part of any figure)"
    )
    return path, meta


def extra_batch(
    rows: int, base: dict[str, Any], path: Path, *, seed: int, days: int = 7
) -> dict[str, Any]:
    """``rows`` more orders continuing ``base`` (a batch's figures): ids
    after its last, times over the ``days`` after its last day."""
    return generate(
        rows,
        path,
        seed=seed + 1,
        customers=base["customer_ids"],
        first_order=base["first_order"] + base["rows"],
        start=date.fromisoformat(base["last_day"]) + timedelta(days=1),
        span_days=days,
        new_share=0.02,
    )
