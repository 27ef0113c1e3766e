"""Orders given for a fit, checked and grouped per customer in one pass.

``tenure fit MODEL --orders FILE`` reads a file as ``tenure ingest`` would
(:mod:`tenure.given`): every row typed and checked, the rows that cannot be
used written to a quarantine file with their reasons, repeated order ids
found. Most files have no such row, and a fit on all the orders then needs
them only through the per-customer summary (x, t_x, T and the amounts).
:func:`summarise` builds that summary with the code that builds the
store's ``customer_activity`` (:func:`tenure.store.summary.build`), from the
file's checked rows, without writing them anywhere; repeated order ids are
looked for in a narrow pass over the ids alone.

It says whether every row passed. When one did not, or might not have, it
leaves nothing behind and :mod:`tenure.given` reads the file with the
ingest's full classification, which writes each such row with its reason:
a fit keeps the guarantees of ``tenure ingest``, and a clean file takes the
short way.

The checks are ingestion's own expressions (:mod:`tenure.ingestion.coerce`,
:func:`tenure.ingestion.validate.checks`, :mod:`tenure.ingestion.identifiers`)
and functions (:mod:`tenure.ingestion.distinct`: statuses, plain identifiers,
repeated keys' hashes).
Those of a single value are evaluated where they cost least and say the
same: a status once per distinct text of the column; a customer id once
per customer. Identifiers take the short way only when written plainly (no
space or control character at either end, none inside, at most
:data:`~tenure.ingestion.identifiers.ID_MAX_CHARS` characters): then the id
ingest keeps is the text as written, so that the rows are grouped by the
text itself, and two ids that ingest would read alike (``" C1"`` and
``"C1"``) cannot be counted apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tenure.sqltext import lit, q

# the summary's table, and the view of the file's rows as the engine reads
# the orders (every row accepted: see summarise)
ACTIVITY = "customer_activity"
ORDERS = "orders"
_VIEWS = ("_given_texts", "_given_typed")


@dataclass
class Summary:
    """What :func:`summarise` found: every row usable, and the customers."""

    customers: int


def summarise(
    raw: Any,
    kind: Any,
    resolved: Any,
    *,
    order_column: str | None,
    timezone: str,
    date_format: str | None,
    date_order: str,
) -> Summary | None:
    """Build ``customer_activity`` (in ``timezone``) and the view ``orders``
    from ``raw`` when every row passes the ingest's checks and no order id
    repeats; else None, with nothing left behind.

    ``resolved`` is the mapping of the fit (:func:`tenure.given._resolve`),
    ``order_column`` the file's order id column: without one, each row's
    id is derived from its place among rows alike, and none can repeat."""
    from tenure.ingestion import coerce

    fields = [f for f in kind.fields if f.name in resolved.columns or f.name in resolved.sql]
    names = {f.name for f in fields}
    if set(resolved.sql) - {"order_id"} or not {"customer_id", "placed_at", "amount"} <= names:
        return None  # mapping expressions: the full path reads them
    types = {r[0]: r[1] for r in raw.execute("DESCRIBE raw").fetchall()}

    def text(col: str) -> str:
        return q(col) if types.get(col, "VARCHAR") == "VARCHAR" else f"CAST({q(col)} AS VARCHAR)"

    # 1. each field's cell as build_checked reads it: as the source typed
    # it, where ingest reads that type as it is, else its trimmed text; the
    # identifiers and the status as written (see the module docstring)
    typed_cells: dict[str, str] = {}
    cells = [f"{text(resolved.columns['customer_id'])} AS _c"]
    if order_column is not None:
        cells.append(f"{text(order_column)} AS _o")
    for f in fields:
        if f.name in ("customer_id", "order_id"):
            continue
        col = resolved.columns[f.name]
        if f.name == "status":
            cells.append(f"{text(col)} AS _s")
            continue
        sql_type = types.get(col, "VARCHAR")
        if coerce.typed_cell(f, sql_type, date_format):
            typed_cells[f.name] = sql_type
            cell = q(col)
        else:
            cell = coerce.trimmed(text(col))
        cells.append(f"{cell} AS {q('v_' + f.name)}")
    raw.execute(
        f"CREATE OR REPLACE TEMP VIEW _given_texts AS SELECT _line, {', '.join(cells)} FROM raw"
    )
    try:
        found = _summarise(
            raw, kind, [f for f in fields if f.name not in ("customer_id", "order_id")],
            typed_cells, timezone=timezone, date_format=date_format, date_order=date_order,
            ids=order_column is not None,
        )  # fmt: skip
    except BaseException:
        drop(raw)
        raise
    if found is None:
        drop(raw)
    return found


def drop(raw: Any) -> None:
    """Remove what :func:`summarise` made."""
    raw.execute(f"DROP VIEW IF EXISTS {ORDERS}")
    for table in (ACTIVITY, "_summary_purchasers", "_summary_others", "_summary_firsts"):
        raw.execute(f"DROP TABLE IF EXISTS {table}")
    for view in reversed(_VIEWS):
        raw.execute(f"DROP VIEW IF EXISTS {view}")


def _summarise(
    raw: Any,
    kind: Any,
    fields: list[Any],
    typed_cells: dict[str, str],
    *,
    timezone: str,
    date_format: str | None,
    date_order: str,
    ids: bool,
) -> Summary | None:
    from tenure.ingestion import coerce, validate
    from tenure.store import summary

    tz = lit(timezone)
    # 2. formats decided per column from a sample, as ingest decides them
    groups, commas = {}, {}
    for f in fields:
        v = q("v_" + f.name)
        if f.name in typed_cells or f.name == "status":
            continue
        if f.type in ("timestamp", "date") and not date_format:
            groups[f.name] = coerce.detect_date_group(raw, v, date_order, table="_given_texts")[0]
        if f.type in ("amount", "rate"):
            commas[f.name] = coerce.detect_decimal_comma(raw, v, table="_given_texts")

    # 3. typed values, and whether each row breaks a rule
    status = _statuses(raw, coerce) if any(f.name == "status" for f in fields) else {}
    if status is None:
        return None
    typed, bad = (
        {"customer_id": "_c", "order_id": "_o" if ids else "'#' || CAST(_line AS VARCHAR)"},
        [],
    )
    for f in fields:
        v = q("v_" + f.name)
        if f.name == "status":
            typed["status"] = status["value"]
            bad.append(status["refused"])
            continue
        if f.name in typed_cells:
            typed[f.name] = coerce.parse_typed(f, v, typed_cells[f.name], tz=tz).value
        else:
            typed[f.name] = coerce.parse(
                f, v, group=groups.get(f.name, coerce.ISO), tz=tz, date_format=date_format,
                decimal_comma=commas.get(f.name, False),
            ).value  # fmt: skip
        bad.append(f"({v} IS NOT NULL AND {q(f.name)} IS NULL)")
        if f.required and f.presence == "value":
            bad.append(f"{v} IS NULL")
    bad += [f"coalesce({c.fails}, false)" for c in validate.checks(kind, set(typed))]
    classes = {k: status.get(k, "false") for k in ("purchase", "refunded", "refunds", "cancelled")}
    if not status:
        classes["purchase"] = "true"  # an order without a status is a completed order
    local = (
        "placed_at" if timezone == "UTC"
        else f"timezone({lit(timezone)}, CAST(placed_at AS TIMESTAMPTZ))"
    )  # fmt: skip
    raw.execute(
        "CREATE OR REPLACE TEMP VIEW _given_typed AS SELECT *, "
        f"CAST({local} AS DATE) - DATE '1970-01-01' AS _day FROM (SELECT _line, "
        + ", ".join(f"{e} AS {q(n)}" for n, e in typed.items())
        + ", " + ", ".join(f"{e} AS _{n}" for n, e in classes.items())
        + f", {' OR '.join(bad) or 'false'} AS _refused FROM _given_texts)"
    )  # fmt: skip

    # 4. the order ids: each written plainly, none twice
    if ids and _odd_or_repeated_ids(raw):
        return None

    # 5. every row passes; the orders that are not purchases (one ungrouped pass)
    refused, others = raw.execute(
        "SELECT count(*) FILTER (WHERE _refused), count(*) FILTER (WHERE NOT _purchase) "
        "FROM _given_typed"
    ).fetchall()[0]
    if refused:
        return None
    # 6. the summary, built as ingest builds it
    summary.build(
        raw, ACTIVITY, "_given_typed", timezone, others=bool(others),
        partial=status.get("partial", "false") != "false", temp=True,
    )  # fmt: skip
    odd, customers = raw.execute(
        f"SELECT count(*) FILTER (WHERE NOT coalesce({_plain('customer_id')}, "
        f"false)), count(*) FROM {ACTIVITY}"
    ).fetchall()[0]
    if odd:
        return None
    # every row passed: the orders as the engine reads them (a fit that
    # needs them by day reads the file again through this view)
    raw.execute(
        f"CREATE OR REPLACE TEMP VIEW {ORDERS} AS SELECT order_id, customer_id, placed_at, "
        f"{'coalesce(status, ' if status else '('}'completed') AS status, "
        "amount AS amount_reporting FROM _given_typed"
    )
    return Summary(int(customers))


def _plain(column: str) -> str:
    """SQL: the identifier ``column`` is written plainly (see the module
    docstring), so that ingest keeps it as it is."""
    from tenure.ingestion import distinct

    return distinct.plain(column)


def _statuses(raw: Any, coerce: Any) -> dict[str, str] | None:
    """SQL over a status cell ``_s`` as written: its status, as
    :func:`coerce.status` reads the trimmed text, whether that refuses it,
    and whether it is a purchase, a refund in full (``refunded``), a refund
    in full or in part (``refunds``) or a cancellation. The few distinct
    texts of the column are read once each; None when there are many."""
    from tenure.ingestion import distinct
    from tenure.store.summary import PURCHASE_STATUSES

    # a blank cell is a missing status: a completed order, as no cell is
    read = distinct.statuses(raw, "_s", "_given_texts", blank="completed")
    if read is None:
        return None

    def among(wanted) -> str:
        hits = [lit(t) for t, s in read.items() if s in wanted]
        return f"_s IN ({', '.join(hits)})" if hits else "false"

    return {
        "value": distinct.status_value(read, "_s"),
        "refused": among({None}),
        "purchase": f"(_s IS NULL OR {among(set(PURCHASE_STATUSES))})",
        "refunded": among({"refunded"}),
        "refunds": among({"refunded", "partially_refunded"}),
        "partial": among({"partially_refunded"}),
        "cancelled": among({"cancelled"}),
    }


def _odd_or_repeated_ids(raw: Any) -> bool:
    """Whether an order id of ``_given_texts`` is not written plainly or is
    held by more than one row. Equal ids have equal hashes: the hashes
    (numbers) are sorted, and a hash shared by chance sends the file to the
    full path too, which tells repeats from chance."""
    from tenure.ingestion import distinct

    try:
        found = distinct.repeated_hashes(
            raw, "_o", "_given_texts", "_given_id_hashes", valid=_plain("_o")
        )
    finally:
        raw.execute("DROP TABLE IF EXISTS _given_id_hashes")
    return found is None or found > 0
