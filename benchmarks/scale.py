"""Benchmark: end to end at scale, one command after the other.

Generates N orders for about N / 7.3 customers (``_orders.py``; the target
is 100M orders, about 14M customers), then runs, each as the command a user types, in a fresh store:

    tenure ingest orders FILE      tenure metrics        tenure segments
    tenure fit bgnbd               tenure fit gammagamma tenure predict --model bgnbd

and reports each step's seconds, exit code and peak memory (the kernel's
``ru_maxrss`` for the command, and the resident memory of its whole process
tree sampled every 0.2 s, which counts Spark's JVM), its CPU seconds (the
whole tree's, as last sampled) and the total.

DuckDB's memory limit: where tenure has a setting for it (a field of
``tenure.config.Settings`` named like ``memory_limit``), ``--memory-limit``
is written to a ``tenure.toml`` in the folder the commands run in; where it
has none, the output says so and DuckDB runs with what tenure sets itself.

``--engine spark --master local[2]`` adds ``--engine``/``--master`` to the
commands that take them (their ``--help`` says so); the others run on DuckDB
and the table says which.

    .venv/bin/python benchmarks/scale.py --orders 1000000
    .venv/bin/python benchmarks/scale.py --orders 100000000 --memory-limit 6GB --json scale.json
    .venv/bin/python benchmarks/scale.py --orders 10000000 --engine spark --master 'local[2]'

Not part of the test run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import _orders
from _common import (
    Log,
    json_out,
    machine_line,
    run_command,
    source_revision,
    tenure_bin,
    versions,
)

TARGET_ORDERS = 100_000_000
TARGET_SECONDS = 600.0
TARGET_PEAK_MIB = 8e9 / 2**20  # 8 GB

STEPS = [
    ("ingest", ["ingest", "orders", "{file}"]),
    ("metrics", ["metrics"]),
    ("segments", ["segments"]),
    ("fit bgnbd", ["fit", "bgnbd"]),
    ("fit gammagamma", ["fit", "gammagamma"]),
    ("predict (scores)", ["predict", "--model", "bgnbd"]),
]


def memory_setting() -> str | None:
    """tenure's setting for DuckDB's memory limit, if this version has one."""
    from tenure.config import Settings

    names = [f.name for f in dataclasses.fields(Settings)]
    for name in names:
        if "memory" in name:
            return name
    return None


def takes_engine(tenure: str, command: list[str], workdir: Path) -> bool:
    ran = run_command([tenure, *command, "--help"], cwd=workdir, timeout=120)
    return "--engine" in ran["stdout"]


def parent(args: argparse.Namespace) -> int:
    log = Log(False)
    tenure = tenure_bin()
    workdir = Path(args.workdir or Path(tempfile.gettempdir()) / "tenure-bench-scale").resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    run_dir = workdir / f"run-{args.orders}-{args.engine}"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir()
    log(f"machine: {machine_line()}")
    log(f"tenure: {source_revision()}")
    log("versions: " + ", ".join(f"{k} {v}" for k, v in versions(
        "tenure", "duckdb", "ibis-framework", "pyarrow", "pyspark").items()))  # fmt: skip
    log(f"workdir: {workdir}\n")
    path, meta = _orders.cached(args.orders, workdir, args.seed, log)

    setting = memory_setting()
    if setting:
        (run_dir / "tenure.toml").write_text(f'{setting} = "{args.memory_limit}"\n', "utf-8")
        memory = f"{setting} = {args.memory_limit!r} in tenure.toml"
    else:
        memory = (
            "not set: this tenure has no setting for DuckDB's memory limit (its ingest sets "
            "2 GB itself; other commands run with DuckDB's default, 80 % of RAM)"
        )
    log(f"DuckDB memory limit: {memory}")
    store = run_dir / "store"
    results: list[dict[str, Any]] = []
    for name, command in STEPS:
        command = [c.replace("{file}", str(path)) for c in command]
        engine = "duckdb"
        if args.engine != "duckdb" and takes_engine(tenure, command[:1], run_dir):
            command += ["--engine", args.engine, "--master", args.master]
            engine = f"{args.engine} {args.master}"
        full = [tenure, *command, "--store", str(store), "--json"]
        ran = run_command(full, cwd=run_dir, timeout=args.timeout, sample_tree=True)
        ran["step"], ran["engine"] = name, engine
        ran["peak_mib"] = max(ran["peak_rss_mib"], ran.get("tree_peak_mib") or 0)
        ran["cpu_s"] = ran.get("tree_cpu_s", ran["cpu_s"])
        results.append(ran)
        status = ran.get("error") or "ok"
        log(f"  {name:<18} {engine:<16} {ran['seconds']:>9.2f} s  peak {ran['peak_mib']:>8,.0f} "
            f"MiB  cpu {ran['cpu_s']:>7.1f} s  load {ran['load_before']}->{ran['load_after']}  "
            f"{status}")  # fmt: skip
        if "error" in ran:
            log("      " + "\n      ".join(ran["stderr_tail"]))
            if name == "ingest":
                break
    doc = json_out(results[0]) or {}
    total = sum(r["seconds"] for r in results)
    peak = max(r["peak_mib"] for r in results)
    print(f"\n{meta['rows']:,} orders, {meta['customers']:,} customers "
          f"(Parquet {meta['parquet_mib']:,.0f} MiB); engine {args.engine}; "
          f"DuckDB memory limit: {memory}\n")  # fmt: skip
    rows = meta["rows"]
    print("| step | engine | seconds | orders/s | peak RSS MiB | CPU s | exit |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['step']} | {r['engine']} | {r['seconds']:.2f} | {rows / r['seconds']:,.0f} "
              f"| {r['peak_mib']:,.0f} | {r['cpu_s']:.1f} | {r['rc']} |")  # fmt: skip
    print(f"| **end to end** | | **{total:.2f}** | {rows / total:,.0f} | **{peak:,.0f}** | "
          f"{sum(r['cpu_s'] for r in results):.1f} | |")  # fmt: skip
    ok_all = all(r["rc"] == 0 for r in results) and len(results) == len(STEPS)
    inserted = doc.get("inserted")
    print(f"\ningested: {inserted} of {meta['rows']:,} orders; every step exit code 0: {ok_all}")
    if args.engine == "duckdb":
        if args.orders >= TARGET_ORDERS:
            met = ok_all and total < TARGET_SECONDS and peak < TARGET_PEAK_MIB
            v = "met" if met else "MISSED"
        else:  # time grows at least in proportion to the orders
            projected = total * TARGET_ORDERS / args.orders
            v = (f"indicative: {projected:,.0f} s pro rata to 100M orders, "
                 f"{'within' if projected < TARGET_SECONDS else 'over'} the time")  # fmt: skip
        print(f"target (100M orders): < 10 min and < 8 GB (7,629 MiB) end to end: {v}")
    if args.json:
        for r in results:
            r.pop("stdout", None)
        Path(args.json).write_text(json.dumps({
            "machine": machine_line(), "tenure": source_revision(), "orders": meta,
            "engine": args.engine, "master": args.master, "memory_limit": memory,
            "steps": results, "total_s": total, "peak_mib": peak}, indent=2, default=str),
            encoding="utf-8")  # fmt: skip
        print(f"wrote {args.json}")
    if not args.keep:
        shutil.rmtree(run_dir, ignore_errors=True)
    return 0 if ok_all and inserted == meta["rows"] else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--orders",
        "--size",
        type=int,
        default=1_000_000,
        help="orders (default 1,000,000; the target: 100,000,000)",
    )
    parser.add_argument(
        "--memory-limit",
        default="6GB",
        help="DuckDB memory limit, where tenure has a setting for it",
    )
    parser.add_argument("--engine", choices=["duckdb", "spark"], default="duckdb")
    parser.add_argument("--master", default="local[2]", help="Spark master with --engine spark")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--workdir", help="default: tenure-bench-scale in the temp folder")
    parser.add_argument("--keep", action="store_true", help="keep the store afterwards")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument("--timeout", type=float, default=7200, help="seconds per command")
    args = parser.parse_args(argv)  # fmt: skip
    if args.orders < 1:
        parser.error("--orders must be 1 or more")
    return parent(args)


if __name__ == "__main__":
    sys.exit(main())
