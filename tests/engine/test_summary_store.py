"""The demo business (customers with countries, subscriptions, refunds and
order lines) gives the same summaries, segments, fits' statistics, metrics
and cohorts from the store's kept customer summary as from the order log."""

from __future__ import annotations

import pandas as pd
import pytest

from tenure.engine.cohorts import cohort_matrix
from tenure.engine.context import Context, Definitions
from tenure.engine.metrics import period_metrics
from tenure.engine.source import open_store, store_tables
from tenure.engine.summaries import btyd_statistics, customer_summary, purchase_summary
from tenure.segmentation.business import Thresholds
from tenure.segmentation.sizes import assign
from tests.conftest import demo_store


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    return demo_store(tmp_path_factory.mktemp("summary-demo"), customers=300, seed=21)[0]


def _everything(ctx: Context) -> dict[str, pd.DataFrame]:
    by_id = {"ignore_index": True}
    return {
        "summary": customer_summary(ctx, cohort_period="quarter")
        .to_pandas()
        .sort_values("customer_id", **by_id),
        "purchases": purchase_summary(ctx).to_pandas().sort_values("customer_id", **by_id),
        "btyd": btyd_statistics(ctx, time_unit="week")
        .to_pandas()
        .sort_values(["x", "t_x", "T"], **by_id),
        "segments": assign(ctx, Thresholds()).to_pandas().sort_values("customer_id", **by_id),
        "metrics": period_metrics(ctx, "quarter").drop(columns="missing"),
        "cohorts": cohort_matrix(ctx, "quarter", "revenue"),
        "categories": cohort_matrix(ctx, "quarter", "customers", by="first_category"),
    }


@pytest.mark.parametrize("active_by", ["auto", "purchase"])
def test_the_kept_summary_and_the_log_give_the_same_numbers(settings, active_by):
    defs = Definitions.from_settings(settings, active_by=active_by)
    with open_store(settings) as src:
        ctx = Context(src, defs)
        assert ctx.stored_activity is not None
        kept = _everything(ctx)
        src.activity = None
        log = _everything(Context(src, defs))
    assert kept["summary"]["refunded_orders"].sum() > 0  # the demo refunds some orders
    assert kept["summary"]["first_category"].notna().sum() > 100
    for name in kept:
        pd.testing.assert_frame_equal(kept[name], log[name], check_exact=False, rtol=1e-12)


def test_the_store_tables_read_in_one_query_are_ibis_own(settings):
    """open_store reads every schema in one query; Ibis' con.table reads
    each on its own: the same tables, the same SQL."""
    with open_store(settings) as src:
        con = src.con
        names = ("orders", "customers", "subscriptions", "order_items", "customer_activity")
        ours = store_tables(con, con.con, (*names, "no_such_table"))
        assert set(ours) == set(names)
        for name in names:
            theirs = con.table(name)
            assert ours[name].schema() == theirs.schema()
            assert len(ours[name].schema()) > 1
            assert con.compile(ours[name].limit(3)) == con.compile(theirs.limit(3))
            assert src.value(ours[name].count()) == src.value(theirs.count()) > 0
