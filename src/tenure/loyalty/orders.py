"""What the loyalty program reads from the analytics store: customers'
orders (for referrals and challenges) and the identifiers the fraud guards
compare (e-mail, and an address or payment fingerprint kept in the
customer's attributes).

An order counts when it was not refunded or cancelled (completed, pending,
partially refunded); its amount is in the reporting currency.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# statuses of an order that does not count: the customer got their money back
NOT_COUNTED = ("refunded", "cancelled")
COUNTED = f"coalesce(status, 'completed') NOT IN {NOT_COUNTED!r}"


def analytics_path(store: Any) -> Path | None:
    """The analytics file of ``store``: a Workspace, Settings, the store's
    folder or the file itself; None for no store."""
    if store is None:
        return None
    settings = getattr(store, "settings", store)
    path = getattr(settings, "analytics_path", None)
    if path is None:
        path = Path(store)
        if path.is_dir():
            path = path / "analytics.duckdb"
    return Path(path)


@contextmanager
def reading(store: Any) -> Iterator[Any]:
    """A read-only connection to the store, or None where there is no store yet."""
    from tenure.store import analytics

    path = analytics_path(store)
    if path is None or not path.exists():
        yield None
        return
    con = analytics.connect(path, read_only=True)
    try:
        yield con
    finally:
        con.close()


def _has(con: Any, table: str) -> bool:
    return bool(con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table]
    ).fetchall()[0][0])  # fmt: skip


def first_qualifying(
    store: Any, customer_ids: Iterable[str], min_amount: float
) -> dict[str, tuple[str, Any, float]]:
    """Each customer's first counted order of at least ``min_amount``:
    customer -> (order_id, placed_at, amount), the earliest (then the lowest
    order id) for customers who have one."""
    ids = sorted(set(customer_ids))
    with reading(store) as con:
        if con is None or not ids or not _has(con, "orders"):
            return {}
        rows = con.execute(
            f"""SELECT customer_id, order_id, placed_at, amount_reporting FROM (
                  SELECT customer_id, order_id, placed_at, amount_reporting,
                         row_number() OVER (PARTITION BY customer_id
                                            ORDER BY placed_at, order_id) AS n
                  FROM orders
                  WHERE customer_id IN (SELECT unnest(?)) AND {COUNTED}
                    AND amount_reporting >= ?)
                WHERE n = 1""",
            [ids, min_amount],
        ).fetchall()
    return {r[0]: (r[1], r[2], float(r[3])) for r in rows}


def first_counted(store: Any, customer_ids: Iterable[str]) -> dict[str, tuple[str, Any]]:
    """Each customer's first counted order, whatever its amount: customer ->
    (order_id, placed_at)."""
    found = first_qualifying(store, customer_ids, float("-inf"))
    return {c: (order_id, placed) for c, (order_id, placed, _) in found.items()}


def order_times(store: Any, customer_ids: Iterable[str] | None) -> dict[str, list[Any]]:
    """The times of each customer's counted orders, oldest first (every
    customer with orders when ``customer_ids`` is None)."""
    with reading(store) as con:
        if con is None or not _has(con, "orders"):
            return {}
        where, params = "", []
        if customer_ids is not None:
            ids = sorted(set(customer_ids))
            if not ids:
                return {}
            where, params = "AND customer_id IN (SELECT unnest(?))", [ids]
        rows = con.execute(
            f"SELECT customer_id, placed_at FROM orders WHERE {COUNTED} {where} "
            "ORDER BY customer_id, placed_at", params,
        ).fetchall()  # fmt: skip
    found: dict[str, list[Any]] = {}
    for customer, placed in rows:
        found.setdefault(customer, []).append(placed)
    return found


def completions(store: Any, customer_ids: Iterable[str] | None, count: int, days: int,
                until: Any) -> dict[str, Any]:  # fmt: skip
    """When each customer's ``count``-th counted order first fell within
    ``days`` days of the first of them (orders up to ``until``, a naive UTC
    time): customer -> that order's time, for the customers who got there.
    Counted in the store, so that only one row per customer comes back."""
    with reading(store) as con:
        if con is None or not _has(con, "orders"):
            return {}
        where, params = "", [until]
        if customer_ids is not None:
            ids = sorted(set(customer_ids))
            if not ids:
                return {}
            where, params = "AND customer_id IN (SELECT unnest(?))", [until, ids]
        # RANGE counts the orders in the days up to each one, that day's
        # boundary and orders at the same moment included
        rows = con.execute(
            f"""SELECT customer_id, min(placed_at) FROM (
                  SELECT customer_id, placed_at,
                         count(*) OVER (PARTITION BY customer_id ORDER BY placed_at
                                        RANGE BETWEEN INTERVAL {int(days)} DAY PRECEDING
                                        AND CURRENT ROW) AS n
                  FROM orders WHERE {COUNTED} AND placed_at <= ? {where})
                WHERE n >= {int(count)} GROUP BY customer_id""",
            params,
        ).fetchall()  # fmt: skip
    return dict(rows)


def identifiers(store: Any, customer_ids: Iterable[str]) -> dict[str, dict[str, str | None]]:
    """Each customer's e-mail, and the address and payment fingerprint kept
    in their attributes (``address``, ``payment_fingerprint``), where known."""
    ids = sorted(set(customer_ids))
    with reading(store) as con:
        if con is None or not ids or not _has(con, "customers"):
            return {}
        rows = con.execute(
            """SELECT customer_id, email, attributes->>'address',
                      attributes->>'payment_fingerprint'
               FROM customers WHERE customer_id IN (SELECT unnest(?))""",
            [ids],
        ).fetchall()
    return {r[0]: {"email": r[1], "address": r[2], "payment_fingerprint": r[3]} for r in rows}
