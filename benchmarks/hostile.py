"""Benchmark: the web server against a hostile client.

Builds a demo store (``tenure demo``), adds a user and a read key, starts
``tenure serve`` in its own process and, over HTTP on 127.0.0.1, measures
the server's resident memory and the latency of a kept answer
(``GET /api/v1/metrics``, asked once before to be kept) while at once:

* 200 logins with unknown emails and wrong passwords arrive together (each
  client first fetches the login form, then all post it at the same moment);
* 20 clients each send a 100 MB body to ``POST /api/v1/orders`` without
  credentials.

It prints the server's memory before, at its peak and after; the kept
answer's p50, p99 and max during the attack; and what the logins and the
bodies were answered. ``--src`` runs another checkout's code (its ``src``
folder) to compare:

    .venv/bin/python benchmarks/hostile.py
    .venv/bin/python benchmarks/hostile.py --src /path/to/other/checkout/src

Not part of the test run.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
USER, PASSWORD = "owner@shop.example", "a long owner passphrase"


def tenure(src: Path, *args: str, stdin: str | None = None, env=None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tenure", *args], input=stdin, capture_output=True, text=True,
        env={**(env or os.environ), "PYTHONPATH": str(src)}, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"tenure {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, seconds: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not start")


def login_flood(url: str, n: int, answers: collections.Counter, ready: threading.Barrier):
    import httpx

    def one(i: int) -> None:
        with httpx.Client(base_url=url, timeout=300) as c:
            try:
                form = c.get("/login")
                csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
            except (httpx.HTTPError, AttributeError):
                answers["form failed"] += 1
                ready.wait()
                return
            ready.wait()  # every client posts at the same moment
            try:
                r = c.post("/login", data={"email": f"nobody{i}@example.com",
                                           "password": f"guess number {i}", "csrf": csrf})  # fmt: skip
                answers[str(r.status_code)] += 1
            except httpx.HTTPError as exc:
                answers[type(exc).__name__] += 1

    return [threading.Thread(target=one, args=(i,), daemon=True) for i in range(n)]


def big_bodies(url: str, n: int, mb: int, answers: collections.Counter, ready: threading.Barrier):
    host, port = url.removeprefix("http://").split(":")
    chunk = b" " * 2**20

    def one() -> None:
        ready.wait()
        try:
            with socket.create_connection((host, int(port)), timeout=300) as s:
                s.sendall(
                    f"POST /api/v1/orders HTTP/1.1\r\nHost: {host}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {mb * 2**20}\r\n\r\n".encode()
                )
                sent = 0
                try:
                    for _ in range(mb):
                        s.sendall(chunk)
                        sent += 1
                except OSError:
                    pass  # the server answered and closed before the whole body
                try:
                    status = s.recv(64).split(b" ")[1].decode()
                except (OSError, IndexError):
                    status = "no answer"
                answers[f"{status} after {'all' if sent == mb else 'part'} of the body"] += 1
        except OSError as exc:
            answers[type(exc).__name__] += 1

    return [threading.Thread(target=one, daemon=True) for _ in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", type=Path, default=HERE.parent / "src",
                        help="the tenure code to serve (a checkout's src folder)")  # fmt: skip
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--logins", type=int, default=200)
    parser.add_argument("--bodies", type=int, default=20)
    parser.add_argument("--mb", type=int, default=100, help="size of each body, MB")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    import httpx

    folder = Path(tempfile.mkdtemp(prefix="tenure-hostile-"))
    store = folder / "store"
    tenure(args.src, "demo", "--customers", str(args.customers), "--out", str(folder / "files"),
           "--no-report", "--store", str(store))  # fmt: skip
    tenure(
        args.src,
        "user",
        "add",
        USER,
        "--role",
        "admin",
        "--store",
        str(store),
        stdin=PASSWORD + "\n",
    )
    key = json.loads(tenure(args.src, "apikey", "create", "--scope", "read", "--store", str(store),
                            "--json"))["key"]  # fmt: skip
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENURE_")}
    env.update(TENURE_SECRET_KEY=secrets.token_urlsafe(48), PYTHONPATH=str(args.src))
    server = subprocess.Popen(
        [sys.executable, "-m", "tenure", "serve", "--store", str(store), "--port", str(port),
         "--no-access-log"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(url)
        probe = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=300)
        assert probe.get("/api/v1/metrics").status_code == 200  # now kept
        for _ in range(20):
            probe.get("/api/v1/metrics")
        time.sleep(1)
        before = rss_mib(server.pid)
        logins, bodies = collections.Counter(), collections.Counter()
        ready = threading.Barrier(args.logins + args.bodies)
        attackers = login_flood(url, args.logins, logins, ready) + big_bodies(
            url, args.bodies, args.mb, bodies, ready
        )
        peak, latencies = before, []
        started = time.monotonic()
        for t in attackers:
            t.start()
        while any(t.is_alive() for t in attackers):
            t0 = time.perf_counter()
            r = probe.get("/api/v1/metrics")
            latencies.append(time.perf_counter() - t0)
            assert r.status_code == 200, r.text
            peak = max(peak, rss_mib(server.pid))
            time.sleep(0.02)
        took = time.monotonic() - started
        time.sleep(1)
        after = rss_mib(server.pid)
        ms = sorted(x * 1000 for x in latencies)
        result = {
            "src": str(args.src),
            "logins": args.logins, "bodies": args.bodies, "mb_each": args.mb,
            "rss_mib": {"before": round(before), "peak": round(peak), "after": round(after),
                        "growth_at_peak": round(peak - before)},
            "kept_answer_ms": {"n": len(ms), "p50": round(statistics.median(ms), 1),
                               "p99": round(ms[min(len(ms) - 1, int(0.99 * len(ms)))], 1),
                               "max": round(ms[-1], 1)},
            "attack_seconds": round(took, 1),
            "login_answers": dict(logins), "body_answers": dict(bodies),
            "load_1min": round(os.getloadavg()[0], 2), "cores": os.cpu_count(),
        }  # fmt: skip
        probe.close()
    finally:
        server.terminate()
        server.wait(timeout=60)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    r, k = result["rss_mib"], result["kept_answer_ms"]
    print(f"code: {result['src']}  ({result['cores']} cores, load {result['load_1min']})")
    print(f"server RSS, MiB: before {r['before']}, peak {r['peak']} (+{r['growth_at_peak']}), "
          f"after {r['after']}")  # fmt: skip
    print(f"kept answer during the attack, ms: p50 {k['p50']}, p99 {k['p99']}, max {k['max']} "
          f"({k['n']} requests, {result['attack_seconds']} s)")  # fmt: skip
    print(f"{args.logins} logins answered: {result['login_answers']}")
    print(f"{args.bodies} bodies of {args.mb} MB answered: {result['body_answers']}")


if __name__ == "__main__":
    main()
