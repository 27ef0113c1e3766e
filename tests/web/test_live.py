"""A served store takes ingests, fits and predictions from the command line.

A real ``tenure serve`` process answers reader threads while real ``tenure``
processes write to the same workspace. The rows written are generated here,
so the totals before and after are known independently of tenure; every
answer must be one of the two, never a refusal and never a mix.
"""

from __future__ import annotations

import csv
import os
import secrets
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import _free_port
from tests.web.conftest import needs_web

BASE_ORDERS = 2_000
NEW_ORDERS = 200_000
CUSTOMERS = 20_000


def _orders(path: Path, first: int, count: int) -> tuple[Path, int]:
    """``count`` orders O{first}.. of customers C0..C19999 and their cent total;
    amounts are whole cents so the sum is exact."""
    cents = 0
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["order_id", "customer_id", "placed_at", "amount"])
        for i in range(first, first + count):
            amount = 100 + (i * 37) % 9_900
            cents += amount
            day = 1 + i % 28
            out.writerow(
                [f"O{i}", f"C{i % CUSTOMERS}", f"2024-{1 + i % 12:02d}-{day:02d}", amount / 100]
            )
    return path, cents


def _tenure(store: Path, *args: str, env: dict | None = None, log=None) -> subprocess.Popen:
    """``tenure ARGS --store STORE`` in its own process; its output piped,
    or written to ``log``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TENURE_FAULT")}
    return subprocess.Popen(
        [sys.executable, "-m", "tenure", *args, "--store", str(store)],
        stdout=log or subprocess.PIPE,
        stderr=log or subprocess.PIPE,
        text=True,
        env={**environ, **(env or {})},
    )


def _done(process: subprocess.Popen, timeout: float = 600) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


@dataclass
class Served:
    url: str
    store: Path
    key: str
    process: subprocess.Popen
    log: list[str] = field(default_factory=list)

    def client(self):
        import httpx

        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=120
        )


def _serve(store: Path, **env: str) -> Served:
    """``tenure serve`` in its own process, with a read API key."""
    import httpx

    made = _tenure(store, "apikey", "create", "--scope", "read", "--json", env=env)
    code, out, err = _done(made)
    assert code == 0, err
    import json

    key = json.loads(out)["key"]
    port = _free_port()
    # its access log goes to a file: a pipe nobody reads would fill and stop it
    log = (store.parent / "serve.log").open("w")
    server = _tenure(
        store, "serve", "--host", "127.0.0.1", "--port", str(port),
        env={"TENURE_SECRET_KEY": secrets.token_urlsafe(40), **env}, log=log,
    )  # fmt: skip
    log.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise RuntimeError(
                f"the server did not start: {(store.parent / 'serve.log').read_text()}"
            )
        time.sleep(0.1)  # waiting for a server to listen, not making a fault
    return Served(url, store, key, server)


def _stop(served: Served) -> None:
    if served.process.poll() is not None:
        return
    served.process.terminate()
    try:
        served.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        served.process.kill()
        served.process.wait()


# after a commit a kept answer may be the version before's while the new one
# is computed (docs/workspace.md); a check of what a command wrote asks for
# the store as it is now
FRESH = {"Cache-Control": "no-cache"}


def _status(served: Served, client, *, fresh: bool = False) -> tuple[int, int | None, int | None]:
    got = client.get("/api/v1/status", headers=FRESH if fresh else None)
    if got.status_code != 200:
        return got.status_code, None, None
    tables = got.json()["tables"]
    return 200, tables["orders"], tables["customers"]


def _start(tmp_path: Path, **env: str) -> Served:
    """A store of the base orders, served; ``env`` for every process."""
    needs_web()
    store = tmp_path / "store"
    base, _ = _orders(tmp_path / "base.csv", 0, BASE_ORDERS)
    code, _, err = _done(_tenure(store, "ingest", "orders", str(base), env=env))
    assert code == 0, err
    return _serve(store, **env)


@pytest.fixture
def served(tmp_path):
    # a reader waits at most this long for a commit; generous, so that a
    # loaded machine does not turn a slow answer into a refusal here
    served = _start(tmp_path, TENURE_READ_WAIT="30")
    yield served
    _stop(served)


def _readers(served: Served, stop: threading.Event, n: int = 8):
    """``n`` threads reading the status and customer pages until ``stop``:
    the answers (status code, orders, customers) of each."""
    answers: list[tuple[int, int | None, int | None]] = []
    slowest: list[float] = []  # seconds of each status answer
    lock = threading.Lock()

    def read(k: int) -> None:
        with served.client() as client:
            i = k
            while not stop.is_set():
                started = time.perf_counter()
                answer = _status(served, client)
                took = time.perf_counter() - started
                # a customer of the base data: a new page (no kept answer) each time
                page = client.get(f"/api/v1/customers/C{(i * 7919) % BASE_ORDERS}")
                with lock:
                    answers.append(answer)
                    answers.append((page.status_code, None, None))
                    slowest.append(took)
                i += n

    threads = [threading.Thread(target=read, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    return threads, answers, slowest


def _ingest_while_reading(served: Served, tmp_path: Path, count: int, **env: str) -> None:
    new, _ = _orders(tmp_path / "new.csv", BASE_ORDERS, count)
    old_customers = min(BASE_ORDERS, CUSTOMERS)
    before = (200, BASE_ORDERS, old_customers)
    after = (200, BASE_ORDERS + count, min(CUSTOMERS, BASE_ORDERS + count))
    with served.client() as client:
        assert _status(served, client) == before
    stop = threading.Event()
    threads, answers, took = _readers(served, stop, n=8)
    try:
        while len(answers) < 16:  # the readers are reading before the ingest starts
            time.sleep(0.01)
        started = time.perf_counter()
        ingest = _tenure(served.store, "ingest", "orders", str(new), "--json", env=env)
        code, out, err = _done(ingest)
        seconds = time.perf_counter() - started
        reads_during = len(answers)
        with served.client() as client:
            final = _status(served, client, fresh=True)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=120)
    assert code == 0, err
    assert "in use" not in err
    refused = [a for a in answers if a[0] != 200]
    assert refused == []
    # every total is the old one or the new one: never a mix of the two
    assert {a for a in answers if a[1] is not None} <= {before, after}
    assert final == after
    took.sort()
    print(f"\ningest of {count:,} orders took {seconds:.1f} s; {reads_during} reads answered "
          f"meanwhile; status answers p50 {took[len(took) // 2] * 1000:.0f} ms, "
          f"p99 {took[int(len(took) * 0.99)] * 1000:.0f} ms")  # fmt: skip
    # no row lost or doubled: the store's own sums, against the generated file
    from tests.conftest import query

    _stop(served)  # the counts are read after the server is gone
    orders, distinct, cents = query(
        served.store,
        "SELECT count(*), count(DISTINCT order_id), sum(round(amount * 100)) FROM orders",
    )[0]
    assert orders == distinct == BASE_ORDERS + count
    _, base_cents = _orders(tmp_path / "again.csv", 0, BASE_ORDERS)
    _, new_cents = _orders(tmp_path / "again.csv", BASE_ORDERS, count)
    assert int(cents) == base_cents + new_cents


def test_a_cli_ingest_while_serving_loses_no_read_and_no_row(served, tmp_path):
    _ingest_while_reading(served, tmp_path, NEW_ORDERS)


def test_the_same_with_the_operational_store_on_postgresql(tmp_path, pg_database):
    url = pg_database.replace("postgresql://", "postgresql+psycopg://", 1)
    served = _start(tmp_path, TENURE_READ_WAIT="30", TENURE_OPS_URL=url)
    try:
        _ingest_while_reading(served, tmp_path, 60_000, TENURE_OPS_URL=url)
    finally:
        _stop(served)
    # the runs were recorded in PostgreSQL, not in a SQLite file beside the store
    assert not (served.store / "ops.sqlite").exists()
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        runs = conn.execute(sa.text("SELECT status, inserted FROM ingest_runs ORDER BY id"))
        assert [tuple(r) for r in runs] == [("succeeded", BASE_ORDERS), ("succeeded", 60_000)]
    engine.dispose()


def _paused(store: Path, orders: Path, point: str, tmp_path: Path, **env: str):
    """``tenure ingest`` held at ``point``; (process, the file that releases it)."""
    release = tmp_path / f"release-{point.replace(' ', '-')}"
    process = _tenure(
        store, "ingest", "orders", str(orders), "--json",
        env={"TENURE_FAULT_AT": point, "TENURE_FAULT_SIGNAL": "PAUSE",
             "TENURE_FAULT_RELEASE": str(release), **env},
    )  # fmt: skip
    reached = Path(f"{release}.reached")
    while not reached.exists():
        assert process.poll() is None, process.communicate()[1]
        time.sleep(0.01)  # waiting for the ingest to get there
    return process, release


@pytest.mark.parametrize(
    ("point", "env"),
    [("before commit", {}), ("swap", {"TENURE_SWAP_ROWS": "0"})],
    ids=["in place", "swapped copy"],
)
def test_a_reader_arriving_during_the_commit_waits_and_reads_the_new_version(
    served, tmp_path, point, env
):
    new, _ = _orders(tmp_path / "new.csv", BASE_ORDERS, 500)
    process, release = _paused(served.store, new, point, tmp_path, **env)
    got: list = []
    try:
        with served.client() as client:
            reader = threading.Thread(target=lambda: got.append(_status(served, client)))
            reader.start()
            reader.join(timeout=1.0)
            # no answer while the commit is held: neither the old version nor a refusal
            assert reader.is_alive() and got == []
            release.touch()
            reader.join(timeout=120)
    finally:
        release.touch()
        code, _, err = _done(process)
    # 500 new orders of 500 new customers
    assert got == [(200, BASE_ORDERS + 500, BASE_ORDERS + 500)]
    assert code == 0, err


def test_a_commit_held_longer_than_a_reader_waits_is_a_503_with_retry_after(tmp_path):
    served = _start(tmp_path, TENURE_READ_WAIT="1")
    try:
        new, _ = _orders(tmp_path / "new.csv", BASE_ORDERS, 500)
        process, release = _paused(served.store, new, "before commit", tmp_path)
        try:
            with served.client() as client:
                busy = client.get("/api/v1/status")
        finally:
            release.touch()
            code, _, err = _done(process)
        assert busy.status_code == 503
        assert int(busy.headers["Retry-After"]) >= 1
        assert busy.json()["error"]["code"] == "store_busy"
        assert "in use by another process" not in busy.text
        assert code == 0, err
        with served.client() as client:
            assert _status(served, client, fresh=True) == (
                200,
                BASE_ORDERS + 500,
                BASE_ORDERS + 500,
            )
    finally:
        _stop(served)


def test_two_cli_ingests_at_once_both_succeed_in_turn(served, tmp_path):
    first, _ = _orders(tmp_path / "first.csv", BASE_ORDERS, 1_000)
    second, _ = _orders(tmp_path / "second.csv", BASE_ORDERS + 1_000, 1_000)
    # the first holds the writers' lock, paused before its commit
    held, release = _paused(served.store, first, "rows staged", tmp_path)
    try:
        waiting = _tenure(served.store, "ingest", "orders", str(second), "--json")
        line = waiting.stderr.readline()
        still = waiting.poll() is None
    finally:
        release.touch()
        assert _done(held)[0] == 0
    code, out, err = _done(waiting)
    assert f"waiting for tenure ingest orders {first} (pid {held.pid})" in line, line
    assert still
    assert code == 0, err
    import json

    assert json.loads(out)["inserted"] == 1_000
    with served.client() as client:
        assert _status(served, client, fresh=True) == (
            200,
            BASE_ORDERS + 2_000,
            BASE_ORDERS + 2_000,
        )


def test_a_cli_predict_while_serving(tmp_path):
    """Fitting and scoring from the command line while the server answers."""
    import json

    from tests.web.conftest import build_store

    needs_web()
    settings = build_store(tmp_path, customers=300)
    served = _serve(settings.store, TENURE_READ_WAIT="30")
    try:
        with served.client() as client:
            assert client.get("/api/v1/predictions/fits").json() == {"fits": []}
        stop = threading.Event()
        answers: list[int] = []

        def read() -> None:
            with served.client() as client:
                while not stop.is_set():
                    answers.append(client.get("/api/v1/predictions/fits").status_code)
                    answers.append(client.get("/api/v1/status").status_code)

        readers = [threading.Thread(target=read) for _ in range(4)]
        for t in readers:
            t.start()
        try:
            code, out, err = _done(_tenure(served.store, "predict", "--json"))
        finally:
            stop.set()
            for t in readers:
                t.join(timeout=120)
        assert code == 0, err
        assert answers and set(answers) == {200}
        assert json.loads(out)["saved_to_store"] is True
        # the server's kept answer noticed the commit of the other process
        with served.client() as client:
            fits = client.get("/api/v1/predictions/fits", headers=FRESH).json()["fits"]
        # a purchase model and the spend model, kept by the predict
        assert len(fits) == 2 and fits[1]["model"] == "gammagamma"
    finally:
        _stop(served)
