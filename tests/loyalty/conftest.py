"""The ledger on both operational stores: SQLite, and a real PostgreSQL server."""

from __future__ import annotations

import pytest

from tenure.store.ops import OpsStore


@pytest.fixture(params=["sqlite", "postgresql"])
def ops_url(request):
    """A new operational store at the head revision."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_at_head")
    return request.getfixturevalue("pg_at_head")


@pytest.fixture
def ops(ops_url):
    store = OpsStore.open(ops_url)
    yield store
    store.close()


@pytest.fixture
def sqlite_ops(sqlite_at_head):
    store = OpsStore.open(sqlite_at_head)
    yield store
    store.close()
