"""The table registry cannot drift from the stores: a fresh demo store, with
every kind of fit kept, holds exactly the registered tables, in both the
analytics store and the operational one, and every column the registry
names exists."""

from __future__ import annotations

import sqlite3

import duckdb
import pytest

from tenure.datamodel import INGEST_ORDER, KINDS
from tenure.store.registry import CATEGORIES, TABLES, customer_tables, personal_columns


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    from tenure.access import demo_login
    from tenure.analysis.fitting import fit, predict
    from tenure.config import load_settings
    from tenure.datasets.demo import generate_demo
    from tenure.goals.tracking import set_goal
    from tenure.ingestion.pipeline import ingest
    from tenure.store.workspace import Workspace

    folder = tmp_path_factory.mktemp("registry")
    files = generate_demo(folder / "files", customers=300, seed=5)
    settings = load_settings(store=folder / "store", reporting_currency=files.reporting_currency)
    with Workspace.open(settings) as ws:
        for kind in INGEST_ORDER:
            ingest(kind, files.by_kind()[kind], workspace=ws)
        demo_login(ws.ops)
    predict(settings=settings, save=True)
    fit("churn", settings=settings, save=True)
    fit("sbg", settings=settings, save=True)
    set_goal(settings, "churn_rate", "-10%", "2099-12-31")
    return settings


def _columns(settings) -> dict[str, dict[str, set[str]]]:
    out: dict[str, dict[str, set[str]]] = {"analytics": {}, "ops": {}}
    con = duckdb.connect(str(settings.analytics_path), read_only=True)
    try:
        for (name,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall():
            out["analytics"][name] = {r[0] for r in con.execute(f'DESCRIBE "{name}"').fetchall()}
    finally:
        con.close()
    ops = sqlite3.connect(settings.store / "ops.sqlite")
    try:
        names = ops.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
        for (name,) in names:
            out["ops"][name] = {r[1] for r in ops.execute(f'PRAGMA table_info("{name}")')}
    finally:
        ops.close()
    return out


def test_every_table_of_a_fresh_store_is_registered_with_its_columns(demo_store):
    found = _columns(demo_store)
    for store, tables in found.items():
        registered = {n for n, t in TABLES.items() if t.store == store}
        assert set(tables) == registered, store
    for name, table in TABLES.items():
        have = found[table.store][name]
        named = set(table.personal) | ({table.customer_key} - {None})
        assert named <= have, f"{name} has no column {sorted(named - have)}"


def test_the_registry_covers_every_kind_and_says_what_each_column_is():
    assert set(KINDS) <= set(TABLES)
    for name, kind in KINDS.items():  # a kind about a customer is keyed by the customer
        about_one = kind.has_customer or name == "customers"
        assert (TABLES[name].customer_key is not None) == about_one, name
    assert {k for cols in personal_columns().values() for k in cols.values()} <= set(CATEGORIES)
    assert personal_columns("email") == {
        "customers": {"email": "email"},
        "users": {"email": "email"},
        "login_attempts": {"email": "email"},
        "audit_log": {"actor": "email", "target": "email"},
        "loyalty_api_requests": {"principal": "email"},  # user:EMAIL of a staff login
        "consent_api_requests": {"principal": "email"},
        "suppressions": {"address": "email"},  # the address sent to: e-mail or phone
        "bounces": {"address": "email"},
        "campaign_messages": {"recipient": "email"},  # or the phone an SMS went to
    }
    assert "order_items" not in customer_tables()  # reached through its order
