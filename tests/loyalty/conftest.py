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


def retried_in_child(url: str, start, results, write, done: str, *, tries: int) -> None:
    """A client process's write: waits for ``start`` with the others, then
    runs ``write(ops)``, again while the store is busy (a retry with the
    same key is what the key is for). Puts ``done``, the refusal's code,
    ``busy`` after ``tries``, or the unexpected error on ``results``."""
    from tenure.errors import LedgerError, StoreBusyError

    ops = OpsStore.open(url, create=False)
    start.wait()
    try:
        for _ in range(tries):
            try:
                write(ops)
                results.put(done)
                return
            except StoreBusyError:
                continue
            except LedgerError as exc:
                results.put(exc.code)
                return
        results.put("busy")
    except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on it
        results.put(repr(exc))
    finally:
        ops.close()
