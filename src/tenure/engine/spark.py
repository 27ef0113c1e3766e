"""Running the engine on Spark.

Two ways to give Spark the data:

* a Spark catalog database whose tables are named after the kinds
  (``orders``, ``customers``...) with the data model's columns
  (``spark_database`` in tenure.toml, or ``TENURE_SPARK_DATABASE``);
* without one, tenure copies the workspace's tables to Parquet files in
  ``STORE/spark/`` and reads those, which lets you try Spark on any store.

The session runs in UTC: timestamps in the store are UTC and Spark's
``from_utc_timestamp`` turns them into the business's local time.
"""

from __future__ import annotations

import os
from pathlib import Path

import ibis

from tenure.config import Settings
from tenure.datamodel import KINDS
from tenure.errors import ConfigError, MissingExtraError
from tenure.sqltext import lit, q

# columns Spark does not need and could not type (JSON)
_SKIP_TYPES = ("JSON",)


def session(master: str | None = None, warehouse: Path | None = None):
    """A SparkSession in UTC (one per process; Spark allows no more)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise MissingExtraError.for_extra("spark", "pyspark") from exc
    builder = (
        SparkSession.builder.appName("tenure")
        .master(master or os.environ.get("TENURE_SPARK_MASTER") or "local[2]")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.log.level", "ERROR")
    )
    if warehouse is not None:
        builder = builder.config("spark.sql.warehouse.dir", str(warehouse))
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # Java missing or the master unreachable
        raise ConfigError(
            f"Spark did not start: {str(exc).strip().splitlines()[0]}",
            hint="Spark needs Java 17 (apt-get install openjdk-17-jre-headless) and a reachable "
            "master URL such as local[2] or spark://host:7077.",
        ) from None
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def spark_tables(
    settings: Settings, *, master: str | None = None
) -> tuple[ibis.BaseBackend, dict[str, ibis.Table], str, str, tuple | None]:
    """The tables of each kind on Spark: (connection, tables, reporting
    currency, description, the persisted customer summary and its time zone
    or None), for :func:`tenure.engine.source.open_source`."""
    spark = session(master or settings.spark_master)
    con = ibis.pyspark.connect(spark)
    if settings.spark_database:
        db = settings.spark_database
        present = set(con.list_tables(database=db))
        tables = {k: con.table(k, database=db) for k in KINDS if k in present}
        if "orders" not in tables:
            raise ConfigError(
                f"the Spark database {db!r} has no table named orders.",
                hint="Create tables (or views) named after the kinds with the data model's "
                "columns; see docs/engine.md.",
            )
        currency = settings.reporting_currency or "EUR"
        return con, tables, currency, f"Spark database {db}", None
    folder = export_store(settings)
    from tenure.store import analytics, summary

    with analytics.connect(settings.analytics_path, read_only=True) as raw:
        currency = analytics.meta(raw).get("reporting_currency") or "EUR"
        timezone = summary.current(raw)
    tables = {
        p.stem: con.read_parquet(str(p))
        for p in sorted(folder.glob("*.parquet"))
        if p.stem in KINDS
    }
    activity = None
    summary_file = folder / f"{summary.TABLE}.parquet"
    if timezone and summary_file.exists():
        activity = (con.read_parquet(str(summary_file)), timezone)
    return con, tables, currency, f"the store {settings.store} on Spark", activity


def export_store(settings: Settings) -> Path:
    """Copy the store's tables to Parquet for Spark (skipped when up to date)."""
    from tenure.store import analytics

    # checks the store exists and its version
    analytics.open_read_only(settings.analytics_path, settings.store)[0].close()
    folder = settings.store / "spark"
    folder.mkdir(exist_ok=True)
    stamp = folder / ".source-mtime"
    mtime = str(settings.analytics_path.stat().st_mtime_ns)
    if stamp.exists() and stamp.read_text() == mtime:
        return folder
    with analytics.connect(settings.analytics_path, read_only=True) as raw:
        export_tables(raw, folder)
    stamp.write_text(mtime)
    return folder


def export_tables(raw, folder: Path) -> None:
    """Write each kind's table of a DuckDB connection to ``folder/KIND.parquet``,
    and the persisted customer summary when the store has one."""
    from tenure.store import summary

    names = list(KINDS)
    if summary.current(raw):
        names.append(summary.TABLE)
    else:  # an export of a store before its summary
        (folder / f"{summary.TABLE}.parquet").unlink(missing_ok=True)
    for kind in names:
        cols = raw.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = ? ORDER BY ordinal_position",
            [kind],
        ).fetchall()
        keep = ", ".join(q(c) for c, t in cols if t not in _SKIP_TYPES)
        target = folder / f"{kind}.parquet"
        raw.execute(f"COPY (SELECT {keep} FROM {q(kind)}) TO {lit(str(target))} (FORMAT parquet)")
