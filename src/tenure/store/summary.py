"""The persisted per-customer activity summary, ``customer_activity``.

One row per customer with an order, holding what the order log gives
whatever the as-of date: the engine's customer summary, RFM, the business
segments and the buy-till-you-die statistics read it instead of grouping
the whole order log on every command (:mod:`tenure.engine.context`).

=====================  ======================================================
customer_id            the customer
first_order_at         first purchase (UTC; purchases are orders completed,
last_order_at          pending or partially refunded), last purchase
first_day, last_day    local day numbers (days since 1970-01-01 in the
                       summary's time zone) of the first and last purchase
first_date             local date of the first purchase
purchase_days          distinct local days with a purchase
orders                 purchases
total                  revenue of the purchases (reporting currency)
first_day_amount       revenue of the first purchase day
first_day_orders       purchases of the first purchase day
all_orders             orders of every status
last_any_day           local day number of the customer's last order of
                       any status (a refund after the last purchase)
refunded_orders        orders refunded in full or in part
refunded_amount        amount of the orders refunded in full
cancelled_orders       cancelled orders
first_category         largest category by value among the first purchase
                       day's order lines (ties: alphabetical)
_ingest_id             the ingest that last recomputed the row (null after a
                       rebuild outside an ingest): what to score again
=====================  ======================================================

Local days depend on the business's time zone, so the summary is built in
one, recorded in ``_tenure_meta`` (``summary_timezone``) with the layout's
version (``summary_version``). :func:`rebuild` builds it from the whole
log; :func:`refresh` recomputes, inside an ingest's transaction, only the
customers the ingest touched.
"""

from __future__ import annotations

import duckdb

from tenure.datamodel import PLAIN_STORAGE
from tenure.sqltext import lit, q

TABLE = "customer_activity"
VERSION = "1"
PURCHASE_STATUSES = ("completed", "pending", "partially_refunded")
# the most purchases whose (customer, day) hashes are sorted in memory
# rather than grouped in the engine, and the most repeated hashes passed
# back to it as a list (see _repeated_days)
MAX_SORTED_DAYS = 20_000_000
# below this many, NumPy's import costs more than the sort saves: grouped in the engine
MIN_SORTED_DAYS = 200_000
MAX_LISTED_HASHES = 100_000

COLUMNS = (
    ("customer_id", "VARCHAR"),
    ("first_order_at", "TIMESTAMP"),
    ("last_order_at", "TIMESTAMP"),
    ("first_day", "BIGINT"),
    ("last_day", "BIGINT"),
    ("first_date", "DATE"),
    ("purchase_days", "BIGINT"),
    ("orders", "BIGINT"),
    ("total", "DECIMAL(38,4)"),
    ("first_day_amount", "DECIMAL(38,4)"),
    ("first_day_orders", "BIGINT"),
    ("all_orders", "BIGINT"),
    ("last_any_day", "BIGINT"),
    ("refunded_orders", "BIGINT"),
    ("refunded_amount", "DECIMAL(38,4)"),
    ("cancelled_orders", "BIGINT"),
    ("first_category", "VARCHAR"),
)


def state(con: duckdb.DuckDBPyConnection) -> tuple[str, str] | None:
    """(version, time zone) of the store's summary, or None when it has none."""
    if not con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [TABLE]
    ).fetchall()[0][0]:
        return None
    meta = dict(
        con.execute(
            "SELECT key, value FROM _tenure_meta WHERE key IN ('summary_version', "
            "'summary_timezone')"
        ).fetchall()
    )
    if "summary_version" not in meta:
        return None
    return meta["summary_version"], meta.get("summary_timezone") or "UTC"


def current(con: duckdb.DuckDBPyConnection) -> str | None:
    """The time zone of the store's summary when it is of this layout, else None."""
    found = state(con)
    return found[1] if found and found[0] == VERSION else None


def _local(timezone: str) -> str:
    """SQL: an order's ``placed_at`` as wall-clock time in ``timezone``."""
    if timezone == "UTC":
        return "placed_at"
    return f"timezone({lit(timezone)}, CAST(placed_at AS TIMESTAMPTZ))"


def build(
    con: duckdb.DuckDBPyConnection,
    target: str,
    source: str,
    timezone: str,
    *,
    others: bool = True,
    partial: bool = True,
    items: bool = False,
    ingest_id: int | None = None,
    temp: bool = False,
    first_seen: bool = False,
) -> None:
    """Create the table ``target`` with the summary's rows (the definitions of the
    module's table) in ``timezone`` of the orders of ``source``: a
    relation with, per order, ``order_id``, ``customer_id``, ``placed_at``,
    ``amount``, ``_day`` (its local day number, see :func:`_local`) and
    whether it is a purchase (``_purchase``), refunded in full or in part
    (``_refunds``), in full (``_refunded``) or cancelled (``_cancelled``).

    Grouping the purchases per customer and day, then per customer, costs
    about twice grouping them per customer alone; so does counting the
    distinct days in that grouping (10M orders: 6.5 CPU s against 2.2).
    So the purchases are grouped per customer alone, in one pass, as if
    each was on a day of its own: the first and last purchase days are
    those of the first and last purchase (a later instant is never on an
    earlier local day), and the first day's orders are that day's one
    order. The few customers with several purchases on one day are then
    found from the hashes of (customer, day) (see :func:`_repeated_days`),
    their purchase days counted and their first day added up apart.

    The other orders (refunds and cancellations, few) and the purchases
    refunded in part are grouped apart and joined. ``others``: there may be
    orders that are not purchases; ``partial``: purchases refunded in part;
    ``items``: the first purchase day's category is looked up in
    ``order_items`` (else NULL).

    With ``first_seen`` (``source`` then has each order's ``_line``), the
    temporary table ``_summary_first_seen`` is kept too: per customer, the
    time of the first order of any status (``created_at``) and the first
    line of its orders (``_line``), taken from the same groupings, which
    the customers an ingest creates are made of (see
    :func:`tenure.store.writer.commit_into`)."""
    p, o = "_summary_purchasers", "_summary_others"

    def day(at: str) -> str:
        return f"CAST({_local(timezone).replace('placed_at', at)} AS DATE) - DATE '1970-01-01'"

    con.execute(f"""
CREATE OR REPLACE TEMP TABLE {p} AS
SELECT *, {day("first_order_at")} AS first_day, {day("last_order_at")} AS last_day
FROM (
    SELECT customer_id, count(_day) AS purchase_days, count(*) AS orders,
           sum(amount) AS total,
           -- the type of a day's sum, which replaces it for some customers
           CAST(arg_min(amount, _day) AS DECIMAL(38,4)) AS first_day_amount,
           CAST(1 AS BIGINT) AS first_day_orders, min(placed_at) AS first_order_at,
           max(placed_at) AS last_order_at{", min(_line) AS _first_line" if first_seen else ""}
    FROM {source} WHERE _purchase GROUP BY customer_id
)
""")
    days = con.execute(f"SELECT sum(purchase_days) FROM {p}").fetchall()[0][0] or 0
    if _repeated_days(con, source, int(days)):
        con.execute(f"""
UPDATE {p} p SET purchase_days = p.purchase_days - r.extra
FROM (SELECT customer_id, sum(n - 1) AS extra FROM _summary_repeats GROUP BY customer_id) r
WHERE p.customer_id = r.customer_id
""")
        # a first day with several purchases is one of the days found
        con.execute(
            f"UPDATE {p} p SET first_day_amount = r.amount, first_day_orders = r.n "
            "FROM _summary_repeats r WHERE p.customer_id = r.customer_id AND p.first_day = r._day"
        )
    con.execute("DROP TABLE IF EXISTS _summary_repeats")
    kept = " OR ".join(w for w, on in (("NOT _purchase", others), ("_refunds", partial)) if on)
    seen = ", min(placed_at) AS first_at, min(_line) AS _first_line" if first_seen else ""
    if kept:
        con.execute(f"""
CREATE OR REPLACE TEMP TABLE {o} AS
SELECT customer_id, count(*) FILTER (WHERE NOT _purchase) AS n, max(_day) AS last_day,
       count(*) FILTER (WHERE _refunds) AS refunds_n,
       sum(CASE WHEN _refunded THEN amount ELSE 0 END) AS refunded_amount,
       count(*) FILTER (WHERE _cancelled) AS cancelled_n{seen}
FROM {source} WHERE {kept} GROUP BY customer_id
""")
    if items:
        con.execute(f"""
CREATE OR REPLACE TEMP TABLE _summary_categories AS
WITH firsts AS (
    SELECT t.order_id, t.customer_id FROM {source} t JOIN {p} c
    ON t.customer_id = c.customer_id AND t._day = c.first_day WHERE t._purchase
), per AS (
    SELECT f.customer_id, i.category,
           sum(CAST(coalesce(i.unit_price, 0) AS DOUBLE)
               * CAST(coalesce(i.quantity, 1) AS DOUBLE)) AS value
    FROM order_items i JOIN firsts f ON i.order_id = f.order_id
    WHERE i.category IS NOT NULL GROUP BY f.customer_id, i.category
)
SELECT customer_id, arg_min(category, (-value, category)) AS first_category
FROM per GROUP BY customer_id
""")
    values = {
        "customer_id": "customer_id",
        "first_date": "DATE '1970-01-01' + CAST(p.first_day AS INTEGER)",
        "all_orders": "coalesce(p.orders, 0) + coalesce(o.n, 0)",
        "last_any_day": "greatest(p.last_day, o.last_day)",
        "refunded_orders": "coalesce(o.refunds_n, 0)",
        "refunded_amount": "coalesce(o.refunded_amount, 0)",
        "cancelled_orders": "coalesce(o.cancelled_n, 0)",
        "first_category": "k.first_category" if items else "NULL",
    }
    if not kept:  # only purchases, none refunded
        values.update(
            all_orders="p.orders", last_any_day="p.last_day", refunded_orders="0",
            refunded_amount="0", cancelled_orders="0",
        )  # fmt: skip
    cols = ", ".join(f"CAST({values.get(n, 'p.' + n)} AS {t}) AS {q(n)}" for n, t in COLUMNS)
    stamp = "NULL" if ingest_id is None else int(ingest_id)
    if not temp:  # the customer's id stored as written (see datamodel.PLAIN_STORAGE)
        defs = ", ".join(
            f"{q(n)} {t}{PLAIN_STORAGE if n == 'customer_id' else ''}" for n, t in COLUMNS
        )
        con.execute(f"CREATE OR REPLACE TABLE {target} ({defs}, _ingest_id BIGINT)")
    con.execute(
        (f"INSERT INTO {target} " if not temp else f"CREATE OR REPLACE TEMP TABLE {target} AS ")
        + f"SELECT {cols}, CAST({stamp} AS BIGINT) AS _ingest_id FROM {p} p"
        + (f" FULL JOIN {o} o USING (customer_id)" if kept else "")
        + (" LEFT JOIN _summary_categories k USING (customer_id)" if items else "")
    )
    if first_seen:
        # every order is a purchase (in p) or another order (in o)
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _summary_first_seen AS SELECT customer_id, "
            + (
                "least(p.first_order_at, o.first_at) AS created_at, "
                f"least(p._first_line, o._first_line) AS _line FROM {p} p FULL JOIN {o} o "
                "USING (customer_id)"
                if kept
                else f"first_order_at AS created_at, _first_line AS _line FROM {p}"
            )
        )
    for table in (p, o, "_summary_categories"):
        con.execute(f"DROP TABLE IF EXISTS {table}")


def _repeated_days(con: duckdb.DuckDBPyConnection, source: str, days: int) -> bool:
    """``_summary_repeats``: each (customer, local day) of ``source`` (see
    :func:`build`) with several purchases, with their number (``n``) and
    sum (``amount``), from ``days`` purchases with a day in all; whether
    there are any.

    Equal pairs have equal hashes: the pairs are grouped by their hash, a
    number, and only the purchases whose hash repeats (the repeated
    pairs', and a few that share a hash by chance) by the pair itself. Up
    to :data:`MAX_SORTED_DAYS` purchases, the upper 32 bits of the hashes
    are sorted here (10M orders: 0.9 CPU s against 2.3 to group the 64-bit
    hashes in the engine)."""
    rows = f"FROM {source} WHERE _purchase AND _day IS NOT NULL"
    pair = "hash(customer_id, _day)"
    found = None
    if MIN_SORTED_DAYS <= days <= MAX_SORTED_DAYS:
        import numpy as np

        pair = f"CAST({pair} >> 32 AS UINTEGER)"
        hashes = np.asarray(con.execute(f"SELECT {pair} AS h {rows}").fetchnumpy()["h"])
        hashes.sort()  # in place: no second copy of every hash
        found = np.unique(hashes[1:][hashes[1:] == hashes[:-1]])
        del hashes
        if not len(found):
            return False
    if found is not None and len(found) <= MAX_LISTED_HASHES:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _summary_hashes AS SELECT unnest(?::UINTEGER[]) AS h",
            [found.tolist()],
        )
    else:  # many purchases, or many repeats: grouped in the engine
        pair = "hash(customer_id, _day)"
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _summary_hashes AS SELECT {pair} AS h {rows} "
            "GROUP BY h HAVING count(*) > 1"
        )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _summary_repeats AS SELECT customer_id, _day, "
        f"count(*) AS n, sum(amount) AS amount {rows} "
        f"AND {pair} IN (SELECT h FROM _summary_hashes) GROUP BY customer_id, _day "
        "HAVING count(*) > 1"
    )
    con.execute("DROP TABLE _summary_hashes")
    return bool(con.execute("SELECT count(*) FROM _summary_repeats").fetchall()[0][0])


def orders_source(timezone: str, where: str = "true") -> str:
    """The store's orders matching ``where`` as :func:`build` reads them."""
    purchase = ", ".join(lit(s) for s in PURCHASE_STATUSES)
    return f"""(
    SELECT order_id, customer_id, placed_at, amount_reporting AS amount, _line,
           CAST({_local(timezone)} AS DATE) - DATE '1970-01-01' AS _day,
           coalesce(status, 'completed') IN ({purchase}) AS _purchase,
           coalesce(status IN ('refunded', 'partially_refunded'), false) AS _refunds,
           coalesce(status = 'refunded', false) AS _refunded,
           coalesce(status = 'cancelled', false) AS _cancelled
    FROM orders WHERE {where}
)"""


def _build_where(
    con: duckdb.DuckDBPyConnection, target: str, tz: str, where: str, ingest_id: int
) -> None:
    """The temporary table ``target`` of the summary's rows of the customers
    of the orders matching ``where`` (all their orders, or the ingest's):
    those orders are found once, then grouped (:func:`build` reads them
    several times)."""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _summary_orders AS SELECT * FROM {orders_source(tz, where)}"
    )
    build(con, target, "_summary_orders", tz, items=True, ingest_id=ingest_id, temp=True)
    con.execute("DROP TABLE _summary_orders")


def _set_meta(con: duckdb.DuckDBPyConnection, timezone: str) -> None:
    for key, value in (("summary_version", VERSION), ("summary_timezone", timezone)):
        con.execute(
            "INSERT INTO _tenure_meta VALUES (?, ?) ON CONFLICT DO UPDATE SET value = ?",
            [key, value, value],
        )


def rebuild(
    con: duckdb.DuckDBPyConnection,
    timezone: str | None = None,
    ingest_id: int | None = None,
    *,
    first_seen: bool = False,
) -> None:
    """Build the summary from the whole order log, in ``timezone`` (default:
    the summary's own, else UTC), every row stamped with ``ingest_id``. Runs
    in the caller's transaction if one is open. ``first_seen``: see :func:`build`."""
    tz = timezone or (state(con) or ("", "UTC"))[1]
    items = bool(con.execute("SELECT count(*) FROM order_items").fetchall()[0][0])
    build(
        con, TABLE, orders_source(tz), tz, items=items, ingest_id=ingest_id, first_seen=first_seen
    )
    _set_meta(con, tz)


def ensure(con: duckdb.DuckDBPyConnection, timezone: str, ingest_id: int | None = None) -> bool:
    """Rebuild the summary, in one transaction, when the store has none of
    this layout or it was built in another time zone; whether it did."""
    if current(con) == timezone:
        return False
    con.execute("BEGIN")
    try:
        rebuild(con, timezone, ingest_id)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return True


def refresh(
    con: duckdb.DuckDBPyConnection, kind: str, ingest_id: int, *, first_seen: bool = False
) -> None:
    """Bring the summary up to date after the ingest ``ingest_id`` of ``kind``
    wrote its rows (in the same transaction, before the commit): only the
    customers it touched are recomputed, from their orders.

    Touched are the customers of the orders written (and, for an order that
    changed hands, its earlier customer) or of the orders whose lines were
    written. Without a summary of this layout, it is built from scratch,
    then with ``first_seen`` (see :func:`build`)."""
    tz = current(con)
    if tz is None:
        rebuild(con, ingest_id=ingest_id, first_seen=first_seen)
        return
    if kind == "orders":
        touched = f"SELECT customer_id FROM orders WHERE _ingest_id = {int(ingest_id)}"
        if _has_temp(con, "_summary_earlier"):
            touched += " UNION SELECT customer_id FROM _summary_earlier"
    elif kind == "order_items":
        touched = (
            "SELECT o.customer_id FROM orders o JOIN (SELECT DISTINCT order_id FROM order_items "
            f"WHERE _ingest_id = {int(ingest_id)}) i ON o.order_id = i.order_id"
        )
    else:
        return  # nothing the summary holds comes from the other kinds
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _summary_touched AS SELECT DISTINCT * FROM ({touched})"
    )
    if not con.execute("SELECT count(*) FROM _summary_touched").fetchall()[0][0]:
        con.execute("DROP TABLE IF EXISTS _summary_earlier")
        return
    appended = kind == "orders" and _appended(con, tz, int(ingest_id))
    con.execute("DROP TABLE IF EXISTS _summary_earlier")
    if appended:
        # their kept rows are found again by row id, not by a pass over
        # every customer's id (1M customers: 5 ms against 40 to 100 ms)
        con.execute(
            f"DELETE FROM {TABLE} WHERE rowid IN "
            "(SELECT _kept FROM _summary_appended WHERE _kept IS NOT NULL)"
        )
        con.execute(f"INSERT INTO {TABLE} SELECT * EXCLUDE (_kept) FROM _summary_appended")
        # the others are recomputed from their orders
        con.execute(
            "DELETE FROM _summary_touched WHERE customer_id IN "
            "(SELECT customer_id FROM _summary_appended)"
        )
        con.execute("DROP TABLE _summary_appended")
    if con.execute("SELECT count(*) FROM _summary_touched").fetchall()[0][0]:
        con.execute(
            f"DELETE FROM {TABLE} WHERE customer_id IN (SELECT customer_id FROM _summary_touched)"
        )
        where = "customer_id IN (SELECT customer_id FROM _summary_touched)"
        _build_where(con, "_summary_fresh", tz, where, ingest_id)
        con.execute(f"INSERT INTO {TABLE} SELECT * FROM _summary_fresh")
        con.execute("DROP TABLE _summary_fresh")
    con.execute("DROP TABLE _summary_touched")


def _appended(con: duckdb.DuckDBPyConnection, tz: str, ingest_id: int) -> bool:
    """``_summary_appended``: the new rows of the touched customers whose new
    orders only add to their kept row, worked out from that row and the
    orders of the ingest ``ingest_id`` alone, without reading their earlier
    orders (a night's export into a large store touches customers whose
    orders lie all over the log), with the row id of the kept row
    (``_kept``, NULL for a customer without one); whether any customer is
    in it.

    A customer qualifies when none of its orders was changed or moved by
    this ingest and either it has no kept row (every order of it is new) or
    every new order falls on a later local day than its last kept order, of
    any status: then no purchase day is counted twice, and the first
    purchase day (with its amount, orders and category) is the kept one's,
    or, for a kept row without purchases, the new orders' (whose lines are
    all of that day's). The others are recomputed from their orders."""
    fresh = f"_ingest_id = {ingest_id}"
    if _has_temp(con, "_summary_earlier"):
        fresh += (
            " AND customer_id NOT IN (SELECT customer_id FROM _summary_earlier "
            "WHERE customer_id IS NOT NULL)"
        )
    _build_where(con, "_summary_new", tz, fresh, ingest_id)
    day = f"CAST({_local(tz)} AS DATE) - DATE '1970-01-01'"

    def pick(name: str) -> str:
        both = f"k.{q(name)} + n.{q(name)}"
        if name in ("all_orders", "refunded_orders", "refunded_amount", "cancelled_orders"):
            return both  # counted for every order: never NULL
        if name in ("purchase_days", "orders", "total"):
            return f"coalesce({both}, k.{q(name)}, n.{q(name)})"
        if name in ("last_order_at", "last_day", "last_any_day"):
            return f"coalesce(n.{q(name)}, k.{q(name)})"
        if name == "customer_id":
            return "n.customer_id"
        # the first purchase (its day, date, time, amount, orders, category)
        return f"CASE WHEN k.first_day IS NULL THEN n.{q(name)} ELSE k.{q(name)} END"

    # a customer without a kept row: the new orders are all of its orders
    merged = ", ".join(
        f"CAST(CASE WHEN k.customer_id IS NULL THEN n.{q(n)} ELSE {pick(n)} END AS {t}) AS {q(n)}"
        for n, t in COLUMNS
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _summary_appended AS "
        f"SELECT {merged}, CAST({ingest_id} AS BIGINT) AS _ingest_id, k.rowid AS _kept "
        f"FROM _summary_new n LEFT JOIN {TABLE} k ON k.customer_id = n.customer_id "
        f"JOIN (SELECT customer_id, min({day}) AS first_any FROM orders WHERE {fresh} "
        "GROUP BY customer_id) f ON f.customer_id = n.customer_id "
        "WHERE k.customer_id IS NULL OR f.first_any > k.last_any_day"
    )
    con.execute("DROP TABLE _summary_new")
    return bool(con.execute("SELECT count(*) FROM _summary_appended").fetchall()[0][0])


def before_write(con: duckdb.DuckDBPyConnection, kind: str) -> None:
    """Called by the writer before it replaces changed rows, in the same
    transaction: keep the customers the changed orders belong to now, so
    that :func:`refresh` recomputes an order's earlier customer too."""
    con.execute("DROP TABLE IF EXISTS _summary_earlier")
    if kind != "orders":
        return
    con.execute(
        "CREATE TEMP TABLE _summary_earlier AS SELECT DISTINCT o.customer_id FROM orders o "
        "JOIN merged m ON o.order_id = m.order_id WHERE m._exists AND m._hash <> m._old_hash"
    )


def _has_temp(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = ?", [name]
        ).fetchall()[0][0]
    )
