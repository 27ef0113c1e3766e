"""The send-time gate: decisions a second, and claims (the gate and the
contact recorded, one transaction each) a second.

Makes a fresh operational store (SQLite, and PostgreSQL with ``--postgres
URL``) with N customers (default 50,000), each with e-mail marketing
consent (one in four withdrawn later) and up to three e-mails sent in the
last week, then times ``may_contact`` for a sample of customers in one
transaction (with a cap, a budget and quiet hours configured), and a
sample of claims, each in its own ``BEGIN IMMEDIATE`` transaction, as a
sender makes them.

    python benchmarks/consent_gate.py [--customers N] [--sample 5000] [--postgres URL] [--json]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import Log, json_out, load, machine_line

RULES = {
    "caps": {"email": {"messages": 3, "days": 7}},
    "budget": {"messages": 4, "days": 7, "priorities": {"high": 4, "normal": 3, "low": 2}},
    "quiet_hours": {"start": "21:00", "end": "08:00"},
}


def _fill(ops, n: int, now: datetime, seed: int) -> None:
    from tenure.campaigns import consent
    from tenure.campaigns.caps import record_contact

    rand = random.Random(seed)
    with consent.write_transaction(ops) as conn:
        for i in range(n):
            c = f"C{i:07d}"
            consent.append(conn, c, "email", "marketing", True, source="import",
                           at=now - timedelta(days=400), recorded_at=now)  # fmt: skip
            if rand.random() < 0.25:
                consent.append(conn, c, "email", "marketing", False, source="unsubscribe_link",
                               at=now - timedelta(days=30), recorded_at=now)  # fmt: skip
            for k in range(rand.randint(0, 3)):
                record_contact(conn, c, "email", "marketing", now - timedelta(days=k * 2 + 1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--customers", type=int, default=50_000)
    p.add_argument("--sample", type=int, default=5_000)
    p.add_argument("--postgres", help="a PostgreSQL URL (an empty database) to time as well")
    p.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "tenure-bench")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    log = Log(args.json)
    from tenure.campaigns.caps import record_contact
    from tenure.campaigns.consent import write_transaction
    from tenure.campaigns.consent_settings import read
    from tenure.campaigns.gate import may_contact
    from tenure.store.ops import OpsStore

    rules = read(RULES, "benchmark")
    now = datetime(2026, 3, 5, 12, tzinfo=UTC)  # 13:00 in Berlin: outside quiet hours
    folder = args.workdir / "consent-gate"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    results = {"customers": args.customers, "sample": args.sample, "machine": machine_line()}
    targets = [("sqlite", f"sqlite:///{folder / 'ops.sqlite'}")]
    if args.postgres:
        targets.append(("postgresql", args.postgres))
    for name, url in targets:
        ops = OpsStore.open(url)
        t = time.perf_counter()
        _fill(ops, args.customers, now, args.seed)
        log(
            f"{name}: {args.customers:,} customers filled in {time.perf_counter() - t:.1f} s (not timed)"
        )
        ids = random.Random(args.seed).sample(
            range(args.customers), min(args.sample, args.customers)
        )
        reasons: dict[str, int] = {}
        with ops.engine.connect() as conn:
            t = time.perf_counter()
            for i in ids:
                d = may_contact(conn, f"C{i:07d}", "email", "marketing", now, rules=rules,
                                address=f"c{i}@example.com", timezone="Europe/Berlin")  # fmt: skip
                reasons[d.reason or "allowed"] = reasons.get(d.reason or "allowed", 0) + 1
            decide = (time.perf_counter() - t) / len(ids)
        t = time.perf_counter()
        for i in ids:
            with write_transaction(ops) as conn:
                d = may_contact(conn, f"C{i:07d}", "email", "marketing", now, rules=rules,
                                timezone="Europe/Berlin")  # fmt: skip
                if d.allowed:
                    record_contact(conn, f"C{i:07d}", "email", "marketing", now, reference=f"b{i}")
        claim = (time.perf_counter() - t) / len(ids)
        ops.close()
        results[name] = {"decision_ms": round(decide * 1000, 3), "claim_ms": round(claim * 1000, 3),
                         "claims_per_s": round(1 / claim), "reasons": reasons, "load_after": load()}  # fmt: skip
        log(f"{name}: a decision in {decide * 1000:.2f} ms ({1 / decide:,.0f}/s); a claim (gate and "
            f"record, own transaction) in {claim * 1000:.2f} ms ({1 / claim:,.0f}/s); {reasons}; "
            f"load {load()}")  # fmt: skip
    if args.json:
        json_out(results)
    shutil.rmtree(folder, ignore_errors=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
