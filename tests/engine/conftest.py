"""One test, every engine: the ``backend`` fixture runs a test on DuckDB and
on Spark (``local[2]``), on the same tables built with the store's own DDL."""

from __future__ import annotations

import shutil
import uuid

import duckdb
import ibis
import pandas as pd
import pytest

from tenure.datamodel import KINDS
from tenure.engine.context import Context, Definitions
from tenure.engine.source import Source
from tenure.store import analytics
from tests.conftest import skip_or_fail

DEFAULTS = {
    "orders": {"status": "completed", "currency": "EUR"},
    "subscriptions": {"currency": "EUR"},
}


@pytest.fixture(scope="session")
def spark_con(tmp_path_factory):
    """One SparkSession for the whole test run, with its own warehouse folder."""
    if shutil.which("java") is None:
        skip_or_fail("Java is not installed, so Spark cannot start")
    try:
        import pyspark  # noqa: F401
    except ImportError:
        skip_or_fail("pyspark is not installed (pip install 'tenure[spark]')")
    from tenure.engine.spark import session

    spark = session("local[2]", warehouse=tmp_path_factory.mktemp("spark-warehouse"))
    yield ibis.pyspark.connect(spark)
    spark.stop()


def duckdb_tables(**frames: pd.DataFrame) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the store's tables, filled from ``frames``."""
    raw = duckdb.connect()
    raw.execute("SET TimeZone = 'UTC'")
    analytics.create_schema(raw, "EUR")
    for kind, frame in frames.items():
        frame = frame.copy()
        for col, value in DEFAULTS.get(kind, {}).items():
            if col not in frame:
                frame[col] = value
        for amount in KINDS[kind].converted:
            if amount in frame and f"{amount}_reporting" not in frame:
                frame[f"{amount}_reporting"] = frame[amount]
        raw.register("frame", frame)
        raw.execute(f'INSERT INTO "{kind}" BY NAME SELECT * FROM frame')
        raw.unregister("frame")
    return raw


class Backend:
    def __init__(self, name: str, request, tmp_path_factory) -> None:
        self.name = name
        self._request = request
        self._tmp = tmp_path_factory

    def source(self, **frames: pd.DataFrame) -> Source:
        raw = duckdb_tables(**frames)
        if self.name == "duckdb":
            return Source(ibis.duckdb.from_connection(raw), {k: k for k in KINDS})
        from tenure.engine.spark import export_tables

        con = self._request.getfixturevalue("spark_con")
        folder = self._tmp.mktemp(f"tables-{uuid.uuid4().hex[:8]}")
        export_tables(raw, folder)
        raw.close()
        return Source(con, {k: con.read_parquet(str(folder / f"{k}.parquet")) for k in KINDS})

    def context(self, defs: Definitions | None = None, **frames: pd.DataFrame) -> Context:
        return Context(self.source(**frames), defs)


@pytest.fixture(params=["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def backend(request, tmp_path_factory) -> Backend:
    return Backend(request.param, request, tmp_path_factory)


def orders_frame(rows: list[tuple], columns=("order_id", "customer_id", "placed_at", "amount")):
    """Orders from tuples; ``status`` may be a fifth column."""
    frame = pd.DataFrame(rows, columns=list(columns)[: len(rows[0])] if rows else columns)
    frame["placed_at"] = pd.to_datetime(frame["placed_at"], format="ISO8601")
    return frame
