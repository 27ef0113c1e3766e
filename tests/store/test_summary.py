"""The persisted customer summary: after each of several ingests (new
orders, updated amounts, customers and statuses, refunds, order lines) it
equals one rebuilt from the whole log, the engine gives the same numbers
from it as from the log, and those are lifetimes' on the CDNOW log."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd
import pytest

from tenure.config import load_settings
from tenure.engine.context import Context, Definitions
from tenure.engine.source import open_store
from tenure.engine.summaries import btyd_statistics, customer_summary, purchase_summary
from tenure.ingestion.pipeline import ingest
from tenure.store import summary
from tenure.store.workspace import Workspace
from tests.conftest import import_lifetimes, lifetimes_dir
from tests.store.summary_reference import select_sql


def _cdnow() -> pd.DataFrame:
    path = lifetimes_dir() / "datasets" / "CDNOW_master.txt"
    frame = pd.read_csv(path, sep=r"\s+", dtype={"customer_id": str, "date": str})
    frame.insert(0, "order_id", [f"o{i}" for i in range(len(frame))])
    frame["placed_at"] = pd.to_datetime(frame["date"], format="%Y%m%d").dt.strftime("%Y-%m-%d")
    frame["status"] = "completed"
    return frame[["order_id", "customer_id", "placed_at", "status", "dollar_value"]]


def _ingest(ws, tmp_path, kind: str, frame: pd.DataFrame, name: str) -> None:
    path = tmp_path / f"{name}.csv"
    frame.to_csv(path, index=False)
    mapped = ["dollar_value=amount"] if kind == "orders" else None
    result = ingest(kind, path, workspace=ws, map=mapped, currency="USD")
    assert result.rejected == 0, result.errors


def _differences(settings) -> tuple[int, int, int]:
    """Rows of the kept summary not in a rebuilt one, the other way round,
    and the kept summary's rows."""
    con = duckdb.connect(str(settings.analytics_path), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        rebuilt = select_sql(summary.current(con))
        kept = f"SELECT * EXCLUDE (_ingest_id) FROM {summary.TABLE}"
        rebuilt = f"SELECT * EXCLUDE (_ingest_id) FROM ({rebuilt})"
        extra = con.execute(f"SELECT count(*) FROM (({kept}) EXCEPT ALL ({rebuilt}))").fetchone()[0]
        lost = con.execute(f"SELECT count(*) FROM (({rebuilt}) EXCEPT ALL ({kept}))").fetchone()[0]
        rows = con.execute(f"SELECT count(*) FROM {summary.TABLE}").fetchone()[0]
    finally:
        con.close()
    return extra, lost, rows


def _frames(ctx: Context) -> dict[str, pd.DataFrame]:
    by_id = {"ignore_index": True}
    return {
        "summary": customer_summary(ctx).to_pandas().sort_values("customer_id", **by_id),
        "week": purchase_summary(ctx, time_unit="week")
        .to_pandas()
        .sort_values("customer_id", **by_id),
        "btyd": btyd_statistics(ctx).to_pandas().sort_values(["x", "t_x", "T"], **by_id),
    }


def _both_paths(settings, defs: Definitions) -> tuple[dict, dict, Context]:
    """The engine's frames from the kept summary and from the log."""
    with open_store(settings) as src:
        stored = Context(src, defs)
        assert stored.stored_activity is not None
        a = _frames(stored)
        as_of = stored.as_of
        src.activity = None  # as a store without the summary
        log = Context(src, defs)
        assert log.stored_activity is None and log.as_of == as_of
        b = _frames(log)
    return a, b, stored


def _assert_same(a: dict, b: dict) -> None:
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=False, rtol=1e-12)


@pytest.fixture(scope="module")
def incremental(tmp_path_factory):
    """CDNOW ingested in two parts, then updated orders, a late refund, and
    order lines ingested and updated; the summary checked after each ingest."""
    tmp_path = tmp_path_factory.mktemp("summary")
    settings = load_settings(store=tmp_path / "store")
    log = _cdnow()
    checks = []
    with Workspace.open(settings) as ws:
        _ingest(ws, tmp_path, "orders", log.iloc[:40_000], "first")
        checks.append(_differences(settings))
        _ingest(ws, tmp_path, "orders", log.iloc[40_000:], "second")
        checks.append(_differences(settings))
        changed = log.iloc[[5, 6, 7, 100, 101, 2_000, 3_000, 41_000, 50_000, 60_000]].copy()
        changed["dollar_value"] = changed["dollar_value"] + 7.5  # amounts
        changed.iloc[3:6, changed.columns.get_loc("customer_id")] = "00001"  # moved
        changed.iloc[6, changed.columns.get_loc("status")] = "refunded"
        changed.iloc[7, changed.columns.get_loc("status")] = "cancelled"
        changed.iloc[8, changed.columns.get_loc("status")] = "partially_refunded"
        late = pd.DataFrame(  # a refund after the last purchase in the log
            [["late1", "00002", "1998-07-20", "refunded", 15.0]], columns=log.columns
        )
        _ingest(ws, tmp_path, "orders", pd.concat([changed, late]), "updates")
        checks.append(_differences(settings))
        firsts = log.groupby("customer_id").head(1).iloc[:3_000]
        items = pd.DataFrame(
            {
                "order_id": list(firsts["order_id"]) * 2,
                "product_id": ["p1"] * len(firsts) + ["p2"] * len(firsts),
                "category": ["rock"] * len(firsts) + ["jazz"] * len(firsts),
                "quantity": [1] * len(firsts) + [2] * len(firsts),
                "unit_price": [10.0] * len(firsts) + [5.0] * len(firsts),  # a tie: jazz
            }
        )
        _ingest(ws, tmp_path, "order_items", items, "items")
        checks.append(_differences(settings))
        items = items.iloc[:500].assign(quantity=3)  # rock now the larger
        _ingest(ws, tmp_path, "order_items", items, "items-updated")
        checks.append(_differences(settings))
        moved = log.iloc[[10]].assign(customer_id="00003")  # a first-day order with lines
        _ingest(ws, tmp_path, "orders", moved, "moved")
        checks.append(_differences(settings))
    return settings, checks, log


def test_each_ingest_leaves_the_summary_equal_to_a_rebuilt_one(incremental):
    settings, checks, log = incremental
    customers = log["customer_id"].nunique()
    assert [(extra, lost) for extra, lost, _ in checks] == [(0, 0)] * len(checks)
    first_part = log.iloc[:40_000]["customer_id"].nunique()
    # every customer with an order, no one twice
    assert [rows for *_, rows in checks] == [first_part] + [customers] * (len(checks) - 1)
    con = duckdb.connect(str(settings.analytics_path), read_only=True)
    try:
        meta = dict(con.execute("SELECT key, value FROM _tenure_meta").fetchall())
        moved_to = con.execute(
            "SELECT orders, all_orders FROM customer_activity WHERE customer_id = '00001'"
        ).fetchone()
        counts = con.execute(
            "SELECT sum(refunded_orders), sum(cancelled_orders), sum(all_orders) "
            "FROM customer_activity"
        ).fetchone()
        kept = dict(
            con.execute(
                "SELECT customer_id, first_category FROM customer_activity "
                "WHERE first_category IS NOT NULL"
            ).fetchall()
        )
        orders = con.execute(
            "SELECT order_id, customer_id, CAST(placed_at AS DATE) AS day, status FROM orders"
        ).df()
        items = con.execute(
            "SELECT order_id, category, CAST(unit_price AS DOUBLE) * quantity AS value "
            "FROM order_items"
        ).df()
    finally:
        con.close()
    assert (meta["summary_version"], meta["summary_timezone"]) == (summary.VERSION, "UTC")
    # three orders of others moved to customer 00001
    assert moved_to == ((log["customer_id"] == "00001").sum() + 3,) * 2
    # 1 refunded + 1 late refund + 1 partially refunded; 1 cancelled; the late order
    assert counts == (3, 1, len(log) + 1)
    # first categories worked out with pandas: the largest value among the
    # lines of the first purchase day's orders, ties alphabetical
    bought = orders[orders["status"].isin(["completed", "pending", "partially_refunded"])]
    first = bought[bought["day"] == bought.groupby("customer_id")["day"].transform("min")]
    lines = items.merge(first, on="order_id")
    per = lines.groupby(["customer_id", "category"], as_index=False)["value"].sum()
    per = per.sort_values(["customer_id", "value", "category"], ascending=[True, False, True])
    expected = per.groupby("customer_id").head(1).set_index("customer_id")["category"]
    assert kept == expected.to_dict()
    assert sorted(set(kept.values())) == ["jazz", "rock"]


def test_the_engine_reads_the_same_numbers_from_the_summary_as_from_the_log(incremental):
    settings, _, _ = incremental
    a, b, ctx = _both_paths(settings, Definitions())
    _assert_same(a, b)
    s = a["summary"].set_index("customer_id")
    # the late refund is after the data's end: not counted, as from the log
    assert ctx.as_of == date(1998, 6, 30)
    assert s.loc["00002", "refunded_orders"] == 0
    assert set(s["first_category"].dropna()) == {"jazz", "rock"}


def test_an_as_of_after_the_late_refund_counts_it_from_the_summary(incremental):
    settings, _, _ = incremental
    a, b, _ = _both_paths(settings, Definitions(as_of=date(1998, 8, 1)))
    _assert_same(a, b)
    s = a["summary"].set_index("customer_id")
    assert (s.loc["00002", "refunded_orders"], s.loc["00002", "refunded_amount"]) == (1, 15.0)


def test_an_earlier_as_of_another_time_zone_or_a_filter_read_the_log(incremental):
    settings, _, _ = incremental
    with open_store(settings) as src:
        assert Context(src, Definitions(as_of=date(1998, 1, 1))).stored_activity is None
        assert Context(src, Definitions(timezone="Europe/Berlin")).stored_activity is None
        from tenure.analysis.filters import filtered_source

        customers = src.table("customers")
        narrowed = filtered_source(src, customers.filter(customers.customer_id < "01000"))
        assert Context(narrowed).stored_activity is None


def test_a_summary_rebuilt_in_another_time_zone_answers_that_zone(incremental, tmp_path):
    import shutil

    settings, _, _ = incremental
    copy = load_settings(store=tmp_path / "store", timezone="America/Los_Angeles")
    shutil.copytree(settings.store, copy.store)
    con = duckdb.connect(str(copy.analytics_path))
    con.execute("SET TimeZone = 'UTC'")
    summary.rebuild(con, "America/Los_Angeles")
    con.close()
    defs = Definitions(timezone="America/Los_Angeles")
    a, b, ctx = _both_paths(copy, defs)
    _assert_same(a, b)
    # midnight UTC is the evening before in Los Angeles
    assert ctx.as_of == date(1998, 6, 29)


def test_the_summary_matches_lifetimes_on_the_cdnow_log(incremental):
    settings, _, _ = incremental
    lifetimes = import_lifetimes()
    con = duckdb.connect(str(settings.analytics_path), read_only=True)
    try:
        purchases = con.execute(
            "SELECT customer_id, placed_at, CAST(amount_reporting AS DOUBLE) AS amount "
            "FROM orders WHERE status IN ('completed', 'pending', 'partially_refunded')"
        ).df()
    finally:
        con.close()
    ref = lifetimes.utils.summary_data_from_transaction_data(
        purchases,
        "customer_id",
        "placed_at",
        monetary_value_col="amount",
        observation_period_end="1998-06-30",
        freq="D",
    )
    a, _, _ = _both_paths(settings, Definitions())
    with open_store(settings) as src:
        days = purchase_summary(Context(src)).to_pandas().set_index("customer_id")
    days = days.loc[ref.index]
    assert (days["x"].to_numpy() == ref["frequency"].to_numpy()).all()
    assert (days["t_x"].to_numpy() == ref["recency"].to_numpy()).all()
    assert (days["T"].to_numpy() == ref["T"].to_numpy()).all()
    repeat = days["monetary_avg_repeat"].fillna(0.0).to_numpy()
    assert repeat == pytest.approx(ref["monetary_value"].to_numpy(), rel=1e-9, abs=1e-9)
    weeks = a["week"].set_index("customer_id").loc[ref.index]
    assert weeks["T"].to_numpy() == pytest.approx(ref["T"].to_numpy() / 7.0)


def test_a_store_from_before_the_summary_reads_the_log_until_migrated(cli, tmp_path):
    orders = tmp_path / "o.csv"
    _cdnow().iloc[:2_000].to_csv(orders, index=False)
    store = tmp_path / "store"
    assert (
        cli("ingest", "orders", orders, "--map", "dollar_value=amount", "--store", store).code == 0
    )
    con = duckdb.connect(str(store / "analytics.duckdb"))
    con.execute(f"DROP TABLE {summary.TABLE}")
    con.execute("DELETE FROM _tenure_meta WHERE key LIKE 'summary_%'")
    con.close()
    settings = load_settings(store=store)
    with open_store(settings) as src:
        assert src.activity is None
        log = _frames(Context(src))
    r = cli("migrate", "--store", store, "--json")
    assert r.code == 0 and r.json()["summary_rebuilt"] is True
    assert _differences(settings)[:2] == (0, 0)
    with open_store(settings) as src:
        ctx = Context(src)
        assert ctx.stored_activity is not None
        _assert_same(_frames(ctx), log)
    assert cli("migrate", "--store", store, "--json").json()["summary_rebuilt"] is False


def test_later_orders_added_to_kept_rows_equal_a_rebuild(tmp_path):
    """A batch of later orders is added to the customers' kept rows without
    reading their earlier orders; an order on a day already kept is
    recomputed from the log instead. Both give the values worked by hand."""
    cols = ["order_id", "customer_id", "placed_at", "status", "dollar_value"]
    first = pd.DataFrame(
        [
            ["a1", "A", "2024-01-01", "completed", 10.0],
            ["a2", "A", "2024-01-05", "completed", 20.0],
            ["b1", "B", "2024-01-02", "cancelled", 5.0],
            ["c1", "C", "2024-01-03", "completed", 7.0],
            ["c2", "C", "2024-01-10", "refunded", 3.0],
            ["d1", "D", "2024-01-04", "completed", 1.0],
        ],
        columns=cols,
    )
    later = pd.DataFrame(
        [
            ["a3", "A", "2024-02-01 09:00", "completed", 30.0],
            ["a4", "A", "2024-02-01 18:00", "pending", 5.0],
            ["b2", "B", "2024-02-02", "completed", 8.0],  # a first purchase
            ["c3", "C", "2024-01-10", "completed", 4.0],  # the day of a kept order
            ["e1", "E", "2024-02-03", "completed", 2.5],  # a new customer
            ["e2", "E", "2024-02-03", "refunded", 1.0],
        ],
        columns=cols,
    )
    settings = load_settings(store=tmp_path / "store")
    with Workspace.open(settings) as ws:
        _ingest(ws, tmp_path, "orders", first, "first")
        _ingest(ws, tmp_path, "orders", later, "later")
    assert _differences(settings) == (0, 0, 5)
    con = duckdb.connect(str(settings.analytics_path), read_only=True)
    try:
        rows = con.execute(
            "SELECT customer_id, first_date, CAST(last_order_at AS VARCHAR), purchase_days, "
            "orders, CAST(total AS DOUBLE), CAST(first_day_amount AS DOUBLE), first_day_orders, "
            "all_orders, refunded_orders, CAST(refunded_amount AS DOUBLE), cancelled_orders "
            "FROM customer_activity ORDER BY customer_id"
        ).fetchall()
    finally:
        con.close()
    d = date
    assert rows == [
        ("A", d(2024, 1, 1), "2024-02-01 18:00:00", 3, 4, 65.0, 10.0, 1, 4, 0, 0.0, 0),
        ("B", d(2024, 2, 2), "2024-02-02 00:00:00", 1, 1, 8.0, 8.0, 1, 2, 0, 0.0, 1),
        ("C", d(2024, 1, 3), "2024-01-10 00:00:00", 2, 2, 11.0, 7.0, 1, 3, 1, 3.0, 0),
        ("D", d(2024, 1, 4), "2024-01-04 00:00:00", 1, 1, 1.0, 1.0, 1, 1, 0, 0.0, 0),
        ("E", d(2024, 2, 3), "2024-02-03 00:00:00", 1, 1, 2.5, 2.5, 1, 2, 1, 1.0, 0),
    ]


@pytest.mark.parametrize("zone", ["UTC", "America/Los_Angeles"])
@pytest.mark.parametrize("memory", ["", "48MB"], ids=["as-set", "small-memory-limit"])
@pytest.mark.parametrize("sorted_days", [True, False], ids=["sorted-here", "grouped-in-engine"])
def test_a_rebuild_equals_the_summary_grouped_per_day(
    incremental, tmp_path, zone, memory, sorted_days, monkeypatch
):
    """The rebuild groups the purchases per customer alone, then counts the
    days of the customers with several purchases on one day, found from
    hashes sorted here or grouped in the engine: the rows of the query
    grouping per customer and day, on a log with refunds, cancellations,
    several orders on a first day and order lines, also under a small
    memory limit on one thread."""
    import shutil

    if sorted_days:  # whatever the number of purchases
        monkeypatch.setattr(summary, "MIN_SORTED_DAYS", 0)
    else:
        monkeypatch.setattr(summary, "MAX_SORTED_DAYS", 0)
    settings, _, _ = incremental
    shutil.copytree(settings.store, tmp_path / "store")
    con = duckdb.connect(str(load_settings(store=tmp_path / "store").analytics_path))
    try:
        con.execute("SET TimeZone = 'UTC'")
        if memory:
            con.execute(f"SET memory_limit = '{memory}'")
            con.execute("SET threads = 1")
        summary.rebuild(con, zone)
        kept = f"SELECT * EXCLUDE (_ingest_id) FROM {summary.TABLE}"
        grouped = f"SELECT * EXCLUDE (_ingest_id) FROM ({select_sql(zone)})"
        for a, b in ((kept, grouped), (grouped, kept)):
            assert con.execute(f"SELECT count(*) FROM (({a}) EXCEPT ALL ({b}))").fetchone() == (0,)
        several, categories, refunded, cancelled, rows = con.execute(
            "SELECT count(*) FILTER (WHERE first_day_orders > 1), count(first_category), "
            "count(*) FILTER (WHERE refunded_orders > 0), "
            "count(*) FILTER (WHERE cancelled_orders > 0), count(*) FROM customer_activity"
        ).fetchone()
    finally:
        con.close()
    assert rows == 23_570 and several > 100 and categories > 2_900  # some orders moved
    assert refunded >= 2 and cancelled >= 1
