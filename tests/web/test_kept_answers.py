"""A repeated read is answered before the router (:mod:`tenure.web.fastpath`)
with exactly what the full way gives, and only to whom the full way would
give it: a key revoked or a session ended is refused on the next request,
a caller without the scope is refused, an export is still recorded, and
after a commit the answer is the new version's (or marked stale).

A real ``tenure serve`` process where what is checked is what a client
sees; a Uvicorn server in this process where the test counts the answers
given before the router.
"""

from __future__ import annotations

import json

import httpx
import pytest

from tests.web.conftest import build_store, needs_web, serve
from tests.web.test_live import BASE_ORDERS, FRESH, _done, _orders, _start, _stop, _tenure

NEW = 300  # new orders of as many new customers (see test_live._orders)
PATHS = ["/api/v1/status", "/api/v1/metrics", "/api/v1/customers?limit=5&sort=revenue",
         "/api/v1/segments?kind=business", "/api/v1/customers/C7"]  # fmt: skip


def _same(first: httpx.Response, second: httpx.Response) -> None:
    assert (first.status_code, first.content) == (second.status_code, second.content)
    # every header but the time of the answer
    drop = {"date"}
    assert [(k, v) for k, v in first.headers.multi_items() if k not in drop] == [
        (k, v) for k, v in second.headers.multi_items() if k not in drop
    ]


def _exports(store) -> list[dict]:
    code, out, err = _done(_tenure(store, "audit", "--kind", "export", "--json"))
    assert code == 0, err
    return json.loads(out)["entries"]


@pytest.fixture
def served(tmp_path):
    served = _start(tmp_path, TENURE_READ_WAIT="30")
    yield served
    _stop(served)


def test_a_repeated_read_gets_the_same_answer_and_an_export_is_recorded_each_time(served):
    with served.client() as client:
        for path in PATHS:
            first = client.get(path)
            assert first.status_code == 200, first.text
            for _ in range(2):
                _same(first, client.get(path))
        status = client.get("/api/v1/status").json()["tables"]
        # a parameter no route reads changes nothing, and is answered the same
        _same(client.get("/api/v1/metrics"), client.get("/api/v1/metrics?unused=1"))
    assert (status["orders"], status["customers"]) == (BASE_ORDERS, BASE_ORDERS)
    # three reads of the page of customers, three exports with the key as actor
    exports = _exports(served.store)
    assert len(exports) == 3
    assert {(e["target"], e["actor"].split(" ")[0], e["detail"]["limit"]) for e in exports} == {
        ("customers", "tk_" + served.key.split("_")[1], 5)
    }


def test_a_key_revoked_by_the_cli_is_refused_on_the_next_request(served):
    prefix = served.key.split("_")[1]
    with served.client() as client:
        for _ in range(3):  # kept, and answered before the router
            assert client.get("/api/v1/metrics").status_code == 200
        code, _, err = _done(_tenure(served.store, "apikey", "revoke", prefix))
        assert code == 0, err
        refused = client.get("/api/v1/metrics")
    assert refused.status_code == 401
    assert f"the API key {prefix} was revoked" in refused.json()["error"]["message"]


def test_after_a_commit_the_answer_is_the_new_versions_or_marked_stale(served, tmp_path):
    before = {"orders": BASE_ORDERS, "customers": BASE_ORDERS}
    after = {"orders": BASE_ORDERS + NEW, "customers": BASE_ORDERS + NEW}
    with served.client() as client:
        for _ in range(3):
            got = client.get("/api/v1/status")
            assert {k: got.json()["tables"][k] for k in before} == before
        new, _ = _orders(tmp_path / "new.csv", BASE_ORDERS, NEW)
        code, _, err = _done(_tenure(served.store, "ingest", "orders", str(new), "--json"))
        assert code == 0, err
        plain = client.get("/api/v1/status")
        fresh = client.get("/api/v1/status", headers=FRESH)
        again = client.get("/api/v1/status")
    counts = lambda r: {k: r.json()["tables"][k] for k in before}  # noqa: E731
    # the kept answer of the version before is given only marked as such
    assert (counts(plain), plain.headers.get("X-Tenure-Stale")) in ((before, "1"), (after, None))
    assert counts(fresh) == after and "X-Tenure-Stale" not in fresh.headers
    assert counts(again) == after and "X-Tenure-Stale" not in again.headers


# --- counted in this process --------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    needs_web()
    from tenure.access import apikeys
    from tenure.store.workspace import Workspace
    from tenure.web import create_app

    settings = build_store(tmp_path_factory.mktemp("kept"), customers=80)
    app = create_app(settings, warm=False)
    url, stop = serve(app)
    with Workspace.open(settings, create=False) as ws:
        keys = {s: apikeys.create_key(ws.ops, [s], name=s)["key"] for s in ("read", "write")}
    yield app, url, keys
    stop()


def _client(url: str, key: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else None
    return httpx.Client(base_url=url, headers=headers, timeout=60)


def test_only_a_repeated_read_by_a_known_caller_is_answered_before_the_router(site):
    app, url, keys = site
    memo = app.state.memo
    with _client(url, keys["read"]) as reader:
        first = reader.get("/api/v1/segments")
        answered = memo.answered
        _same(first, reader.get("/api/v1/segments"))
        assert memo.answered == answered + 1
    # without the scope: refused, as on the full way, though the answer is kept
    with _client(url, keys["write"]) as writer:
        refused = writer.get("/api/v1/segments")
    assert refused.status_code == 403 and "read scope" in refused.json()["error"]["message"]
    with _client(url) as nobody:
        assert nobody.get("/api/v1/segments").status_code == 401
    with _client(url, "tk_00000000_not-a-key") as stranger:
        assert stranger.get("/api/v1/segments").status_code == 401
    assert memo.answered == answered + 1


def test_a_session_reads_from_memory_until_it_is_ended(site):
    from tests.web.conftest import PASSWORDS, Site

    app, url, _ = site
    memo = app.state.memo
    browser = Site(url, app.state.settings, app.state.settings.store).login(
        "viewer@shop.example", PASSWORDS["viewer@shop.example"]
    )
    try:
        first = browser.get("/api/v1/metrics")
        assert first.status_code == 200
        answered = memo.answered
        _same(first, browser.get("/api/v1/metrics"))
        assert memo.answered == answered + 1
        cookie = browser.cookies.get("tenure_session")
        csrf = {"X-CSRF-Token": _csrf(browser)}
        assert browser.post("/logout", headers=csrf).status_code in (200, 303)
    finally:
        browser.close()
    # the ended session's cookie, sent again as a stolen copy would be
    with httpx.Client(base_url=url, cookies={"tenure_session": cookie}, timeout=60) as copy:
        after = copy.get("/api/v1/metrics")
    assert after.status_code == 401
    assert memo.answered == answered + 1


def _csrf(client: httpx.Client) -> str:
    import re

    return re.search(r'name="csrf" value="([^"]+)"', client.get("/data").text).group(1)


def test_the_memo_is_bounded_whatever_parameters_come(site):
    from tenure.web.fastpath import Memo

    app, url, keys = site
    kept, app.state.memo = app.state.memo, Memo(size=16, longest=256)
    try:
        with _client(url, keys["read"]) as reader:
            for i in range(60):
                assert reader.get(f"/api/v1/status?junk={i}").status_code == 200
            long = "/api/v1/status?" + "x" * 300
            assert reader.get(long).status_code == 200
            assert reader.get(long).status_code == 200
        entries = list(app.state.memo._entries)
    finally:
        app.state.memo = kept
    # the latest 16 are kept, the long one is not
    assert [query for _, query in entries] == [f"junk={i}".encode() for i in range(44, 60)]


def test_answers_in_one_write_keep_their_order_and_a_head_its_headers(served):
    """Uvicorn's connection with the head and body of each answer joined
    (:mod:`tenure.web.protocol`): three requests sent at once on one
    connection, a ``HEAD`` (a head with no body after it) between two
    ``GET`` s, come back whole and in order."""
    import socket

    host, port = served.url.removeprefix("http://").split(":")
    ask = (f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n"
           f"HEAD /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n"
           f"GET /api/v1/status HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {served.key}\r\n"
           "Connection: close\r\n\r\n")  # fmt: skip
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(ask.encode())
        got = b""
        while chunk := sock.recv(65536):
            got += chunk
    heads = got.split(b"HTTP/1.1 ")[1:]
    # a HEAD of a GET route is not allowed: its answer is a head without a body
    statuses = [h.split(b"\r\n", 1)[0] for h in heads]
    assert statuses == [b"200 OK", b"405 Method Not Allowed", b"200 OK"]
    health = json.loads(heads[0].split(b"\r\n\r\n", 1)[1])
    assert health["status"] == "ok"
    assert heads[1].endswith(b"\r\n\r\n") and b"content-length: " in heads[1]
    # the server does not say what it runs on
    assert not any(b"\r\nserver:" in head.lower() for head in heads)
    status = json.loads(heads[2].split(b"\r\n\r\n", 1)[1])
    assert status["tables"]["orders"] == BASE_ORDERS


def test_after_its_warm_up_the_server_leaves_what_it_holds_out_of_full_collections(tmp_path):
    """The objects of the start and of the first answers are frozen
    (:func:`tenure.web.app.settle`), so that a full pass of the collector
    after a commit does not walk them all with the interpreter's lock held."""
    import gc
    import time

    from tenure.web import create_app

    needs_web()
    settings = build_store(tmp_path, customers=40)
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    app = create_app(settings, warm=True)
    url, stop = serve(app)
    try:
        deadline = time.monotonic() + 120
        while gc.get_freeze_count() == 0:  # waiting for the warm-up, not making a fault
            assert time.monotonic() < deadline, "the warm-up did not end"
            time.sleep(0.05)
        frozen = gc.get_freeze_count()
        # the start's objects, after the warm-up computed the customer table
        assert frozen > 10_000
        assert any(key[0] == "customer_table" for key in app.state.cache._pages)
        with _client(url) as client:
            assert client.get("/healthz").status_code == 200
    finally:
        stop()
        gc.unfreeze()
