"""Benchmark: tenure's engine (customer summaries, monthly metrics, cohorts).

Generates N synthetic orders with DuckDB SQL (no Python loop per row) into a
Parquet file, cached by rows and seed, then measures on that same file, each
in a fresh subprocess:

* ``tenure``         ``customer_summary(ctx).to_pyarrow()``, then
                     ``period_metrics(ctx, "month")`` and
                     ``cohort_matrix(ctx, "month", "customers")``, Ibis on DuckDB;
* ``lifetimes``      ``summary_data_from_transaction_data`` (freq ``D``),
                     run in its own virtual environment when this one lacks it;
* ``pandas``         the same summary, monthly figures and cohort counts with
                     vectorised pandas and NumPy;
* ``duckdb sql``     the same outputs as tenure, hand-written DuckDB SQL;
* ``duckdb scan``    one aggregate over the same columns: the floor.

For each step it reports wall seconds (measured in the child), rows/s, CPU
seconds and the peak resident memory of that process up to the end of the
step. It checks that the tools agree on the numbers.

    .venv/bin/python benchmarks/engine.py --rows 1000000
    .venv/bin/python benchmarks/engine.py --rows 10000000 --json engine.json

Not part of the test run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import (
    LIFETIMES_VENV,
    RESULT_TAG,
    Log,
    Steps,
    child_env,
    lifetimes_python,
    load,
    mem_total_gib,
    sql_path,
    versions,
)

DEFAULT_SEED = 20240601

# The orders span the three years 2022-01-01 .. 2024-12-31 (UTC).
START = date(2022, 1, 1)
SPAN_DAYS = 1096
EPOCH = date(1970, 1, 1)
PURCHASE_STATUSES = ("completed", "pending", "partially_refunded")
WINDOW_DAYS = 365  # tenure's default activity window

# Targets of the engine issue.
TARGET_LIFETIMES_SPEEDUP = 4.0  # tenure's summary at least 4x faster than lifetimes'
TARGET_SQL_RATIO = 1.5  # tenure's summary within 1.5x of hand-written DuckDB SQL
TARGET_ROWS = 10_000_000
TARGET_TOTAL_S = 15.0  # summaries + metrics + cohorts on 10M orders

TOOLS = ("duckdb scan", "duckdb sql", "tenure", "pandas", "lifetimes")
ENGINE_IMPORTS = ("config.py", "datamodel.py", "errors.py")
# Tried in order: the pandas, NumPy and PyArrow of this environment first
# (same libraries as the pandas figures), then older ones lifetimes was
# written against.
# --------------------------------------------------------------------------- helpers


def _month_index(d: date) -> int:
    return d.year * 12 + d.month - 1


def _month_label(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _last_complete_month(as_of: date) -> int:
    """The index of the last month that ends on or before ``as_of``."""
    index = _month_index(as_of)
    return index if (as_of + timedelta(days=1)).month != as_of.month else index - 1


# --------------------------------------------------------------------------- digests
# Small summaries of each tool's output, computed after the timed steps, so
# that the parent can check the tools agree.


def _summary_digest(table: Any) -> dict[str, Any]:
    """Aggregates of a per-customer summary (a PyArrow table with tenure's columns)."""
    import pyarrow.compute as pc

    def total(col: str) -> float:
        value = pc.sum(table[col]).as_py()
        return float(value or 0)

    return {
        "customers": table.num_rows,
        "buyers": int(pc.sum(pc.greater(table["orders"], 0)).as_py() or 0),
        "orders": total("orders"),
        "x": total("x"),
        "t_x": total("t_x"),
        "T": total("T"),
        "recency_days": total("recency_days"),
        "monetary_total": total("monetary_total"),
        "monetary_avg_repeat": total("monetary_avg_repeat"),
        "active": int(pc.sum(table["active"]).as_py() or 0),
        "refunded_orders": total("refunded_orders"),
        "refunded_amount": total("refunded_amount"),
        "cancelled_orders": total("cancelled_orders"),
    }


METRIC_COLUMNS = (
    "customers_start",
    "new_customers",
    "customers_end",
    "lost_customers",
    "orders",
    "customers_ordering",
    "revenue",
)


def _metrics_digest(frame: Any) -> list[list[Any]]:
    """[period, S, N, E, L, orders, customers ordering, revenue] per month."""
    rows = []
    for rec in frame.to_dict("records"):
        row = [str(rec["period"])]
        row += [int(rec[c]) for c in METRIC_COLUMNS[:-1]]
        row.append(float(rec["revenue"]))
        rows.append(row)
    return rows


def _cohort_digest(frame: Any, counts_from_percent: bool) -> dict[str, Any]:
    """Cohort sizes and the non-zero (cohort, k) counts of a cohort matrix
    (columns ``cohort``, ``size``, then 0, 1, 2...)."""
    sizes, cells = {}, []
    ks = [c for c in frame.columns if c not in ("cohort", "size")]
    for rec in frame.to_dict("records"):
        label, size = str(rec["cohort"]), int(rec["size"])
        sizes[label] = size
        for k in ks:
            value = rec[k]
            if value is None or (isinstance(value, float) and math.isnan(value)):
                continue
            n = round(value * size / 100.0) if counts_from_percent else int(value)
            if n:
                cells.append([label, int(k), int(n)])
    return {"sizes": sizes, "cells": sorted(cells)}


# --------------------------------------------------------------------------- children


def child_generate(rows: int, seed: int, path: Path) -> None:
    """N orders for about N/10 customers, in DuckDB SQL, written to Parquet.

    Each order gets a time uniform over the three years. Customers are
    acquired at an even pace; an order goes to one of the customers acquired
    by then, most often a recent one, so that customers buy for a while and
    then lapse. About 94 % of the orders are completed, 4 % refunded, 2 %
    cancelled; amounts are log-normal (median ~45), kept to 2 decimals.
    """
    import duckdb

    started = time.perf_counter()
    customers = max(1, rows // 10)
    span_s = SPAN_DAYS * 86_400
    offset = seed * 2**36  # distinct hash inputs per seed (rows < 2**32)

    def uniform(expr: str, stream: int) -> str:
        return f"(hash(({expr}) * 16 + {stream} + {offset}) / 18446744073709551616.0)"

    tmp = path.with_suffix(".tmp")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        f"""
        COPY (
          WITH u AS (
            SELECT {uniform("i", 1)} * {span_s} AS at_s,
                   {uniform("i", 2)} AS u_customer,
                   {uniform("i", 3)} AS u_status,
                   {uniform("i", 4)} AS u_amount1,
                   {uniform("i", 5)} AS u_amount2
            FROM range({rows}) AS t(i)
          ), o AS (
            SELECT
              'C' || lpad((least({customers} - 1,
                  floor(greatest(1, {customers} * at_s / {span_s}) * (1 - pow(u_customer, 3)))
                )::BIGINT + 1)::VARCHAR, {len(str(customers))}, '0') AS customer_id,
              TIMESTAMP '{START.isoformat()}' + to_seconds(floor(at_s)::BIGINT) AS placed_at,
              CASE WHEN u_status < 0.04 THEN 'refunded'
                   WHEN u_status < 0.06 THEN 'cancelled'
                   ELSE 'completed' END AS status,
              round(greatest(0.5, exp(3.8 + 0.8 * sqrt(-2 * ln(1 - u_amount1))
                                            * cos(2 * pi() * u_amount2))), 2
              )::DECIMAL(18, 4) AS amount_reporting
            FROM u
          )
          SELECT 'O' || lpad(row_number() OVER (ORDER BY placed_at, customer_id)::VARCHAR,
                             {len(str(rows))}, '0') AS order_id,
                 customer_id, placed_at, status, amount_reporting
          FROM o
          ORDER BY placed_at, customer_id
        ) TO {sql_path(tmp)} (FORMAT parquet)
        """
    )
    count, n_customers, last = con.execute(
        f"SELECT count(*), count(DISTINCT customer_id), max(placed_at)::DATE "
        f"FROM read_parquet({sql_path(tmp)})"
    ).fetchone()
    con.close()
    tmp.replace(path)
    meta = {
        "rows": int(count),
        "customers": int(n_customers),
        "seed": seed,
        "as_of": last.isoformat(),
        "first_day": START.isoformat(),
        "parquet_mib": round(path.stat().st_size / 2**20, 1),
        "generate_s": round(time.perf_counter() - started, 2),
        "duckdb": duckdb.__version__,
    }
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    print(RESULT_TAG + json.dumps(meta), flush=True)


def child_scan(path: Path) -> None:
    import duckdb

    st = Steps()
    with st.step("setup"):
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
    with st.step("scan"):
        count, _, _, _ = con.execute(
            f"SELECT count(*), sum(amount_reporting), min(placed_at), max(customer_id) "
            f"FROM read_parquet({sql_path(path)})"
        ).fetchone()
    st.emit(count=int(count), versions=versions("duckdb"))


def child_tenure(path: Path, as_of: date) -> None:
    st = Steps()
    with st.step("import"):
        import ibis

        from tenure.engine.cohorts import cohort_matrix
        from tenure.engine.context import Context, Definitions
        from tenure.engine.metrics import period_metrics
        from tenure.engine.source import Source
        from tenure.engine.summaries import customer_summary
    with st.step("setup"):
        con = ibis.duckdb.connect()
        con.raw_sql("SET TimeZone = 'UTC'")
        orders = con.read_parquet(path)
        src = Source(con, {"orders": orders})
        ctx = Context(src, Definitions(as_of=as_of))
    with st.step("summary"):
        summary = customer_summary(ctx).to_pyarrow()
    with st.step("metrics"):
        metrics = period_metrics(ctx, "month")
    with st.step("cohorts"):
        cohorts = cohort_matrix(ctx, "month", "customers")
    st.emit(
        summary=_summary_digest(summary),
        metrics=_metrics_digest(metrics),
        cohorts=_cohort_digest(cohorts, counts_from_percent=True),
        shapes={
            "summary": [summary.num_rows, summary.num_columns],
            "metrics": list(metrics.shape),
            "cohorts": list(cohorts.shape),
        },
        versions=versions("tenure", "ibis-framework", "duckdb", "pyarrow"),
    )


def sql_summary(source: str, as_of: date) -> str:
    """Per-customer summary with tenure's columns (no customers or items tables)."""
    as_of_day = (as_of - EPOCH).days
    statuses = ", ".join(f"'{s}'" for s in PURCHASE_STATUSES)
    return f"""
    WITH o AS (
      SELECT order_id, customer_id, placed_at, coalesce(status, 'completed') AS status,
             amount_reporting AS amount, placed_at::DATE AS local_date,
             placed_at::DATE - DATE '1970-01-01' AS day
      FROM {source}
      WHERE placed_at::DATE <= DATE '{as_of.isoformat()}'
    ), days AS (
      SELECT customer_id, day, min(local_date) AS local_date, count(*) AS n,
             sum(amount) AS amount, min(placed_at) AS f, max(placed_at) AS l
      FROM o WHERE status IN ({statuses})
      GROUP BY customer_id, day
    ), agg AS (
      SELECT customer_id,
             min(f) AS first_order_at, max(l) AS last_order_at,
             sum(n) AS orders, count(*) AS purchase_days,
             min(day) AS first_day, max(day) AS last_day, min(local_date) AS first_date,
             sum(amount) AS total, arg_min(amount, day) AS first_amount
      FROM days
      GROUP BY customer_id
    ), other AS (
      SELECT customer_id,
             count(*) FILTER (WHERE status IN ('refunded', 'partially_refunded'))
               AS refunded_orders,
             coalesce(sum(amount) FILTER (WHERE status = 'refunded'), 0) AS refunded_amount,
             count(*) FILTER (WHERE status = 'cancelled') AS cancelled_orders
      FROM o GROUP BY customer_id
    )
    SELECT other.customer_id::VARCHAR AS customer_id,
           a.first_order_at, a.last_order_at,
           coalesce(a.orders, 0)::BIGINT AS orders,
           coalesce(a.purchase_days, 0)::BIGINT AS purchase_days,
           (a.purchase_days - 1)::BIGINT AS x,
           (a.last_day - a.first_day)::DOUBLE AS t_x,
           ({as_of_day} - a.first_day)::DOUBLE AS "T",
           ({as_of_day} - a.last_day)::BIGINT AS recency_days,
           a.total::DOUBLE AS monetary_total,
           a.total::DOUBLE / coalesce(a.orders, 0) AS monetary_avg,
           CASE WHEN a.purchase_days > 1
                THEN (a.total - a.first_amount)::DOUBLE / (a.purchase_days - 1) END
             AS monetary_avg_repeat,
           ({as_of_day} - a.first_day)::BIGINT AS tenure_days,
           coalesce({as_of_day} - a.last_day < {WINDOW_DAYS}, false) AS active,
           other.refunded_orders::BIGINT AS refunded_orders,
           other.refunded_amount::DOUBLE AS refunded_amount,
           other.cancelled_orders::BIGINT AS cancelled_orders,
           strftime(a.first_date, '%Y-%m') AS cohort,
           NULL::VARCHAR AS first_category, NULL::VARCHAR AS country,
           NULL::VARCHAR AS acquisition_channel, NULL::VARCHAR AS referred_by
    FROM other LEFT JOIN agg AS a USING (customer_id)
    """


def sql_metrics(source: str, as_of: date) -> str:
    """Per month: active at start and end (365-day window), new, lost, orders, revenue."""
    statuses = ", ".join(f"'{s}'" for s in PURCHASE_STATUSES)
    last = _last_complete_month(as_of)
    return f"""
    WITH p AS (
      SELECT customer_id, placed_at::DATE AS d, amount_reporting AS amount,
             year(placed_at) * 12 + month(placed_at) - 1 AS m
      FROM {source}
      WHERE coalesce(status, 'completed') IN ({statuses})
        AND placed_at::DATE <= DATE '{as_of.isoformat()}'
    ), flows AS (
      SELECT m, count(*) AS orders, count(DISTINCT customer_id) AS customers_ordering,
             sum(amount)::DOUBLE AS revenue
      FROM p GROUP BY m
    ), days AS (
      SELECT DISTINCT customer_id, d FROM p
    ), marked AS (  -- a purchase more than the window after the previous one starts a spell
      SELECT customer_id, d,
             CASE WHEN d - lag(d) OVER w <= {WINDOW_DAYS} THEN 0 ELSE 1 END AS starts
      FROM days WINDOW w AS (PARTITION BY customer_id ORDER BY d)
    ), numbered AS (
      SELECT customer_id, d,
             sum(starts) OVER (PARTITION BY customer_id ORDER BY d
                               ROWS UNBOUNDED PRECEDING) AS spell
      FROM marked
    ), spells AS (
      SELECT customer_id, spell, min(d) AS first_d, max(d) + {WINDOW_DAYS - 1} AS last_d
      FROM numbered GROUP BY customer_id, spell
    ), ranges AS (  -- months [a, b] at whose end the spell is active
      SELECT customer_id, spell,
             year(first_d) * 12 + month(first_d) - 1 AS a,
             year(last_d + 1) * 12 + month(last_d + 1) - 2 AS b
      FROM spells
    ), linked AS (
      SELECT *, lead(a) OVER w AS next_a, lead(b) OVER w AS next_b
      FROM ranges WINDOW w AS (PARTITION BY customer_id ORDER BY spell)
    ), steps AS (
      SELECT m, sum(n) AS n FROM (
        SELECT a AS m, 1 AS n FROM linked WHERE a <= b
        UNION ALL
        SELECT b + 1 AS m, -1 AS n FROM linked WHERE a <= b
      ) GROUP BY m
    ), lost AS (
      SELECT b + 1 AS m, count(*) AS lost_customers FROM linked
      WHERE a <= b AND NOT coalesce(next_a = b + 1 AND next_a <= next_b, false)
      GROUP BY m
    ), new AS (
      SELECT a AS m, count(*) AS new_customers FROM ranges WHERE spell = 1 GROUP BY m
    ), months AS (
      SELECT range AS m FROM range((SELECT min(m) FROM p), {last} + 1)
    ), active AS (
      SELECT months.m,
             coalesce(sum(steps.n) FILTER (WHERE steps.m <= months.m - 1), 0) AS customers_start,
             coalesce(sum(steps.n) FILTER (WHERE steps.m <= months.m), 0) AS customers_end
      FROM months LEFT JOIN steps ON steps.m <= months.m
      GROUP BY months.m
    )
    SELECT printf('%04d-%02d', active.m // 12, active.m % 12 + 1) AS period,
           customers_start::BIGINT AS customers_start,
           coalesce(new_customers, 0)::BIGINT AS new_customers,
           customers_end::BIGINT AS customers_end,
           coalesce(lost_customers, 0)::BIGINT AS lost_customers,
           coalesce(orders, 0)::BIGINT AS orders,
           coalesce(customers_ordering, 0)::BIGINT AS customers_ordering,
           coalesce(revenue, 0)::DOUBLE AS revenue
    FROM active
    LEFT JOIN new USING (m) LEFT JOIN lost USING (m) LEFT JOIN flows USING (m)
    ORDER BY active.m
    """


def sql_cohorts(source: str, as_of: date) -> str:
    """Per acquisition month c and months since k: customers with a purchase."""
    statuses = ", ".join(f"'{s}'" for s in PURCHASE_STATUSES)
    last = _last_complete_month(as_of)
    return f"""
    WITH pm AS (
      SELECT DISTINCT customer_id, year(placed_at) * 12 + month(placed_at) - 1 AS m
      FROM {source}
      WHERE coalesce(status, 'completed') IN ({statuses})
        AND placed_at::DATE <= DATE '{as_of.isoformat()}'
    ), firsts AS (
      SELECT m, min(m) OVER (PARTITION BY customer_id) AS c FROM pm
    )
    SELECT c, m - c AS k, count(*) AS customers
    FROM firsts
    WHERE c <= {last} AND m <= {last}
    GROUP BY c, k
    ORDER BY c, k
    """


def _cohort_frame(cells: Any) -> Any:
    """Long (c, k, customers) counts to a matrix: cohort, size, then 0, 1, 2..."""
    matrix = cells.pivot(index="c", columns="k", values="customers")
    matrix = matrix.reindex(columns=range(int(cells["k"].max()) + 1)).fillna(0).astype("int64")
    matrix.insert(0, "size", matrix[0])
    matrix.insert(0, "cohort", [_month_label(int(c)) for c in matrix.index])
    return matrix.reset_index(drop=True)


def child_sql(path: Path, as_of: date) -> None:
    st = Steps()
    with st.step("import"):
        import duckdb
    with st.step("setup"):
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        source = f"read_parquet({sql_path(path)})"
    with st.step("summary"):
        summary = con.sql(sql_summary(source, as_of)).to_arrow_table()
    with st.step("metrics"):
        metrics = con.sql(sql_metrics(source, as_of)).df()
    with st.step("cohorts"):
        cohorts = _cohort_frame(con.sql(sql_cohorts(source, as_of)).df())
    st.emit(
        summary=_summary_digest(summary),
        metrics=_metrics_digest(metrics),
        cohorts=_cohort_digest(cohorts, counts_from_percent=False),
        shapes={
            "summary": [summary.num_rows, summary.num_columns],
            "metrics": list(metrics.shape),
            "cohorts": list(cohorts.shape),
        },
        versions=versions("duckdb", "pyarrow", "pandas"),
    )


def _month_of_day(day: Any) -> Any:
    """Month indexes (year * 12 + month - 1) of day numbers since 1970-01-01."""
    import numpy as np

    return day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) + 1970 * 12


def pandas_summary(o: Any, p: Any, as_of_day: int) -> Any:
    import numpy as np
    import pandas as pd

    g = p.groupby("customer_id", sort=False)
    agg = g.agg(
        first_order_at=("placed_at", "min"),
        last_order_at=("placed_at", "max"),
        orders=("placed_at", "size"),
        first_day=("day", "min"),
        last_day=("day", "max"),
        total=("amount", "sum"),
    )
    days = p[["customer_id", "day"]].drop_duplicates()
    agg["purchase_days"] = days.groupby("customer_id", sort=False).size()
    # the first purchase day's revenue (repeat purchases are counted by day, as lifetimes does)
    first_day_rows = p[p["day"] == g["day"].transform("min")]
    agg["first_amount"] = first_day_rows.groupby("customer_id", sort=False)["amount"].sum()

    flags = pd.DataFrame(
        {
            "customer_id": o["customer_id"],
            "refunded_orders": o["status"].isin(["refunded", "partially_refunded"]),
            "refunded_amount": o["amount"].where(o["status"] == "refunded", 0.0),
            "cancelled_orders": o["status"] == "cancelled",
        }
    )
    other = flags.groupby("customer_id", sort=False).sum()
    t = other.join(agg, how="left")

    orders = t["orders"].fillna(0).astype("int64")
    first_day = t["first_day"].to_numpy(dtype="float64")
    last_day = t["last_day"].to_numpy(dtype="float64")
    total = t["total"].to_numpy(dtype="float64")
    n = orders.to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        avg = total / n
        pdays = t["purchase_days"].fillna(0).to_numpy(dtype="float64")
        avg_repeat = np.where(
            pdays > 1, (total - t["first_amount"].to_numpy()) / (pdays - 1), np.nan
        )
    bought = ~np.isnan(first_day)
    cohort = np.full(len(t), None, dtype=object)
    months = first_day[bought].astype("int64").astype("datetime64[D]").astype("datetime64[M]")
    cohort[bought] = np.datetime_as_string(months, unit="M")
    return pd.DataFrame(
        {
            "customer_id": t.index.astype("str"),
            "first_order_at": t["first_order_at"].to_numpy(),
            "last_order_at": t["last_order_at"].to_numpy(),
            "orders": n,
            "purchase_days": t["purchase_days"].fillna(0).astype("int64").to_numpy(),
            "x": pd.array(t["purchase_days"] - 1, dtype="Int64"),
            "t_x": last_day - first_day,
            "T": as_of_day - first_day,
            "recency_days": pd.array(as_of_day - t["last_day"], dtype="Int64"),
            "monetary_total": total,
            "monetary_avg": avg,
            "monetary_avg_repeat": avg_repeat,
            "tenure_days": pd.array(as_of_day - t["first_day"], dtype="Int64"),
            "active": bought & (as_of_day - last_day < WINDOW_DAYS),
            "refunded_orders": t["refunded_orders"].astype("int64").to_numpy(),
            "refunded_amount": t["refunded_amount"].to_numpy(dtype="float64"),
            "cancelled_orders": t["cancelled_orders"].astype("int64").to_numpy(),
            "cohort": cohort,
        }
    )


def pandas_metrics(p: Any, last: int) -> Any:
    import numpy as np
    import pandas as pd

    flows = p.groupby("m").agg(
        orders=("amount", "size"),
        customers_ordering=("customer_id", "nunique"),
        revenue=("amount", "sum"),
    )
    # spells of activity: a purchase day more than the window after the
    # customer's previous one starts a new spell
    code = pd.factorize(p["customer_id"])[0]
    days = pd.DataFrame({"c": code, "d": p["day"].to_numpy()}).drop_duplicates()
    days = days.sort_values(["c", "d"])
    c, d = days["c"].to_numpy(), days["d"].to_numpy()
    first_of_customer = np.r_[True, c[1:] != c[:-1]]
    starts = first_of_customer | np.r_[True, d[1:] - d[:-1] > WINDOW_DAYS]
    begin = np.flatnonzero(starts)
    end = np.r_[begin[1:], len(d)] - 1
    spell_c = c[begin]
    a = _month_of_day(d[begin])
    b = _month_of_day(d[end] + WINDOW_DAYS) - 1  # the spell ends window - 1 days after
    same_next = np.r_[spell_c[1:] == spell_c[:-1], False]
    next_a, next_b = np.r_[a[1:], 0], np.r_[b[1:], 0]
    continued = same_next & (next_a == b + 1) & (next_a <= next_b)
    full = a <= b
    first = int(p["m"].min())
    index = np.arange(first - 1, last + 1)

    def per_month(values: Any) -> Any:
        counts = pd.Series(values).value_counts()
        return counts.reindex(index, fill_value=0).to_numpy()

    before = int((a[full] < first - 1).sum() - (b[full] + 1 < first - 1).sum())
    delta = per_month(a[full]) - per_month(b[full] + 1)
    delta[0] += before
    active_end = np.cumsum(delta)
    out = pd.DataFrame(
        {
            "period": [_month_label(int(i)) for i in index[1:]],
            "customers_start": active_end[:-1],
            "new_customers": per_month(a[first_of_customer[begin]])[1:],
            "customers_end": active_end[1:],
            "lost_customers": per_month((b + 1)[full & ~continued])[1:],
        }
    )
    flows = flows.reindex(index[1:])
    out["orders"] = flows["orders"].fillna(0).astype("int64").to_numpy()
    out["customers_ordering"] = flows["customers_ordering"].fillna(0).astype("int64").to_numpy()
    out["revenue"] = flows["revenue"].fillna(0.0).to_numpy()
    return out


def pandas_cohorts(p: Any, last: int) -> Any:
    pm = p[["customer_id", "m"]].drop_duplicates()
    pm = pm.assign(c=pm.groupby("customer_id", sort=False)["m"].transform("min"))
    pm = pm[(pm["c"] <= last) & (pm["m"] <= last)]
    cells = pm.assign(k=pm["m"] - pm["c"]).groupby(["c", "k"]).size()
    return _cohort_frame(cells.rename("customers").reset_index())


def child_pandas(path: Path, as_of: date) -> None:
    st = Steps()
    with st.step("import"):
        import pandas as pd
        import pyarrow as pa
        import pyarrow.parquet as pq
    with st.step("load"):
        table = pq.read_table(path)
        amount = table.schema.get_field_index("amount_reporting")
        table = table.set_column(amount, "amount", table["amount_reporting"].cast(pa.float64()))
        o = table.to_pandas()
    with st.step("prepare"):
        # local days (UTC here), orders up to as-of, purchases, months
        o["day"] = o["placed_at"].to_numpy().astype("datetime64[D]").astype("int64")
        as_of_day = (as_of - EPOCH).days
        o = o[o["day"] <= as_of_day]
        o = o.assign(status=o["status"].fillna("completed"))
        p = o[o["status"].isin(PURCHASE_STATUSES)]
        p = p.assign(m=_month_of_day(p["day"].to_numpy()))
    last = _last_complete_month(as_of)
    with st.step("summary"):
        summary = pandas_summary(o, p, as_of_day)
    with st.step("metrics"):
        metrics = pandas_metrics(p, last)
    with st.step("cohorts"):
        cohorts = pandas_cohorts(p, last)
    st.emit(
        summary=_summary_digest(pa.Table.from_pandas(summary, preserve_index=False)),
        metrics=_metrics_digest(metrics),
        cohorts=_cohort_digest(cohorts, counts_from_percent=False),
        shapes={
            "summary": list(summary.shape),
            "metrics": list(metrics.shape),
            "cohorts": list(cohorts.shape),
        },
        versions=versions("pandas", "numpy", "pyarrow"),
        pandas=pd.__version__,
    )


def child_lifetimes(path: Path, as_of: date) -> None:
    st = Steps()
    with st.step("import"):
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq
        from lifetimes.utils import summary_data_from_transaction_data
    with st.step("load"):
        table = pq.read_table(
            path, columns=["customer_id", "placed_at", "status", "amount_reporting"]
        )
        status = pc.fill_null(table["status"], "completed")
        end = datetime.combine(as_of + timedelta(days=1), datetime.min.time())
        keep = pc.and_(
            pc.is_in(status, pa.array(PURCHASE_STATUSES)),
            pc.less(table["placed_at"], pa.scalar(end, table.schema.field("placed_at").type)),
        )
        table = table.filter(keep)
        frame = pa.table(
            {
                "customer_id": table["customer_id"],
                "placed_at": table["placed_at"],
                "amount": table["amount_reporting"].cast(pa.float64()),
            }
        ).to_pandas()
    with st.step("summary"):
        summary = summary_data_from_transaction_data(
            frame,
            "customer_id",
            "placed_at",
            monetary_value_col="amount",
            observation_period_end=as_of.isoformat(),
            freq="D",
        )
    st.emit(
        summary={
            "buyers": int(len(summary)),
            "x": float(summary["frequency"].sum()),
            "t_x": float(summary["recency"].sum()),
            "T": float(summary["T"].sum()),
        },
        shapes={"summary": list(summary.shape)},
        versions=versions("lifetimes", "pandas", "numpy", "scipy", "pyarrow"),
    )


# --------------------------------------------------------------------------- parent


def run_child(python: str, args: list[str], cwd: Path, timeout: float) -> dict[str, Any]:
    """Run this script in child mode with ``python``; its figures plus the
    wall time of the whole process."""
    command = [python, str(Path(__file__).resolve()), "--child", *args]
    load_before = load()
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            command,
            cwd=cwd,
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {
            "error": f"timed out after {timeout:.0f} s",
            "process_s": round(time.perf_counter() - started, 2),
        }
    except OSError as exc:
        return {"error": f"could not start {python}: {exc}", "process_s": 0.0}
    process_s = round(time.perf_counter() - started, 2)
    found = [
        line[len(RESULT_TAG) :] for line in proc.stdout.splitlines() if line.startswith(RESULT_TAG)
    ]
    if proc.returncode != 0 or not found:
        tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-12:]
        return {
            "error": f"exit code {proc.returncode}",
            "stderr_tail": tail,
            "process_s": process_s,
        }
    out = json.loads(found[-1])
    out["process_s"] = process_s
    out["load_before"], out["load_after"] = load_before, load()
    return out


def prepare_data(args: argparse.Namespace, log: Log) -> tuple[Path, dict[str, Any]] | None:
    workdir = Path(args.workdir or Path(tempfile.gettempdir()) / "tenure-bench-engine")
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"orders-{args.rows}-seed{args.seed}.parquet"
    meta_path = path.with_suffix(".json")
    if path.exists() and meta_path.exists() and not args.regenerate:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        log(f"orders: reusing {path} ({meta['rows']:,} orders, {meta['customers']:,} customers)")
        meta["reused"] = True
        return path, meta
    log(f"orders: generating {args.rows:,} into {path} ...")
    meta = run_child(
        sys.executable,
        ["generate", "--rows", str(args.rows), "--seed", str(args.seed), "--path", str(path)],
        workdir,
        args.timeout,
    )
    if "error" in meta:
        log("  generation failed:", meta["error"], *meta.get("stderr_tail", []), sep="\n  ")
        return None
    meta["reused"] = False
    log(
        f"  {meta['rows']:,} orders, {meta['customers']:,} customers, as of {meta['as_of']}, "
        f"Parquet {meta['parquet_mib']:.0f} MiB, in {meta['generate_s']:.1f} s "
        "(not part of the measurement)"
    )
    return path, meta


def _best_run(outs: list[dict[str, Any]]) -> dict[str, Any]:
    """One result from repeated runs: for each step the fastest run (other
    work on the machine only ever adds time), the highest peak memory;
    checks from the first run."""
    if len(outs) == 1:
        return outs[0]
    out = dict(outs[0])
    steps = []
    for i, step in enumerate(outs[0]["steps"]):
        runs = [o["steps"][i] for o in outs]
        best = min(runs, key=lambda r: r["seconds"])
        steps.append(
            {
                "step": step["step"],
                "seconds": best["seconds"],
                "cpu_s": best["cpu_s"],
                "peak_rss_mib": max(r["peak_rss_mib"] for r in runs),
                "all_seconds": [r["seconds"] for r in runs],
            }
        )
    out["steps"] = steps
    out["peak_rss_mib"] = max(o["peak_rss_mib"] for o in outs)
    out["process_s"] = min(o["process_s"] for o in outs)
    out["load_before"] = max(o["load_before"] or 0 for o in outs)
    out["load_after"] = max(o["load_after"] or 0 for o in outs)
    return out


def measured(out: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Steps by name, with ``total``: every step after the imports."""
    steps = {s["step"]: s for s in out.get("steps", [])}
    work = [s for s in out.get("steps", []) if s["step"] != "import"]
    if len(work) > 1:
        steps["total"] = {
            "step": "total",
            "seconds": round(sum(s["seconds"] for s in work), 3),
            "cpu_s": round(sum(s["cpu_s"] for s in work), 2),
            "peak_rss_mib": max(s["peak_rss_mib"] for s in work),
        }
    return steps


def _close(a: float, b: float, rel: float = 1e-9) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-6)


def compare_summary(
    ref: dict[str, Any], other: dict[str, Any], keys: list[str], rel: float = 1e-9
) -> list[str]:
    return [
        f"{k} {ref[k]:,.6g} vs {other[k]:,.6g}" for k in keys if not _close(ref[k], other[k], rel)
    ]


def compare_metrics(ref: list[list[Any]], other: list[list[Any]]) -> list[str]:
    if [r[0] for r in ref] != [r[0] for r in other]:
        return [f"months {ref[0][0]}..{ref[-1][0]} vs {other[0][0]}..{other[-1][0]}"]
    diffs = []
    for a, b in zip(ref, other, strict=True):
        for name, x, y in zip(METRIC_COLUMNS, a[1:], b[1:], strict=True):
            if not _close(float(x), float(y)):
                diffs.append(f"{a[0]} {name} {x} vs {y}")
    return diffs


def compare_cohorts(ref: dict[str, Any], other: dict[str, Any]) -> list[str]:
    diffs = []
    if ref["sizes"] != other["sizes"]:
        diffs.append("cohort sizes differ")
    if ref["cells"] != other["cells"]:
        a = {(c, k): n for c, k, n in ref["cells"]}
        b = {(c, k): n for c, k, n in other["cells"]}
        bad = sorted(key for key in a.keys() | b.keys() if a.get(key) != b.get(key))
        diffs.append(f"{len(bad)} cells differ, e.g. {bad[:3]}")
    return diffs


SUMMARY_KEYS = [
    "customers",
    "buyers",
    "orders",
    "x",
    "t_x",
    "T",
    "recency_days",
    "monetary_total",
    "monetary_avg_repeat",
    "active",
    "refunded_orders",
    "refunded_amount",
    "cancelled_orders",
]


def agreement(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Do the tools compute the same numbers as tenure?"""
    checks: list[dict[str, Any]] = []
    ten = results.get("tenure")
    if not ten or "error" in ten:
        return checks

    def add(name: str, diffs: list[str], what: str) -> None:
        checks.append({"check": name, "ok": not diffs, "what": what, "diffs": diffs[:5]})

    s = ten["summary"]
    pd_ = results.get("pandas")
    if pd_ and "error" not in pd_:
        add(
            "tenure summary = pandas",
            compare_summary(s, pd_["summary"], ["customers", "x", "T"]),
            f"count {s['customers']:,}, sum x {s['x']:,.0f}, sum T {s['T']:,.0f}",
        )
        add(
            "tenure summary = pandas, all aggregates",
            compare_summary(s, pd_["summary"], SUMMARY_KEYS),
            "sums of orders, t_x, recency, monetary, active, refunds, cancellations",
        )
        add("tenure metrics = pandas", compare_metrics(ten["metrics"], pd_["metrics"]), "")
        add("tenure cohorts = pandas", compare_cohorts(ten["cohorts"], pd_["cohorts"]), "")
    sql = results.get("duckdb sql")
    if sql and "error" not in sql:
        add(
            "tenure summary = duckdb sql",
            compare_summary(s, sql["summary"], SUMMARY_KEYS),
            "all aggregates",
        )
        add("tenure metrics = duckdb sql", compare_metrics(ten["metrics"], sql["metrics"]), "")
        add("tenure cohorts = duckdb sql", compare_cohorts(ten["cohorts"], sql["cohorts"]), "")
    life = results.get("lifetimes")
    if life and "error" not in life:
        ref = {"buyers": s["buyers"], "x": s["x"], "t_x": s["t_x"], "T": s["T"]}
        add(
            "tenure summary = lifetimes",
            compare_summary(ref, life["summary"], ["buyers", "x", "t_x", "T"]),
            "customers with a purchase, sums of x = frequency, t_x = recency, T",
        )
    return checks


def ratios(results: dict[str, dict[str, Any]], rows: int) -> list[dict[str, Any]]:
    def sec(tool: str, step: str) -> float | None:
        out = results.get(tool)
        if not out or "error" in out:
            return None
        got = measured(out).get(step)
        return got["seconds"] if got else None

    lines: list[dict[str, Any]] = []
    ts, tt = sec("tenure", "summary"), sec("tenure", "total")
    ls, ll = sec("lifetimes", "summary"), sec("lifetimes", "load")
    if ts and ls:
        speedup = ls / ts
        lines.append(
            {
                "ratio": "lifetimes summary / tenure summary",
                "value": round(speedup, 2),
                "target": f">= {TARGET_LIFETIMES_SPEEDUP:g}x",
                "met": speedup >= TARGET_LIFETIMES_SPEEDUP,
                "note": "lifetimes' call only; tenure's includes reading the Parquet file",
            }
        )
        if ll is not None:
            lines.append(
                {
                    "ratio": "lifetimes load + summary / tenure setup + summary",
                    "value": round((ls + ll) / (ts + sec("tenure", "setup")), 2),
                    "target": "",
                    "met": None,
                    "note": "both from the Parquet file",
                }
            )
    ss = sec("duckdb sql", "summary")
    if ts and ss:
        ratio = ts / ss
        lines.append(
            {
                "ratio": "tenure summary / duckdb sql summary",
                "value": round(ratio, 2),
                "target": f"<= {TARGET_SQL_RATIO:g}x",
                "met": ratio <= TARGET_SQL_RATIO,
                "note": "",
            }
        )
    st = sec("duckdb sql", "total")
    if tt and st:
        lines.append(
            {
                "ratio": "tenure total / duckdb sql total",
                "value": round(tt / st, 2),
                "target": "",
                "met": None,
                "note": "tenure's metrics compute more columns than the SQL",
            }
        )
    pt = sec("pandas", "total")
    if tt and pt:
        lines.append(
            {
                "ratio": "pandas total / tenure total",
                "value": round(pt / tt, 2),
                "target": "",
                "met": None,
                "note": "pandas' includes reading the file into memory",
            }
        )
    if tt:
        limit = TARGET_TOTAL_S * rows / TARGET_ROWS
        met = tt < limit
        at_target = rows == TARGET_ROWS
        lines.append(
            {
                "ratio": "tenure total seconds (setup + summary + metrics + cohorts)",
                "value": tt,
                "target": f"< {limit:.3g} s"
                + ("" if at_target else f" (pro rata of {TARGET_TOTAL_S:g} s at 10M, indicative)"),
                "met": met,
                "note": "",
            }
        )
    return lines


def markdown(rows: int, results: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| rows | tool | step | seconds | rows/s | CPU s | peak RSS MiB | 1-min load |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for tool, out in results.items():
        if "error" in out:
            lines.append(f"| {rows:,} | {tool} | not run | — | — | — | — | {out['error']} |")
            continue
        for name, step in measured(out).items():
            if name == "import":
                continue
            secs = step["seconds"]
            # rows/s of the steps that read the orders; setup only connects
            rate = f"{rows / secs:,.0f}" if secs > 0 and name != "setup" else ""
            bold = "**" if name == "total" or (tool == "tenure" and name == "summary") else ""
            load = f"{out['load_before']} → {out['load_after']}" if name == "total" else ""
            lines.append(
                f"| {rows:,} | {tool} | {bold}{name}{bold} | {bold}{secs:.2f}{bold} | {rate} "
                f"| {step['cpu_s']:.1f} | {step['peak_rss_mib']:,.0f} | {load} |"
            )
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    import hashlib

    import tenure

    # the engine's own files and the modules it imports from the package
    root = Path(tenure.__file__).resolve().parent
    files = [*(root / "engine").rglob("*.py"), *(root / f for f in ENGINE_IMPORTS)]
    digest = hashlib.sha256()
    for path in sorted(p for p in files if p.exists()):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "engine", *ENGINE_IMPORTS],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        revision = head + (" with uncommitted changes to the engine" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        revision = None
    mem = mem_total_gib()
    return {
        "tenure_source": revision,
        "engine_digest": digest.hexdigest()[:12],
        "cpu_count": os.cpu_count(),
        "mem_total_gib": mem,
        "platform": platform.platform(),
        "versions": versions(
            "tenure", "ibis-framework", "duckdb", "pyarrow", "pandas", "numpy", "sqlglot"
        ),
    }


def describe(tool: str, out: dict[str, Any], rows: int) -> str:
    if "error" in out:
        tail = "\n      ".join(out.get("stderr_tail", []))
        return f"  {tool:<12} NOT RUN: {out['error']}" + (f"\n      {tail}" if tail else "")
    steps = ", ".join(
        f"{name} {s['seconds']:.2f} s" for name, s in measured(out).items() if name != "total"
    )
    total = measured(out).get("total")
    head = f"  {tool:<12} " + (f"total {total['seconds']:.2f} s: " if total else "")
    return (
        f"{head}{steps}\n      process {out['process_s']:.2f} s, peak "
        f"{out['peak_rss_mib']:,.0f} MiB, load {out['load_before']}->{out['load_after']}"
    )


def parent(args: argparse.Namespace) -> int:
    log = Log(to_stderr=args.json == "-")
    info = machine()
    log(f"machine: {info['cpu_count']} cores, {info['mem_total_gib']} GiB RAM, {info['platform']}")
    log("versions: " + ", ".join(f"{k} {v}" for k, v in info["versions"].items()))
    log(
        f"tenure source: {info['tenure_source'] or 'not a git checkout'}, "
        f"engine files digest {info['engine_digest']}"
    )
    prepared = prepare_data(args, log)
    if prepared is None:
        return 1
    path, meta = prepared
    rows = int(meta["rows"])
    as_of = meta["as_of"]
    common = ["--path", str(path), "--as-of", as_of]

    results: dict[str, dict[str, Any]] = {}
    lifetimes_note = None
    for tool in args.tools:
        python = sys.executable
        if tool == "lifetimes":
            python, lifetimes_note = lifetimes_python(args, log)
            if python is None:
                results[tool] = {"error": lifetimes_note}
                log(describe(tool, results[tool], rows))
                continue
        outs = []
        for _ in range(args.repeat):
            out = run_child(python, [tool.replace(" ", "-"), *common], path.parent, args.timeout)
            outs.append(out)
            if "error" in out:
                break
        failed = [o for o in outs if "error" in o]
        results[tool] = failed[0] if failed else _best_run(outs)
        log(describe(tool, results[tool], rows))

    checks = agreement(results)
    ratio_lines = ratios(results, rows)
    scan = results.get("duckdb scan")
    if scan and scan.get("count") != rows and "error" not in scan:
        checks.append({"check": "scan counted every order", "ok": False, "what": "", "diffs": []})

    document = {
        "date": date.today().isoformat(),
        "machine": info,
        "data": meta,
        "lifetimes_environment": lifetimes_note,
        "results": {
            tool: {k: v for k, v in out.items() if k not in ("metrics", "cohorts")}
            for tool, out in results.items()
        },
        "ratios": ratio_lines,
        "checks": checks,
    }
    changed = machine()["engine_digest"] != info["engine_digest"]
    if args.json == "-":
        print(json.dumps(document, indent=2))
    else:
        print()
        print(markdown(rows, results))
        print()
        for r in ratio_lines:
            verdict = "" if r["met"] is None else (" met" if r["met"] else " MISSED")
            target = f"  target {r['target']}:{verdict}" if r["target"] else ""
            note = f"  ({r['note']})" if r["note"] else ""
            value = f"{r['value']:.2f}" + ("" if "seconds" in r["ratio"] else "x")
            print(f"{r['ratio']}: {value}{target}{note}")
        print()
        for c in checks:
            what = f" ({c['what']})" if c["what"] else ""
            diffs = "" if c["ok"] else ": " + "; ".join(c["diffs"])
            print(f"check {c['check']}{what}: {'agrees' if c['ok'] else 'DIFFERS'}{diffs}")
        for tool, out in results.items():
            if "error" in out:
                why = out["error"] + "".join(
                    f"; {t.strip()}" for t in out.get("stderr_tail", [])[-1:]
                )
                print(f"{tool} did not run: {why}")
        life = results.get("lifetimes")
        if life and "error" not in life:
            v = life["versions"]
            print(
                f"lifetimes ran with lifetimes {v['lifetimes']}, pandas {v['pandas']}, "
                f"numpy {v['numpy']}, Python {v['python']} ({lifetimes_note})"
            )
        print(
            "\nseconds: wall time of the step inside its own process; total: every step "
            "after the imports; peak RSS: that process's peak (VmHWM) up to the end of the step."
        )
        if changed:
            print(
                "WARNING: the engine's source files changed during the runs; figures mix versions."
            )
        if args.json:
            Path(args.json).write_text(json.dumps(document, indent=2), encoding="utf-8")
            print(f"wrote {args.json}")
    failed = any("error" in out for tool, out in results.items() if tool != "lifetimes")
    return 1 if failed or not all(c["ok"] for c in checks) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="orders to generate")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--tools",
        nargs="+",
        choices=TOOLS,
        default=list(TOOLS),
        help="what to measure (default: all, in this order)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs per tool; each step shows its fastest run",
    )
    parser.add_argument(
        "--workdir",
        help="folder for the cached orders (default: tenure-bench-engine in the temp folder)",
    )
    parser.add_argument("--regenerate", action="store_true", help="regenerate the cached orders")
    parser.add_argument(
        "--json",
        nargs="?",
        const="-",
        help="print the figures as JSON instead of the table, or with FILE write them there",
    )
    parser.add_argument("--lifetimes-python", help="an interpreter that has lifetimes installed")
    parser.add_argument(
        "--no-setup",
        action="store_true",
        help=f"do not create {LIFETIMES_VENV.name} when lifetimes is missing",
    )
    parser.add_argument(
        "--timeout", type=float, default=3600, help="seconds before one measured process is stopped"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--as-of", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be 1 or more")
    if args.seed < 0 or args.seed >= 2**26:
        parser.error("--seed must be between 0 and 2**26 - 1")
    if args.repeat < 1:
        parser.error("--repeat must be 1 or more")

    if args.child:
        path = Path(args.path)
        as_of = date.fromisoformat(args.as_of) if args.as_of else None
        children = {
            "duckdb-scan": lambda: child_scan(path),
            "duckdb-sql": lambda: child_sql(path, as_of),
            "tenure": lambda: child_tenure(path, as_of),
            "pandas": lambda: child_pandas(path, as_of),
            "lifetimes": lambda: child_lifetimes(path, as_of),
            "generate": lambda: child_generate(args.rows, args.seed, path),
        }
        if args.child not in children:
            parser.error(f"unknown child mode {args.child!r}")
        children[args.child]()
        return 0
    return parent(args)


if __name__ == "__main__":
    sys.exit(main())
