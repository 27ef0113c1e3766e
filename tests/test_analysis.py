"""The Python API over the engine: ``tenure.metrics``, ``cohorts``,
``customer_summary`` and ``segments`` on DataFrames, files, dicts of kinds
and the store, worked out by hand."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

import tenure
from tenure.analysis import segments
from tenure.errors import ConfigError, TenureError
from tests.conftest import write

# Customers A-E, as in tests/cli/test_engine_commands.py; as of 2025-06-30.
SHOP = [
    ("1", "A", "2025-01-10 09:00", 100.0),
    ("2", "B", "2025-02-15 09:00", 40.0),
    ("3", "A", "2025-03-15 09:00", 50.0),
    ("4", "C", "2025-03-20 09:00", 60.0),
    ("5", "C", "2025-06-10 09:00", 20.0),
    ("6", "D", "2025-06-05 09:00", 80.0),
    ("7", "E", "2025-06-30 09:00", 30.0),
]


def _orders(rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["order_id", "customer_id", "placed_at", "amount"])
    frame["placed_at"] = pd.to_datetime(frame["placed_at"])
    return frame


def _csv(rows) -> str:
    return "order_id,customer_id,placed_at,amount\n" + "".join(
        f"{o},{c},{t},{a}\n" for o, c, t, a in rows
    )


# -- metrics -----------------------------------------------------------------------


def test_metrics_of_a_dataframe_by_hand():
    m = tenure.metrics(_orders(SHOP), period="quarter").set_index("period")
    assert list(m.index) == ["2025-Q1", "2025-Q2"]
    q2 = m.loc["2025-Q2"]
    # S = 3 (A, B, C), N = 2 (D, E), E = 5, L = 0, R = 0
    assert (q2.customers_start, q2.new_customers, q2.customers_end) == (3, 2, 5)
    assert (q2.lost_customers, q2.reactivated_customers) == (0, 0)
    # but the data begins on 2025-01-10: with a 365-day window nobody could
    # have lapsed by April, so (5 - 2) / 3 = 100 % would say nothing
    assert math.isnan(q2.retention_rate) and math.isnan(q2.churn_rate)
    assert "365-day activity window" in q2.missing["retention_rate"]
    assert (q2.orders, q2.revenue) == (3, 130.0)
    assert m.loc["2025-Q1", "aov"] == pytest.approx(250 / 4)
    assert m.attrs["definitions"]["active_customer"] == "a purchase in the 365 days up to the date"
    assert m.attrs["definitions"]["as_of"] == "2025-06-30"
    assert m.attrs["period"] == "quarter"


def test_an_as_of_date_up_to_a_year_after_the_data_and_not_later():
    # the data ends 2025-06-30: a year and a day on is allowed, the day after is not
    m = tenure.metrics(_orders(SHOP), period="quarter", as_of="2026-07-01")
    assert m["period"].iloc[-1] == "2026-Q2" and m["customers_end"].iloc[-1] == 0
    with pytest.raises(ConfigError, match="more than a year after the last day of the data"):
        tenure.metrics(_orders(SHOP), period="quarter", as_of="2026-07-02")


def test_metrics_of_a_dataframe_equal_metrics_of_the_store(tmp_path):
    frame = _orders(SHOP)
    store = tmp_path / "store"
    result = tenure.ingest("orders", frame, store=store)
    assert result.inserted == len(SHOP)
    for period, window in (("month", None), ("quarter", 30)):
        direct = tenure.metrics(frame, period=period, activity_window=window)
        stored = tenure.metrics(store=store, period=period, activity_window=window)
        pd.testing.assert_frame_equal(direct, stored)
        assert direct.attrs["definitions"] == stored.attrs["definitions"]


def test_metrics_as_arrow_carry_the_definitions():
    frame = _orders(SHOP)
    table = tenure.metrics(frame, period="quarter", output="arrow")
    assert isinstance(table, pa.Table)
    assert table.column("period").to_pylist() == ["2025-Q1", "2025-Q2"]
    assert table.column("customers_end").to_pylist() == [3, 5]
    assert table.column("revenue").to_pylist() == [250.0, 130.0]
    assert table.column("reactivated_customers").to_pylist() == [0, 0]
    # Q1 has no one active at its start: missing, not 0
    first = table.column("retention_rate")[0]
    assert not first.is_valid or math.isnan(first.as_py())
    missing = json.loads(table.column("missing")[0].as_py())
    assert missing["retention_rate"] == "no customers were active at the start of this period"
    meta = json.loads(table.schema.metadata[b"tenure"])
    assert meta["period"] == "quarter"
    assert meta["definitions"]["active_customer"] == "a purchase in the 365 days up to the date"
    assert meta["definitions"]["activity_window_days"] == 365
    # the same values as the pandas output
    pandas = tenure.metrics(frame, period="quarter")
    for col in ("customers_start", "new_customers", "orders", "revenue", "aov"):
        assert table.column(col).to_pylist() == pytest.approx(pandas[col].tolist())


def test_metrics_from_a_dict_of_kinds_give_the_referral_rate():
    # January acquires R1, R2 (referred by R1) and R5 (referred by R1): 2 of 3.
    # February acquires R3 (referred by R2) and R4, who is not in the customers
    # file and so has no referrer: 1 of 2. March acquires no one.
    orders = _orders(
        [
            ("1", "R1", "2025-01-05 10:00", 10.0),
            ("2", "R2", "2025-01-20 10:00", 10.0),
            ("3", "R5", "2025-01-25 10:00", 10.0),
            ("4", "R3", "2025-02-10 10:00", 10.0),
            ("5", "R4", "2025-02-12 10:00", 10.0),
            ("6", "R1", "2025-03-31 10:00", 10.0),
        ]
    )
    customers = pd.DataFrame(
        {
            "customer_id": ["R1", "R2", "R3", "R5"],
            "referred_by": [None, "R1", "R2", "R1"],
        }
    )
    m = tenure.metrics({"orders": orders, "customers": customers}).set_index("period")
    assert list(m.index) == ["2025-01", "2025-02", "2025-03"]
    assert m.loc["2025-01", "referral_rate"] == pytest.approx(200 / 3)
    assert m.loc["2025-02", "referral_rate"] == pytest.approx(50.0)
    assert math.isnan(m.loc["2025-03", "referral_rate"])
    assert (
        m.loc["2025-03", "missing"]["referral_rate"] == "no customers were acquired in this period"
    )
    # without the customers the rate is missing, with the reason
    alone = tenure.metrics(orders).set_index("period")
    assert math.isnan(alone.loc["2025-01", "referral_rate"])
    assert "referred_by" in alone.loc["2025-01", "missing"]["referral_rate"]


def test_metrics_in_the_business_time_zone():
    # 23:30 UTC on 31 January is 00:30 on 1 February in Berlin
    orders = _orders(
        [
            ("1", "A", "2025-01-31T23:30:00Z", 10.0),
            ("2", "B", "2025-01-15T12:00:00Z", 10.0),
            ("3", "B", "2025-02-28T12:00:00Z", 10.0),
        ]
    )
    utc = tenure.metrics(orders)
    berlin = tenure.metrics(orders, timezone="Europe/Berlin")
    assert utc["orders"].tolist() == [2, 1]
    assert berlin["orders"].tolist() == [1, 2]
    assert berlin.attrs["definitions"]["timezone"] == "Europe/Berlin"
    # a time without an offset is read in the business's time zone: 23:30 in Berlin
    naive = _orders([(i, c, ts.replace("T", " ").rstrip("Z")[:16], a) for i, c, ts, a in
                     [("1", "A", "2025-01-31T23:30:00Z", 10.0), ("2", "B", "2025-01-15T12:00:00Z", 10.0),
                      ("3", "B", "2025-02-28T12:00:00Z", 10.0)]])  # fmt: skip
    assert tenure.metrics(naive, timezone="Europe/Berlin")["orders"].tolist() == [2, 1]


def test_unknown_time_zone_raises_config_error():
    with pytest.raises(ConfigError) as info:
        tenure.metrics(_orders(SHOP[:3]), timezone="Mars/Base")
    assert "'Mars/Base'" in info.value.what
    assert info.value.hint


# -- cohorts -----------------------------------------------------------------------


def test_cohorts_from_a_file_path():
    # Quarterly cohorts: 2025-Q1 {A, B, C}, of whom only C buys again in Q2;
    # 2025-Q2 {D, E}, with no complete quarter after it.
    write(Path("orders.csv"), _csv(SHOP))  # in the test's working folder
    c = tenure.cohorts("orders.csv", period="quarter")
    assert list(c.columns) == ["cohort", "size", "0", "1"]
    assert c["cohort"].tolist() == ["2025-Q1", "2025-Q2"]
    assert c["size"].tolist() == [3, 2]
    assert c["0"].tolist() == [100.0, 100.0]
    assert c.loc[0, "1"] == pytest.approx(100 / 3)
    assert math.isnan(c.loc[1, "1"])
    assert c.attrs["value"] == "customers" and c.attrs["period"] == "quarter"


def test_cohorts_of_cumulative_revenue(tmp_path):
    # 2025-Q1 {A, B, C}: 250 in Q1, 20 more (C) in Q2 -> per customer 250/3, 270/3
    path = write(tmp_path / "orders.csv", _csv(SHOP))
    c = tenure.cohorts(path, period="quarter", value="cumulative_revenue")
    assert c.loc[0, "0"] == pytest.approx(250 / 3)
    assert c.loc[0, "1"] == pytest.approx(270 / 3)
    assert c.loc[1, "0"] == pytest.approx(55.0)  # D 80 + E 30, over 2


# -- customer summary --------------------------------------------------------------

# As of 2025-03-12, the latest purchase:
#   K1 buys on 01-01 (twice), 01-15 and 02-12: 3 purchase days, x = 2;
#      t_x = 02-12 - 01-01 = 42 days; T = 03-12 - 01-01 = 70; recency 28
#   K2 buys once on 02-05: x = 0, t_x = 0, T = 35, recency 35
#   K3 buys on 03-05 and 03-12: x = 1, t_x = 7, T = 7, recency 0
SUMMARY = [
    ("1", "K1", "2025-01-01 10:00", 20.0),
    ("2", "K1", "2025-01-01 15:00", 10.0),
    ("3", "K1", "2025-01-15 09:00", 30.0),
    ("4", "K1", "2025-02-12 09:00", 40.0),
    ("5", "K2", "2025-02-05 09:00", 15.0),
    ("6", "K3", "2025-03-05 09:00", 50.0),
    ("7", "K3", "2025-03-12 09:00", 25.0),
]


def test_customer_summary_by_hand():
    s = tenure.customer_summary(_orders(SUMMARY)).set_index("customer_id")
    assert list(s.index) == ["K1", "K2", "K3"]
    assert s["x"].tolist() == [2, 0, 1]
    assert s["t_x"].tolist() == [42.0, 0.0, 7.0]
    assert s["T"].tolist() == [70.0, 35.0, 7.0]
    assert s["recency_days"].tolist() == [28, 35, 0]
    assert s["orders"].tolist() == [4, 1, 2]
    assert s["monetary_total"].tolist() == [100.0, 15.0, 75.0]
    # the repeat purchase days' average, as lifetimes' monetary_value: both orders
    # of 1 January are the first purchase day, so (30 + 40) / 2
    assert s.loc["K1", "monetary_avg_repeat"] == pytest.approx(35.0)
    assert pd.isna(s.loc["K2", "monetary_avg_repeat"])
    assert s["cohort"].tolist() == ["2025-01", "2025-02", "2025-03"]
    assert s.attrs["definitions"]["as_of"] == "2025-03-12"


def test_customer_summary_in_weeks():
    s = tenure.customer_summary(_orders(SUMMARY), time_unit="week").set_index("customer_id")
    assert s["x"].tolist() == [2, 0, 1]
    assert s["t_x"].tolist() == [6.0, 0.0, 1.0]
    assert s["T"].tolist() == [10.0, 5.0, 1.0]
    # recency stays in days
    assert s["recency_days"].tolist() == [28, 35, 0]
    assert s.attrs["time_unit"] == "week"


def test_customer_summary_as_of_an_earlier_day():
    # As of 2025-02-28: K3 has not bought yet; K1's T = 58, K2's T = 23
    s = tenure.customer_summary(_orders(SUMMARY), as_of="2025-02-28").set_index("customer_id")
    assert s.loc["K1", "T"] == 58.0 and s.loc["K2", "T"] == 23.0
    assert s.loc["K3", "orders"] == 0 and pd.isna(s.loc["K3", "x"])


def test_segments_of_a_dataframe():
    # as in tests/cli/test_engine_commands.py: D and E new, A and B at risk, C active
    sizes = segments(_orders(SHOP), kind="business").set_index("segment")
    assert sizes["customers"].to_dict() == {
        "new": 2, "at risk": 2, "high value": 0, "active": 1, "lapsed": 0,
    }  # fmt: skip
    per = segments(_orders(SHOP), per_customer=True).set_index("customer_id")
    assert per["value_segment"].to_dict() == {
        "A": "at risk", "B": "at risk", "C": "active", "D": "new", "E": "new",
    }  # fmt: skip
    assert bool(per.loc["A", "is_high_value"]) is True


def test_tenure_segments_stays_the_function_after_its_subpackage_is_imported():
    import tenure.segmentation.rfm  # noqa: F401 - what any call of tenure.segments() imports

    assert tenure.segments is segments
    assert callable(tenure.segments)


# -- bad arguments -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "words", "hint"),
    [
        (lambda f: tenure.metrics(f, period="week"), "'week'", "month, quarter or year"),
        (lambda f: tenure.cohorts(f, period="week"), "'week'", "month, quarter or year"),
        (lambda f: tenure.metrics(f, output="excel"), "'excel'", "'pandas', 'arrow' or 'records'"),
        (lambda f: tenure.metrics(f, engine="spark"), "DuckDB", "Ingest it into a store"),
        (lambda f: tenure.cohorts(f, value="profit"), "'profit'", "customers, revenue"),
        (lambda f: tenure.customer_summary(f, time_unit="month"), "'month'", "day or week"),
        (lambda f: segments(f, kind="personas"), "'personas'", "rfm or business"),
        (lambda f: tenure.metrics(f, as_of="2024-13-01"), "not a date", "YYYY-MM-DD"),
        (lambda f: tenure.metrics(f, activity_window=0), "0 days", "1 or more"),
    ],
)
def test_bad_arguments_raise_config_error_with_a_hint(call, words, hint):
    with pytest.raises(ConfigError) as info:
        call(_orders(SHOP[:3]))
    assert isinstance(info.value, TenureError)
    assert words in info.value.what
    assert info.value.hint and hint in info.value.hint


def test_the_store_that_is_not_there(tmp_path):
    with pytest.raises(ConfigError, match="there is no tenure store"):
        tenure.metrics(store=tmp_path / "nowhere")
    assert not (tmp_path / "nowhere").exists()


def test_rows_rejected_from_data_given_directly_are_reported():
    from tenure.given import RejectedRowsWarning

    orders = pd.DataFrame(
        {
            "order_id": ["1", "2", "3"],
            "customer_id": ["A", "B", "C"],
            "placed_at": ["2025-01-10", "2025-01-11", "2025-01-32"],
            "amount": ["10", "ten", "5"],
        }
    )
    with pytest.warns(RejectedRowsWarning, match=r"2 orders rows were rejected") as caught:
        m = tenure.metrics(orders, as_of="2025-01-31")
    text = next(str(w.message) for w in caught if w.category is RejectedRowsWarning)
    assert "'ten'" in text and "'2025-01-32'" in text
    assert m["orders"].tolist() == [1]


def test_a_warehouse_table_without_a_needed_column_names_it():
    import ibis

    from tenure.engine.source import Source
    from tenure.errors import ColumnNotFoundError

    con = ibis.duckdb.connect()
    orders = con.create_table(
        "orders",
        pd.DataFrame(
            {
                "order_id": ["1"],
                "customer_id": ["A"],
                "placed_at": [pd.Timestamp("2025-01-01")],
                "amount": [1.0],
            }
        ),
    )
    with pytest.raises(ColumnNotFoundError) as info:
        Source.from_ibis(con, {"orders": orders})
    assert info.value.column == "amount_reporting"
    assert "amount" in info.value.what and "Did you mean 'amount'" in info.value.hint
