"""``tenure metrics``, ``cohorts`` and ``segments`` on a store small enough to
work out every number by hand, and their answers to bad input.

The shop (amounts in EUR, every order completed, times at midnight UTC)::

    order  customer  day          amount
    1      A         2025-01-10   100
    2      B         2025-02-15    40
    3      A         2025-03-15    50
    4      C         2025-03-20    60
    5      C         2025-06-10    20
    6      D         2025-06-05    80
    7      E         2025-06-30    30

A and B live in Germany, C, D and E in France. The latest purchase is on 2025-06-30, so that is the as-of day and both
quarters of 2025's first half are complete.

With a 365-day activity window no one lapses before the as-of day: a
customer is active from the first purchase on.

With a 30-day window a purchase on day d keeps its customer active from d to
d + 29::

    A  2025-01-10 .. 02-08   and 2025-03-15 .. 04-13
    B  2025-02-15 .. 03-16
    C  2025-03-20 .. 04-18   and 2025-06-10 .. 07-09
    D  2025-06-05 .. 07-04
    E  2025-06-30 .. 07-29
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from contextlib import redirect_stderr, redirect_stdout

import pytest

from tests.conftest import write

SHOP = """order_id,customer_id,placed_at,amount
1,A,2025-01-10,100
2,B,2025-02-15,40
3,A,2025-03-15,50
4,C,2025-03-20,60
5,C,2025-06-10,20
6,D,2025-06-05,80
7,E,2025-06-30,30
"""
PURCHASERS = 5
COUNTRIES = "customer_id,country\nA,DE\nB,DE\nC,FR\nD,FR\nE,FR\n"


def _tenure(*args: object) -> tuple[int, str, str]:
    """``tenure ARGS`` in this process, outside a test (for a module's store)."""
    from tenure.cli.app import main

    out, err = io.StringIO(), io.StringIO()
    old, sys.argv = sys.argv, ["tenure", *map(str, args)]
    code = 0
    try:
        with redirect_stdout(out), redirect_stderr(err):
            main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        sys.argv = old
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """The shop above, ingested once through ``tenure ingest`` for the whole module
    (the commands under test only read it)."""
    folder = tmp_path_factory.mktemp("shop")
    store = folder / "store"
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith("TENURE_") and name != "TENURE_REQUIRE_SERVICES":
                mp.delenv(name)
        mp.chdir(folder)
        code, out, err = _tenure(
            "ingest", "orders", write(folder / "orders.csv", SHOP), "--store", store, "--json"
        )
        assert code == 0, err
        result = json.loads(out)
        assert (result["read"], result["inserted"], result["customers_created"]) == (7, 7, 5)
        code, out, err = _tenure(
            "ingest", "customers", write(folder / "customers.csv", COUNTRIES), "--store", store
        )
        assert code == 0, err
    return store


def _one_json(r) -> dict:
    """The command succeeded and stdout is exactly one JSON document."""
    assert r.code == 0, r.err
    return json.loads(r.out)  # raises on anything before or after the document


def _user_error(r) -> str:
    assert r.code == 1, (r.out, r.err)
    assert "Traceback" not in r.err
    return r.err


# -- tenure metrics --------------------------------------------------------------


def test_metrics_per_quarter_by_hand(cli, shop):
    doc = _one_json(cli("metrics", "--period", "quarter", "--json", "--store", shop))
    assert doc["period"] == "quarter"
    d = doc["definitions"]
    assert d["active_customer"] == "a purchase in the 365 days up to the date"
    assert (d["active_by"], d["activity_window_days"]) == ("purchase", 365)
    assert (d["as_of"], d["timezone"], d["currency"]) == ("2025-06-30", "UTC", "EUR")
    rows = {m["period"]: m for m in doc["metrics"]}
    assert list(rows) == ["2025-Q1", "2025-Q2"]
    q1, q2 = rows["2025-Q1"], rows["2025-Q2"]
    assert (q1["period_start"], q1["period_end"]) == ("2025-01-01", "2025-03-31")
    assert (q2["period_start"], q2["period_end"]) == ("2025-04-01", "2025-06-30")

    # Q1: no one active on 2024-12-31; A, B, C arrive and stay active.
    assert (q1["customers_start"], q1["new_customers"], q1["customers_end"]) == (0, 3, 3)
    assert q1["lost_customers"] == 0
    # with S = 0 the rates are missing, with the reason, never 0
    for name in ("retention_rate", "churn_rate"):
        assert q1[name] is None
        assert q1["missing"][name] == "no customers were active at the start of this period"
    # orders 1-4: 100 + 40 + 50 + 60 = 250 from A, B, C
    assert (q1["orders"], q1["revenue"], q1["customers_ordering"]) == (4, 250.0, 3)
    assert q1["aov"] == pytest.approx(62.5)
    assert q1["purchase_frequency"] == pytest.approx(4 / 3)
    assert q1["repeat_purchase_rate"] == pytest.approx(100 / 3)  # A has two orders by 03-31
    assert q1["repeat_revenue_share"] == pytest.approx(20.0)  # A's second order: 50 of 250

    # Q2: S = 3 (A, B, C), N = 2 (D, E), E = 5, nobody lost or back.
    assert (q2["customers_start"], q2["new_customers"], q2["customers_end"]) == (3, 2, 5)
    assert (q2["lost_customers"], q2["reactivated_customers"]) == (0, 0)
    # the data begins on 2025-01-10: with a 365-day window no buyer can be lost
    # before 2026-01-10, so Q2's (5 - 2) / 3 = 100 % and 0 % churn would say
    # nothing; they are missing, with the reason
    for name in ("retention_rate", "churn_rate", "reactivation_rate", "historic_clv"):
        assert q2[name] is None
        why = q2["missing"][name]
        assert "365-day activity window after the first purchase (2025-01-10)" in why
        assert "2026-01-10" in why
    # orders 5-7: 20 + 80 + 30 = 130 from C, D, E
    assert (q2["orders"], q2["revenue"], q2["customers_ordering"]) == (3, 130.0, 3)
    assert q2["aov"] == pytest.approx(130 / 3)
    assert q2["repeat_purchase_rate"] == pytest.approx(100 / 3)  # C
    assert q2["repeat_revenue_share"] == pytest.approx(20 / 130 * 100)


def test_metrics_with_a_30_day_window(cli, shop):
    doc = _one_json(
        cli(
            "metrics", "--period", "quarter", "--activity-window", "30", "--json",
            "--store", shop,
        )
    )  # fmt: skip
    d = doc["definitions"]
    assert d["active_customer"] == "a purchase in the 30 days up to the date"
    assert d["activity_window_days"] == 30
    q1, q2 = doc["metrics"]
    assert q1["period"] == "2025-Q1" and q2["period"] == "2025-Q2"
    # on 03-31 only A (03-15 .. 04-13) and C (03-20 .. 04-18) are active; B
    # (02-15 .. 03-16) came and went within Q1, so is in neither N nor E
    assert (q1["customers_start"], q1["new_customers"], q1["customers_end"]) == (0, 2, 2)
    # Q2: S = {A, C}; N = {D, E}; on 06-30 C, D and E are active; A is lost
    assert (q2["customers_start"], q2["new_customers"], q2["customers_end"]) == (2, 2, 3)
    assert (q2["lost_customers"], q2["reactivated_customers"]) == (1, 0)
    assert q2["retention_rate"] == pytest.approx(50.0)  # (3 - 2) / 2
    assert q2["churn_rate"] == pytest.approx(50.0)  # 1 / 2
    # the window moves nobody's money
    assert (q2["orders"], q2["revenue"]) == (3, 130.0)
    # V = 130 / ((2 + 3) / 2) = 52 per average active customer; L = 1 / 0.5 = 2
    assert q2["historic_clv"] == pytest.approx(104.0)
    assert "historic_clv" not in q2["missing"]


def test_metrics_without_their_data_are_null_with_a_reason(cli, shop):
    doc = _one_json(cli("metrics", "--period", "quarter", "--json", "--store", shop))
    for row in doc["metrics"]:
        for name in ("nps", "csat", "ces", "survey_response_rate"):
            assert row[name] is None
            assert row["missing"][name] == "no survey answers in the data"
        assert row["nps_n"] == 0
        assert row["mrr"] is None and row["missing"]["mrr"] == "no subscriptions in the data"
        assert row["referral_rate"] is None
        assert "referred_by" in row["missing"]["referral_rate"]
        # a number that is there has no reason
        assert "orders" not in row["missing"] and "revenue" not in row["missing"]


def test_metrics_per_month_keeps_empty_months_as_zero_orders(cli, shop):
    doc = _one_json(cli("metrics", "--json", "--store", shop))
    assert doc["period"] == "month"
    rows = {m["period"]: m for m in doc["metrics"]}
    assert list(rows) == [f"2025-0{m}" for m in range(1, 7)]
    # April and May have no orders: counts are 0, the ratios missing
    for month in ("2025-04", "2025-05"):
        assert (rows[month]["orders"], rows[month]["revenue"]) == (0, 0.0)
        assert rows[month]["aov"] is None
        assert rows[month]["missing"]["aov"] == "no orders in this period"
    # June: C 20 + D 80 + E 30
    assert (rows["2025-06"]["orders"], rows["2025-06"]["revenue"]) == (3, 130.0)
    # --last keeps the last N periods
    last = _one_json(cli("metrics", "--last", "2", "--json", "--store", shop))
    assert [m["period"] for m in last["metrics"]] == ["2025-05", "2025-06"]


def test_metrics_table_states_the_definition(cli, shop, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # wide enough for every column of the table
    r = cli("metrics", "--period", "quarter", "--activity-window", "30", "--store", shop)
    assert r.code == 0, r.err
    assert "2025-Q2" in r.out
    assert "a purchase in the 30 days up to the date" in r.out


# -- tenure cohorts --------------------------------------------------------------

# Monthly cohorts by first purchase: 2025-01 {A}, 2025-02 {B}, 2025-03 {C},
# 2025-06 {D, E}; April and May acquired no one. Column k is k months after
# the cohort's month; months after June are not complete, so they are null.
#   A buys in months 0 and 2 (January, March); B only in month 0;
#   C in months 0 and 3 (March, June); D and E in June only.
CUSTOMER_MATRIX = [
    ("2025-01", 1, [100.0, 0.0, 100.0, 0.0, 0.0, 0.0]),
    ("2025-02", 1, [100.0, 0.0, 0.0, 0.0, 0.0, None]),
    ("2025-03", 1, [100.0, 0.0, 0.0, 100.0, None, None]),
    ("2025-06", 2, [100.0, None, None, None, None, None]),
]
# Revenue in month k as % of month 0's: A 50 of 100 in month 2; C 20 of 60 in month 3.
REVENUE_MATRIX = [
    ("2025-01", 1, [100.0, 0.0, 50.0, 0.0, 0.0, 0.0]),
    ("2025-02", 1, [100.0, 0.0, 0.0, 0.0, 0.0, None]),
    ("2025-03", 1, [100.0, 0.0, 0.0, 100 / 3, None, None]),
    ("2025-06", 2, [100.0, None, None, None, None, None]),
]


def _matrix(doc: dict) -> list[tuple[str, int, list]]:
    return [
        (c["cohort"], c["size"], [None if v is None else round(v, 9) for v in c["values"]])
        for c in doc["cohorts"]
    ]


def _rounded(matrix: list[tuple[str, int, list]]) -> list[tuple[str, int, list]]:
    return [(c, n, [None if v is None else round(v, 9) for v in vs]) for c, n, vs in matrix]


def test_cohorts_of_customers_as_a_literal_matrix(cli, shop):
    doc = _one_json(cli("cohorts", "--json", "--store", shop))
    assert (doc["period"], doc["value"], doc["by"]) == ("month", "customers", None)
    assert doc["definitions"]["as_of"] == "2025-06-30"
    assert _matrix(doc) == _rounded(CUSTOMER_MATRIX)


def test_cohorts_of_revenue_as_a_literal_matrix(cli, shop):
    doc = _one_json(cli("cohorts", "--value", "revenue", "--json", "--store", shop))
    assert doc["value"] == "revenue"
    assert _matrix(doc) == _rounded(REVENUE_MATRIX)


def test_cohorts_per_quarter(cli, shop):
    # 2025-Q1 {A, B, C}: of them only C buys in Q2; 2025-Q2 {D, E} has no later quarter
    doc = _one_json(cli("cohorts", "--period", "quarter", "--json", "--store", shop))
    assert _matrix(doc) == _rounded(
        [("2025-Q1", 3, [100.0, 100 / 3]), ("2025-Q2", 2, [100.0, None])]
    )


def test_cohorts_by_country_pool_the_cohorts_that_reached_each_column(cli, shop):
    # DE: cohorts 2025-01 {A} and 2025-02 {B}. Column k pools the cohorts whose
    # month k is complete (up to June): k = 0..4 both, k = 5 only January's.
    #   k0 2/2; k1 0/2; k2 A in March 1/2; k3, k4 0/2; k5 (June) A does not buy, 0/1.
    # FR: cohorts 2025-03 {C} and 2025-06 {D, E}: k0 3/3; k1..k3 only March's,
    #   C buys again in June (k3) 1/1; k4, k5 no cohort has reached: null.
    doc = _one_json(cli("cohorts", "--by", "country", "--json", "--store", shop))
    assert doc["by"] == "country"
    assert _matrix(doc) == _rounded(
        [
            ("DE", 2, [100.0, 0.0, 50.0, 0.0, 0.0, 0.0]),
            ("FR", 3, [100.0, 0.0, 0.0, 100.0, None, None]),
        ]
    )


def test_cohorts_by_an_unknown_column_lists_the_known_ones(cli, shop):
    err = _user_error(cli("cohorts", "--by", "planet", "--store", shop))
    assert "'planet'" in err and "not a customer attribute" in err
    for known in ("first_category", "country", "acquisition_channel", "consent_email"):
        assert known in err
    # tenure's bookkeeping (_ingest_id, _source...), identifiers and free text are not offered
    offered = err.split("Use one of:")[1].strip().rstrip(".").split(", ")
    for hidden in ("_ingest_id", "_source", "customer_id", "email", "attributes", "is_stub"):
        assert hidden not in offered


def test_cohorts_by_unknown_column_with_json_is_one_error_document(cli, shop):
    r = cli("cohorts", "--by", "planet", "--json", "--store", shop)
    assert r.code == 1
    error = json.loads(r.out)["error"]
    assert error["code"] == "config_error"
    assert "planet" in error["message"] and "country" in error["hint"]


# -- tenure segments -------------------------------------------------------------

# As of 2025-06-30 (days since the first / last purchase, orders, revenue):
#   A 171 / 107, 2 orders, 150    B 135 / 135, 1, 40    C 102 / 20, 2, 80
#   D  25 /  25, 1, 80            E   0 /   0, 1, 30
# Business segments (new < 30 days; at risk: recency >= 90; high value: percent
# rank of revenue >= 0.8, which is A alone: E 0, B .25, C .5, D .5, A 1):
#   A at risk (and flagged high value), B at risk, C active, D new, E new.
# RFM: R by recency B 1, A 2, D 3, C 4, E 5; F: B, D, E 1 and A, C 4;
# M: E 1, B 2, C 3, D 3, A 5; FM = round((F + M) / 2) half up: A 5, B 2, C 4, D 2, E 1
#   A (R2, FM5) at risk, B (R1, FM2) lost, C (R4, FM4) champions,
#   D (R3, FM2) about to sleep, E (R5, FM1) new.
BUSINESS = {"A": "at risk", "B": "at risk", "C": "active", "D": "new", "E": "new"}
RFM = {"A": "at risk", "B": "lost", "C": "champions", "D": "about to sleep", "E": "new"}


def test_rfm_segments_cover_every_purchaser(cli, shop):
    doc = _one_json(cli("segments", "--json", "--store", shop))
    assert doc["kind"] == "rfm" and doc["thresholds"] is None
    rows = {s["segment"]: s for s in doc["segments"]}
    assert sum(s["customers"] for s in rows.values()) == PURCHASERS
    assert sum(s["share"] for s in rows.values()) == pytest.approx(100.0)
    assert sum(s["revenue_share"] for s in rows.values()) == pytest.approx(100.0)
    sizes = {name: s["customers"] for name, s in rows.items() if s["customers"]}
    assert sizes == {"champions": 1, "new": 1, "about to sleep": 1, "at risk": 1, "lost": 1}
    assert rows["champions"]["revenue"] == pytest.approx(80.0)  # C
    assert rows["loyal"]["customers"] == 0 and rows["loyal"]["share"] == 0


def test_business_segments_by_hand(cli, shop):
    doc = _one_json(cli("segments", "--kind", "business", "--json", "--store", shop))
    assert doc["kind"] == "business"
    assert doc["definitions"]["as_of"] == "2025-06-30"
    assert set(doc["thresholds"]) == {"new", "at risk", "high value", "active", "lapsed"}
    rows = {s["segment"]: s for s in doc["segments"]}
    assert list(rows) == ["new", "at risk", "high value", "active", "lapsed"]
    assert {k: v["customers"] for k, v in rows.items()} == {
        "new": 2, "at risk": 2, "high value": 0, "active": 1, "lapsed": 0,
    }  # fmt: skip
    assert rows["new"]["share"] == pytest.approx(40.0)
    assert rows["active"]["share"] == pytest.approx(20.0)
    # revenue 380 in all: new D + E = 110, at risk A + B = 190, active C = 80
    assert rows["new"]["revenue"] == pytest.approx(110.0)
    assert rows["at risk"]["revenue"] == pytest.approx(190.0)
    assert rows["at risk"]["revenue_share"] == pytest.approx(50.0)
    assert rows["new"]["revenue_share"] == pytest.approx(110 / 380 * 100)
    assert rows["at risk"]["avg_recency_days"] == pytest.approx(121.0)  # (107 + 135) / 2
    assert rows["at risk"]["avg_orders"] == pytest.approx(1.5)
    assert rows["new"]["avg_recency_days"] == pytest.approx(12.5)  # (25 + 0) / 2


def test_business_transitions_between_two_dates(cli, shop):
    # On 2025-03-31: A (first 80 days ago, last 16, revenue 150) is high value;
    # B (44 days, 40) is active; C (11 days, 60) is new; D and E not yet customers.
    # On 2025-06-30: A, B at risk; C active; D, E new.
    doc = _one_json(
        cli(
            "segments", "--kind", "business", "--from", "2025-03-31", "--to", "2025-06-30",
            "--json", "--store", shop,
        )
    )  # fmt: skip
    t = doc["transitions"]
    assert (t["from"], t["to"]) == ("2025-03-31", "2025-06-30")
    labels = ["new", "at risk", "high value", "active", "lapsed"]
    assert t["rows"] == [*labels, "(not yet a customer)"]
    assert t["columns"] == labels
    assert t["customers"] == [
        [0, 0, 0, 1, 0],  # new -> active: C
        [0, 0, 0, 0, 0],
        [0, 1, 0, 0, 0],  # high value -> at risk: A
        [0, 1, 0, 0, 0],  # active -> at risk: B
        [0, 0, 0, 0, 0],
        [2, 0, 0, 0, 0],  # not yet a customer -> new: D, E
    ]
    assert sum(map(sum, t["customers"])) == PURCHASERS


def test_transitions_from_a_date_to_the_as_of_day(cli, shop):
    doc = _one_json(
        cli("segments", "--kind", "business", "--from", "2025-03-31", "--json", "--store", shop)
    )
    assert doc["transitions"]["to"] == "2025-06-30"
    assert doc["transitions"]["customers"][5] == [2, 0, 0, 0, 0]


def test_segments_export_writes_one_row_per_purchaser(cli, shop, tmp_path):
    path = tmp_path / "segments.csv"
    doc = _one_json(cli("segments", "--export", path, "--json", "--store", shop))
    assert doc["export"] == str(path)
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == PURCHASERS
    by_id = {r["customer_id"]: r for r in rows}
    assert {c: r["segment"] for c, r in by_id.items()} == RFM
    assert {c: r["value_segment"] for c, r in by_id.items()} == BUSINESS
    assert (by_id["A"]["r"], by_id["A"]["f"], by_id["A"]["m"]) == ("2", "4", "5")
    assert by_id["A"]["rfm"] == "245"
    assert float(by_id["A"]["monetary_total"]) == pytest.approx(150.0)
    assert int(by_id["B"]["recency_days"]) == 135


def test_segments_to_without_from(cli, shop):
    err = _user_error(cli("segments", "--to", "2025-06-30", "--store", shop))
    assert "--to needs --from" in err


def test_segments_unknown_kind(cli, shop):
    err = _user_error(cli("segments", "--kind", "personas", "--store", shop))
    assert "'personas'" in err and "rfm or business" in err


# -- bad input ---------------------------------------------------------------------


@pytest.mark.parametrize("command", ["metrics", "cohorts"])
def test_unknown_period_names_the_known_ones(cli, shop, command):
    r = cli(command, "--period", "week", "--store", shop)
    assert r.code == 2 and "Traceback" not in r.err  # a usage error
    err = r.err
    assert "'week'" in err
    assert "month" in err and "quarter" in err and "year" in err


def test_as_of_that_is_not_a_date(cli, shop):
    err = _user_error(cli("metrics", "--as-of", "2024-13-01", "--store", shop))
    assert "'2024-13-01'" in err and "not a date" in err and "YYYY-MM-DD" in err


@pytest.mark.parametrize("command", ["metrics", "cohorts", "segments"])
def test_a_store_that_does_not_exist(cli, tmp_path, command):
    missing = tmp_path / "nowhere"
    err = _user_error(cli(command, "--store", missing))
    assert f"there is no tenure store at {missing}" in err
    assert "tenure ingest" in err
    # reading does not create a store
    assert not missing.exists()


def test_unknown_engine(cli, shop):
    err = _user_error(cli("metrics", "--engine", "nosuch", "--store", shop))
    assert "'nosuch'" in err and "duckdb or spark" in err


def test_a_period_that_is_not_complete_yet(cli, shop):
    err = _user_error(cli("metrics", "--period", "year", "--store", shop))
    assert "no year is complete yet: the data runs from 2025-01-10 to 2025-06-30" in err
    assert "shorter --period" in err


@pytest.mark.parametrize("command", ["metrics", "cohorts"])
def test_timezone_flag_reaches_the_definitions(cli, shop, command):
    doc = _one_json(cli(command, "--timezone", "Europe/Berlin", "--json", "--store", shop))
    assert doc["definitions"]["timezone"] == "Europe/Berlin"


def test_timezone_flag_of_segments_reaches_the_definitions(cli, shop):
    doc = _one_json(cli("segments", "--timezone", "Europe/Berlin", "--json", "--store", shop))
    assert doc["definitions"]["timezone"] == "Europe/Berlin"


@pytest.mark.parametrize("command", ["metrics", "cohorts", "segments"])
def test_unknown_timezone_is_a_user_error(cli, shop, command):
    err = _user_error(cli(command, "--timezone", "Mars/Base", "--store", shop))
    assert "'Mars/Base'" in err


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["metrics", "--as-of", "2024-13-01"], "config_error", ["not a date"]),
        (["cohorts", "--by", "planet"], "config_error", ["not a customer attribute"]),
        (["segments", "--to", "2025-06-30"], "config_error", ["--to needs --from"]),
        (["metrics", "--engine", "nosuch"], "config_error", ["nosuch", "duckdb or spark"]),
        (["metrics", "--period", "year"], "input_error", ["no year is complete yet"]),
        (["metrics", "--active-by", "sometimes"], "config_error", ["'sometimes'", "either"]),
        (
            ["metrics", "--active-by", "subscription"],
            "input_error",
            ["needs subscriptions", "--active-by purchase"],
        ),
        # a value outside the option's choices is a usage error (exit 2)
        (["cohorts", "--value", "profit"], "usage_error", ["'profit'", "cumulative_revenue"]),
    ],
)
def test_errors_with_json_are_one_document(cli, shop, args, code, words):
    r = cli(*args, "--json", "--store", shop)
    assert r.code == (2 if code == "usage_error" else 1)
    doc = json.loads(r.out)  # exactly one document, nothing else
    assert set(doc) == {"error"}
    error = doc["error"]
    assert set(error) == {"code", "message", "hint", "source", "row", "column", "value", "expected"}
    assert error["code"] == code
    text = f"{error['message']}\n{error['hint']}"
    for word in words:
        assert word in text
    # the same message on stderr, for the person at the terminal
    assert error["message"] in r.err


def test_missing_store_with_json_is_one_document(cli, tmp_path):
    r = cli("metrics", "--json", "--store", tmp_path / "nowhere")
    assert r.code == 1
    error = json.loads(r.out)["error"]
    assert error["code"] == "config_error"
    assert error["message"] == f"there is no tenure store at {tmp_path / 'nowhere'}."


# -- help --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["metrics"],
        ["cohorts"],
        ["segments"],
        ["report"],
        ["goal", "set"],
        ["goal", "list"],
        ["goal", "remove"],
    ],
)
def test_every_engine_command_help_ends_with_an_example(cli, command):
    r = cli(*command, "--help")
    assert r.code == 0, r.err
    # the description (what comes before the arguments and options) ends with
    # "Example:" and a line that runs the command itself
    description = r.out.split("\nArguments:")[0].split("\nOptions:")[0].rstrip()
    assert "Example" in description
    last = description.splitlines()[-1].strip()
    assert last.startswith(f"tenure {' '.join(command)}")
    assert description.rindex("Example") < description.rindex(last)


def test_an_as_of_date_before_the_data_says_where_the_data_begins(cli, shop):
    err = _user_error(cli("metrics", "--as-of", "2020-01-01", "--store", shop))
    assert "before the data begins (2025-01-10)" in err
