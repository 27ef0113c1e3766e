"""Posting the loyalty points of ingested orders: the bulk path against one
ledger write per order.

Generates N orders (default 1,000,000; ``_orders.py``: about 94 %
completed, 4 % refunded, 2 % cancelled), ingests them into a fresh store
(not timed), then times ``tenure.loyalty.posting.post_orders`` with 1 point
per EUR on SQLite (and on PostgreSQL with ``--postgres URL``): rows/s,
seconds and peak RSS. Beside it, what a user would write without it: one
``loyalty.earn(..., order_line=..., pending=True)`` per order, timed on a
sample and extrapolated to N (labelled as such). The target: < 60 s for
1M orders.

    python benchmarks/loyalty_post.py [--rows N] [--sample 2000] [--postgres URL] [--json]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import UTC
from pathlib import Path

import _orders
from _common import Log, cpu_seconds, json_out, load, machine_line, peak_rss_mib

TARGET_S = 60.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--sample", type=int, default=2_000, help="orders posted one by one")
    p.add_argument("--postgres", help="a PostgreSQL URL (an empty database) to time as well")
    p.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "tenure-bench")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    log = Log(args.json)
    args.workdir.mkdir(parents=True, exist_ok=True)
    from tenure.config import load_settings
    from tenure.loyalty import check_invariant, earn
    from tenure.loyalty.posting import post_orders
    from tenure.loyalty.rules import EarningRules
    from tenure.refresh import ingest
    from tenure.store.ops import OpsStore

    parquet, meta = _orders.cached(args.rows, args.workdir, args.seed, log)
    store = args.workdir / f"loyalty-store-{args.rows}"
    shutil.rmtree(store, ignore_errors=True)
    t = time.perf_counter()
    ingest("orders", parquet, store=store)
    log(f"ingested {meta['rows']:,} orders in {time.perf_counter() - t:.1f} s (not timed)")
    settings = load_settings(store=store)
    rules = EarningRules(points_per_unit=1.0)
    results = {"rows": meta["rows"], "machine": machine_line(), "target_s": TARGET_S}

    targets = [("sqlite", settings.ops_database_url)]
    if args.postgres:
        targets.append(("postgresql", args.postgres))
    for name, url in targets:
        ops = OpsStore.open(url)
        t, cpu = time.perf_counter(), cpu_seconds()
        r = post_orders(ops, settings.analytics_path, rules)
        seconds, cpu = time.perf_counter() - t, cpu_seconds() - cpu
        check_invariant(ops)
        again = post_orders(ops, settings.analytics_path, rules)
        assert again.posted == 0 and again.reversed_lines == 0, again
        ops.close()
        results[name] = {"seconds": round(seconds, 2), "rows_per_s": round(r.lines / seconds),
                         "cpu_s": round(cpu, 2), "load_after": load(), "lines": r.lines, "points": r.points, "members": r.members,
                         "replay_s": again.seconds, "peak_rss_mib": round(peak_rss_mib())}  # fmt: skip
        log(f"{name}: bulk posting of {r.lines:,} order lines in {seconds:.1f} s "
            f"({r.lines / seconds:,.0f} rows/s; {cpu:.1f} CPU s; load {load()}), "
            f"peak RSS {peak_rss_mib():,.0f} MiB; "
            f"the same again posts nothing in {again.seconds:.1f} s")  # fmt: skip

    # the obvious alternative: one ledger write per order, on a sample
    import duckdb

    sample_ops = OpsStore.open(f"sqlite:///{args.workdir / 'loyalty-sample.sqlite'}")
    rows = duckdb.sql(
        f"SELECT order_id, customer_id, placed_at, amount FROM read_parquet('{parquet}') "
        f"WHERE status = 'completed' LIMIT {int(args.sample)}").fetchall()  # fmt: skip
    t = time.perf_counter()
    for order_id, customer_id, placed_at, amount in rows:
        points = int(float(amount))
        if points:
            earn(sample_ops, customer_id, points, pending=True, order_line=order_id,
                 rule="purchase", amount=float(amount), at=placed_at.replace(tzinfo=UTC))  # fmt: skip
    per = (time.perf_counter() - t) / max(1, len(rows))
    sample_ops.close()
    (args.workdir / "loyalty-sample.sqlite").unlink(missing_ok=True)
    results["one_earn_per_order"] = {"sample": len(rows), "ms_per_order": round(per * 1000, 2),
                                     "extrapolated_s": round(per * meta["rows"], 1)}  # fmt: skip
    log(f"one loyalty.earn per order (SQLite, {len(rows):,} timed, EXTRAPOLATED to "
        f"{meta['rows']:,}): {per * meta['rows']:,.0f} s ({per * 1000:.2f} ms an order)")  # fmt: skip
    ok = results["sqlite"]["seconds"] < TARGET_S * meta["rows"] / 1_000_000
    log(f"target < {TARGET_S:.0f} s for 1M orders: {'met' if ok else 'MISSED'}")
    if args.json:
        json_out(results)
    shutil.rmtree(store, ignore_errors=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
