"""The server against a hostile client, as real HTTP requests to a real
Uvicorn server: bodies capped and read only after authentication, logins
limited, caches bounded, the schema behind a login, security headers, safe
CSV exports, the demo login only with --demo."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import re
import socket
import subprocess
import sys
from dataclasses import replace
from urllib.parse import urlsplit

import pytest

from tests.web.conftest import PASSWORDS, Site, build_store, needs_web, serve

SHAPE = {"code", "message", "hint", "source", "row", "column", "value", "expected"}
MiB = 2**20


def _key(site, *scopes: str) -> str:
    from tenure.access import apikeys
    from tenure.store.workspace import Workspace

    with Workspace.open(site.settings, create=False) as ws:
        return apikeys.create_key(ws.ops, list(scopes), name="test")["key"]


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def hardened(tmp_path_factory):
    """A server (with its app, to read its caches) and a key of each scope."""
    needs_web()
    from tenure.web import create_app

    settings = build_store(tmp_path_factory.mktemp("hardening"), customers=120)
    # the bucket of all logins out of the way: it has a test of its own
    app = create_app(replace(settings, login_rate=1000.0, login_burst=1000), warm=False)
    url, stop = serve(app)
    site = Site(url, settings, settings.store)
    site.app = app
    site.reader = _key(site, "read")
    site.writer = _key(site, "read", "write")
    site.admin = _key(site, "read", "write", "admin")
    yield site
    stop()


def _raw(url: str, head: str, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """Send ``head`` (and ``body``) on a socket of its own and read the whole
    answer: (status, headers, body). Only what is given is sent, so a body
    that a header announces but that never comes shows whether the server
    answered without reading it."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=60) as s:
        s.sendall(head.encode() + body)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        top, _, rest = data.partition(b"\r\n\r\n")
        lines = top.decode().split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", 0))
        while len(rest) < length:
            chunk = s.recv(65536)
            if not chunk:
                break
            rest += chunk
    return status, headers, rest


def _post_head(path: str, length: int, extra: str = "") -> str:
    return (
        f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n{extra}\r\n"
    )


# request bodies


def test_a_body_without_credentials_is_refused_before_it_is_read(hardened):
    # 100 MB announced, not a byte sent: the answer can only come unread
    for path in ("/api/v1/orders", "/api/v1/users", "/logout"):
        status, headers, body = _raw(hardened.url, _post_head(path, 100_000_000))
        if path == "/logout":  # a page: sent to the login form
            assert status == 303 and headers["location"].startswith("/login"), path
            continue
        assert status == 401, (path, body)
        assert json.loads(body)["error"]["code"] == "unauthenticated"
    bad_key = f"Authorization: Bearer tk_00000000_{'x' * 20}\r\n"
    status, _, body = _raw(hardened.url, _post_head("/api/v1/orders", 100_000_000, bad_key))
    assert status == 401 and json.loads(body)["error"]["message"] == "the API key is not known."


def test_a_body_over_its_limit_is_413_whatever_its_encoding(hardened):
    auth = f"Authorization: Bearer {hardened.admin}\r\n"
    # declared: answered from the headers alone
    status, _, body = _raw(hardened.url, _post_head("/api/v1/users", 2 * MiB, auth))
    assert status == 413 and set(json.loads(body)["error"]) == SHAPE
    assert json.loads(body)["error"]["code"] == "content_too_large"
    status, _, _ = _raw(hardened.url, _post_head("/api/v1/orders", 40 * MiB, auth))
    assert status == 413  # the ingest endpoints' own, larger limit
    # the ingest endpoints take more than 1 MiB: a 1.5 MiB list is read (and
    # found empty), not refused for its size
    with hardened.client() as c:
        big = b"[" + b" " * int(1.5 * MiB) + b"]"
        r = c.post(
            "/api/v1/orders",
            content=big,
            headers={**_auth(hardened.writer), "Content-Type": "application/json"},
        )
        assert r.status_code == 422, r.text

        # chunked, no length announced: counted as it comes
        def chunks():
            for _ in range(20):
                yield b" " * (64 * 1024)

        r = c.post(
            "/api/v1/users",
            content=chunks(),
            headers={**_auth(hardened.admin), "Content-Type": "application/json"},
        )
        assert r.request.headers["transfer-encoding"] == "chunked"
        assert r.status_code == 413 and r.json()["error"]["code"] == "content_too_large"
        # the same body under the limit goes through to the route
        r = c.post("/api/v1/users", content=iter([b'{"email": "x"}']),
                   headers={**_auth(hardened.admin), "Content-Type": "application/json"})  # fmt: skip
        assert r.status_code == 422


def test_json_with_a_lone_surrogate_is_400_not_500(hardened):
    with hardened.client() as c:
        for path, body, key in (
            ("/api/v1/customers", b'[{"customer_id": "C1", "name": "\\ud800"}]', hardened.writer),
            ("/api/v1/users", b'{"email": "a@b.example", "role": "viewer", '
             b'"password": "long enough \\udc00 password"}', hardened.admin),
        ):  # fmt: skip
            r = c.post(path, content=body,
                       headers={**_auth(key), "Content-Type": "application/json"})  # fmt: skip
            assert r.status_code == 400, r.text
            assert set(r.json()["error"]) == SHAPE and "surrogate" in r.json()["error"]["message"]
        # a pair of surrogates is one character, and fine
        r = c.post("/api/v1/customers", content=b'[{"customer_id": "C-PAIR", "name": "\\ud83d\\ude00"}]',
                   headers={**_auth(hardened.writer), "Content-Type": "application/json"})  # fmt: skip
        assert r.status_code == 200 and r.json()["accepted"] == 1, r.text


# logins


def _login(site: Site, email: str, password: str, client=None):
    """(the answer to a login through the form, the client it came from)."""
    client = client or site.client()
    form = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    return client.post("/login", data={"email": email, "password": password, "csrf": csrf}), client


def test_a_known_device_logs_in_while_an_attacker_is_held_back(hardened):
    from tenure.access import throttle, users
    from tenure.store.workspace import Workspace

    email, password = "victim@shop.example", "plum orchard 9 lantern"
    with Workspace.open(hardened.settings, create=False) as ws:
        users.add_user(ws.ops, email, "viewer", password)
    done, own = _login(hardened, email, password)  # the user's own browser, once
    assert done.status_code == 303 and "tenure_device" in own.cookies
    attacker = hardened.client()
    answers = []
    for _ in range(throttle.FREE + 8):  # until the email must wait a while
        r, _ = _login(hardened, email, "wrong guess!", attacker)
        answers.append(r.status_code)
        if r.status_code == 429 and int(r.headers["retry-after"]) >= 4:
            break
    assert answers[: throttle.FREE] == [401] * throttle.FREE and answers[-1] == 429, answers
    # the right password from a new browser waits too: the email is held back
    elsewhere, _ = _login(hardened, email, password)
    assert elsewhere.status_code == 429 and int(elsewhere.headers["retry-after"]) >= 1
    # the user's known browser is not held back by the attacker's failures
    own.cookies.delete("tenure_session")
    again, _ = _login(hardened, email, password, own)
    assert again.status_code == 303
    # the device cookie names its user: for another held-back email it is
    # no known device
    for _ in range(throttle.FREE + 8):
        r, _ = _login(hardened, "viewer@shop.example", "wrong guess!", attacker)
        if r.status_code == 429 and int(r.headers["retry-after"]) >= 4:
            break
    own.cookies.delete("tenure_session")
    held, _ = _login(hardened, "viewer@shop.example", PASSWORDS["viewer@shop.example"], own)
    assert held.status_code == 429
    own.close(), attacker.close()


def test_logins_past_the_global_rate_are_503_before_any_hashing(tmp_path):
    needs_web()
    from tenure.web import create_app

    settings = build_store(tmp_path, customers=40)
    # three checks, then one per 100 s: the fourth attempt cannot have a token
    app = create_app(replace(settings, login_rate=0.01, login_burst=3), warm=False)
    url, stop = serve(app)
    try:
        site = Site(url, settings, settings.store)
        codes = []
        for _ in range(5):
            r, c = _login(site, "admin@shop.example", "not the password")
            codes.append(r.status_code)
            if r.status_code == 503:
                assert int(r.headers["retry-after"]) >= 1
            c.close()
        assert codes == [401, 401, 401, 503, 503]
        r, c = _login(site, "admin@shop.example", PASSWORDS["admin@shop.example"])
        assert r.status_code == 503  # the bucket holds for everyone alike
        c.close()
    finally:
        stop()


def test_password_checks_wait_for_a_free_slot_and_then_give_up(monkeypatch):
    import threading

    from tenure.access import passwords
    from tenure.errors import ServerBusyError

    stored = passwords.hash_password("a long passphrase")
    monkeypatch.setattr(passwords, "WAIT", 0.2)
    passwords.concurrency(1)
    try:
        taken, release = threading.Event(), threading.Event()

        def hold() -> None:
            with passwords._turn():
                taken.set()
                release.wait()

        holder = threading.Thread(target=hold, daemon=True)
        holder.start()
        taken.wait()
        try:
            with pytest.raises(ServerBusyError) as refused:
                passwords.verify(stored, "a long passphrase")
        finally:
            release.set()
            holder.join()
        assert refused.value.status == 503 and refused.value.retry_after >= 1
        assert passwords.verify(stored, "a long passphrase")  # the slot is free again
    finally:
        passwords.concurrency(0)


# caches


def test_unknown_query_values_are_422_and_never_grow_a_cache(hardened):
    app = hardened.app
    with hardened.client() as c:
        h = _auth(hardened.reader)
        assert c.get("/api/v1/customers", params={"rfm": "champions"}, headers=h).status_code == 200
        assert (
            c.get("/api/v1/metrics", params={"segment": "rfm:Champions"}, headers=h).status_code
            == 200
        )
        before = (len(app.state.answers), app.state.answers.bytes, len(app.state.cache))
        for i in range(1500):
            r = c.get("/api/v1/customers", params={"rfm": f"champions{i}"}, headers=h)
            assert r.status_code == 422
        for path in ("/api/v1/metrics", "/api/v1/cohorts", "/api/v1/segments"):
            r = c.get(path, params={"segment": "no such segment"}, headers=h)
            assert r.status_code == 422 and r.json()["error"]["column"] == "segment", r.text
        r = c.get("/api/v1/customers.csv", params={"rfm": "x"}, headers=h)
        assert r.status_code == 422
        after = (len(app.state.answers), app.state.answers.bytes, len(app.state.cache))
    assert after == before


def test_a_cache_keeps_to_its_bytes():
    from tenure.web.cache import _MISSING, PageCache

    answers = PageCache(size=10_000, max_bytes=100_000)
    for i in range(5_000):
        answers.get((i,), lambda: b"x" * 1000)
    assert answers.bytes <= 100_000 and 80 <= len(answers) <= 100
    # a value past an eighth of the bound is answered, not kept
    assert answers.get(("big",), lambda: b"x" * 20_000) == b"x" * 20_000
    assert answers.peek(("big",)) is _MISSING
    tables = PageCache(size=10, max_bytes=100_000, keep_large=True)
    tables.get(("a",), lambda: b"x" * 60_000)
    tables.get(("b",), lambda: b"x" * 60_000)  # kept, pushing out the first
    assert len(tables) == 1 and tables.bytes <= 100_000 + 100


# the schema and its UI


def test_the_api_schema_and_its_ui_need_a_login_and_no_cdn(hardened):
    with hardened.client() as c:
        assert c.get("/api/v1/openapi.json").status_code == 401
        docs = c.get("/api/v1/docs")
        assert docs.status_code == 303 and docs.headers["location"].startswith("/login")
        assert c.get("/api/v1/redoc").status_code in (401, 404)
        assert c.get("/docs").status_code in (303, 404)
    client = hardened.login("viewer@shop.example")
    schema = client.get("/api/v1/openapi.json")
    assert schema.status_code == 200 and schema.json()["info"]["title"] == "tenure"
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert urls and all(u.startswith("/") and not u.startswith("//") for u in urls), urls
    assert "<script>" not in page.text  # no inline script: the CSP needs no exception
    for u in urls:
        assert client.get(u).status_code == 200, u
    start = client.get("/static/swagger/start.js").text
    assert "http" not in start
    client.close()


# headers


def test_every_answer_carries_the_security_headers(hardened):
    client = hardened.login("analyst@shop.example")
    answers = {
        "page": client.get("/retention"),
        "json": client.get("/api/v1/metrics"),
        "csv": client.get("/api/v1/customers.csv"),
        "login": hardened.client().get("/login"),
        "401": hardened.client().get("/api/v1/metrics"),
        "404": client.get("/api/v1/nothing"),
        "static": client.get("/static/dashboard.js"),
    }
    for name, r in answers.items():
        assert r.headers["x-content-type-options"] == "nosniff", name
        assert r.headers["referrer-policy"] == "same-origin", name
        assert r.headers["x-frame-options"] == "DENY", name
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"], name
    for name in ("json", "csv", "401", "404"):
        assert answers[name].headers["cache-control"] == "no-store", name
    assert answers["page"].headers["cache-control"] == "no-store"
    # the page's CSP lets exactly its own inline scripts run, and scripts
    # load only from this server
    page = answers["page"]
    policy = page.headers["content-security-policy"]
    scripts = dict(p.strip().split(" ", 1) for p in policy.split(";"))["script-src"].split()
    assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts
    inline = re.findall(r"<script\b([^>]*)>(.*?)</script>", page.text, re.S)
    hashes = {
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for attrs, body in inline if "src=" not in attrs
    }  # fmt: skip
    assert len(hashes) >= 2  # the charts
    assert hashes == set(scripts) - {"'self'"}
    sources = [re.search(r'src="([^"]+)"', a).group(1) for a, _ in inline if "src=" in a]
    assert sources and all(s.startswith("/static/") for s in sources)
    client.close()


# CSV exports


def test_csv_exports_quote_formulas_and_leave_missing_dates_empty(hardened):
    names = {"CSV-1": '=HYPERLINK("http://x.example","y")', "CSV-2": "-2+3", "CSV-3": "@SUM(1)",
             "CSV-4": "+1 555", "CSV-5": "Ann = Bob"}  # fmt: skip
    rows = [{"customer_id": k, "name": v} for k, v in names.items()]
    with hardened.client() as c:
        r = c.post("/api/v1/customers", json=rows, headers=_auth(hardened.writer))
        assert r.status_code == 200 and r.json()["accepted"] == 5, r.text
        got = c.get("/api/v1/customers.csv", params={"q": "csv-", "sort": "customer_id"},
                    headers=_auth(hardened.reader))  # fmt: skip
    assert got.headers["cache-control"] == "no-store"
    exported = {r["customer_id"]: r for r in csv.DictReader(io.StringIO(got.text))}
    assert {k: r["name"] for k, r in exported.items()} == {
        "CSV-1": '\'=HYPERLINK("http://x.example","y")', "CSV-2": "'-2+3", "CSV-3": "'@SUM(1)",
        "CSV-4": "'+1 555", "CSV-5": "Ann = Bob",
    }  # fmt: skip
    # no orders: no first or last order date, written as empty cells
    assert exported["CSV-2"]["first_order_at"] == "" and exported["CSV-2"]["last_order_at"] == ""
    assert "NaT" not in got.text and "nan" not in got.text.lower().split(",")


def test_write_csv_keeps_numbers_and_quotes_only_text():
    import pandas as pd

    from tenure.csvexport import write_csv

    frame = pd.DataFrame({
        "text": ["=SUM(A1)", "-x", "ok", None, "\rr"],
        "amount": [-12.5, 3.0, None, 0.0, 1.0],
        "when": pd.to_datetime(["2026-01-02", None, "2026-03-04", None, None]),
    })  # fmt: skip
    rows = list(csv.reader(io.StringIO(write_csv(frame), newline="")))
    assert rows[1] == ["'=SUM(A1)", "-12.5", "2026-01-02"]
    assert rows[2] == ["'-x", "3.0", ""]
    assert rows[3] == ["ok", "", "2026-03-04"]
    assert rows[4] == ["", "0.0", ""]
    assert rows[5] == ["'\rr", "1.0", ""]


# the demo login


def test_the_demo_login_only_with_demo(tmp_path, cli):
    needs_web()
    from tenure.access import DEMO_EMAIL, DEMO_PASSWORD, demo_login
    from tenure.store.workspace import Workspace
    from tenure.web import create_app

    settings = build_store(tmp_path, customers=40)
    with Workspace.open(settings, create=False) as ws:
        demo_login(ws.ops)  # what tenure demo leaves in its store
    for demo, expected in ((False, 401), (True, 303)):
        app = create_app(replace(settings, secret_key=None) if demo else settings, demo=demo,
                         warm=False)  # fmt: skip
        url, stop = serve(app)
        try:
            r, c = _login(Site(url, settings, settings.store), DEMO_EMAIL, DEMO_PASSWORD)
            assert r.status_code == expected, r.text
            if not demo:
                assert "--demo" in r.text and DEMO_PASSWORD not in r.text
            c.close()
        finally:
            stop()
    # ingesting into the demo's store says what it is
    orders = tmp_path / "more.csv"
    orders.write_text("order_id,customer_id,placed_at,amount\nX1,C000001,2026-01-02,10\n")
    out = cli("ingest", "orders", orders, "--store", settings.store, "--json")
    assert out.code == 0, out.err
    assert any("tenure demo" in w for w in json.loads(out.out)["warnings"])
    out = cli("ingest", "orders", orders, "--store", settings.store)
    assert "made by tenure demo" in " ".join(out.err.split())


def test_serve_warns_when_the_store_has_the_demo_login(tmp_path):
    needs_web()
    import os

    from tenure.access import DEMO_EMAIL, demo_login
    from tenure.store.workspace import Workspace

    settings = build_store(tmp_path, customers=40)
    with Workspace.open(settings, create=False) as ws:
        demo_login(ws.ops)
    with socket.socket() as s:  # a free port
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "TENURE_SECRET_KEY": settings.secret_key,
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "tenure", "serve", "--store", str(settings.store),
         "--port", str(port), "--no-access-log"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env, text=True,
    )  # fmt: skip
    try:
        said = []
        for line in server.stderr:
            said.append(line)
            if "Uvicorn running" in line or "Application startup complete" in line:
                break
        text = " ".join("".join(said).split())
        assert f"the store still has the demo login {DEMO_EMAIL}" in text, text
    finally:
        server.terminate()
        server.wait(timeout=60)
        server.stderr.close()
