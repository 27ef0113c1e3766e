"""Calendar periods as integer indexes: month = year * 12 + month - 1.

Indexes are computed from year and month, never with ``delta(..., 'month')``
(DuckDB counts month boundaries crossed, Spark counts whole months elapsed).
The same arithmetic runs in Python for labels and boundaries.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from tenure.errors import ConfigError

if TYPE_CHECKING:
    import ibis.expr.types as ir

PERIODS = ("month", "quarter", "year")
EPOCH = date(1970, 1, 1)


def check(period: str) -> str:
    if period not in PERIODS:
        raise ConfigError(
            f"the period {period!r} is not one tenure knows.",
            hint="Use month, quarter or year.",
        )
    return period


def index_expr(d: ir.DateValue, period: str) -> ir.IntegerValue:
    """The period index of a date column."""
    if period == "month":
        return (d.year() * 12 + d.month() - 1).cast("int64")
    if period == "quarter":
        return (d.year() * 4 + (d.month() - 1) // 3).cast("int64")
    return d.year().cast("int64")


def index_of(d: date, period: str) -> int:
    if period == "month":
        return d.year * 12 + d.month - 1
    if period == "quarter":
        return d.year * 4 + (d.month - 1) // 3
    return d.year


def start_of(index: int, period: str) -> date:
    if period == "month":
        return date(index // 12, index % 12 + 1, 1)
    if period == "quarter":
        return date(index // 4, (index % 4) * 3 + 1, 1)
    return date(index, 1, 1)


def end_of(index: int, period: str) -> date:
    """The last day of the period."""
    return start_of(index + 1, period) - timedelta(days=1)


def label(index: int, period: str) -> str:
    if period == "month":
        return f"{index // 12:04d}-{index % 12 + 1:02d}"
    if period == "quarter":
        return f"{index // 4:04d}-Q{index % 4 + 1}"
    return f"{index:04d}"


def last_complete(as_of: date, period: str) -> int:
    """The index of the last period that ends on or before ``as_of``."""
    index = index_of(as_of, period)
    return index if end_of(index, period) <= as_of else index - 1


def day_number(d: date) -> int:
    return (d - EPOCH).days


def from_day_number(n: int) -> date:
    return EPOCH + timedelta(days=int(n))
