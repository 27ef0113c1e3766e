"""Points earned from the orders tenure ingests, posted in bulk.

The points of every order line are computed in DuckDB SQL from the
analytics store (:func:`lines_sql`), then written to the operational store
in batches: per batch one transaction that takes the ledger's locks, reads
which of its lines were posted before, and appends the new lines' lots,
``pending`` entries and ``loyalty_order_points`` rows with ``executemany``.
No Python loop runs per posted line beyond building the parameter tuples.

- A line earns once per rule: ``loyalty_order_points`` has a unique key
  (order, line, rule), so a replayed ingest, a retried backfill or two
  postings at once cannot credit it twice (the second finds the row, or
  fails on the key and posts nothing of its batch).
- Points are **pending** until the return window closes (from the order's
  time); the member's next write or ``tenure loyalty expire`` approves them.
- A line whose order is refunded, partially refunded or cancelled, or that
  is no longer part of its order, has its points reversed
  (:mod:`.refunds`), in proportion for a partial refund.

What the bulk path locks: on SQLite, each batch is one ``BEGIN IMMEDIATE``
transaction, which holds the database's write lock, so every other ledger
write waits for the batch (batches are kept small for this). On
PostgreSQL, each batch locks its members' rows (``SELECT ... FOR UPDATE``,
in customer order so that two postings cannot deadlock), as a single write
does: writes for those members wait, the others' do not.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tenure.faults import checkpoint
from tenure.loyalty import clock, tiers
from tenure.loyalty.invariant import check_invariant
from tenure.loyalty.order_lines import TIME as _TIME
from tenure.loyalty.order_lines import lines_sql
from tenure.loyalty.policy import DEFAULT, Policy
from tenure.loyalty.refunds import Reversal, reverse_lines
from tenure.loyalty.rules import PURCHASE, EarningRules
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import (
    loyalty_order_points,
    loyalty_tier_changes,
)

BATCH = 50_000  # order lines per transaction: the lock is held this long
_IN = 5_000  # ids per IN (...) list: below SQLite's limit of 32,766 variables
REFUNDED = ("refunded", "cancelled")

Progress = Callable[[int, int], None]  # lines done, lines in all


@dataclass
class PostResult:
    """What a posting did (``tenure loyalty post --json``)."""

    lines: int = 0  # order lines read
    posted: int = 0  # lines recorded for the first time
    points: int = 0  # pending points credited by them
    already: int = 0  # lines posted before: nothing credited again
    members: int = 0  # members the new lines credited
    reversed_lines: int = 0
    reversed_points: int = 0
    bonuses: int = 0  # first-order bonuses granted
    birthdays: int = 0  # birthday bonuses granted (tenure loyalty post only)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def post_orders(
    ops: OpsStore,
    analytics_path: str | Path,
    rules: EarningRules,
    *,
    policy: Policy = DEFAULT,
    ingest_id: int | None = None,
    since: date | None = None,
    batch: int = BATCH,
    at: datetime | None = None,
    progress: Progress | None = None,
) -> PostResult:
    """Post the points of the orders in the analytics store at
    ``analytics_path`` (only those an ingest wrote, with ``ingest_id``;
    only those placed on or after ``since``), and reverse those of refunded
    and cancelled lines. Safe to run again: what was posted is not posted
    twice."""
    from tenure.store import analytics

    started = time.perf_counter()
    now = clock.utc(at) if at is not None else clock.now()
    result = PostResult()
    with analytics.connect(analytics_path, read_only=True) as con:
        columns = {r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'orders'"
        ).fetchall()}  # fmt: skip
        has_tiers = bool(rules.tier_multipliers)
        if has_tiers:
            con.register("member_tiers", _member_tiers(ops))
        sql = lines_sql(rules, ingest_id=ingest_id, since=since, policy=policy,
                        has_tiers=has_tiers,
                        has_refunded_amount="refunded_amount_reporting" in columns)  # fmt: skip
        # whole customers per batch (so whole orders): a line missing from
        # its order is then known to be gone, not in the next batch
        con.execute(f"CREATE TEMP TABLE _loyalty_raw AS {sql}")
        con.execute(f"""CREATE TEMP TABLE _loyalty_lines AS
            SELECT r.*, b.batch_no FROM _loyalty_raw r JOIN (
              SELECT customer_id, (sum(n) OVER (ORDER BY customer_id) - n) // {int(batch)}
                     AS batch_no
              FROM (SELECT customer_id, count(*) AS n FROM _loyalty_raw GROUP BY ALL)
            ) b USING (customer_id)""")  # fmt: skip
        total, batches = con.execute(
            "SELECT count(*), coalesce(max(batch_no) + 1, 0) FROM _loyalty_lines").fetchall()[0]  # fmt: skip
        result.lines = total = int(total)
        if progress:
            progress(0, total)
        done = 0
        for k in range(int(batches)):
            rb = con.sql(
                "SELECT order_id, line, customer_id, points, target, amount, earned_at, available_at, "
                "expires_at, points - target AS credit, CASE WHEN points > 0 THEN "
                "round(amount * (points - target) / points, 4) ELSE amount END AS net_amount "
                f"FROM _loyalty_lines WHERE batch_no = {k} "
                "ORDER BY customer_id, earned_at, order_id, line").to_arrow_table()  # fmt: skip
            if rb.num_rows == 0:
                continue
            chunk = {name: rb.column(name).to_pylist() for name in rb.column_names}
            _post_batch_once(ops, chunk, policy, now, result, rules.bonus("first_order"))
            done += rb.num_rows
            if progress:
                progress(done, total)
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def _member_tiers(ops: OpsStore) -> Any:
    import pyarrow as pa

    t = loyalty_tier_changes
    latest = sa.select(sa.func.max(t.c.id)).group_by(t.c.customer_id).scalar_subquery()
    with ops.engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.customer_id, t.c.tier).where(t.c.id.in_(latest))).all()
    return pa.table({"customer_id": pa.array([r[0] for r in rows], pa.string()),
                     "tier": pa.array([r[1] for r in rows], pa.string())})  # fmt: skip


def _chunks(values: list[Any], size: int = _IN) -> Iterator[list[Any]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _next_ids(conn: sa.Connection, table: str, n: int) -> list[int]:
    """``n`` fresh ids of ``table``: under the write lock on SQLite, from
    the table's sequence on PostgreSQL."""
    if n == 0:
        return []
    if conn.dialect.name == "postgresql":
        rows = conn.execute(sa.text(
            f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) "
            "FROM generate_series(1, :n)"), {"n": n}).all()  # fmt: skip
        return [int(r[0]) for r in rows]
    top = conn.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {table}").scalar_one()
    return list(range(int(top) + 1, int(top) + 1 + n))


def _insert(
    conn: sa.Connection, table: sa.Table, names: list[str], rows: list[tuple], by: int | None = None
) -> None:
    """Many rows at once: the driver's executemany on SQLite (times as the
    text SQLAlchemy keeps there), SQLAlchemy's batched insert elsewhere.
    ``by``: the column the rows are sorted on first, that of the table's
    index whose keys are spread widest (an order line, say), so that each
    page of it is visited once a batch instead of once a row."""
    if not rows:
        return
    if by is not None:
        rows.sort(key=lambda row: row[by])
    if conn.dialect.name == "sqlite":
        marks = ", ".join("?" for _ in names)
        conn.exec_driver_sql(f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})",
                             rows)  # fmt: skip
        return
    # PostgreSQL: COPY, in the transaction (times sent as text, in UTC)
    times = [i for i, n in enumerate(names) if isinstance(table.c[n].type, sa.DateTime)]
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        with cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
            for row in rows:
                if times:
                    row = tuple(v + "+00" if i in times and isinstance(v, str) else v
                                for i, v in enumerate(row))  # fmt: skip
                copy.write_row(row)
    finally:
        cursor.close()


def _lock_members(conn: sa.Connection, first_seen: dict[str, str]) -> None:
    """Make members of the batch's customers (joined at their first order
    in it) and take the batch's locks (see the module docstring)."""
    from tenure.store.ops_schema import loyalty_members

    customers = sorted(first_seen)
    if conn.dialect.name == "sqlite":
        # a batch writes ~4 index entries a line at random places of the
        # indexes: a larger page cache keeps them from being read again
        conn.exec_driver_sql("PRAGMA cache_size = -262144")
        # a batch's commit is not flushed to disk at once (WAL, synchronous
        # NORMAL: still whole or not at all, but the last batches may be
        # lost on a power cut): what it posts is derived from the orders, and
        # a batch lost is posted again by the next run; restored after it
        conn.exec_driver_sql("PRAGMA synchronous = NORMAL")
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        conn.exec_driver_sql(
            "INSERT OR IGNORE INTO loyalty_members (customer_id, joined_at) VALUES (?, ?)",
            [(c, first_seen[c]) for c in customers],
        )
        return
    from sqlalchemy.dialects.postgresql import insert

    rows = [{"customer_id": c, "joined_at": clock.utc(datetime.fromisoformat(first_seen[c]))}
            for c in customers]  # fmt: skip
    conn.execute(insert(loyalty_members).on_conflict_do_nothing(index_elements=["customer_id"]),
                 rows)  # fmt: skip
    for part in _chunks(customers):
        conn.execute(
            sa.select(loyalty_members.c.customer_id)
            .where(loyalty_members.c.customer_id.in_(part))
            .order_by(loyalty_members.c.customer_id)
            .with_for_update()
        ).all()


_POSTED = (
    "SELECT p.order_id, p.line, p.customer_id, p.points, p.refunded, "
    "(SELECT max(r.reversed_to) FROM loyalty_order_reversals r WHERE r.order_id = p.order_id "
    " AND r.line = p.line AND r.rule = p.rule), p.entry_id "
    "FROM loyalty_order_points p WHERE p.rule = '" + PURCHASE + "' AND p.order_id IN "
)


def _posted(conn: sa.Connection, order_ids: list[str]) -> dict[tuple[str, str], tuple]:
    """The lines of these orders posted before: (order, line) ->
    (customer, points, points reversed so far, entry id)."""
    found: dict[tuple[str, str], tuple] = {}
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    for part in _chunks(order_ids):
        sql = _POSTED + "(" + ", ".join(mark for _ in part) + ")"
        for order_id, line, customer, points, refunded, to, entry in conn.exec_driver_sql(
            sql, tuple(part)
        ):
            found[(order_id, line)] = (customer, int(points), max(int(refunded), int(to or 0)),
                                       entry)  # fmt: skip
    return found


def _post_batch_once(
    ops: OpsStore,
    b: dict[str, list[Any]],
    policy: Policy,
    now: datetime,
    result: PostResult,
    first_order: int,
) -> None:
    """Post a batch; one that met another posting of the same lines (a
    unique key refused its rows, and nothing of it was written) is posted
    again, and then finds those lines posted."""
    from tenure.errors import StoreBusyError

    for attempt in (1, 2):
        try:
            _post_batch(ops, b, policy, now, result, first_order)
            return
        except sa.exc.IntegrityError:
            if attempt == 2:
                raise
        except sa.exc.OperationalError as exc:
            if "locked" in str(exc.orig).lower():
                raise StoreBusyError(
                    "the loyalty ledger is being written by another command; waited 10 s for it.",
                    hint="Try again in a moment: what was posted is kept, and is not posted twice.",
                ) from None
            raise


def _post_batch(
    ops: OpsStore,
    b: dict[str, list[Any]],
    policy: Policy,
    now: datetime,
    result: PostResult,
    first_order: int,
) -> None:
    first_seen: dict[str, str] = {}
    for c, t in zip(b["customer_id"], b["earned_at"], strict=True):
        first_seen.setdefault(c, t)
    stamp = now.strftime(_TIME)
    done = PostResult()  # counted into ``result`` once committed
    with ops.engine.connect() as conn:
        try:
            _write_batch(conn, b, first_seen, stamp, policy, now, done, first_order)
        finally:
            if conn.dialect.name == "sqlite":
                conn.rollback()  # nothing, after a commit; all of it, after an error
                conn.exec_driver_sql("PRAGMA synchronous = FULL")
    checkpoint("loyalty after commit")
    for name in ("posted", "points", "already", "members", "reversed_lines", "reversed_points",
                 "bonuses"):  # fmt: skip
        setattr(result, name, getattr(result, name) + getattr(done, name))


def _write_batch(
    conn: sa.Connection,
    b: dict[str, list[Any]],
    first_seen: dict[str, str],
    stamp: str,
    policy: Policy,
    now: datetime,
    result: PostResult,
    first_order: int = 0,
) -> None:
    n = len(b["order_id"])
    _lock_members(conn, first_seen)
    checkpoint("loyalty posting locked")
    order_ids = sorted(set(b["order_id"]))
    posted = _posted(conn, order_ids)
    new = [i for i in range(n) if (b["order_id"][i], b["line"][i]) not in posted]
    gain = b["credit"]
    credit = [i for i in new if gain[i] > 0]
    lot_ids = _next_ids(conn, "loyalty_lots", len(credit))
    entry_ids = _next_ids(conn, "loyalty_entries", len(credit))
    entry_of = dict(zip(credit, entry_ids, strict=True))
    cid, oid, line = b["customer_id"], b["order_id"], b["line"]
    _insert(conn, ops_lots(), ["id", "customer_id", "points", "pending", "available_at",
                               "expires_at", "created_at"],
            [(lot, cid[i], gain[i], True, b["available_at"][i],
              b["expires_at"][i], b["earned_at"][i]) for i, lot in zip(credit, lot_ids,
                                                                strict=True)])  # fmt: skip
    _insert(conn, ops_entries(), ["id", "customer_id", "kind", "points", "pending", "lot_id",
                                  "order_line", "rule", "at", "amount"],
            [(entry_of[i], cid[i], "pending", 0, gain[i], lot,
              f"{oid[i]}:{line[i]}" if line[i] else oid[i], PURCHASE, b["earned_at"][i],
              b["net_amount"][i])
             for i, lot in zip(credit, lot_ids, strict=True)], by=6)  # fmt: skip
    checkpoint("loyalty entry written")
    _insert(conn, loyalty_order_points, ["order_id", "line", "rule", "customer_id", "points",
                                         "refunded", "amount", "entry_id", "posted_at"],
            [(oid[i], line[i], PURCHASE, cid[i], b["points"][i],
              min(b["target"][i], b["points"][i]), b["amount"][i], entry_of.get(i), stamp)
             for i in new], by=0)  # fmt: skip
    result.posted += len(new)
    result.already += n - len(new)
    result.points += sum(gain[i] for i in credit)
    result.members += len({cid[i] for i in credit})
    # reversals: a refund or cancellation newly known, and lines no longer in their order
    todo: list[Reversal] = []
    index = {(oid[i], line[i]): i for i in range(n)}
    for (order_id, ln), (customer, points, reversed_so_far, entry) in posted.items():
        i = index.get((order_id, ln))
        target = points if i is None else b["target"][i]
        reason = "refund" if i is not None else "no longer in the order"
        if target > reversed_so_far:
            todo.append(Reversal(customer, order_id, ln, PURCHASE, entry, reversed_so_far,
                                 target, reason))  # fmt: skip
    if todo:
        done, points_back = reverse_lines(conn, todo, now, policy)
        result.reversed_lines += done
        result.reversed_points += points_back
    if first_order:
        result.bonuses += _first_order_bonuses(conn, b, first_order)
    if policy.tiers is not None:
        # an upgrade is immediate: recorded with the batch that earned it
        for customer in sorted({cid[i] for i in credit}):
            tiers.settle(conn, policy.tiers, customer, now,
                         entry_of[max(i for i in credit if cid[i] == customer)])  # fmt: skip
    _check_batch(conn, entry_ids, lot_ids, {r.customer_id for r in todo})
    checkpoint("loyalty before commit")
    conn.commit()


def _first_order_bonuses(conn: sa.Connection, b: dict[str, list[Any]], points: int) -> int:
    """The first-order bonus of each customer of the batch whose order
    earned points in it and who has none yet, in the batch's transaction:
    pending with that order (its earliest line here), recorded as
    :func:`tenure.loyalty.bonus.award_bonus` records a bonus, so that it is
    granted once whatever the path."""
    from tenure.loyalty.bonus import bonus_line

    first: dict[str, int] = {}
    for i, customer in enumerate(b["customer_id"]):
        if b["credit"][i] > 0 and customer not in first:
            first[customer] = i
    if not first:
        return 0
    lines = {bonus_line(c, "first_order", "once")[0]: c for c in first}
    had: set[str] = set()
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    keys = sorted(lines)
    for part in _chunks(keys):
        sql = ("SELECT order_line FROM loyalty_entries WHERE rule = 'bonus:first_order' "
               f"AND order_line IN ({', '.join(mark for _ in part)})")  # fmt: skip
        had |= {r[0] for r in conn.exec_driver_sql(sql, tuple(part))}
    due = [(line, lines[line], first[lines[line]]) for line in keys if line not in had]
    lot_ids = _next_ids(conn, "loyalty_lots", len(due))
    entry_ids = _next_ids(conn, "loyalty_entries", len(due))
    _insert(conn, ops_lots(), ["id", "customer_id", "points", "pending", "available_at",
                               "expires_at", "created_at"],
            [(lot, c, points, True, b["available_at"][i], b["expires_at"][i], b["earned_at"][i])
             for lot, (_, c, i) in zip(lot_ids, due, strict=True)])  # fmt: skip
    _insert(conn, ops_entries(), ["id", "customer_id", "kind", "points", "pending", "lot_id",
                                  "order_line", "rule", "reason", "at"],
            [(entry, c, "pending", 0, points, lot, line, "bonus:first_order",
              f"first order bonus (order {b['order_id'][i]})", b["earned_at"][i])
             for entry, lot, (line, c, i) in zip(entry_ids, lot_ids, due, strict=True)])  # fmt: skip
    return len(due)


def _check_batch(conn: sa.Connection, entries: list[int], lots: list[int],
                 reversed_for: set[str]) -> None:  # fmt: skip
    """The batch's part of the invariant: its pending entries and its lots
    hold the same points (read from the two tables); a member whose points
    were reversed is checked in full."""
    if entries and conn.dialect.name == "sqlite":  # ids under the lock: one range
        e = conn.exec_driver_sql(
            "SELECT coalesce(sum(pending), 0), count(*) FROM loyalty_entries "
            f"WHERE id BETWEEN {entries[0]} AND {entries[-1]} AND kind = 'pending' "
            "AND rule = 'purchase'").one()  # fmt: skip
        lo = conn.exec_driver_sql(
            "SELECT coalesce(sum(points), 0), count(*) FROM loyalty_lots "
            f"WHERE id BETWEEN {lots[0]} AND {lots[-1]} AND pending").one()  # fmt: skip
        if tuple(e) != tuple(lo) or int(e[1]) != len(entries):
            from tenure.errors import LedgerError

            raise LedgerError(
                f"a posting of order points wrote {e[1]} entries of {e[0]} points but "
                f"{lo[1]} lots of {lo[0]}; nothing was written.",
                hint="This is a bug in tenure; please report it with this message.",
                code="ledger_invariant",
            )
    for customer in sorted(reversed_for):
        check_invariant(conn, customer)


def ops_lots() -> sa.Table:
    from tenure.store.ops_schema import loyalty_lots

    return loyalty_lots


def ops_entries() -> sa.Table:
    from tenure.store.ops_schema import loyalty_entries

    return loyalty_entries


def post_configured(
    settings: Any,
    ops: OpsStore,
    *,
    ingest_id: int | None = None,
    since: date | None = None,
    progress: Progress | None = None,
    birthdays: bool = False,
) -> PostResult | None:
    """Post with the program of ``settings`` (tenure.toml's [loyalty]):
    None, reading nothing, when it declares no earning rules. With
    ``birthdays``, also grant the birthday bonuses due today."""
    rules = settings.loyalty.earning
    if rules is None or not Path(settings.analytics_path).exists():
        return None
    policy = Policy.from_settings(settings.loyalty)
    result = post_orders(ops, settings.analytics_path, rules, policy=policy, ingest_id=ingest_id,
                         since=since, progress=progress)  # fmt: skip
    if birthdays:
        from tenure.loyalty.bonus import birthday_bonuses

        result.birthdays = birthday_bonuses(ops, settings.analytics_path, rules, policy=policy,
                                            timezone=birthday_zone(settings))  # fmt: skip
    return result


def birthday_zone(settings: Any) -> str:
    """The time zone of a birthday for a member without one of their own:
    the program's clock (``[loyalty] timezone``) when it declares one, else
    the business's ``timezone``."""
    return settings.loyalty.timezone or settings.timezone


def after_ingest(settings: Any, ops: OpsStore, result: Any) -> dict[str, Any] | None:
    """What follows a committed ingest of orders or order items for the
    loyalty program: the points of the orders it wrote, when earning rules
    are declared (nothing is read otherwise), set as
    ``result.refreshed["loyalty_posted"]``; and the referrals and challenges
    of the customers it touched, as ``result.refreshed["loyalty_settled"]``.
    Called by :func:`tenure.loyalty.on_ingest.ingest`, the one path of
    ``tenure ingest``, the REST API's ingest routes and ``tenure.ingest``."""
    posted = None
    if (settings.loyalty.earning is not None and result.ingest_id is not None
            and result.kind in ("orders", "order_items")
            and result.inserted + result.updated > 0):  # fmt: skip
        from tenure.errors import TenureError

        try:
            done = post_configured(settings, ops, ingest_id=result.ingest_id)
        except TenureError as exc:  # the ingest itself is committed: say so, and how to catch up
            result.warnings.append(
                f"the rows were ingested, but their loyalty points were not posted: {exc} "
                "Post them with: tenure loyalty post"
            )
            done = None
        posted = None if done is None else done.to_dict()
    refreshed = getattr(result, "refreshed", None)
    if isinstance(refreshed, dict):
        refreshed["loyalty_posted"] = posted
    settled = _settle_touched(settings, ops, result)
    if settled is not None and isinstance(refreshed, dict):
        refreshed["loyalty_settled"] = settled
    return posted


def _settle_touched(settings: Any, ops: OpsStore, result: Any) -> dict[str, Any] | None:
    """Referrals and challenges settled for the customers whose orders the
    ingest wrote, when the program declares either (None otherwise)."""
    loyalty = settings.loyalty
    if (loyalty.referrals is None and not loyalty.challenges) or result.ingest_id is None \
            or result.kind != "orders" or result.inserted + result.updated == 0:  # fmt: skip
        return None
    import duckdb

    from tenure.errors import TenureError
    from tenure.loyalty.settle import settle_program

    con = duckdb.connect(str(settings.analytics_path), read_only=True)
    try:
        touched = [r[0] for r in con.execute(
            "SELECT DISTINCT customer_id FROM orders WHERE _ingest_id = ?",
            [int(result.ingest_id)]).fetchall()]  # fmt: skip
    finally:
        con.close()
    try:
        return settle_program(ops, settings.analytics_path, touched, settings=loyalty)
    except TenureError as exc:  # the ingest itself is committed: say so, and how to catch up
        result.warnings.append(
            f"the rows were ingested, but referrals and challenges were not settled: {exc} "
            "Settle them with: tenure loyalty referrals --settle; tenure loyalty challenges --settle"
        )
        return None
