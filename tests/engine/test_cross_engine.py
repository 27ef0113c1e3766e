"""DuckDB and Spark give the same answers on the demo business, through the
same path a user takes: ``tenure demo``, then ``--engine spark``."""

from __future__ import annotations

import pandas as pd
import pytest

import tenure
from tenure.config import load_settings
from tenure.engine.context import Context, Definitions
from tenure.engine.source import open_source
from tenure.engine.summaries import customer_summary
from tenure.segmentation.business import Thresholds
from tenure.segmentation.sizes import assign

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    # the Python API's ingest: the customer summary is kept in the settings' time zone
    from tenure.analysis.refresh import ingest
    from tenure.datasets.demo import generate_demo
    from tenure.store.workspace import Workspace

    folder = tmp_path_factory.mktemp("cross-engine")
    files = generate_demo(folder / "files", customers=600, seed=11)
    settings = load_settings(
        store=folder / "store", reporting_currency="EUR", timezone="Europe/Berlin"
    )
    from tenure.datamodel import INGEST_ORDER

    with Workspace.open(settings) as ws:
        for kind in INGEST_ORDER:  # rates before money, orders before their items
            assert ingest(kind, files.by_kind()[kind], workspace=ws).rejected == 0
    return settings


def _both(settings, fn):
    out = []
    for engine in ("duckdb", "spark"):
        with open_source(settings, engine=engine) as src:
            out.append(fn(Context(src, Definitions.from_settings(settings))))
    return out


def test_metrics_cohorts_summaries_and_segments_agree(demo_store, spark_con):
    from tenure.engine.cohorts import cohort_matrix
    from tenure.engine.metrics import period_metrics

    def everything(ctx):
        return {
            "month": period_metrics(ctx, "month"),
            "quarter": period_metrics(ctx, "quarter"),
            "cohorts": cohort_matrix(ctx, "quarter", "revenue"),
            "by_country": cohort_matrix(ctx, "quarter", "customers", by="country"),
            "summary": customer_summary(ctx).to_pandas().sort_values("customer_id", ignore_index=True),
            "segments": assign(ctx, Thresholds()).to_pandas()[["customer_id", "rfm", "segment", "value_segment"]]
            .sort_values("customer_id", ignore_index=True),
        }  # fmt: skip

    duck, spark = _both(demo_store, everything)
    assert duck["summary"]["orders"].sum() > 1000  # the demo has real data in it
    for name in duck:
        d, s = duck[name], spark[name]
        if "missing" in d:
            assert list(d["missing"]) == list(s["missing"]), name
            d, s = d.drop(columns="missing"), s.drop(columns="missing")
        for col in d.columns:  # DuckDB gives microseconds, Spark nanoseconds
            if pd.api.types.is_datetime64_any_dtype(d[col]):
                d[col], s[col] = d[col].astype("datetime64[us]"), s[col].astype("datetime64[us]")
        pd.testing.assert_frame_equal(d, s, check_dtype=False, rtol=1e-9, obj=name)


def test_the_cli_runs_on_spark(demo_store, spark_con, cli):
    duck = cli(
        "metrics",
        "--period",
        "year",
        "--store",
        demo_store.store,
        "--timezone",
        "Europe/Berlin",
        "--json",
    )
    spark = cli(
        "metrics", "--period", "year", "--store", demo_store.store, "--timezone", "Europe/Berlin",
        "--engine", "spark", "--master", "local[2]", "--json",
    )  # fmt: skip
    assert duck.code == 0 and spark.code == 0, spark.err
    d, s = duck.json(), spark.json()
    assert s["definitions"]["engine"] == "spark" and d["definitions"]["engine"] == "duckdb"
    assert [r["retention_rate"] for r in d["metrics"]] == pytest.approx(
        [r["retention_rate"] for r in s["metrics"]], nan_ok=True
    )
    # the store was copied to Parquet for Spark, once
    assert (demo_store.store / "spark" / "orders.parquet").exists()


def test_the_python_api_takes_the_engine(demo_store, spark_con):
    spark = tenure.metrics(
        store=demo_store.store, period="quarter", engine="spark", timezone="Europe/Berlin"
    )
    duck = tenure.metrics(store=demo_store.store, period="quarter", timezone="Europe/Berlin")
    assert spark.attrs["definitions"]["engine"] == "spark"
    assert list(spark["revenue"]) == pytest.approx(list(duck["revenue"]))


def test_filters_run_in_either_engine(demo_store, spark_con):
    chosen = {"country": "DE", "segment": "active", "cohort": None}
    common = {"store": demo_store.store, "timezone": "Europe/Berlin", "filters": chosen}
    spark = tenure.metrics(engine="spark", **common)
    duck = tenure.metrics(**common)
    assert spark.attrs["definitions"]["filters"] == {"country": "DE", "segment": "active"}
    for column in ("customers_start", "new_customers", "customers_end", "orders"):
        assert list(spark[column]) == list(duck[column]), column
    assert list(spark["revenue"]) == pytest.approx(list(duck["revenue"]))
    assert (
        0
        < duck["customers_end"].iloc[-1]
        < tenure.metrics(store=demo_store.store, timezone="Europe/Berlin")["customers_end"].iloc[-1]
    )


def test_the_kept_customer_summary_gives_the_same_numbers_on_spark(demo_store, spark_con):
    """Spark reads the summary from the store's export, and its numbers are
    those of the order log on Spark and of the summary on DuckDB."""
    from tenure.engine.summaries import btyd_statistics, purchase_summary

    def frames(ctx):
        return {
            "summary": customer_summary(ctx).to_pandas().sort_values("customer_id", ignore_index=True),
            "purchases": purchase_summary(ctx, time_unit="week").to_pandas()
            .sort_values("customer_id", ignore_index=True),
            "btyd": btyd_statistics(ctx).to_pandas().sort_values(["x", "t_x", "T"], ignore_index=True),
            "segments": assign(ctx, Thresholds()).to_pandas()[["customer_id", "rfm", "value_segment"]]
            .sort_values("customer_id", ignore_index=True),
        }  # fmt: skip

    defs = Definitions.from_settings(demo_store)
    with open_source(demo_store, engine="spark") as src:
        assert src.activity is not None and src.activity_timezone == "Europe/Berlin"
        ctx = Context(src, defs)
        assert ctx.stored_activity is not None
        kept = frames(ctx)
        src.activity = None
        log = frames(Context(src, defs))
    with open_source(demo_store) as src:
        ctx = Context(src, defs)
        assert ctx.stored_activity is not None
        duck = frames(ctx)
    for name in kept:
        k, g, d = kept[name], log[name], duck[name]
        for col in k.columns:  # DuckDB gives microseconds, Spark nanoseconds
            if pd.api.types.is_datetime64_any_dtype(k[col]):
                for f in (k, g, d):
                    f[col] = f[col].astype("datetime64[us]")
        pd.testing.assert_frame_equal(k, g, check_dtype=False, rtol=1e-9, obj=f"{name} log")
        pd.testing.assert_frame_equal(k, d, check_dtype=False, rtol=1e-9, obj=f"{name} duckdb")
