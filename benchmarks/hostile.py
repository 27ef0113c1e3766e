"""Benchmark: a served store under hostile clients (logins and large bodies).

Builds a store of B orders (``_orders.py``), makes a read API key, starts
``tenure serve`` on it (a secret key of its own, no demo login) and warms
its answers. Then, while ``--readers`` clients (the key as ``Authorization:
Bearer``) keep asking for kept answers, it sends at once:

* ``--logins`` unauthenticated logins (200): each client gets the form and
  its CSRF field, then posts an email no one has and a wrong password;
* ``--bodies`` request bodies of ``--body-mib`` MiB (20 of 100 MiB), half
  to ``POST /login`` as a form, half to ``POST /api/v1/users`` as JSON,
  without credentials, streamed by the client.

It reports the statuses each got and how long they took, the server's
resident memory before, its peak (sampled every 0.1 s, and ``VmHWM``) and
after, and the readers' p50 / p99 before and during the attack. The
targets: server memory below +300 MB over its level before, and the kept
answers' p99 below 500 ms.

    .venv/bin/python benchmarks/hostile.py --logins 20 --bodies 2 --body-mib 10
    .venv/bin/python benchmarks/hostile.py --json hostile.json

Not part of the test run.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import re
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _orders
from _common import Log, json_out, load, machine_line, run_command, source_revision, tenure_bin
from live import Readers, Server, figures, get, proc_mib

KEPT = ["/api/v1/segments", "/api/v1/metrics", "/api/v1/status"]
CSRF = re.compile(r'name="csrf"\s+value="([^"]+)"')
TARGET_RSS_MB = 300.0  # +300 MB = 286 MiB
TARGET_P99_MS = 500.0


def one_login(url: str, timeout: float, i: int) -> dict[str, Any]:
    import httpx

    started = time.perf_counter()
    try:
        with httpx.Client(base_url=url, timeout=timeout) as c:
            form = c.get("/login")
            found = CSRF.search(form.text)
            sent = c.post("/login", data={
                "email": f"nobody{i}-{secrets.token_hex(4)}@attacker.example",
                "password": secrets.token_urlsafe(16),
                "csrf": found.group(1) if found else ""})  # fmt: skip
            status: int | None = sent.status_code
    except httpx.HTTPError:
        status = None
    return {"what": "login", "status": status, "s": time.perf_counter() - started}


def one_body(url: str, timeout: float, i: int, mib: int) -> dict[str, Any]:
    import httpx

    chunk = b"a" * 2**20

    def body() -> Iterator[bytes]:
        yield b'{"email": "x@x.example", "password": "' if i % 2 else b"email=x&password="
        for _ in range(mib):
            yield chunk
        yield b'"}' if i % 2 else b""

    path, kind = ("/api/v1/users", "application/json") if i % 2 else (
        "/login", "application/x-www-form-urlencoded")  # fmt: skip
    started = time.perf_counter()
    try:
        with httpx.Client(base_url=url, timeout=timeout) as c:
            status: int | None = c.post(path, content=body(),
                                        headers={"Content-Type": kind}).status_code  # fmt: skip
    except httpx.HTTPError:
        status = None  # the server may close the connection before the body ends
    return {"what": f"body {path}", "status": status, "s": time.perf_counter() - started}


def attack(url: str, timeout: float, logins: int, bodies: int, mib: int, out: Any) -> None:
    """Every login and body at once, each in its own thread; puts (start,
    end, outcomes) on ``out`` (``time.perf_counter`` is the machine's
    monotonic clock, the same in every process)."""
    outcomes: list[dict[str, Any]] = []
    lock = threading.Lock()

    def run(fn: Any, *a: Any) -> None:
        r = fn(*a)
        with lock:
            outcomes.append(r)

    threads = [threading.Thread(target=run, args=(one_login, url, timeout, i))
               for i in range(logins)]  # fmt: skip
    threads += [threading.Thread(target=run, args=(one_body, url, timeout, i, mib))
                for i in range(bodies)]  # fmt: skip
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put((started, time.perf_counter(), outcomes))


def parent(args: argparse.Namespace) -> int:
    import httpx

    log = Log(False)
    log(f"machine: {machine_line()}")
    log(f"tenure: {source_revision()}")
    workdir = Path(args.workdir or Path(tempfile.gettempdir()) / "tenure-bench-hostile").resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    tenure = tenure_bin()
    base_path, base = _orders.cached(args.base_orders, workdir, args.seed, log)
    store = workdir / f"store-{args.base_orders}"
    shutil.rmtree(store, ignore_errors=True)
    built = run_command([tenure, "ingest", "orders", str(base_path), "--store", str(store)],
                        cwd=workdir, timeout=args.timeout)  # fmt: skip
    made = run_command([tenure, "apikey", "create", "--scope", "read", "--name", "readers",
                        "--store", str(store), "--json"], cwd=workdir, timeout=120)  # fmt: skip
    key = (json_out(made) or {}).get("key")
    if "error" in built or not key:
        log("building the store failed:", *built["stderr_tail"], *made["stderr_tail"], sep="\n  ")
        return 1
    server = Server(store, workdir, secrets.token_urlsafe(48))
    samples: list[float] = []
    try:
        up = server.start(args.start_timeout)
        pid = server.proc.pid if server.proc else 0
        with httpx.Client(base_url=server.url, timeout=args.request_timeout,
                          headers={"Authorization": f"Bearer {key}"}) as c:  # fmt: skip
            for p in KEPT:
                get(c, p)
        server.wait_ready(args.start_timeout)  # its own warm-up is not the attack's doing
        time.sleep(2)
        rss_before = proc_mib(pid, "VmRSS") or 0.0
        log(f"server: /healthz after {up:.1f} s, RSS {rss_before:,.0f} MiB once warm")
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.1):
                samples.append(proc_mib(pid, "VmRSS") or 0.0)

        threading.Thread(target=sample, daemon=True).start()
        readers = Readers(server.url, key, KEPT, args.readers, args.request_timeout)
        load_before = load()
        t0 = time.perf_counter()
        readers.start()
        time.sleep(args.lead)
        # the attackers run in a process of their own: their 200 threads in
        # the readers' process would hold its interpreter lock, and the
        # readers' figures would count that wait as the server's
        spawn = multiprocessing.get_context("spawn")
        results_of_attack = spawn.Queue()
        attacker = spawn.Process(target=attack, args=(
            server.url, args.request_timeout, args.logins, args.bodies, args.body_mib,
            results_of_attack))  # fmt: skip
        attacker.start()
        attack_start, attack_end, outcomes = results_of_attack.get()
        attacker.join()
        time.sleep(args.tail)
        results = readers.stop()
        stop.set()
        load_after = load()
        rss_after = proc_mib(pid, "VmRSS") or 0.0
        hwm = proc_mib(pid, "VmHWM") or 0.0
    finally:
        code = server.stop()
    log(f"server stopped (exit code {code})")
    before = figures([r for r in results if r["t"] < attack_start], attack_start - t0)
    during = figures(
        [r for r in results if attack_start <= r["t"] < attack_end], attack_end - attack_start
    )
    peak = max(samples + [rss_before])
    grew_mb = (peak - rss_before) * 2**20 / 1e6
    print(f"\n{args.logins} logins and {args.bodies} bodies of {args.body_mib} MiB at once, "
          f"{args.readers} readers of kept answers; load {load_before} -> {load_after}\n")  # fmt: skip
    print("| sent | count | statuses | p50 s | max s |\n|---|---|---|---|---|")
    for what in sorted({o["what"] for o in outcomes}):
        mine = [o for o in outcomes if o["what"] == what]
        statuses: dict[str, int] = {}
        for o in mine:
            k = str(o["status"]) if o["status"] is not None else "connection closed"
            statuses[k] = statuses.get(k, 0) + 1
        secs = sorted(o["s"] for o in mine)
        print(f"| {what} | {len(mine)} | {json.dumps(dict(sorted(statuses.items())))} | "
              f"{secs[len(secs) // 2]:.2f} | {secs[-1]:.2f} |")  # fmt: skip
    print(f"\nattack took {attack_end - attack_start:.1f} s")
    print("\n| readers | requests | 200 | refused | errors | p50 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|---|---|---|")
    for name, f in (("before", before), ("during", during)):
        print(f"| {name} | {f['requests']:,} | {f['answered_200']:,} | {f['refused']} | "
              f"{f['errors']} | {f['p50_ms']} | {f['p99_ms']} | {f['max_ms']} |")  # fmt: skip
    print(
        f"\nserver RSS: {rss_before:,.0f} MiB before, peak {peak:,.0f} MiB sampled "
        f"(VmHWM {hwm:,.0f} MiB), {rss_after:,.0f} MiB after: +{grew_mb:,.0f} MB at peak"
    )
    met_rss = grew_mb < TARGET_RSS_MB
    met_p99 = during["p99_ms"] is not None and during["p99_ms"] < TARGET_P99_MS
    full = args.logins >= 200 and args.bodies >= 20 and args.body_mib >= 100
    word = (lambda ok: "met" if ok else "MISSED") if full else \
        (lambda ok: f"indicative: {'would meet' if ok else 'would miss'}")  # fmt: skip
    print("\n| target | measured | verdict |\n|---|---|---|")
    print(f"| server RSS < +300 MB | +{grew_mb:,.0f} MB | {word(met_rss)} |")
    print(f"| kept answers' p99 < 500 ms during the attack | {during['p99_ms']} ms | "
          f"{word(met_p99)} |")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps({
            "machine": machine_line(), "tenure": source_revision(), "outcomes": outcomes,
            "readers_before": before, "readers_during": during, "rss_before_mib": rss_before,
            "rss_peak_mib": peak, "vmhwm_mib": hwm, "rss_after_mib": rss_after,
        }, indent=2), encoding="utf-8")  # fmt: skip
        print(f"wrote {args.json}")
    if not args.keep:
        shutil.rmtree(store, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logins", type=int, default=200)
    parser.add_argument("--bodies", type=int, default=20)
    parser.add_argument("--body-mib", type=int, default=100)
    parser.add_argument("--readers", type=int, default=10)
    parser.add_argument("--base-orders", "--size", type=int, default=200_000)
    parser.add_argument("--lead", type=float, default=3.0)
    parser.add_argument("--tail", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--workdir")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--json")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--start-timeout", type=float, default=120)
    parser.add_argument("--request-timeout", type=float, default=300)
    args = parser.parse_args(argv)  # fmt: skip
    return parent(args)


if __name__ == "__main__":
    sys.exit(main())
