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
        rows = con.execute(
            f"WITH v AS (SELECT _line, CAST({q(name)} AS DOUBLE) AS x FROM accepted "
            f"WHERE {q(name)} > 0), s AS (SELECT count(*) AS n, median(ln(x)) AS m FROM v), "
            "d AS (SELECT median(abs(ln(v.x) - s.m)) AS mad FROM v, s) "
            "SELECT v._line, v.x, exp(s.m), count(*) OVER () FROM v, s, d "
            f"WHERE s.n >= {MIN_ROWS} AND abs(ln(v.x) - s.m) > "
            f"greatest({SIGMAS} * 1.4826 * d.mad, ln({FACTOR})) "
            f"ORDER BY abs(ln(v.x) - s.m) DESC, v._line LIMIT {SHOWN}"
        ).fetchall()
        if not rows:
            continue
        median, total = rows[0][2], rows[0][3]
        shown = ", ".join(f"line {line}: {x:,.2f}" for line, x, _, _ in rows)
        warnings.append(
            f"{source}, column '{column}': {total:,} amount{'s are' if total > 1 else ' is'} far "
            f"from the rest of the column (median {median:,.2f}): {shown}. They were stored; "
            "check for a typo or an amount in minor units (cents)."
        )
    return warnings


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
