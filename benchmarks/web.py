"""Benchmark: tenure's web server (dashboard pages and REST API) under load.

Builds a demo store of N customers with ``tenure demo`` (cached by customers
and seed), starts ``tenure serve --store STORE --demo`` in its own process,
waits for ``/healthz`` and measures, over HTTP on 127.0.0.1:

* ``cold``      the first request of each dashboard page (logged-in session)
                and of each API endpoint (``Authorization: Bearer`` read key)
                after the server started, then the median of a few repeats
                (warm: the server keeps what it computed until the store
                changes). By default they are sent as soon as ``/healthz``
                answers, alongside the server's own warm-up at start;
                ``--after-warmup`` waits for it first;
* ``overview``  sequential GETs of the Overview page ``/`` by one logged-in
                client: p50, p90, p99, max;
* ``api``       C concurrent clients (threads, one ``httpx.Client`` each) for
                a fixed duration, each going round-robin over the API
                endpoints: every latency and status; p50, p90, p99, max,
                requests/s, errors;
* ``mixed``     the same with the Overview page in the round-robin.

It also reports the server's start-up time, its peak resident memory
(``VmHWM``), the CPU it and the client used in each run (both share the
machine), and what the server wrote to stderr besides its start-up lines.

    .venv/bin/python benchmarks/web.py --customers 100000
    .venv/bin/python benchmarks/web.py --customers 1000000 --duration 30 --json web.json
    .venv/bin/python benchmarks/web.py --customers 1000000 --after-warmup \
        --api /api/v1/metrics /api/v1/cohorts /healthz

Not part of the test run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

from _common import Log, child_env, load, mem_total_gib, versions

DEFAULT_SEED = 42  # tenure demo's default seed

DEMO_EMAIL = "demo@tenure.example"
DEMO_PASSWORD = "retention-demo"

PAGES = [
    ("Overview", "/"),
    ("Retention", "/retention"),
    ("Segments", "/segments"),
    ("Predictions", "/predictions"),
    ("Customers", "/customers"),
    ("Data", "/data"),
]
API = [
    "/api/v1/metrics",
    "/api/v1/metrics?period=quarter",
    "/api/v1/cohorts",
    "/api/v1/segments",
    "/api/v1/customers?limit=50",
    "/api/v1/customers?segment=lapsed&sort=clv",
    "/api/v1/customers/{customer}",
    "/api/v1/status",
    "/healthz",
]
OVERVIEW = "/"
CUSTOMER_NUMBER = 42  # {customer} in a path: the demo's 42nd customer (C000042, C0000042...)

# Targets.
TARGET_OVERVIEW_MS = 500.0  # warm Overview page, p99, 1M customers
TARGET_OVERVIEW_CUSTOMERS = 1_000_000
TARGET_API_P99_MS = 200.0  # API, p99, with 50 concurrent clients
TARGET_CLIENTS = 50

# What the server logs when its warm-up thread (customer table, segment
# snapshots, Overview page, computed at start) has finished.
WARMUP_LINES = {
    "the dashboard's first pages are ready": "ready",
    "could not prepare the dashboard's first pages": "failed",
}

CSRF = re.compile(r'name="csrf"\s+value="([^"]+)"')
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


# --------------------------------------------------------------------------- helpers


def _proc_status(pid: int, field: str) -> float | None:
    """A ``kB`` field of /proc/PID/status, in MiB."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def _proc_threads(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _proc_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a process (all its threads)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    except (OSError, IndexError, ValueError):
        return None


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _tenure_bin() -> str:
    """The ``tenure`` command of this environment."""
    here = Path(sys.executable).parent / "tenure"
    return str(here) if here.exists() else shutil.which("tenure") or "tenure"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def latency_figures(seconds: list[float]) -> dict[str, Any]:
    values = sorted(seconds)
    ms = lambda v: None if v is None else round(v * 1000, 1)  # noqa: E731
    return {
        "n": len(values),
        "p50_ms": ms(percentile(values, 50)),
        "p90_ms": ms(percentile(values, 90)),
        "p99_ms": ms(percentile(values, 99)),
        "max_ms": ms(values[-1] if values else None),
        "mean_ms": ms(statistics.fmean(values) if values else None),
    }


def _fmt_ms(v: float | None) -> str:
    return "—" if v is None else f"{v:,.1f}"


def _fmt_s(v: float | None) -> str:
    return "—" if v is None else f"{v:.3f}"


def _dir_mib(path: Path) -> float:
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20, 1)


def _store_stamp(store: Path) -> dict[str, int]:
    """Modification times of the analytics store's files: what the server's
    caches are keyed on."""
    out = {}
    for name in ("analytics.duckdb", "analytics.duckdb.wal"):
        p = store / name
        out[name] = p.stat().st_mtime_ns if p.exists() else 0
    return out


# --------------------------------------------------------------------------- the store


def prepare_store(
    args: argparse.Namespace, customers: int, log: Log
) -> tuple[Path, dict[str, Any]] | None:
    """The demo store of ``customers`` customers, cached under the workdir by
    customers and seed; built with ``tenure demo`` when missing."""
    workdir = Path(args.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    stem = f"store-c{customers}-s{args.seed}"
    store = workdir / stem
    meta_path = workdir / f"{stem}.json"
    if store.is_dir() and not args.regenerate:
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
        meta["reused"] = True
        log(f"store: reusing {store} ({_dir_mib(store):,.0f} MiB)")
        return store, meta
    tmp_store = workdir / f"{stem}.tmp"
    data = workdir / f"data-c{customers}-s{args.seed}.tmp"
    for p in (tmp_store, data):
        shutil.rmtree(p, ignore_errors=True)
    shutil.rmtree(store, ignore_errors=True)
    log(f"store: tenure demo --customers {customers:,} --seed {args.seed} into {store} ...")
    command = [
        _tenure_bin(), "demo", "--customers", str(customers), "--seed", str(args.seed),
        "--out", str(data), "--store", str(tmp_store), "--no-report", "--json",
    ]  # fmt: skip
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            command,
            cwd=workdir,
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=args.timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        log(f"  tenure demo timed out after {args.timeout:.0f} s")
        return None
    seconds = round(time.perf_counter() - started, 1)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-12:]
        log(f"  tenure demo failed (exit code {proc.returncode}):", *tail, sep="\n  ")
        return None
    try:
        info = json.loads(proc.stdout)
    except json.JSONDecodeError:
        info = {}
    tmp_store.replace(store)
    if not args.keep_data:
        shutil.rmtree(data, ignore_errors=True)
    ingested = {r.get("kind", f"#{i}"): r for i, r in enumerate(info.get("ingested", []))}
    meta = {
        "customers": customers,
        "seed": args.seed,
        "generate_s": seconds,
        "date": date.today().isoformat(),
        "headline": info.get("headline"),
        "rows": {k: r.get("accepted", r.get("read")) for k, r in ingested.items()},
    }
    meta_path.write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
    meta["reused"] = False
    log(f"  built in {seconds:.1f} s ({_dir_mib(store):,.0f} MiB; not part of the measurement)")
    return store, meta


def create_key(store: Path, timeout: float) -> str:
    proc = subprocess.run(
        [_tenure_bin(), "apikey", "create", "--scope", "read", "--name", "web benchmark",
         "--store", str(store), "--json"],
        env=child_env(), capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"tenure apikey create failed: {proc.stderr.strip()[-500:]}")
    return str(json.loads(proc.stdout)["key"])


# --------------------------------------------------------------------------- the server


class Server:
    """``tenure serve --demo`` in its own process, its output in files."""

    def __init__(self, store: Path, port: int, logdir: Path) -> None:
        self.store, self.port = store, port
        self.url = f"http://127.0.0.1:{port}"
        self.stdout_path = logdir / f"serve-{port}.stdout.log"
        self.stderr_path = logdir / f"serve-{port}.stderr.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.exit_code: int | None = None
        self.started = 0.0
        self.warmup: dict[str, Any] = {}

    def _watch_warmup(self) -> None:
        """Seconds from the start until the server's warm-up thread logged
        that the first pages are ready (or that it could not prepare them)."""
        while self.proc is not None and self.proc.poll() is None:
            text = "\n".join(self.stderr_lines())
            for needle, outcome in WARMUP_LINES.items():
                if needle in text:
                    self.warmup = {
                        "outcome": outcome,
                        "seconds": round(time.perf_counter() - self.started, 2),
                    }
                    return
            time.sleep(0.1)

    def wait_warmup(self, timeout: float) -> None:
        """Until the warm-up logged its end, or the server has been idle
        (under 5 % of a core) for a second."""
        deadline = time.perf_counter() + timeout
        last = self.cpu()
        while not self.warmup and time.perf_counter() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                return
            time.sleep(1.0)
            now = self.cpu()
            if now is not None and last is not None and now - last < 0.05:
                self.warmup = {
                    "outcome": "idle",
                    "seconds": round(time.perf_counter() - self.started, 2),
                }
                return
            last = now

    def start(self, timeout: float) -> float:
        """Start it; the seconds until ``/healthz`` answered 200."""
        import httpx

        command = [_tenure_bin(), "serve", "--store", str(self.store), "--demo",
                   "--port", str(self.port)]  # fmt: skip
        started = self.started = time.perf_counter()
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                command, cwd=self.store.parent, env=child_env(), stdout=out, stderr=err
            )
        threading.Thread(target=self._watch_warmup, daemon=True, name="warm-up watch").start()
        deadline = started + timeout
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the server exited with code {self.proc.returncode}: "
                    + " | ".join(self.stderr_lines()[-8:])
                )
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"/healthz did not answer within {timeout:.0f} s")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def cpu(self) -> float | None:
        return _proc_cpu(self.pid)

    def memory(self) -> dict[str, Any]:
        return {
            "rss_mib": _proc_status(self.pid, "VmRSS"),
            "peak_rss_mib": _proc_status(self.pid, "VmHWM"),
            "threads": _proc_threads(self.pid),
        }

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            self.exit_code = None if self.proc is None else self.proc.returncode
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.exit_code = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                self.exit_code = self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.exit_code = self.proc.wait()

    def stderr_lines(self) -> list[str]:
        try:
            text = self.stderr_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return []
        return text.splitlines()

    def access_statuses(self) -> dict[str, int]:
        """Counts of the statuses in the server's access log."""
        counts: dict[str, int] = {}
        try:
            with open(self.stdout_path, encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    m = re.search(r'HTTP/[\d.]+" (\d{3})', line)
                    if m:
                        counts[m.group(1)] = counts.get(m.group(1), 0) + 1
        except OSError:
            pass
        return dict(sorted(counts.items()))


def notable_stderr(lines: list[str]) -> list[str]:
    """The server's stderr lines other than uvicorn's routine INFO lines."""
    return [ln for ln in lines if ln.strip() and not ln.startswith("INFO:")]


# --------------------------------------------------------------------------- clients


def login(base_url: str, timeout: float) -> tuple[Any, float]:
    """A client logged in as the demo user, and the seconds the login took."""
    import httpx

    client = httpx.Client(base_url=base_url, timeout=timeout, follow_redirects=False)
    started = time.perf_counter()
    form = client.get("/login")
    if form.status_code != 200:
        raise RuntimeError(f"GET /login answered {form.status_code}")
    found = CSRF.search(form.text)
    if not found:
        raise RuntimeError("GET /login: no csrf field in the form")
    sent = client.post(
        "/login", data={"email": DEMO_EMAIL, "password": DEMO_PASSWORD, "csrf": found.group(1)}
    )
    if sent.status_code != 303:
        raise RuntimeError(f"POST /login answered {sent.status_code}, expected 303")
    return client, time.perf_counter() - started


def timed_get(client: Any, path: str, headers: dict[str, str] | None) -> dict[str, Any]:
    import httpx

    started = time.perf_counter()
    try:
        response = client.get(path, headers=headers)
        body = response.content
        status: int | None = response.status_code
        error = None
    except httpx.HTTPError as exc:
        body, status, error = b"", None, f"{type(exc).__name__}: {exc}"[:200]
    return {
        "path": path,
        "seconds": time.perf_counter() - started,
        "status": status,
        "bytes": len(body),
        "error": error,
    }


def measure_cold(
    page_client: Any, api_client: Any, key_headers: dict[str, str], api: list[str], repeats: int
) -> list[dict[str, Any]]:
    """The first request of each page and endpoint, then the median of
    ``repeats`` more (warm)."""
    rows = []
    targets = [("page", name, path, page_client, None) for name, path in PAGES]
    targets += [("api", path, path, api_client, key_headers) for path in api]
    for kind, name, path, client, headers in targets:
        first = timed_get(client, path, headers)
        again = [timed_get(client, path, headers) for _ in range(repeats)]
        rows.append(
            {
                "kind": kind,
                "name": name,
                "path": path,
                "status": first["status"],
                "error": first["error"],
                "bytes": first["bytes"],
                "cold_s": round(first["seconds"], 4),
                "warm_s": round(statistics.median(r["seconds"] for r in again), 4)
                if again
                else None,
                "warm_statuses": sorted({r["status"] for r in again}, key=str),
            }
        )
    return rows


def measure_sequential(client: Any, path: str, count: int) -> dict[str, Any]:
    results = [timed_get(client, path, None) for _ in range(count)]
    ok = [r["seconds"] for r in results if r["status"] == 200]
    figures = latency_figures([r["seconds"] for r in results])
    figures["non_200"] = len(results) - len(ok)
    figures["statuses"] = _status_counts(results)
    return figures


def _status_counts(results: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in results:
        k = str(r["status"]) if r["status"] is not None else "connection error"
        counts[k] = counts.get(k, 0) + 1
    return dict(sorted(counts.items()))


def run_load(
    server: Server,
    paths: list[str],
    clients: int,
    duration: float,
    key_headers: dict[str, str],
    cookies: Any,
    timeout: float,
) -> dict[str, Any]:
    """``clients`` threads, one ``httpx.Client`` each, for ``duration``
    seconds; each goes round-robin over ``paths`` starting at its own offset.
    API paths carry the key, pages the session cookie."""
    import httpx

    per_thread: list[list[dict[str, Any]]] = [[] for _ in range(clients)]
    barrier = threading.Barrier(clients + 1)
    stop_at = [0.0]
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)

    def worker(i: int) -> None:
        with httpx.Client(
            base_url=server.url, timeout=timeout, limits=limits, follow_redirects=False
        ) as client:
            if cookies is not None:
                client.cookies = cookies
            out = per_thread[i]
            k = i
            barrier.wait()
            while time.perf_counter() < stop_at[0]:
                path = paths[k % len(paths)]
                k += 1
                headers = key_headers if path.startswith("/api/") or path == "/healthz" else None
                r = timed_get(client, path, headers)
                r["t"] = time.perf_counter()
                out.append(r)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    load_before = load()
    server_cpu, own_cpu = server.cpu(), _own_cpu()
    stop_at[0] = time.perf_counter() + duration
    started = time.perf_counter()
    barrier.wait()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    server_cpu_s = (server.cpu() or 0) - (server_cpu or 0)
    client_cpu_s = _own_cpu() - own_cpu
    results = [r for rs in per_thread for r in rs]
    statuses = _status_counts(results)
    errors_5xx = sum(1 for r in results if r["status"] is not None and r["status"] >= 500)
    conn_errors = sum(1 for r in results if r["status"] is None)
    non_200 = sum(1 for r in results if r["status"] != 200)
    figures = latency_figures([r["seconds"] for r in results])
    by_path = {}
    for path in paths:
        mine = [r for r in results if r["path"] == path]
        f = latency_figures([r["seconds"] for r in mine])
        f["non_200"] = sum(1 for r in mine if r["status"] != 200)
        by_path[path] = f
    api_only = [r["seconds"] for r in results if r["path"] != OVERVIEW]
    first_errors = sorted(
        {f"{r['path']}: {r['error'] or r['status']}" for r in results if r["status"] != 200}
    )[:10]
    return {
        "clients": clients,
        "duration_s": duration,
        "wall_s": round(wall, 2),
        "paths": paths,
        **figures,
        "requests_per_s": round(len(results) / wall, 1) if wall else None,
        "errors_5xx": errors_5xx,
        "connection_errors": conn_errors,
        "non_200": non_200,
        "statuses": statuses,
        "error_examples": first_errors,
        "api_only": latency_figures(api_only),
        "by_path": by_path,
        "server_cpu_s": round(server_cpu_s, 1),
        "server_cores": round(server_cpu_s / wall, 2) if wall else None,
        "client_cpu_s": round(client_cpu_s, 1),
        "client_cores": round(client_cpu_s / wall, 2) if wall else None,
        "load_before": load_before,
        "load_after": load(),
    }


# --------------------------------------------------------------------------- one size


def demo_customer_id(customers: int, number: int) -> str:
    """The id tenure demo gives its ``number``-th customer: C and at least six
    digits, more when the demo has more customers."""
    return "C" + str(number).zfill(max(6, len(str(customers))))


def run_size(args: argparse.Namespace, customers: int, log: Log) -> dict[str, Any] | None:
    prepared = prepare_store(args, customers, log)
    if prepared is None:
        return None
    store, meta = prepared
    customer = demo_customer_id(customers, args.customer)
    args.api = [p.replace("{customer}", customer) for p in args.api_paths]
    key = create_key(store, args.timeout)
    key_headers = {"Authorization": f"Bearer {key}"}
    stamp_before = _store_stamp(store)
    port = args.port or _free_port()
    server = Server(store, port, Path(args.workdir).resolve())
    run: dict[str, Any] = {"customers": customers, "store": str(store), "data": meta}
    try:
        startup = server.start(args.start_timeout)
        run["startup_s"] = round(startup, 2)
        run["memory_after_start"] = server.memory()
        log(f"server: pid {server.pid} on {server.url}, /healthz after {startup:.2f} s")
        if args.after_warmup:
            server.wait_warmup(args.start_timeout)
            log(f"  waited for the warm-up: {server.warmup or 'no warm-up line logged'}")
        page_client, login_s = login(server.url, args.request_timeout)
        run["login_s"] = round(login_s, 3)
        import httpx

        api_client = httpx.Client(base_url=server.url, timeout=args.request_timeout)

        cpu0 = server.cpu()
        started = time.perf_counter()
        run["cold"] = measure_cold(
            page_client, api_client, key_headers, args.api, args.warm_repeats
        )
        run["cold_phase"] = {
            "wall_s": round(time.perf_counter() - started, 2),
            "server_cpu_s": round((server.cpu() or 0) - (cpu0 or 0), 1),
            **server.memory(),
        }
        for r in run["cold"]:
            flag = "" if r["status"] == 200 else f"  <-- {r['error'] or r['status']}"
            log(
                f"  cold {r['kind']:<4} {r['name']:<42} {r['cold_s']:8.3f} s, warm "
                f"{_fmt_s(r['warm_s'])} s, {r['bytes']:,} bytes{flag}"
            )

        run["overview"] = measure_sequential(page_client, OVERVIEW, args.overview_requests)
        o = run["overview"]
        log(
            f"  overview x{o['n']}: p50 {_fmt_ms(o['p50_ms'])} ms, p99 {_fmt_ms(o['p99_ms'])} "
            f"ms, max {_fmt_ms(o['max_ms'])} ms"
        )

        for name, paths in (("api", args.api), ("mixed", [*args.api, OVERVIEW])):
            if name not in args.runs:
                continue
            log(f"  {name}: {args.clients} clients for {args.duration:g} s ...")
            out = run_load(
                server, paths, args.clients, args.duration, key_headers,
                page_client.cookies if name == "mixed" else None, args.request_timeout,
            )  # fmt: skip
            out.update(server.memory())
            run[name] = out
            log(
                f"    {out['n']:,} requests, {out['requests_per_s']:,.1f}/s, p50 "
                f"{_fmt_ms(out['p50_ms'])} ms, p90 {_fmt_ms(out['p90_ms'])} ms, p99 "
                f"{_fmt_ms(out['p99_ms'])} ms, max {_fmt_ms(out['max_ms'])} ms, errors "
                f"{out['errors_5xx'] + out['connection_errors']}, non-200 {out['non_200']}; "
                f"CPU: server {out['server_cores']} cores, client {out['client_cores']} cores"
            )
        run["memory_end"] = server.memory()
        page_client.close()
        api_client.close()
    except Exception as exc:  # report what ran, with the reason it stopped
        run["error"] = f"{type(exc).__name__}: {exc}"
        log(f"  STOPPED: {run['error']}")
    finally:
        if server.proc is not None:
            run.setdefault("memory_end", server.memory())
        server.stop()
    run["warmup"] = server.warmup
    run["cold_after_warmup"] = bool(args.after_warmup)
    run["server_exit_code"] = server.exit_code
    run["server_stderr"] = notable_stderr(server.stderr_lines())[-40:]
    run["server_access_statuses"] = server.access_statuses()
    run["store_changed"] = _store_stamp(store) != stamp_before
    run["targets"] = targets(run)
    return run


def targets(run: dict[str, Any]) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    customers = run["customers"]
    o = run.get("overview")
    if o:
        lines.append(
            {
                "target": f"warm Overview page p99 < {TARGET_OVERVIEW_MS:g} ms "
                f"({TARGET_OVERVIEW_CUSTOMERS:,} customers)",
                "value": f"p99 {_fmt_ms(o['p99_ms'])} ms (p50 {_fmt_ms(o['p50_ms'])} ms)",
                "met": o["p99_ms"] is not None
                and o["p99_ms"] < TARGET_OVERVIEW_MS
                and o["non_200"] == 0,
                "binding": customers >= TARGET_OVERVIEW_CUSTOMERS,
            }
        )
    for name in ("api", "mixed"):
        out = run.get(name)
        if not out:
            continue
        at = out["clients"] >= TARGET_CLIENTS
        figures = out if name == "api" else out["api_only"]
        what = "API" if name == "api" else "API requests of the mixed run"
        lines.append(
            {
                "target": f"{what} p99 < {TARGET_API_P99_MS:g} ms with "
                f"{TARGET_CLIENTS} concurrent clients",
                "value": f"p99 {_fmt_ms(figures['p99_ms'])} ms with {out['clients']} clients",
                "met": figures["p99_ms"] is not None and figures["p99_ms"] < TARGET_API_P99_MS,
                "binding": at and name == "api",
            }
        )
        errors = out["errors_5xx"] + out["connection_errors"]
        lines.append(
            {
                "target": f"{name} run: no errors (no 5xx, no connection error, only 200s)",
                "value": f"{errors} errors, {out['non_200']} non-200 of {out['n']:,}",
                "met": errors == 0 and out["non_200"] == 0,
                "binding": True,
            }
        )
    return lines


# --------------------------------------------------------------------------- output


def machine() -> dict[str, Any]:
    import tenure

    root = Path(tenure.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".html", ".css", ".js", ".json", ".toml"):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root, capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "."],
            cwd=root, capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
        revision = head + (" with uncommitted changes to src/tenure" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        revision = None
    mem = mem_total_gib()
    return {
        "tenure_source": revision,
        "source_digest": digest.hexdigest()[:12],
        "cpu_count": os.cpu_count(),
        "mem_total_gib": mem,
        "platform": platform.platform(),
        "versions": versions(
            "tenure",
            "fastapi",
            "starlette",
            "uvicorn",
            "httpx",
            "jinja2",
            "duckdb",
            "ibis-framework",
            "pandas",
            "pyarrow",
        ),
    }


def markdown_cold(run: dict[str, Any]) -> str:
    lines = [
        "| customers | what | path | status | cold s | warm s | bytes |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in run.get("cold", []):
        what = f"page {r['name']}" if r["kind"] == "page" else "API"
        status = r["status"] if r["status"] is not None else r["error"]
        lines.append(
            f"| {run['customers']:,} | {what} | `{r['path']}` | {status} | {r['cold_s']:.3f} "
            f"| {_fmt_s(r['warm_s'])} | {r['bytes']:,} |"
        )
    return "\n".join(lines)


def markdown_runs(run: dict[str, Any]) -> str:
    lines = [
        "| customers | run | clients | requests | req/s | p50 ms | p90 ms | p99 ms | max ms "
        "| errors | non-200 | server CPU cores | client CPU cores | 1-min load |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    o = run.get("overview")
    if o:
        lines.append(
            f"| {run['customers']:,} | Overview, sequential | 1 | {o['n']} | "
            f"{1000 / max(1e-9, o['mean_ms']):,.1f} | {_fmt_ms(o['p50_ms'])} | "
            f"{_fmt_ms(o['p90_ms'])} | {_fmt_ms(o['p99_ms'])} | {_fmt_ms(o['max_ms'])} | — | "
            f"{o['non_200']} | — | — | |"
        )
    for name in ("api", "mixed"):
        out = run.get(name)
        if not out:
            continue
        label = "API" if name == "api" else "API + Overview"
        lines.append(
            f"| {run['customers']:,} | {label} | {out['clients']} | {out['n']:,} | "
            f"{out['requests_per_s']:,.1f} | {_fmt_ms(out['p50_ms'])} | {_fmt_ms(out['p90_ms'])} | "
            f"**{_fmt_ms(out['p99_ms'])}** | {_fmt_ms(out['max_ms'])} | "
            f"{out['errors_5xx'] + out['connection_errors']} | {out['non_200']} | "
            f"{out['server_cores']} | {out['client_cores']} | "
            f"{out['load_before']} → {out['load_after']} |"
        )
    return "\n".join(lines)


def markdown_paths(run: dict[str, Any]) -> str:
    lines = [
        "| customers | run | path | requests | p50 ms | p90 ms | p99 ms | max ms | non-200 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in ("api", "mixed"):
        out = run.get(name)
        if not out:
            continue
        for path, f in out["by_path"].items():
            lines.append(
                f"| {run['customers']:,} | {name} | `{path}` | {f['n']:,} | {_fmt_ms(f['p50_ms'])} "
                f"| {_fmt_ms(f['p90_ms'])} | {_fmt_ms(f['p99_ms'])} | {_fmt_ms(f['max_ms'])} "
                f"| {f['non_200']} |"
            )
    return "\n".join(lines)


def markdown_summary(runs: list[dict[str, Any]]) -> str:
    lines = [
        "| customers | server start s | slowest cold request | Overview cold s | Overview warm "
        "p50 / p99 ms | API p50 / p99 ms, req/s | mixed p50 / p99 ms, req/s | errors | "
        "server peak RSS MiB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        cold = run.get("cold") or []
        slow = max(cold, key=lambda r: r["cold_s"]) if cold else None
        first = next((r for r in cold if r["path"] == OVERVIEW), None)
        o = run.get("overview") or {}
        cells = []
        for name in ("api", "mixed"):
            out = run.get(name)
            cells.append(
                f"{_fmt_ms(out['p50_ms'])} / {_fmt_ms(out['p99_ms'])}, {out['requests_per_s']:,.0f}"
                if out
                else "—"
            )
        errors = sum(
            run[n]["errors_5xx"] + run[n]["connection_errors"] for n in ("api", "mixed") if n in run
        )
        peak = (run.get("memory_end") or {}).get("peak_rss_mib")
        lines.append(
            f"| {run['customers']:,} | {run.get('startup_s', '—')} | "
            + (f"`{slow['path']}` {slow['cold_s']:.2f} s" if slow else "—")
            + f" | {_fmt_s(first['cold_s']) if first else '—'} | "
            f"{_fmt_ms(o.get('p50_ms'))} / {_fmt_ms(o.get('p99_ms'))} | {cells[0]} | {cells[1]} | "
            f"{errors} | {'—' if peak is None else f'{peak:,.0f}'} |"
        )
    return "\n".join(lines)


def print_size(run: dict[str, Any]) -> None:
    print()
    rows = (run.get("data") or {}).get("rows") or {}
    extra = f", {rows['orders']:,} orders" if isinstance(rows.get("orders"), int) else ""
    print(f"## {run['customers']:,} customers{extra}")
    if "error" in run:
        print(f"STOPPED: {run['error']}")
    print(
        f"server: /healthz after {run.get('startup_s', '—')} s, login "
        f"{run.get('login_s', '—')} s, peak RSS {(run.get('memory_end') or {}).get('peak_rss_mib')}"
        f" MiB, {(run.get('memory_end') or {}).get('threads')} threads at the end, exit code "
        f"{run['server_exit_code']}"
    )
    w = run.get("warmup") or {}
    print(
        "server warm-up (computed at start): "
        + (f"{w['outcome']} {w['seconds']} s after the start" if w else "no line logged")
        + (
            ", waited for before the cold requests"
            if run.get("cold_after_warmup")
            else ", not waited for: the cold requests ran alongside it"
        )
    )
    if run.get("cold_phase"):
        c = run["cold_phase"]
        print(
            f"cold requests: {c['wall_s']} s in all, server CPU {c['server_cpu_s']} s, "
            f"RSS {c['rss_mib']} MiB after them"
        )
    print()
    print(markdown_cold(run))
    print()
    print(markdown_runs(run))
    print()
    print(markdown_paths(run))
    print()
    for name in ("api", "mixed"):
        out = run.get(name)
        if out and out["error_examples"]:
            print(f"{name}: not 200: " + "; ".join(out["error_examples"]))
    print(f"server access log, statuses: {run['server_access_statuses']}")
    if run["store_changed"]:
        print("NOTE: the analytics store's files changed while the server ran.")
    if run["server_stderr"]:
        print("server stderr (besides its INFO lines):")
        for line in run["server_stderr"][-20:]:
            print(f"    {line}")
    else:
        print("server stderr: only its INFO lines")
    print()
    for t in run["targets"]:
        verdict = {True: "met", False: "MISSED"}[t["met"]]
        note = "" if t["binding"] else " [indicative]"
        print(f"target {t['target']}: {t['value']}: {verdict}{note}")


def parent(args: argparse.Namespace) -> int:
    log = Log(to_stderr=args.json == "-")
    info = machine()
    log(f"machine: {info['cpu_count']} cores, {info['mem_total_gib']} GiB RAM, {info['platform']}")
    log("versions: " + ", ".join(f"{k} {v}" for k, v in info["versions"].items()))
    log(
        f"tenure source: {info['tenure_source'] or 'not a git checkout'}, "
        f"package digest {info['source_digest']}"
    )
    log(
        f"settings: {args.clients} clients, {args.duration:g} s per load run, "
        f"{args.overview_requests} sequential Overview requests, {args.warm_repeats} warm "
        f"repeats per cold request; 1-min load {load()}"
    )
    runs = []
    for customers in args.customers:
        run = run_size(args, customers, log)
        if run is None:
            return 1
        runs.append(run)
    changed = machine()["source_digest"] != info["source_digest"]
    document = {
        "date": date.today().isoformat(),
        "machine": info,
        "settings": {
            "clients": args.clients,
            "duration_s": args.duration,
            "overview_requests": args.overview_requests,
            "warm_repeats": args.warm_repeats,
            "seed": args.seed,
            "pages": PAGES,
            "api": args.api_paths,
            "customer": args.customer,
        },
        "runs": runs,
        "source_changed_during_runs": changed,
    }
    if args.json == "-":
        print(json.dumps(document, indent=2, default=str))
    else:
        for run in runs:
            print_size(run)
        print()
        print(markdown_summary(runs))
        print(
            "\ncold s: the first request after the server started; warm s: the median of the "
            "repeats that follow. Latencies are measured by the client around each request "
            "(body read); errors: 5xx and connection errors. The client and the server share "
            "the machine's cores."
        )
        if changed:
            print("WARNING: tenure's source files changed during the runs; figures mix versions.")
        if args.json:
            Path(args.json).write_text(json.dumps(document, indent=2, default=str), "utf-8")
            print(f"wrote {args.json}")
    failed = any("error" in run for run in runs)
    errors = any(
        not t["met"] for run in runs for t in run["targets"] if t["target"].endswith("only 200s)")
    )
    return 1 if failed or errors else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--customers",
        type=int,
        nargs="+",
        action="extend",
        help="customers of the demo store; repeat the flag or give a list (default: 100000)",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="tenure demo's seed")
    parser.add_argument(
        "--clients", type=int, default=TARGET_CLIENTS, help="concurrent clients in the load runs"
    )
    parser.add_argument(
        "--duration", type=float, default=20.0, help="seconds of each load run (default 20)"
    )
    parser.add_argument(
        "--runs",
        nargs="+",
        choices=("api", "mixed"),
        default=["api", "mixed"],
        help="load runs to make (default both)",
    )
    parser.add_argument(
        "--api",
        dest="api_paths",
        nargs="+",
        default=list(API),
        metavar="PATH",
        help="the API paths of the cold requests and the load runs; {customer} stands for "
        "the id of the customer of --customer (default: the nine listed in the script)",
    )
    parser.add_argument(
        "--customer",
        type=int,
        default=CUSTOMER_NUMBER,
        help=f"which demo customer {{customer}} is: C000042 for {CUSTOMER_NUMBER} "
        "(C0000042 with 1,000,000 customers or more)",
    )
    parser.add_argument(
        "--overview-requests",
        type=int,
        default=50,
        help="sequential warm requests of the Overview page (default 50)",
    )
    parser.add_argument(
        "--warm-repeats",
        type=int,
        default=5,
        help="requests after each cold one; their median is the warm figure (default 5)",
    )
    parser.add_argument(
        "--workdir",
        default=str(Path(tempfile.gettempdir()) / "tenure-bench-web"),
        help="folder for the cached stores and the server's logs "
        "(default: tenure-bench-web in the temp folder)",
    )
    parser.add_argument(
        "--after-warmup",
        action="store_true",
        help="wait for the server's warm-up at start (its log line, or the server idle for a "
        "second) before the cold requests (default: send them as soon as /healthz answers)",
    )
    parser.add_argument("--regenerate", action="store_true", help="rebuild the cached store")
    parser.add_argument(
        "--keep-data", action="store_true", help="keep the demo's generated files next to the store"
    )
    parser.add_argument("--port", type=int, default=0, help="server port (default: a free one)")
    parser.add_argument(
        "--json",
        nargs="?",
        const="-",
        help="print the figures as JSON instead of the tables, or with FILE write them there",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=3600,
        help="seconds before tenure demo (building a store) is stopped",
    )
    parser.add_argument(
        "--start-timeout",
        type=float,
        default=180,
        help="seconds to wait for the server's /healthz",
    )
    parser.add_argument(
        "--request-timeout", type=float, default=120, help="seconds before a request gives up"
    )
    args = parser.parse_args(argv)
    args.customers = args.customers or [100_000]
    if any(c < 1 for c in args.customers):
        parser.error("--customers must be 1 or more")
    if args.clients < 1 or args.duration <= 0:
        parser.error("--clients must be 1 or more and --duration positive")
    if args.overview_requests < 1 or args.warm_repeats < 0:
        parser.error("--overview-requests must be 1 or more, --warm-repeats 0 or more")
    return parent(args)


if __name__ == "__main__":
    sys.exit(main())
