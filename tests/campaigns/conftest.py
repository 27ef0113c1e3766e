"""Consent and sending rules on both operational stores: SQLite, and a real
PostgreSQL server started by the suite (tests/conftest.py)."""

from __future__ import annotations

import pytest

from tenure.store.ops import OpsStore


@pytest.fixture(params=["sqlite", "postgresql"])
def ops_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ops.sqlite'}"
    return request.getfixturevalue("pg_database")


@pytest.fixture
def ops(ops_url):
    store = OpsStore.open(ops_url)
    yield store
    store.close()


@pytest.fixture
def sqlite_ops(tmp_path):
    store = OpsStore.open(f"sqlite:///{tmp_path / 'ops.sqlite'}")
    yield store
    store.close()
