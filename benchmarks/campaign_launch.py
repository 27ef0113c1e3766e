"""A campaign launched on a large audience: evaluated, assigned and queued.

Builds a store of N customers (default 1,000,000) through ``tenure ingest``
(not timed): each has an e-mail address and one order, 120 days before
the last day of data (one more customer ordered on that day): all N are in
the audience. Then times
``tenure.campaigns.launch`` on a win-back campaign (``lapsed:90``, a 10 %
holdout inside a 5 % global control), in two steps: the audience evaluated
in DuckDB and every customer's arm written (one transaction), and the
treatment's messages written into the outbox unrendered, for the sender to
render (one transaction per batch). Prints seconds, rows/s and peak memory; the target is under 60 s
for the whole launch.

    python benchmarks/campaign_launch.py [--customers N] [--batch B] [--json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

from _common import Log, cpu_seconds, load, machine_line, peak_rss_mib

TARGET = 60.0  # seconds for a million-customer audience


def _store(folder: Path, n: int, log: Log):
    from tenure.config import load_settings
    from tenure.ingestion.pipeline import ingest
    from tenure.store.workspace import Workspace

    orders, customers = folder / "orders.csv", folder / "customers.csv"
    with orders.open("w") as o, customers.open("w") as c:
        o.write("order_id,customer_id,placed_at,amount\n")
        c.write("customer_id,email,name,locale\n")
        o.write("last,recent,2024-06-30 12:00:00,10\n")
        c.write("recent,recent@shop.example,Recent,en\n")
        for i in range(n):
            o.write(f"o{i},C{i:07d},2024-03-02 12:00:00,{10 + i % 13}\n")
            c.write(f"C{i:07d},c{i}@shop.example,Customer {i},{'de-DE' if i % 3 else 'en'}\n")
    settings = load_settings(store=folder / "store")
    start = time.perf_counter()
    with Workspace.open(settings) as ws:
        ingest("customers", customers, workspace=ws)
        ingest("orders", orders, workspace=ws)
    log(f"store of {n:,} customers ingested in {time.perf_counter() - start:.1f} s (not timed)")
    template = _paths(folder)[1]
    for loc, hello in (("en", "Hello"), ("de", "Hallo")):
        (template / loc).mkdir(parents=True)
        (template / loc / "subject.txt").write_text(f"{hello} {{{{ first_name }}}}, we miss you")
        (template / loc / "body.txt").write_text(
            f"{hello} {{{{ name }}}},\n\nit has been a while. {{{{ today | date }}}}\n")


def _paths(folder: Path):
    from tenure.config import load_settings

    return load_settings(store=folder / "store"), folder / "win-back"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    log = Log(args.json)
    from tenure.campaigns import definitions, holdouts, launch_status
    from tenure.campaigns.consent import write_transaction
    from tenure.campaigns.launch import launch
    from tenure.store.workspace import Workspace

    with tempfile.TemporaryDirectory(prefix="tenure-bench-") as tmp:
        # the store is built in a child, so that the peak memory below is the launch's
        child = multiprocessing.get_context("fork").Process(
            target=_store, args=(Path(tmp), args.customers, log))
        child.start()
        child.join()
        settings, template = _paths(Path(tmp))
        with Workspace.open(settings, create=False) as ws:
            with write_transaction(ws.ops) as conn:
                holdouts.set_global_share(conn, 0.05)
                definitions.create(conn, definitions.spec(
                    name="win-back", template=template, audience=["lapsed:90"], holdout=0.1))
            peak_before = peak_rss_mib()
            cpu = cpu_seconds()
            start = time.perf_counter()
            done = launch(settings, ws.ops, "win-back", batch=args.batch)
            seconds = time.perf_counter() - start
            cpu = cpu_seconds() - cpu
            st = launch_status.status(ws.ops, "win-back")
    eligible = done["assigned"]["eligible"]
    result = {
        "customers": args.customers, "eligible": eligible, "arms": done["assigned"]["arms"],
        "queued": done["queued"], "seconds": round(seconds, 2), "cpu_s": round(cpu, 1),
        "eligible_per_s": round(eligible / seconds), "queued_per_s": round(done["queued"] / seconds),
        "peak_rss_mib": round(peak_rss_mib(), 1), "rss_before_mib": round(peak_before, 1),
        "accounted": st["accounted"], "target_s": TARGET, "load": load(), "machine": machine_line(),
    }  # fmt: skip
    if args.json:
        print(json.dumps(result))
        return
    log(machine_line() + f"; load {result['load']}")
    log(f"launch of {eligible:,} eligible ({args.customers:,} customers): {seconds:.1f} s "
        f"(CPU {cpu:.1f} s), {result['eligible_per_s']:,} assigned/s, "
        f"{done['queued']:,} queued ({result['queued_per_s']:,}/s); peak RSS "
        f"{result['peak_rss_mib']} MiB; target < {TARGET:.0f} s: "
        f"{'met' if seconds < TARGET else 'missed'}; accounted: {st['accounted']}")


if __name__ == "__main__":
    sys.exit(main())
