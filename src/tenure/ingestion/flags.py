"""Warnings about accepted rows that are readable but suspicious.

These rows are stored (the data may be right), and the warning names the
file, line and value so that a user can check them:

- an amount far outside the rest of its column (a typo, or an amount in
  cents among amounts in euros);
- an order dated before its customer's ``created_at`` (or a customer
  created after orders already stored).
"""

from __future__ import annotations

import duckdb

from tenure.datamodel import Kind
from tenure.sqltext import q

SHOWN = 3
# at least this many amounts before a distribution is judged
MIN_ROWS = 20
# "far": more than 100 times the median, and beyond 6 robust standard
# deviations of the log amounts (on CDNOW that is above 136 times the median)
FACTOR = 100
SIGMAS = 6


def amount_outliers(
    con: duckdb.DuckDBPyConnection, kind: Kind, mapped: dict[str, str], source: str
) -> list[str]:
    warnings = []
    for name in kind.converted:
        if name not in mapped:
            continue
        column = mapped[name]
        found = _far(con, name)
        if found is None:
            continue
        median, rows = found
        total = rows[0][2]
        shown = ", ".join(f"line {line}: {x:,.2f}" for line, x, _ in rows)
        warnings.append(
            f"{source}, column '{column}': {total:,} amount{'s are' if total > 1 else ' is'} far "
            f"from the rest of the column (median {median:,.2f}): {shown}. They were stored; "
            "check for a typo or an amount in minor units (cents)."
        )
    return warnings


def _far(con: duckdb.DuckDBPyConnection, name: str) -> tuple[float, list[tuple]] | None:
    """The median of the positive amounts of column ``name`` of ``accepted``
    and the first :data:`SHOWN` rows (line, amount, how many in all) whose log
    lies far from the median of the logs; None when none does.

    The medians are those of every row's log amount (DuckDB's ``median``), but
    taken over the distinct amounts with their counts: a file holds far fewer
    distinct amounts than rows, so the rows are grouped once instead of sorted
    twice. The middle one or two values of the counted logs are found by their
    running counts, and their median is DuckDB's own, so the figures are the
    same as those of the medians over every row."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _amounts AS SELECT a, ln(CAST(a AS DOUBLE)) AS l, c FROM "
        f"(SELECT {q(name)} AS a, count(*) AS c FROM accepted WHERE {q(name)} > 0 GROUP BY a)"
    )

    # the values at 0-based places (n - 1) // 2 and n // 2 of a sorted multiset
    # given as (value, count): the first values whose running count passes them
    def middle(value: str, table: str) -> str:
        return (
            f"SELECT n, list_aggregate([min({value}) FILTER (WHERE run > (n - 1) // 2), "
            f"min({value}) FILTER (WHERE run > n // 2)], 'median') AS m FROM "
            f"(SELECT {value}, sum(c) OVER (ORDER BY {value} ROWS UNBOUNDED PRECEDING) AS run, "
            f"sum(c) OVER () AS n FROM {table}) GROUP BY n"
        )

    stats = con.execute(
        f"WITH s AS ({middle('l', '_amounts')}), "
        "d AS (SELECT abs(l - s.m) AS dev, c FROM _amounts, s) "
        f"SELECT s.n, s.m, d.m FROM s, ({middle('dev', 'd')}) d"
    ).fetchone()
    if stats is None or stats[0] < MIN_ROWS:
        con.execute("DROP TABLE _amounts")
        return None
    # the medians go back as parameters: DOUBLEs, to the last bit
    _, m, mad = stats
    far = f"abs(l - $m) > greatest({SIGMAS} * 1.4826 * $mad, ln({FACTOR}))"
    rows = con.execute(
        f"SELECT v._line, CAST(v.{q(name)} AS DOUBLE) AS x, count(*) OVER (), exp($m) "
        f"FROM accepted v JOIN (SELECT a, l FROM _amounts WHERE {far}) f ON v.{q(name)} = f.a "
        f"ORDER BY abs(f.l - $m) DESC, v._line LIMIT {SHOWN}",
        {"m": m, "mad": mad},
    ).fetchall()
    con.execute("DROP TABLE _amounts")
    return (rows[0][3], [r[:3] for r in rows]) if rows else None


def before_created(
    con: duckdb.DuckDBPyConnection, kind: Kind, mapped: dict[str, str], source: str
) -> list[str]:
    """Orders dated before their customer was created, from either side."""
    if kind.name == "orders" and "placed_at" in mapped:
        found = con.execute(
            "SELECT a._line, a.order_id, CAST(a.placed_at AS DATE), c.customer_id, "
            "CAST(c.created_at AS DATE), count(*) OVER () FROM accepted a JOIN customers c "
            "USING (customer_id) WHERE NOT c.is_stub AND "
            "CAST(a.placed_at AS DATE) < CAST(c.created_at AS DATE) "
            f"ORDER BY a._line LIMIT {SHOWN}"
        ).fetchall()
        what = "orders are dated before their customer's created_at"
    elif kind.name == "customers" and "created_at" in mapped:
        found = con.execute(
            "SELECT a._line, min(o.order_id), CAST(min(o.placed_at) AS DATE), a.customer_id, "
            "CAST(any_value(a.created_at) AS DATE), count(*) OVER () FROM accepted a "
            "JOIN orders o USING (customer_id) GROUP BY a._line, a.customer_id "
            "HAVING CAST(min(o.placed_at) AS DATE) < CAST(any_value(a.created_at) AS DATE) "
            f"ORDER BY a._line LIMIT {SHOWN}"
        ).fetchall()
        what = "customers have a created_at after orders already stored for them"
    else:
        return []
    if not found:
        return []
    shown = "; ".join(
        f"line {line}: order {order} on {placed}, customer {customer} created {created}"
        for line, order, placed, customer, created, _ in found
    )
    return [
        f"{source}: {found[0][5]:,} {what} ({shown}). They were stored; check the dates, "
        "or the customer's created_at."
    ]
