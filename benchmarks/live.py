"""Benchmark: readers of a served store while a CLI ingest runs into it.

Builds a store of B orders (``_orders.py``, ingested with ``tenure
ingest``), makes a read API key, starts ``tenure serve`` on it (a secret
key of its own, no demo login), and warms its answers. Then 50 reader
clients (threads, in ``--reader-processes`` processes, one ``httpx.Client``
and connection each, the key as
``Authorization: Bearer``) go round the API paths while ``tenure ingest
orders NEW --store S`` adds M new orders (the following month, some new
customers) to the same store, as a separate command. The readers start a
few seconds before the ingest (or, with ``--order ingest-first``, a
second after it) and stop a few seconds after it ends.

It reports, before, during and after the ingest: answers, refused (409 and
503), errors (other 5xx, connection errors), other statuses, and the p50 /
p99 latency of the answers that came back 200; the ingest's attempts (a
refused ingest is tried again, up to ``--ingest-tries``), seconds and peak
memory. Afterwards it checks through the server that the new rows are
visible (``/api/v1/status``), then, with the server stopped, in the
store's DuckDB file that the orders number exactly B + M, every order id
once, every new id present.

    .venv/bin/python benchmarks/live.py --rows 20000 --base-orders 100000
    .venv/bin/python benchmarks/live.py --rows 2000000 --base-orders 1000000 --json live.json

Not part of the test run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import _orders
from _common import (
    Log,
    child_env,
    json_out,
    load,
    machine_line,
    run_command,
    source_revision,
    sql_path,
    tenure_bin,
    versions,
)

PATHS = [
    "/api/v1/metrics",
    "/api/v1/segments",
    "/api/v1/customers?limit=50",
    "/api/v1/customers/{customer}",
    "/api/v1/status",
    "/healthz",
]
REFUSED = (409, 503)
TARGET_CLIENTS = 50
TARGET_ROWS = 2_000_000
TARGET_P99_MS = 200.0


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered), max(1, math.ceil(q / 100 * len(ordered)))) - 1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_mib(pid: int, field: str) -> float | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


class Server:
    """``tenure serve`` in its own process, its output in files."""

    def __init__(self, store: Path, logdir: Path, secret: str) -> None:
        self.store, self.port = store, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.err_path = logdir / f"serve-{self.port}.log"
        self.env = {**child_env(), "TENURE_SECRET_KEY": secret}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float) -> float:
        import httpx

        command = [tenure_bin(), "serve", "--store", str(self.store), "--port", str(self.port),
                   "--no-access-log"]  # fmt: skip
        started = time.perf_counter()
        with open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(
                command, cwd=self.store.parent, env=self.env, stdout=err, stderr=err
            )
        while time.perf_counter() < started + timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"tenure serve exited with code {self.proc.returncode}: "
                                   + " | ".join(self.log_lines()[-8:]))  # fmt: skip
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"/healthz did not answer within {timeout:.0f} s")

    def wait_ready(self, timeout: float) -> float:
        """Wait for the server's own warm-up at start (the customer table,
        segment snapshots, Overview page, computed in the background) to
        end, so that it is not counted in the figures of what follows;
        seconds waited."""
        started = time.perf_counter()
        while time.perf_counter() < started + timeout:
            if any("first pages" in line for line in self.log_lines()):
                break
            time.sleep(0.2)
        return time.perf_counter() - started

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def log_lines(self) -> list[str]:
        try:
            return self.err_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return []


def get(client: Any, path: str) -> dict[str, Any]:
    import httpx

    started = time.perf_counter()
    try:
        response = client.get(path)
        response.read()
        status, error = response.status_code, None
    except httpx.HTTPError as exc:
        status, error = None, f"{type(exc).__name__}: {exc}"[:160]
    return {"path": path, "t": started, "s": time.perf_counter() - started,
            "status": status, "error": error}  # fmt: skip


def read_in_process(
    url: str,
    key: str,
    paths: list[str],
    first: int,
    count: int,
    timeout: float,
    stopping: Any,
    out: Any,
) -> None:
    """``count`` reader threads of one process (reader ``first`` onwards),
    going round ``paths`` until ``stopping`` is set; puts their answers on
    ``out`` (``time.perf_counter`` is the machine's monotonic clock, the same
    in every process)."""
    results: list[list[dict[str, Any]]] = [[] for _ in range(count)]

    def work(j: int) -> None:
        import httpx

        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"},
                          timeout=timeout, limits=limits) as client:  # fmt: skip
            k = first + j
            while not stopping.is_set():
                results[j].append(get(client, paths[k % len(paths)]))
                k += 1

    threads = [threading.Thread(target=work, args=(j,), daemon=True) for j in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put([r for rs in results for r in rs])


class Readers:
    """``clients`` reader threads spread over ``processes`` processes, going
    round ``paths`` until stopped. All the threads in one process would wait
    for each other's turn at that process's interpreter lock, and that wait
    would count as the server's; like the browsers and scripts they stand
    for, the readers run in processes of their own."""

    def __init__(self, url: str, key: str, paths: list[str], clients: int, timeout: float,
                 processes: int = 1):  # fmt: skip
        import multiprocessing

        spawn = multiprocessing.get_context("spawn")
        self.stopping = spawn.Event()
        self.out = spawn.Queue()
        processes = max(1, min(processes, clients))
        sizes = [clients // processes + (1 if i < clients % processes else 0)
                 for i in range(processes)]  # fmt: skip
        firsts = [sum(sizes[:i]) for i in range(processes)]
        self.procs = [
            spawn.Process(target=read_in_process, daemon=True, args=(
                url, key, paths, first, size, timeout, self.stopping, self.out))
            for first, size in zip(firsts, sizes, strict=True)
        ]  # fmt: skip

    def start(self) -> None:
        for p in self.procs:
            p.start()

    def stop(self) -> list[dict[str, Any]]:
        self.stopping.set()
        results = [r for _ in self.procs for r in self.out.get()]
        for p in self.procs:
            p.join()
        return results


def figures(results: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    ok = [r["s"] for r in results if r["status"] == 200]
    refused = sum(1 for r in results if r["status"] in REFUSED)
    errors = sum(
        1 for r in results
        if r["status"] is None or (r["status"] >= 500 and r["status"] not in REFUSED)
    )  # fmt: skip
    statuses: dict[str, int] = {}
    for r in results:
        key = str(r["status"]) if r["status"] is not None else "connection error"
        statuses[key] = statuses.get(key, 0) + 1
    ms = lambda v: None if v is None else round(v * 1000, 1)  # noqa: E731
    return {
        "requests": len(results),
        "answered_200": len(ok),
        "refused": refused,
        "errors": errors,
        "other": len(results) - len(ok) - refused - errors,
        "statuses": dict(sorted(statuses.items())),
        "p50_ms": ms(percentile(ok, 50)),
        "p99_ms": ms(percentile(ok, 99)),
        "max_ms": ms(max(ok) if ok else None),
        "per_s": round(len(results) / seconds, 1) if seconds > 0 else None,
        "examples": sorted(
            {f"{r['path']}: {r['error'] or r['status']}" for r in results if r["status"] != 200}
        )[:6],  # fmt: skip
    }


def error_line(ran: dict[str, Any]) -> str:
    doc = json_out(ran)
    if isinstance(doc, dict) and doc.get("error"):
        err = doc["error"]
        return str(err.get("message") if isinstance(err, dict) else err)[:200]
    return " | ".join(ran["stderr_tail"][-2:])[:200]


def parent(args: argparse.Namespace) -> int:
    import duckdb
    import httpx

    log = Log(False)
    log(f"machine: {machine_line()}")
    log(f"tenure: {source_revision()}")
    log("versions: " + ", ".join(f"{k} {v}" for k, v in versions(
        "tenure", "duckdb", "fastapi", "uvicorn", "httpx").items()))  # fmt: skip
    workdir = Path(args.workdir or Path(tempfile.gettempdir()) / "tenure-bench-live").resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    log(f"workdir: {workdir}\n")
    tenure = tenure_bin()

    base_path, base = _orders.cached(args.base_orders, workdir, args.seed, log)
    new_path = workdir / f"new-{args.rows}-after-{args.base_orders}.parquet"
    new = _orders.extra_batch(args.rows, base, new_path, seed=args.seed, days=30)
    log(f"new orders: {new['rows']:,} ({new['customers']:,} customers, {new['first_day']} .. "
        f"{new['last_day']}), ids from O{new['first_order']:010d}")  # fmt: skip
    store = workdir / f"store-{args.base_orders}"
    shutil.rmtree(store, ignore_errors=True)
    built = run_command([tenure, "ingest", "orders", str(base_path), "--store", str(store),
                         "--json"], cwd=workdir, timeout=args.timeout)  # fmt: skip
    if "error" in built:
        log("building the store failed:", *built["stderr_tail"], sep="\n  ")
        return 1
    log(f"store: {base['rows']:,} orders ingested in {built['seconds']:.1f} s "
        "(not part of the figures)")  # fmt: skip
    made = run_command([tenure, "apikey", "create", "--scope", "read", "--name", "live readers",
                        "--store", str(store), "--json"], cwd=workdir, timeout=120)  # fmt: skip
    key = (json_out(made) or {}).get("key")
    if not key:
        log("tenure apikey create failed:", *made["stderr_tail"], sep="\n  ")
        return 1
    first = duckdb.connect()
    customer = first.execute(
        f"SELECT min(customer_id) FROM read_parquet({sql_path(base_path)})"
    ).fetchone()[0]
    first.close()
    paths = [p.replace("{customer}", customer) for p in args.paths]

    server = Server(store, workdir, secrets.token_urlsafe(48))
    try:
        up = server.start(args.start_timeout)
        log(f"server: {server.url}, /healthz after {up:.1f} s")
        warm_started = time.perf_counter()
        with httpx.Client(base_url=server.url, timeout=args.request_timeout,
                          headers={"Authorization": f"Bearer {key}"}) as c:  # fmt: skip
            warm = {p: get(c, p) for p in paths}
        log(f"warm-up: every path once in {time.perf_counter() - warm_started:.1f} s: "
            + ", ".join(f"{p} {r['status']} {r['s']:.2f} s" for p, r in warm.items()))  # fmt: skip
        waited = server.wait_ready(args.start_timeout)
        log(f"server's own warm-up ended {waited:.1f} s after that")
        rss_before = proc_mib(server.proc.pid, "VmRSS") if server.proc else None

        readers = Readers(server.url, key, paths, args.clients, args.request_timeout,
                          args.reader_processes)  # fmt: skip
        load_before = load()
        attempts: list[dict[str, Any]] = []
        span = [0.0, 0.0]  # the ingest's first start and last end

        def ingest() -> None:
            span[0] = time.perf_counter()
            for attempt in range(args.ingest_tries):
                ran = run_command([tenure, "ingest", "orders", str(new_path), "--store",
                                   str(store), "--json"], cwd=workdir, timeout=args.timeout)  # fmt: skip
                attempts.append(ran)
                log(f"ingest attempt {attempt + 1}: exit code {ran['rc']} after "
                    f"{ran['seconds']:.2f} s"
                    + ("" if ran["rc"] == 0 else f": {error_line(ran)}"))  # fmt: skip
                if ran["rc"] == 0:
                    break
                time.sleep(args.retry_wait)
            span[1] = time.perf_counter()

        t0 = time.perf_counter()
        if args.order == "readers-first":
            readers.start()
            time.sleep(args.lead)
            ingest()
        else:  # the ingest holds the store when the readers come
            writer = threading.Thread(target=ingest)
            writer.start()
            time.sleep(args.lead)
            readers.start()
            writer.join()
        ingest_start, ingest_end = span
        time.sleep(args.tail)
        results = readers.stop()
        t1 = time.perf_counter()
        load_after = load()
        with httpx.Client(base_url=server.url, timeout=args.request_timeout,
                          headers={"Authorization": f"Bearer {key}"}) as c:  # fmt: skip
            seen = get(c, "/api/v1/status")
            doc = c.get("/api/v1/status").json() if seen["status"] == 200 else {}
        server_rows = (doc.get("tables") or {}).get("orders")
        server_peak = proc_mib(server.proc.pid, "VmHWM") if server.proc else None
    finally:
        code = server.stop()
    log(f"server stopped (exit code {code})")

    phases = {
        "before": [r for r in results if r["t"] < ingest_start],
        "during": [r for r in results if ingest_start <= r["t"] < ingest_end],
        "after": [r for r in results if r["t"] >= ingest_end],
    }
    spans = {"before": ingest_start - t0, "during": ingest_end - ingest_start,
             "after": t1 - ingest_end}  # fmt: skip
    table = {k: figures(v, spans[k]) for k, v in phases.items()}
    table["all"] = figures(results, t1 - t0)

    ingested = attempts[-1]["rc"] == 0
    con = duckdb.connect(str(store / "analytics.duckdb"), read_only=True)
    total, distinct, new_seen = con.execute(
        f"SELECT count(*), count(DISTINCT order_id), "
        f"count(*) FILTER (WHERE order_id IN (SELECT order_id FROM read_parquet("
        f"{sql_path(new_path)}))) FROM orders"
    ).fetchone()
    con.close()
    expected = base["rows"] + (new["rows"] if ingested else 0)
    checks = {
        "ingest succeeded": "ok" if ingested else
        f"FAILED: refused {len(attempts)} of {len(attempts)} tries",
        "new rows visible through the server": (
            f"ok: {server_rows:,} orders" if server_rows == expected
            else f"DIFFER: server says {server_rows}, expected {expected:,}"
        ),
        "orders in the store = base + new": (
            f"ok: {total:,}" if total == expected else f"DIFFER: {total:,}, expected {expected:,}"
        ),
        "no order doubled": "ok" if distinct == total else f"DIFFER: {total - distinct:,} doubled",
        "every new order present": (
            f"ok: {new_seen:,}" if new_seen == (new["rows"] if ingested else 0)
            else f"DIFFER: {new_seen:,} of {new['rows']:,}"
        ),
    }  # fmt: skip

    ok_attempt = attempts[-1]
    print(f"\n{args.clients} readers ({args.reader_processes} processes) on {base['rows']:,} "
          "orders while `tenure ingest` adds "
          f"{new['rows']:,} ({args.order}); load {load_before} -> {load_after}\n")  # fmt: skip
    print("| phase | seconds | requests | 200 | refused (409/503) | errors | other "
          "| p50 ms | p99 ms | max ms | req/s |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name in ("before", "during", "after", "all"):
        f = table[name]
        secs = spans.get(name, t1 - t0)
        print(f"| {name} | {secs:.1f} | {f['requests']:,} | {f['answered_200']:,} | "
              f"{f['refused']:,} | {f['errors']:,} | {f['other']:,} | {f['p50_ms']} | "
              f"{f['p99_ms']} | {f['max_ms']} | {f['per_s']} |")  # fmt: skip
    examples = table["all"]["examples"]
    if examples:
        print("\nnot 200, examples: " + "; ".join(examples))
    print(f"\ningest: {len(attempts)} attempt(s), "
          f"{sum(1 for a in attempts if a['rc'] != 0)} refused; the last "
          f"{ok_attempt['seconds']:.2f} s ({new['rows'] / ok_attempt['seconds']:,.0f} orders/s), "
          f"peak {ok_attempt['peak_rss_mib']:,.0f} MiB; "
          f"from first try to end {ingest_end - ingest_start:.2f} s")  # fmt: skip
    print(f"server: RSS {rss_before} MiB before, peak {server_peak} MiB")
    during = table["during"]
    targets = [
        ("errors during the ingest = 0", during["errors"], during["errors"] == 0),
        ("refused during the ingest = 0", during["refused"], during["refused"] == 0),
        ("ingest refused = 0", sum(1 for a in attempts if a["rc"] != 0), ingested and
         len(attempts) == 1),
        ("p99 of 200 answers during the ingest < 200 ms", during["p99_ms"],
         during["p99_ms"] is not None and during["p99_ms"] < TARGET_P99_MS),
    ]  # fmt: skip
    full = args.rows >= TARGET_ROWS and args.clients >= TARGET_CLIENTS
    print("\n| target | measured | verdict |\n|---|---|---|")
    for name, value, met in targets:
        verdict = ("met" if met else "MISSED") if full else \
            f"indicative: {'would meet' if met else 'would miss'}"  # fmt: skip
        print(f"| {name} | {value} | {verdict} |")
    print("\nchecks:")
    for name, c in checks.items():
        print(f"  {name}: {c}")
    notable = [ln for ln in server.log_lines() if ln.strip() and not ln.startswith("INFO:")]
    if notable:
        print(f"\nserver log, other than INFO ({len(notable)} lines), the last: ")
        print("  " + "\n  ".join(notable[-8:]))
    if args.json:
        for a in attempts:
            a.pop("stdout", None)
        doc_out = {
            "machine": machine_line(), "tenure": source_revision(), "base": base, "new": new,
            "clients": args.clients, "reader_processes": args.reader_processes, "paths": paths, "phases": table, "spans_s": spans,
            "ingest_attempts": attempts, "server_peak_mib": server_peak, "checks": checks,
            "targets": targets,
        }  # fmt: skip
        Path(args.json).write_text(json.dumps(doc_out, indent=2, default=str), encoding="utf-8")
        print(f"wrote {args.json}")
    if not args.keep:
        shutil.rmtree(store, ignore_errors=True)
        new_path.unlink(missing_ok=True)
    return 0 if all(c.startswith("ok") for c in checks.values()) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rows",
        "--size",
        type=int,
        default=200_000,
        help="orders the CLI ingests while the readers run (target: 2,000,000)",
    )
    parser.add_argument(
        "--base-orders",
        type=int,
        default=500_000,
        help="orders in the store before (default 500,000)",
    )
    parser.add_argument("--clients", type=int, default=TARGET_CLIENTS)
    parser.add_argument(
        "--reader-processes",
        type=int,
        default=1,
        help="processes the readers are spread over (default 1)",
    )
    parser.add_argument("--paths", nargs="+", default=PATHS, help="API paths the readers go round")
    parser.add_argument(
        "--order",
        choices=["readers-first", "ingest-first"],
        default="readers-first",
        help="readers-first: the readers run, then the ingest starts; "
        "ingest-first: the readers come --lead seconds after it started",
    )
    parser.add_argument(
        "--lead", type=float, default=5.0, help="seconds between the first to start and the other"
    )
    parser.add_argument("--tail", type=float, default=10.0, help="seconds of reading after")
    parser.add_argument(
        "--ingest-tries", type=int, default=3, help="tries of a refused ingest (default 3)"
    )
    parser.add_argument("--retry-wait", type=float, default=2.0, help="seconds between tries")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--workdir", help="default: tenure-bench-live in the temp folder")
    parser.add_argument("--keep", action="store_true", help="keep the store afterwards")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per command")
    parser.add_argument("--start-timeout", type=float, default=120)
    parser.add_argument("--request-timeout", type=float, default=60)
    args = parser.parse_args(argv)  # fmt: skip
    if min(args.rows, args.base_orders, args.clients, args.ingest_tries) < 1:
        parser.error("--rows, --base-orders, --clients and --ingest-tries must be 1 or more")
    return parent(args)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
