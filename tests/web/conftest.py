"""A real server on loopback over a small demo store, with a user of each
role; requests go through httpx as any client's would."""

from __future__ import annotations

import re
import secrets
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from tenure.config import Settings, load_settings
from tests.conftest import copy_built, skip_or_fail

PASSWORDS = {
    # nothing of the email in them, or the password policy refuses them
    "admin@shop.example": "copper kettle 1",
    "analyst@shop.example": "velvet lantern 2",
    "viewer@shop.example": "granite meadow 3",
}


@dataclass
class Site:
    url: str
    settings: Settings
    store: Path

    def client(self):
        import httpx

        return httpx.Client(base_url=self.url, follow_redirects=False, timeout=60)

    def login(self, email: str, password: str | None = None):
        """A client logged in through the form, as a browser would be."""
        client = self.client()
        form = client.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
        done = client.post(
            "/login",
            data={"email": email, "password": password or PASSWORDS[email], "csrf": csrf},
        )
        assert done.status_code == 303, done.text
        return client

    def session_csrf(self, client) -> str:
        """The session's CSRF token, from a page's logout form."""
        return re.search(r'name="csrf" value="([^"]+)"', client.get("/data").text).group(1)


def build_store(folder: Path, customers: int = 300) -> Settings:
    """A demo store of ``customers`` with a user of each role in ``folder``
    (built once per run for each size, then copied), with a secret key of its own."""
    copy_built(folder, ("web", customers), lambda where: _build_store(where, customers))
    return store_settings(folder)


def store_settings(folder: Path) -> Settings:
    """The settings of the store built in ``folder``, with a secret key of its own."""
    settings = load_settings(store=folder / "store", reporting_currency="EUR")
    return replace(settings, secret_key=secrets.token_urlsafe(40))


def _build_store(folder: Path, customers: int) -> None:
    from tenure.access import users
    from tenure.datamodel import INGEST_ORDER
    from tenure.datasets.demo import generate_demo
    from tenure.ingestion.pipeline import ingest
    from tenure.store.workspace import Workspace

    files = generate_demo(folder / "files", customers=customers, seed=11)
    settings = load_settings(store=folder / "store", reporting_currency="EUR")
    with Workspace.open(settings) as ws:
        for kind in INGEST_ORDER:
            ingest(kind, files.by_kind()[kind], workspace=ws)
        for email, password in PASSWORDS.items():
            users.add_user(ws.ops, email, email.split("@")[0], password)


def serve(app):
    """Run ``app`` with Uvicorn on a free loopback port; (url, stop)."""
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=30)

    return f"http://127.0.0.1:{port}", stop


def needs_web() -> None:
    import importlib

    for module in ("fastapi", "uvicorn", "argon2", "itsdangerous", "python_multipart", "httpx"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError:
            skip_or_fail(f"{module} is not installed (pip install -e '.[test]')")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    needs_web()
    from tenure.web import create_app

    folder = tmp_path_factory.mktemp("web")
    settings = build_store(folder)
    url, stop = serve(create_app(settings, warm=False))
    yield Site(url, settings, settings.store)
    stop()
