"""The win-back playbook run on a store of N customers.

Builds a store of N customers (default 20,000) through ``tenure ingest``
(not timed): nine in ten ordered once on 2024-01-10, the others on
2024-06-30, so nine in ten are lapsed 120 days. Installs the win-back
playbook (10 % holdout inside the global control) and times two runs of
``tenure.campaigns.journeys_runner.run``: the first enters the lapsed and
queues their first message; the second, a week later, queues the offer.

    python benchmarks/journey_run.py [--customers N] [--json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from tenure.campaigns import journeys, journeys_spec
    from tenure.campaigns.consent import write_transaction
    from tenure.campaigns.journeys_playbooks import folder as playbook
    from tenure.campaigns.journeys_runner import run
    from tenure.config import load_settings
    from tenure.ingestion.pipeline import ingest
    from tenure.store.workspace import Workspace

    n = args.customers
    out: dict[str, object] = {"customers": n}
    with tempfile.TemporaryDirectory(prefix="tenure-journey-") as tmp:
        root = Path(tmp)
        (root / "orders.csv").write_text("order_id,customer_id,placed_at,amount\n" + "\n".join(
            f"o{i},c{i:07d},{'2024-01-10' if i % 10 else '2024-06-30'} 12:00:00,20"
            for i in range(n)))  # fmt: skip
        (root / "customers.csv").write_text("customer_id,email,name,locale\n" + "\n".join(
            f"c{i:07d},c{i}@x.example,Ann {i},{'de' if i % 2 else 'en'}" for i in range(n)))
        settings = load_settings(store=root / "store")
        with Workspace.open(settings) as ws:
            ingest("customers", root / "customers.csv", workspace=ws)
            ingest("orders", root / "orders.csv", workspace=ws)
            with write_transaction(ws.ops) as conn:
                journeys.create(conn, journeys_spec.from_file(playbook("win-back") / "journey.toml"))
            for label, day in (("first", 1), ("week_later", 8)):
                wall, cpu = time.perf_counter(), time.process_time()
                doc = run(settings, ws.ops, "win-back", at=datetime(2024, 7, day, 9, tzinfo=UTC))
                j = doc["journeys"][0]
                out[label] = {"seconds": round(time.perf_counter() - wall, 2),
                              "cpu_seconds": round(time.process_time() - cpu, 2),
                              "entered": j["entered"]["entered"], "queued": j["queued"]}
    if args.json:
        print(json.dumps(out))
    else:
        for label in ("first", "week_later"):
            r = out[label]
            print(f"{label}: {r['seconds']} s ({r['cpu_seconds']} s CPU), entered "
                  f"{r['entered']:,}, queued {r['queued']:,}")


if __name__ == "__main__":
    main()
