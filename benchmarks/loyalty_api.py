"""Benchmark: earning points through the loyalty REST API under load.

Makes a fresh workspace with a write API key, starts ``tenure serve`` on it
in its own process and waits for ``/healthz``; then C concurrent clients
(threads, one ``httpx.Client`` each, keep-alive) post N earns in all to
``POST /api/v1/loyalty/members/{id}/earn``, each with its own
``Idempotency-Key``, spread over M members. The clients run in
``--processes`` processes (5 by default), threads in each, as tills are
separate machines: 50 threads in one Python process would time their own
wait for its interpreter lock too. Every latency and status is
kept: p50, p95, p99, max, requests/s, errors (anything but 201).

``--pace MS``: each client waits a random time of that mean after each
answer before its next request (exponentially distributed, and a random
first wait: 50 tills earning for their sales arrive at random, not in
step), instead of sending back to back (the server saturated: latency is
then the queue, concurrency over throughput).

Beside it, the floor: the same earns through the library in the same
process (``tenure.loyalty.earn`` on a fresh store, one after the other),
which is what a write costs without HTTP, JSON and the key.

Checks after the API run: the ledger holds exactly N entries (the sum of
their points is the sum sent), and the invariant holds.

    .venv/bin/python benchmarks/loyalty_api.py
    .venv/bin/python benchmarks/loyalty_api.py --clients 50 --requests 5000 --pace 100

Not part of the test run.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _store(folder: Path):
    from tenure.access import apikeys
    from tenure.config import load_settings
    from tenure.store.workspace import Workspace

    settings = load_settings(store=folder / "store", reporting_currency="EUR")
    with Workspace.open(settings) as ws:
        key = apikeys.create_key(ws.ops, ["read", "write"], name="bench")["key"]
    return settings, key


def _serve(store: Path, log: Path) -> tuple[subprocess.Popen, str]:
    import httpx

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENURE_FAULT")}
    env["TENURE_SECRET_KEY"] = secrets.token_urlsafe(40)
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "tenure", "serve", "--store", str(store), "--host",
             "127.0.0.1", "--port", str(port), "--no-access-log"],
            stdout=out, stderr=out, env=env,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return server, url
        except httpx.TransportError:
            pass
        if server.poll() is not None:
            break
        time.sleep(0.1)
    server.kill()
    raise SystemExit(f"the server did not start:\n{log.read_text()}")


def _cpu(pid: int) -> float:
    """User + system seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def api_run(url: str, key: str, clients: int, ids: range, members: int, pace: float):
    """``clients`` threads of this process post the earns ``ids`` between them."""
    import httpx

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    counter = iter(ids)
    sent_points = 0

    def client(n: int) -> None:
        nonlocal sent_points
        mine: list[float] = []
        seen: dict[int, int] = {}
        points = 0
        chance = random.Random(ids.start * 1000 + n)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"},
                          timeout=60) as c:  # fmt: skip
            if pace:
                time.sleep(chance.uniform(0, pace))
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    break
                p = 1 + i % 97
                start = time.perf_counter()
                try:
                    got = c.post(f"/api/v1/loyalty/members/M{i % members}/earn",
                                 json={"points": p, "reason": f"sale {i}"},
                                 headers={"Idempotency-Key": str(uuid.uuid4())})  # fmt: skip
                    status = got.status_code
                except httpx.HTTPError:
                    status = 0
                mine.append(time.perf_counter() - start)
                seen[status] = seen.get(status, 0) + 1
                if status == 201:
                    points += p
                if pace:
                    time.sleep(chance.expovariate(1 / pace))
        with lock:
            latencies.extend(mine)
            for s, k in seen.items():
                statuses[s] = statuses.get(s, 0) + k
            sent_points += points

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    return latencies, statuses, wall, sent_points


def _part(args: tuple) -> tuple[list[float], dict[int, int], float, int]:
    return api_run(*args)


def clients_run(url: str, key: str, clients: int, total: int, members: int, pace: float,
                processes: int):  # fmt: skip
    """The clients spread over ``processes`` processes (threads in each): one
    Python process driving 50 clients measures its own interpreter lock
    too, since each answer waits for its thread to get it back."""
    if processes <= 1:
        return api_run(url, key, clients, range(total), members, pace)
    import multiprocessing

    cuts = [round(total * p / processes) for p in range(processes + 1)]
    parts = [(url, key, clients // processes + (p < clients % processes),
              range(cuts[p], cuts[p + 1]), members, pace) for p in range(processes)]  # fmt: skip
    start = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        done = pool.map(_part, parts)
    wall = time.perf_counter() - start
    statuses: dict[int, int] = {}
    for _, seen, _, _ in done:
        for s, k in seen.items():
            statuses[s] = statuses.get(s, 0) + k
    return [x for lat, *_ in done for x in lat], statuses, wall, sum(d[3] for d in done)


def library_run(folder: Path, total: int, members: int) -> tuple[list[float], float]:
    from tenure import loyalty
    from tenure.store.ops import OpsStore

    ops = OpsStore.open(f"sqlite:///{folder / 'floor.sqlite'}")
    latencies = []
    start = time.perf_counter()
    for i in range(total):
        t = time.perf_counter()
        loyalty.earn(ops, f"M{i % members}", 1 + i % 97, reason=f"sale {i}")
        latencies.append(time.perf_counter() - t)
    wall = time.perf_counter() - start
    ops.close()
    return latencies, wall


def _line(name: str, lat: list[float], wall: float, n: int, errors: int, extra: str = "") -> str:
    ms = [x * 1000 for x in lat]
    return (f"{name:<22} p50 {_pct(ms, 50):7.1f}  p95 {_pct(ms, 95):7.1f}  p99 {_pct(ms, 99):7.1f}"
            f"  max {max(ms):7.1f} ms  {n / wall:8.1f} req/s  errors {errors}{extra}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=3000, help="earns in all")
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--pace", type=float, default=0.0,
                        help="mean ms a client waits after an answer (0: back to back)")  # fmt: skip
    parser.add_argument("--processes", type=int, default=5,
                        help="client processes the clients are spread over (1: threads only)")  # fmt: skip
    parser.add_argument("--target-ms", type=float, default=50.0)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="tenure-loyalty-api-"))
    settings, key = _store(folder)
    server, url = _serve(settings.store, folder / "serve.log")
    try:
        import httpx

        # the server's warm-up thread (dashboard pages) ends before the run
        deadline = time.monotonic() + 120
        while "first pages are ready" not in (folder / "serve.log").read_text():
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as c:
            for i in range(20):  # the first requests load modules and open connections
                c.post(f"/api/v1/loyalty/members/W{i}/earn", json={"points": 1})
        load_before = os.getloadavg()[0]
        cpu_before = _cpu(server.pid)
        lat, statuses, wall, points = clients_run(
            url, key, args.clients, args.requests, args.members, args.pace / 1000, args.processes
        )
        cpu = _cpu(server.pid) - cpu_before
        load_after = os.getloadavg()[0]
    finally:
        server.terminate()
        server.wait(30)
    errors = sum(k for s, k in statuses.items() if s != 201)

    from tenure import loyalty
    from tenure.store.ops import OpsStore

    ops = OpsStore.open(f"sqlite:///{settings.store / 'ops.sqlite'}")
    members = [f"M{i}" for i in range(min(args.members, args.requests))]
    stored = sum(loyalty.balance(ops, m)["balance"] for m in members)
    entries = sum(len(loyalty.history(ops, m)["entries"]) for m in members)
    loyalty.check_invariant(ops)
    ops.close()

    floor, floor_wall = library_run(folder, args.requests, args.members)

    print(f"tenure loyalty API: {args.requests} earns, {args.clients} clients, "
          f"{args.members} members, pace {args.pace:g} ms, {args.processes} client processes; Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs, load {load_before:.1f} -> {load_after:.1f}")  # fmt: skip
    print(_line("API (tenure serve)", lat, wall, args.requests, errors,
                f"  server CPU {cpu / args.requests * 1000:.2f} ms/req"))  # fmt: skip
    print(_line("library in-process", floor, floor_wall, args.requests, 0))
    ok = entries == args.requests - errors and stored == points
    print(f"checks: {entries} entries for {args.requests - errors} answered earns, "
          f"{stored} points stored of {points} sent: {'ok' if ok else 'FAILED'}; "
          f"statuses {dict(sorted(statuses.items()))}")  # fmt: skip
    p99 = _pct([x * 1000 for x in lat], 99)
    verdict = "met" if p99 < args.target_ms and errors == 0 else "MISSED"
    print(f"target: API p99 < {args.target_ms:g} ms at {args.clients} clients: {verdict} "
          f"({p99:.1f} ms)")  # fmt: skip
    if args.keep:
        print(f"kept: {folder}")
    else:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
