"""UTC timestamps to the business's local time, on every engine.

The store keeps timestamps in UTC; days, months and years begin at midnight
in the business's time zone (the ``timezone`` setting). Ibis has no
portable conversion, so each engine gets its own built-in function.
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from tenure.errors import BackendNotSupportedError


@ibis.udf.scalar.builtin(name="from_utc_timestamp")
def _spark_from_utc(ts: dt.timestamp, tz: str) -> dt.timestamp:  # type: ignore[empty-body]
    """Spark: a UTC timestamp as wall-clock time in ``tz``."""


@ibis.udf.scalar.builtin(name="timezone")
def _duckdb_timezone(tz: str, ts: dt.Timestamp(timezone="UTC")) -> dt.timestamp:  # type: ignore[empty-body,valid-type]
    """DuckDB: a TIMESTAMPTZ as wall-clock time in ``tz``."""


def local(ts: ir.TimestampValue, tz: str, engine: str) -> ir.TimestampValue:
    """``ts`` (UTC, without zone) as wall-clock time in ``tz``."""
    if tz == "UTC":
        return ts
    if engine == "duckdb":
        return _duckdb_timezone(tz, ts.cast(dt.Timestamp(timezone="UTC")))
    if engine in ("spark", "pyspark"):
        return _spark_from_utc(ts, tz)
    raise BackendNotSupportedError(
        f"tenure does not yet convert time zones on {engine}.",
        hint='Set timezone = "UTC", or use the duckdb or spark engine.',
    )


def day_number(local_ts: ir.TimestampValue) -> ir.IntegerValue:
    """Days since 1970-01-01 of a local timestamp (both engines agree)."""
    return (local_ts.epoch_seconds() // 86400).cast("int64")
