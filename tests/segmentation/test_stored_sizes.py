"""Segment sizes answered by one DuckDB query of the store's persisted
summary (:mod:`tenure.segmentation.stored`, what ``tenure segments`` runs
on a local store) equal RFM and business segments worked out in pandas from
the CDNOW sample's raw orders, and the engine's numbers from the same store;
where the persisted summary cannot answer, the engine does."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pandas as pd
import pytest

import tenure
from tenure.config import load_settings
from tenure.engine.context import Context, Definitions
from tenure.engine.source import open_store
from tenure.segmentation.business import Thresholds
from tenure.segmentation.sizes import column_of, scores, size_rows
from tenure.segmentation.stored import stored_sizes
from tests.conftest import cdnow_sample, demo_store

# The grid of rfm.py's docstring, R -> FM -> segment.
GRID = {
    5: {1: "new", 2: "potential loyalists", 3: "potential loyalists", 4: "champions", 5: "champions"},
    4: {1: "promising", 2: "potential loyalists", 3: "potential loyalists", 4: "champions", 5: "champions"},
    3: {1: "about to sleep", 2: "about to sleep", 3: "need attention", 4: "loyal", 5: "loyal"},
    2: {1: "hibernating", 2: "hibernating", 3: "at risk", 4: "at risk", 5: "at risk"},
    1: {1: "lost", 2: "lost", 3: "at risk", 4: "can't lose them", 5: "can't lose them"},
}  # fmt: skip
THRESHOLDS = {"high_value_top_percent": 10, "at_risk_days": 60, "new_days": 45}


@pytest.fixture(scope="module")
def cdnow(tmp_path_factory):
    """A store of the CDNOW sample's orders (amounts in USD) and the raw frame."""
    from tenure.ingestion.pipeline import ingest
    from tenure.store.workspace import Workspace

    folder = tmp_path_factory.mktemp("cdnow-sizes")
    raw = cdnow_sample("customer_id")
    raw["placed_at"] = pd.to_datetime(raw["date"], format="%Y%m%d").dt.strftime("%Y-%m-%d")
    raw.insert(0, "order_id", [f"o{i}" for i in range(len(raw))])
    path = folder / "cdnow.csv"
    raw[["order_id", "customer_id", "placed_at", "amount"]].to_csv(path, index=False)
    settings = load_settings(store=folder / "store", reporting_currency="USD", **THRESHOLDS)
    with Workspace.open(settings) as ws:
        assert ingest("orders", path, workspace=ws, currency="USD").rejected == 0
    return settings, raw


def _pct_rank(values: pd.Series, ascending: bool = True) -> pd.Series:
    """percent_rank: (rank - 1) / (n - 1), ties at the lowest rank."""
    n = len(values)
    rank = values.rank(method="min", ascending=ascending)
    return (rank - 1) / (n - 1) if n > 1 else rank * 0.0


def _score(pr: pd.Series) -> pd.Series:
    return ((pr * 5).apply(math.floor) + 1).clip(upper=5)


def _by_hand(raw: pd.DataFrame, as_of: date, window: int) -> pd.DataFrame:
    """Per customer, from the raw orders: recency, orders, revenue, tenure,
    active, the RFM segment and the business label (THRESHOLDS)."""
    day = pd.to_datetime(raw["placed_at"]).dt.date
    g = raw.assign(day=day).groupby("customer_id")
    s = pd.DataFrame({
        "recency_days": g["day"].max().map(lambda d: (as_of - d).days),
        "tenure_days": g["day"].min().map(lambda d: (as_of - d).days),
        "orders": g.size(),
        "monetary_total": g["amount"].sum(),
    })  # fmt: skip
    s["r"] = _score(_pct_rank(s["recency_days"], ascending=False))
    s["f"] = _score(_pct_rank(s["orders"]))
    pr_m = _pct_rank(s["monetary_total"])
    s["m"] = _score(pr_m)
    fm = (s["f"] + s["m"] + 1) // 2
    s["segment"] = [GRID[r][x] for r, x in zip(s["r"], fm, strict=True)]
    active = s["recency_days"] <= window - 1
    high = pr_m >= 1 - THRESHOLDS["high_value_top_percent"] / 100 - 1e-12
    s["value_segment"] = [
        "lapsed" if not a else "new" if t < THRESHOLDS["new_days"]
        else "at risk" if rec >= THRESHOLDS["at_risk_days"] else "high value" if h else "active"
        for a, t, rec, h in zip(active, s["tenure_days"], s["recency_days"], high, strict=True)
    ]  # fmt: skip
    return s


def _check(rows: list[dict], expected: pd.DataFrame, column: str) -> None:
    by = expected.groupby(column)
    assert sum(r["customers"] for r in rows) == len(expected)
    for row in rows:
        name = row["segment"]
        if name not in by.groups:
            assert row["customers"] == 0 and row["avg_orders"] is None, name
            continue
        part = by.get_group(name)
        assert row["customers"] == len(part), name
        assert math.isclose(row["revenue"], part["monetary_total"].sum(), rel_tol=1e-9), name
        assert math.isclose(row["avg_recency_days"], part["recency_days"].mean(), rel_tol=1e-12)
        assert math.isclose(row["avg_orders"], part["orders"].mean(), rel_tol=1e-12)
        assert math.isclose(row["share"], len(part) / len(expected) * 100.0, rel_tol=1e-12)


def _same(rows: list[dict], other: list[dict]) -> None:
    """The same sizes; sums of floats to the last bits, which DuckDB's
    parallel sums do not fix."""
    assert [r["segment"] for r in rows] == [r["segment"] for r in other]
    for mine, theirs in zip(rows, other, strict=True):
        assert mine.keys() == theirs.keys()
        for key, value in theirs.items():
            if isinstance(value, float) and not math.isnan(value):
                assert math.isclose(mine[key], value, rel_tol=1e-12), (mine, key)
            else:
                assert mine[key] == value or (value != value and mine[key] != mine[key])


@pytest.mark.parametrize("after", [0, 40])
def test_sizes_from_the_summary_equal_pandas_on_the_cdnow_orders(cdnow, after):
    settings, raw = cdnow
    end = pd.to_datetime(raw["placed_at"]).max().date()
    as_of = end + timedelta(days=after)
    expected = _by_hand(raw, as_of, window=90)
    # a spread over the named segments, and every business label but "new"
    # (the sample's customers all came in the first quarter of 1997)
    assert expected["segment"].nunique() >= 8 and expected["value_segment"].nunique() >= 3
    for kind, column in (("rfm", "segment"), ("business", "value_segment")):
        got = stored_sizes(
            settings, kind, Thresholds.from_settings(settings), activity_window=90,
            as_of=as_of if after else None,
        )  # fmt: skip
        assert got is not None
        rows, definitions = got
        _check(rows, expected, column)
        assert definitions["as_of"] == as_of.isoformat()
        assert definitions["currency"] == "USD" and definitions["activity_window_days"] == 90
        # the library's answer is this one, with the same definitions
        public = tenure.segments(
            store=settings.store, kind=kind, output="records", activity_window=90,
            as_of=as_of.isoformat() if after else None, settings=settings,
        )  # fmt: skip
        _same(list(public), rows)
        assert public.attrs["definitions"] == definitions


@pytest.mark.parametrize("kind", ["rfm", "business"])
@pytest.mark.parametrize("after", [0, 100])
def test_the_query_gives_the_engines_numbers(cdnow, kind, after):
    settings, raw = cdnow
    thresholds = Thresholds.from_settings(settings)
    end = pd.to_datetime(raw["placed_at"]).max().date()
    as_of = end + timedelta(days=after)
    rows, definitions = stored_sizes(settings, kind, thresholds, as_of=as_of, activity_window=30)
    defs = Definitions.from_settings(settings, activity_window=30, as_of=as_of)
    with open_store(settings) as src:
        ctx = Context(src, defs)
        assert ctx.stored_activity is not None  # both read the persisted summary
        engine = size_rows(scores(ctx, thresholds), *column_of(kind))
        assert definitions == ctx.describe()
    _same(rows, engine)


def test_what_the_summary_cannot_answer_goes_to_the_engine(cdnow, tmp_path_factory):
    settings, raw = cdnow
    thresholds = Thresholds.from_settings(settings)
    end = pd.to_datetime(raw["placed_at"]).max().date()
    # before the last purchase: the order log answers
    before = end - timedelta(days=200)
    assert stored_sizes(settings, "rfm", thresholds, as_of=before) is None
    expected = _by_hand(raw[pd.to_datetime(raw["placed_at"]).dt.date <= before], before, 365)
    _check(tenure.segments(store=settings.store, as_of=before, output="records",
                           settings=settings), expected, "segment")  # fmt: skip
    # another time zone than the summary's, and more than a year on
    assert stored_sizes(settings, "rfm", thresholds, timezone="Asia/Tokyo") is None
    assert stored_sizes(settings, "rfm", thresholds, as_of=end + timedelta(days=400)) is None
    with pytest.raises(tenure.ConfigError, match="more than a year after"):
        tenure.segments(store=settings.store, as_of=end + timedelta(days=400), settings=settings)
    # a store with subscriptions counts them as activity: the engine answers
    demo = demo_store(tmp_path_factory.mktemp("sizes-subs"), customers=200, seed=3)[0]
    assert stored_sizes(demo, "business", Thresholds()) is None
    got = tenure.segments(store=demo.store, kind="business", output="records")
    assert got.attrs["definitions"]["active_by"] == "either"
    by_purchase = stored_sizes(demo, "business", Thresholds(), active_by="purchase")
    assert by_purchase is not None and by_purchase[1]["active_by"] == "purchase"
