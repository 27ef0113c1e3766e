"""One transaction per ledger write, serialised per member.

SQLite takes its write lock when the transaction begins (``BEGIN
IMMEDIATE``): a write that read the balance and then wrote could otherwise
find that another writer got there between its read and its write. On
PostgreSQL the member's row is locked (``SELECT ... FOR UPDATE``), so that
writes for one member wait for each other and those for different members
do not.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tenure.errors import IdempotencyConflictError, NotFoundError, StoreBusyError
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import loyalty_members


@contextmanager
def member_transaction(
    ops: OpsStore, customer_id: str, *, join_at: datetime | None
) -> Iterator[sa.Connection]:
    """A connection inside one transaction that holds the member's lock,
    committed when the block ends without an error, rolled back otherwise.

    With ``join_at`` a customer who is not a member yet becomes one (at that
    time); without it, a customer who is not a member is a NotFoundError.
    """
    try:
        with _in_process(ops), ops.engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            _lock(conn, customer_id, join_at)
            yield conn
            conn.commit()
    except sa.exc.IntegrityError as exc:
        # the unique key of an idempotency key or an order line: another
        # write with the same one committed while this one ran
        raise IdempotencyConflictError(
            f"another write for the same idempotency key or order line was posted at the "
            f"same time; this one was not recorded ({exc.orig}).",
            hint="Retry it: the retry returns what the other write recorded.",
            value=customer_id,
        ) from None
    except sa.exc.OperationalError as exc:
        if "locked" in str(exc.orig).lower():
            raise StoreBusyError(
                "the loyalty ledger is being written by another command; waited 10 s for it.",
                hint="Try again in a moment.",
            ) from None
        raise


# SQLite lets one writer in at a time; threads of one process that wait for
# it in SQLite's busy handler poll with sleeps of up to 100 ms, so that under
# 50 concurrent API writes some waited seconds while the lock was free. They
# queue on this lock instead, and the next one goes in as soon as it is free
# (other processes still wait in the busy handler).
_SQLITE_WRITERS: weakref.WeakKeyDictionary[sa.Engine, threading.Lock] = weakref.WeakKeyDictionary()
_MADE = threading.Lock()
WAIT = 10.0  # seconds, as SQLite's busy timeout


@contextmanager
def _in_process(ops: OpsStore) -> Iterator[None]:
    engine = ops.engine
    if engine.dialect.name != "sqlite":
        yield
        return
    with _MADE:
        lock = _SQLITE_WRITERS.setdefault(engine, threading.Lock())
    if not lock.acquire(timeout=WAIT):
        raise StoreBusyError(
            "the loyalty ledger is being written by other requests; waited 10 s for them.",
            hint="Try again in a moment.",
        )
    try:
        yield
    finally:
        lock.release()


@functools.cache
def _statements(dialect: str) -> tuple[Any, sa.Select]:
    """Joining and locking, built once per database kind."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    join = insert(loyalty_members).on_conflict_do_nothing(index_elements=["customer_id"])
    query = sa.select(loyalty_members.c.customer_id).where(
        loyalty_members.c.customer_id == sa.bindparam("customer_id")
    )
    if dialect == "postgresql":
        query = query.with_for_update()
    return join, query


def _lock(conn: sa.Connection, customer_id: str, join_at: datetime | None) -> None:
    join, query = _statements(conn.dialect.name)
    if join_at is not None:
        conn.execute(join, {"customer_id": customer_id, "joined_at": join_at})
        if conn.dialect.name == "sqlite":
            # the member's row is there now, and the transaction (BEGIN
            # IMMEDIATE) already excludes every other writer: nothing to lock
            return
    if conn.execute(query, {"customer_id": customer_id}).first() is None:
        raise NotFoundError(
            f"customer {customer_id!r} is not a loyalty member: no points were ever earned.",
            hint="Check the customer id, or earn points first: "
            f"tenure loyalty earn {customer_id} POINTS",
            value=customer_id,
        )


def is_member(conn: sa.Connection, customer_id: str) -> bool:
    query = sa.select(loyalty_members.c.customer_id).where(
        loyalty_members.c.customer_id == customer_id
    )
    return conn.execute(query).first() is not None
