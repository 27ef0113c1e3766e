"""Benchmark: segments and fits from a store, against DuckDB SQL and lifetimes,
and the refresh after a small ingest.

Generates N orders for about N / 7.3 customers to Parquet (``_orders.py``),
ingests them into a fresh store with ``tenure ingest``, then times, side by
side in one run and each as a command a user would type (start-up, imports
and printing included):

* ``tenure segments --store S --json``;
* a hand-written DuckDB SQL RFM summary of the same Parquet (``python -c``
  with duckdb: the same scores and segments, one row per segment);
* lifetimes' ``summary_data_from_transaction_data`` (``python -c``);
* ``tenure fit bgnbd --store S --json`` and ``tenure fit bgnbd --orders
  FILE --json``;
* lifetimes' summary + ``BetaGeoFitter().fit`` (``python -c``).

Then it keeps scores (``tenure predict --model bgnbd``, not timed),
ingests 10,000 new orders (the next week, some new customers) and times
the ingest (which refreshes the customer summary and, with the kept fit,
the scores of the customers it touched) and ``tenure segments`` against
the DuckDB SQL summary of the whole data, and prints the ratio; then
``--batches`` - 1 more such batches, one after the other, and the mean ratio
(the cost of one batch depends on what the batches before it left: the
first after a large load rewrites more of the store than the next ones). It checks that tenure's segments equal the
SQL's, customer for customer per segment, before and after the new orders,
and that the fits agree.

    .venv/bin/python benchmarks/summary.py --orders 200000
    .venv/bin/python benchmarks/summary.py --orders 7300000 --repeat 2 --json summary.json

Not part of the test run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import _orders
from _common import (
    Log,
    fmt_ratio,
    json_out,
    lifetimes_python,
    machine_line,
    run_command,
    source_revision,
    tenure_bin,
    versions,
)

TARGET_ORDERS = 7_300_000
TARGET_SEGMENTS_SQL = 1.5  # tenure segments <= 1.5x the SQL summary
TARGET_LIFETIMES = 5.0  # >= 5x faster than lifetimes (summary; summary + fit)
TARGET_REFRESH_SQL = 3.0  # ingest + segments + scores <= 3x the SQL summary
PURCHASES = ("completed", "pending", "partially_refunded")

# The RFM summary as a user would write it in DuckDB SQL: tenure's
# definitions (purchases only, recency in days to the last purchase day,
# quintiles by percent rank, the named segments of tenure.segmentation.rfm).
SQL_SCRIPT = r"""
import json, sys, duckdb
files = json.loads(sys.argv[1])
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
# DuckDB draws its progress bar on stdout when a query takes over 2 s (a busy machine)
con.execute("SET enable_progress_bar = false")
rows = con.execute('''
WITH p AS (
  SELECT customer_id, placed_at::DATE AS day, amount
  FROM read_parquet($files)
  WHERE coalesce(status, 'completed') IN ('completed', 'pending', 'partially_refunded')
), s AS (
  SELECT customer_id, (SELECT max(day) FROM p) - max(day) AS recency_days,
         count(*) AS orders, sum(amount) AS monetary_total
  FROM p GROUP BY customer_id
), q AS (
  SELECT *,
    least(floor(5 * percent_rank() OVER (ORDER BY recency_days DESC))::INT + 1, 5) AS r,
    least(floor(5 * percent_rank() OVER (ORDER BY orders))::INT + 1, 5) AS f,
    least(floor(5 * percent_rank() OVER (ORDER BY monetary_total))::INT + 1, 5) AS m
  FROM s
), n AS (
  SELECT *, CASE
    WHEN r >= 4 AND (f + m + 1) // 2 >= 4 THEN 'champions'
    WHEN r = 5 AND (f + m + 1) // 2 = 1 THEN 'new'
    WHEN r = 4 AND (f + m + 1) // 2 = 1 THEN 'promising'
    WHEN r >= 4 THEN 'potential loyalists'
    WHEN r = 3 AND (f + m + 1) // 2 >= 4 THEN 'loyal'
    WHEN r = 3 AND (f + m + 1) // 2 = 3 THEN 'need attention'
    WHEN r = 3 THEN 'about to sleep'
    WHEN r = 1 AND (f + m + 1) // 2 >= 4 THEN 'can''t lose them'
    WHEN (f + m + 1) // 2 >= 3 THEN 'at risk'
    WHEN r = 2 THEN 'hibernating'
    ELSE 'lost' END AS segment
  FROM q
)
SELECT segment, count(*), sum(monetary_total)::DOUBLE, avg(recency_days), avg(orders)
FROM n GROUP BY segment ORDER BY segment
''', {"files": files}).fetchall()
print(json.dumps({"segments": [
  {"segment": s, "customers": c, "revenue": v, "avg_recency_days": r, "avg_orders": o}
  for s, c, v, r, o in rows]}))
"""

# lifetimes as its documentation shows it: the purchases of the file into
# pandas, then its summary (and, with "fit", BetaGeoFitter on it).
LIFETIMES_SCRIPT = r"""
import json, sys
import pyarrow as pa, pyarrow.compute as pc, pyarrow.parquet as pq
from lifetimes.utils import summary_data_from_transaction_data
path, mode = sys.argv[1], sys.argv[2]
t = pq.read_table(path, columns=["customer_id", "placed_at", "amount", "status"])
t = t.filter(pc.is_in(pc.fill_null(t["status"], "completed"),
                      pa.array(["completed", "pending", "partially_refunded"])))
frame = pa.table({"customer_id": t["customer_id"], "placed_at": t["placed_at"],
                  "amount": t["amount"].cast(pa.float64())}).to_pandas()
as_of = frame["placed_at"].max().normalize()
if mode == "summary":
    s = summary_data_from_transaction_data(frame, "customer_id", "placed_at",
        monetary_value_col="amount", observation_period_end=as_of, freq="D")
    print(json.dumps({"customers": len(s), "x": float(s["frequency"].sum()),
                      "monetary": float(s["monetary_value"].sum())}))
else:
    from lifetimes import BetaGeoFitter
    s = summary_data_from_transaction_data(frame, "customer_id", "placed_at",
        observation_period_end=as_of, freq="D")
    f = BetaGeoFitter(penalizer_coef=0.0).fit(s["frequency"], s["recency"], s["T"])
    print(json.dumps({"customers": len(s), "params": {k: float(v) for k, v in f.params_.items()}}))
"""


def _segments(doc: Any) -> dict[str, tuple[int, float]] | None:
    if not isinstance(doc, dict) or not isinstance(doc.get("segments"), list):
        return None
    return {s["segment"]: (int(s["customers"]), float(s["revenue"])) for s in doc["segments"]}


def compare_segments(tenure_doc: Any, sql_doc: Any) -> str:
    a, b = _segments(tenure_doc), _segments(sql_doc)
    if a is None or b is None:
        return "not compared (no segments)"
    a = {k: v for k, v in a.items() if v[0]}
    bad = [
        f"{k}: {a.get(k)} vs {b.get(k)}"
        for k in sorted(set(a) | set(b))
        if a.get(k, (0, 0))[0] != b.get(k, (0, 0))[0]
        or abs(a.get(k, (0, 0.0))[1] - b.get(k, (0, 0.0))[1]) > 1e-6 * max(1, abs(b[k][1]))
    ]
    n = sum(v[0] for v in b.values())
    return f"ok: same 11 segments, {n:,} customers" if not bad else "DIFFER: " + "; ".join(bad)


def compare_params(a: Any, b: Any, rel: float) -> str:
    pa_, pb = (d.get("params") if isinstance(d, dict) else None for d in (a, b))
    if not pa_ or not pb:
        return "not compared"
    worst = max(abs(pa_[k] - pb[k]) / max(abs(pb[k]), 1e-12) for k in ("r", "alpha", "a", "b"))
    verdict = "ok" if worst <= rel else "DIFFER"
    return f"{verdict}: largest relative difference {worst:.1e}"


class Bench:
    def __init__(self, args: argparse.Namespace, log: Log) -> None:
        self.args, self.log = args, log
        self.workdir = Path(args.workdir or Path(tempfile.gettempdir()) / "tenure-bench-summary")
        self.workdir = self.workdir.resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.tenure = tenure_bin()

    def run(self, label: str, command: list[str]) -> dict[str, Any]:
        out = run_command(command, cwd=self.workdir, timeout=self.args.timeout)
        out["label"] = label
        status = out.get("error") or "ok"
        self.log(
            f"  {label:<34} {out['seconds']:>8.2f} s  peak {out['peak_rss_mib']:>7,.0f} MiB  "
            f"cpu {out['cpu_s']:>6.1f} s  load {out['load_before']}->{out['load_after']}  {status}"
        )
        if "error" in out:
            self.log("      " + "\n      ".join(out["stderr_tail"]))
        return out


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest run that succeeded (other work only ever adds time)."""
    good = [r for r in runs if "error" not in r] or runs
    out = dict(min(good, key=lambda r: r["seconds"]))
    out["all_seconds"] = [r["seconds"] for r in runs]
    out["peak_rss_mib"] = max(r["peak_rss_mib"] for r in runs)
    return out


def verdict(ok: bool, orders: int) -> str:
    if orders == TARGET_ORDERS:
        return "met" if ok else "MISSED"
    return f"indicative: {'would meet' if ok else 'would miss'}"


def parent(args: argparse.Namespace) -> int:
    log = Log(False)
    bench = Bench(args, log)
    log(f"machine: {machine_line()}")
    log(f"tenure: {source_revision()}")
    log("versions: " + ", ".join(f"{k} {v}" for k, v in versions(
        "tenure", "duckdb", "ibis-framework", "pyarrow", "pandas", "lifetimes").items()))  # fmt: skip
    lt_python, lt_where = lifetimes_python(args, log)
    log(f"lifetimes: {lt_where}")
    log(f"workdir: {bench.workdir}\n")

    path, meta = _orders.cached(args.orders, bench.workdir, args.seed, log)
    store = bench.workdir / f"store-{args.orders}"
    shutil.rmtree(store, ignore_errors=True)
    log("\nstore (fresh; not part of the comparison):")
    ingest = bench.run(
        "tenure ingest orders FILE",
        [bench.tenure, "ingest", "orders", str(path), "--store", str(store), "--json"],
    )
    if "error" in ingest:
        return 1
    tools = {
        "tenure segments": [bench.tenure, "segments", "--store", str(store), "--json"],
        "duckdb sql rfm": [sys.executable, "-c", SQL_SCRIPT, json.dumps([str(path)])],
        "lifetimes summary": [lt_python or "", "-c", LIFETIMES_SCRIPT, str(path), "summary"],
        "tenure fit bgnbd --store": [bench.tenure, "fit", "bgnbd", "--store", str(store), "--json"],
        "tenure fit bgnbd --orders FILE": [
            bench.tenure,
            "fit",
            "bgnbd",
            "--orders",
            str(path),
            "--json",
        ],  # fmt: skip
        "lifetimes summary + fit": [lt_python or "", "-c", LIFETIMES_SCRIPT, str(path), "fit"],
    }
    if lt_python is None:
        tools = {k: v for k, v in tools.items() if not k.startswith("lifetimes")}
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in tools}
    for i in range(args.repeat):
        log(f"\nside by side, run {i + 1} of {args.repeat} ({meta['rows']:,} orders):")
        for label, command in tools.items():
            runs[label].append(bench.run(label, command))
    res = {k: best(v) for k, v in runs.items()}
    docs = {k: json_out(v) for k, v in res.items()}
    checks = {
        "segments = SQL": compare_segments(docs["tenure segments"], docs["duckdb sql rfm"]),
        "fit store = fit file": compare_params(
            docs["tenure fit bgnbd --store"], docs["tenure fit bgnbd --orders FILE"], 1e-6
        ),
    }
    if "lifetimes summary" in docs:
        seg = _segments(docs["duckdb sql rfm"]) or {}
        lt = docs["lifetimes summary"] or {}
        n = sum(v[0] for v in seg.values())
        checks["lifetimes customers = SQL"] = (
            f"ok: {n:,}" if lt.get("customers") == n else f"DIFFER: {lt.get('customers')} vs {n}"
        )
        checks["fit = lifetimes fit"] = compare_params(
            docs["tenure fit bgnbd --store"], docs["lifetimes summary + fit"], 1e-2
        )

    # ---- 10,000 new orders: ingest, segments, scores vs the SQL summary of all
    extra_path = bench.workdir / f"extra-{args.extra}-after-{args.orders}.parquet"
    extra = _orders.extra_batch(args.extra, meta, extra_path, seed=args.seed)
    log(
        f"\n{extra['rows']:,} new orders ({extra['customers']:,} customers, "
        f"{extra['first_day']} .. {extra['last_day']}) into the same store:"
    )
    kept = bench.run(
        "tenure predict --model bgnbd (kept scores, not timed)",
        [bench.tenure, "predict", "--model", "bgnbd", "--store", str(store), "--json"],
    )
    refresh = [
        bench.run("tenure ingest orders NEW", [
            bench.tenure, "ingest", "orders", str(extra_path), "--store", str(store), "--json"]),
        bench.run("tenure segments", [bench.tenure, "segments", "--store", str(store), "--json"]),
    ]  # fmt: skip
    # a write-ahead log left by the first batch (none expected: a commit is checkpointed)
    first_wal_path = Path(store) / "analytics.duckdb.wal"
    first_wal = first_wal_path.stat().st_size / 2**20 if first_wal_path.exists() else 0.0
    both = json.dumps([str(path), str(extra_path)])
    sql_all = best(
        [bench.run("duckdb sql rfm, all orders", [sys.executable, "-c", SQL_SCRIPT, both])
         for _ in range(args.repeat)]
    )  # fmt: skip
    refresh_s = sum(r["seconds"] for r in refresh)
    checks["segments after = SQL of all"] = compare_segments(
        json_out(refresh[1]), json_out(sql_all)
    )
    # ---- more batches like it: one batch's cost depends on what those
    # before it left in the store, so the mean of several is the figure a
    # user who ingests every day sees
    later, files, last = [], [path, extra_path], extra
    for i in range(2, args.batches + 1):
        batch_path = bench.workdir / f"extra-{args.extra}-batch-{i}-after-{args.orders}.parquet"
        last = _orders.extra_batch(args.extra, last, batch_path, seed=args.seed + i)
        files.append(batch_path)
        steps = [
            bench.run(f"tenure ingest orders NEW ({i})", [
                bench.tenure, "ingest", "orders", str(batch_path), "--store", str(store),
                "--json"]),
            bench.run(f"tenure segments ({i})",
                      [bench.tenure, "segments", "--store", str(store), "--json"]),
        ]  # fmt: skip
        doc = json_out(steps[0]) or {}
        wal = Path(store) / "analytics.duckdb.wal"
        later.append({"batch": i, "steps": steps, "inserted": doc.get("inserted"),
                      "rescored": (doc.get("refreshed") or {}).get("scores_refreshed"),
                      "wal_mib": wal.stat().st_size / 2**20 if wal.exists() else 0.0})  # fmt: skip
        checks[f"batch {i} inserted"] = (
            f"ok: {args.extra:,}" if doc.get("inserted") == last["rows"] else
            f"DIFFER: inserted {doc.get('inserted')}"
        )  # fmt: skip
    if later:
        every = bench.run(
            "duckdb sql rfm, all batches (not timed)",
            [sys.executable, "-c", SQL_SCRIPT, json.dumps([str(f) for f in files])],
        )
        checks["segments after every batch = SQL of all"] = compare_segments(
            json_out(later[-1]["steps"][1]), json_out(every)
        )  # fmt: skip
    batch_s = [refresh_s] + [sum(r["seconds"] for r in b["steps"]) for b in later]
    added = json_out(refresh[0]) or {}
    rescored = (added.get("refreshed") or {}).get("scores_refreshed")
    checks["scores kept before"] = "ok" if kept.get("rc") == 0 else "FAILED: tenure predict"
    checks["scores refreshed by the ingest"] = (
        f"ok: {rescored:,} customers" if rescored else f"MISSING: {added.get('refreshed')}"
    )
    checks["new orders inserted"] = (
        f"ok: {extra['rows']:,}"
        if added.get("inserted") == extra["rows"]
        else f"DIFFER: inserted {added.get('inserted')}"
    )

    # ---- figures
    s = {k: v["seconds"] for k, v in res.items()}
    rows = meta["rows"]
    print(f"\n{rows:,} orders, {meta['customers']:,} customers; "
          f"fastest of {args.repeat} run(s); CLI start-up included\n")  # fmt: skip
    print("| command | seconds | orders/s | runs | peak RSS MiB | CPU s | × duckdb sql "
          "| lifetimes ÷ this |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for label, r in res.items():
        lt = "lifetimes summary" if "fit" not in label else "lifetimes summary + fit"
        speed = fmt_ratio(s.get(lt), r["seconds"]) if label.startswith("tenure") else ""
        print(
            f"| `{label}` | {r['seconds']:.2f} | {rows / r['seconds']:,.0f} "
            f"| {', '.join(f'{x:.2f}' for x in r['all_seconds'])} "
            f"| {r['peak_rss_mib']:,.0f} | {r['cpu_s']:.1f} "
            f"| {fmt_ratio(r['seconds'], s['duckdb sql rfm'])} | {speed} |"
        )
    print(f"\nstore: ingest of {rows:,} orders {ingest['seconds']:.2f} s, "
          f"peak {ingest['peak_rss_mib']:,.0f} MiB\n")  # fmt: skip
    print(f"after {extra['rows']:,} new orders:\n")
    print("| step | seconds | peak RSS MiB |")
    print("|---|---|---|")
    for r in refresh:
        print(f"| `{r['label']}` | {r['seconds']:.2f} | {r['peak_rss_mib']:,.0f} |")
    print(f"| **ingest + segments + scores** | **{refresh_s:.2f}** | |")
    print(f"| `duckdb sql rfm`, all orders | {sql_all['seconds']:.2f} | "
          f"{sql_all['peak_rss_mib']:,.0f} |")  # fmt: skip
    if later:
        print(
            f"\n{len(batch_s)} batches of {args.extra:,} new orders, one after the other "
            "(ingest + segments; DuckDB write-ahead log left after it):\n"
        )
        print("| batch | ingest s | segments s | together s | ÷ SQL of all | log MiB |")
        print("|---|---|---|---|---|---|")
        print(
            f"| 1 | {refresh[0]['seconds']:.2f} | {refresh[1]['seconds']:.2f} | "
            f"{refresh_s:.2f} | {refresh_s / sql_all['seconds']:.2f}× | {first_wal:.1f} |"
        )
        for b, total in zip(later, batch_s[1:], strict=True):
            print(
                f"| {b['batch']} | {b['steps'][0]['seconds']:.2f} | "
                f"{b['steps'][1]['seconds']:.2f} | {total:.2f} | "
                f"{total / sql_all['seconds']:.2f}× | {b['wal_mib']:.1f} |"
            )

    targets = []
    seg_sql = s["tenure segments"] / s["duckdb sql rfm"]
    targets.append(("tenure segments ÷ DuckDB SQL ≤ 1.5", f"{seg_sql:.2f}×",
                    verdict(seg_sql <= TARGET_SEGMENTS_SQL, rows)))  # fmt: skip
    if "lifetimes summary" in s:
        for label, lt in (
            ("tenure segments", "lifetimes summary"),
            ("tenure fit bgnbd --store", "lifetimes summary + fit"),
            ("tenure fit bgnbd --orders FILE", "lifetimes summary + fit"),
        ):
            x = s[lt] / s[label]
            targets.append(
                (f"{lt} ÷ `{label}` ≥ 5", f"{x:.2f}×", verdict(x >= TARGET_LIFETIMES, rows))
            )
    ratio = refresh_s / sql_all["seconds"]
    targets.append((f"ingest {extra['rows']:,} + segments + scores ÷ SQL of all ≤ 3",
                    f"{ratio:.2f}×", verdict(ratio <= TARGET_REFRESH_SQL, rows)))  # fmt: skip
    if later:
        mean = sum(batch_s) / len(batch_s) / sql_all["seconds"]
        targets.append((f"the same, mean of {len(batch_s)} batches one after the other ≤ 3",
                        f"{mean:.2f}×", verdict(mean <= TARGET_REFRESH_SQL, rows)))  # fmt: skip
    print("\n| target | measured | verdict |\n|---|---|---|")
    for name, value, v in targets:
        print(f"| {name} | {value} | {v} |")
    fits = {
        k: docs[k].get("params")
        for k in ("tenure fit bgnbd --store", "lifetimes summary + fit")
        if isinstance(docs.get(k), dict)
    }
    for k, params in fits.items():
        if params:
            print(f"\nBG/NBD, {k}: " + ", ".join(f"{p} {v:.4g}" for p, v in params.items()))
    print("\nchecks:")
    for name, c in checks.items():
        print(f"  {name}: {c}")
    if args.json:
        doc = {
            "machine": machine_line(),
            "tenure": source_revision(),
            "orders": meta,
            "extra": extra,
            "ingest": ingest,
            "runs": runs,
            "refresh": refresh,
            "later_batches": later,
            "batch_seconds": batch_s,
            "sql_all": sql_all,
            "targets": targets,
            "checks": checks,
            "fits": fits,
        }
        steps = [x for b in later for x in b["steps"]]
        for r in [ingest, *refresh, *steps, sql_all, *(x for v in runs.values() for x in v)]:
            r.pop("stdout", None)
        Path(args.json).write_text(json.dumps(doc, indent=2, default=str), encoding="utf-8")
        print(f"wrote {args.json}")
    if not args.keep:
        shutil.rmtree(store, ignore_errors=True)
        for f in files[1:]:
            f.unlink(missing_ok=True)
    failed = any(not c.startswith(("ok", "not")) for c in checks.values())
    errors = any("error" in r for r in [*res.values(), *refresh, sql_all])
    return 1 if failed or errors else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", "--size", type=int, default=1_000_000,
                        help="orders in the store (default 1,000,000; the target: 7,300,000)")  # fmt: skip
    parser.add_argument("--extra", type=int, default=10_000, help="new orders ingested after")
    parser.add_argument(
        "--batches",
        type=int,
        default=4,
        help="batches of --extra orders ingested one after the other (default 4)",
    )
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--repeat", type=int, default=1, help="side-by-side runs; fastest shown")
    parser.add_argument("--workdir", help="where orders and store go (default: temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the store afterwards")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per command")
    parser.add_argument("--lifetimes-python", help="an interpreter with lifetimes 0.11.3")
    parser.add_argument("--no-setup", action="store_true",
                        help="do not create a virtual environment for lifetimes")  # fmt: skip
    args = parser.parse_args(argv)
    if min(args.orders, args.extra, args.repeat, args.batches) < 1:
        parser.error("--orders, --extra, --repeat and --batches must be 1 or more")
    return parent(args)


if __name__ == "__main__":
    sys.exit(main())
