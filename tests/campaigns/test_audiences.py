"""Audiences against a small store worked by hand.

The orders below end on 2024-06-30 (the as-of day). Days before it:
A 5 (first and last), B 181, C 90, D 89, E 0, F 6, G 7; B also ordered
on 2023-12-01 (first order 212 days before).
"""

from __future__ import annotations

import pytest

from tenure.campaigns import audiences
from tenure.config import load_settings
from tenure.errors import InputError
from tenure.ingestion.pipeline import ingest
from tenure.predictions.store import PREDICTIONS_DDL
from tenure.store import analytics
from tenure.store.workspace import Workspace

ORDERS = """order_id,customer_id,placed_at,amount
1,A,2024-06-25 10:00:00,20
2,B,2023-12-01 10:00:00,30
3,B,2024-01-01 10:00:00,30
4,C,2024-04-01 10:00:00,40
5,D,2024-04-02 10:00:00,50
6,E,2024-06-30 10:00:00,60
7,F,2024-06-24 10:00:00,70
8,G,2024-06-23 10:00:00,80
"""


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    folder = tmp_path_factory.mktemp("aud")
    (folder / "orders.csv").write_text(ORDERS)
    (folder / "customers.csv").write_text(
        "customer_id,email,name\n" + "".join(f"{c},{c.lower()}@x.example,{c} Doe\n" for c in "ABCDEFG")
    )
    s = load_settings(store=folder / "store")
    with Workspace.open(s) as ws:
        ingest("customers", folder / "customers.csv", workspace=ws)
        ingest("orders", folder / "orders.csv", workspace=ws)
    con = analytics.connect(s.analytics_path)
    try:
        con.execute(PREDICTIONS_DDL)
        # p_alive, and the expected next order: A 2024-06-10 (20 days overdue),
        # B 2024-06-16 (14 days), C 2024-06-17 (13 days), D none
        con.execute("""INSERT INTO customer_predictions (customer_id, p_alive, next_purchase_date,
                                                         clv)
            VALUES ('A', 0.10, DATE '2024-06-10', 100), ('B', 0.29, DATE '2024-06-16', 50),
                   ('C', 0.30, DATE '2024-06-17', 75), ('D', 0.90, NULL, NULL)""")
        con.execute("CREATE TABLE churn_predictions (customer_id VARCHAR, churn_probability DOUBLE)")
        con.execute("INSERT INTO churn_predictions VALUES ('A', 0.7), ('B', 0.6), ('C', 0.61)")
    finally:
        con.close()
    return s


def _ids(settings, *texts):
    return [r[0] for r in audiences.evaluate(settings, audiences.parse_all(list(texts))).rows]


@pytest.mark.parametrize("text, expected", [
    ("lapsed:90", ["B", "C"]),
    ("lapsed:89", ["B", "C", "D"]),
    ("first_order:7", ["A", "E", "F"]),
    ("first_order:1", ["E"]),
    ("p_alive:0.3", ["A", "B"]),
    ("overdue:14", ["A", "B"]),
    ("churn_risk:0.6", ["A", "C"]),
    # business "new": first purchase less than 30 days before the as-of day
    ("segment:business:new", ["A", "E", "F", "G"]),
])  # fmt: skip
def test_one_criterion(settings, text, expected):
    assert _ids(settings, text) == expected


def test_criteria_all_hold(settings):
    assert _ids(settings, "lapsed:89", "p_alive:0.3") == ["B"]
    audience = audiences.evaluate(settings, audiences.parse_all(["first_order:1"]), profile=True)
    assert str(audience.as_of) == "2024-06-30"
    assert audience.rows == [("E", "e@x.example", "E Doe", None, None)]


@pytest.mark.parametrize("text, words", [
    ("lapsed", "KIND:VALUE"),
    ("lapsed:ninety", "no number"),
    ("churn_risk:1.5", "probability"),
    ("segment:rfm:Nobody", "Use one of"),
    ("segment:other:x", "rfm or business"),
    ("sometime:3", "kinds"),
])  # fmt: skip
def test_bad_criteria_say_how_to_fix(text, words):
    with pytest.raises(InputError) as caught:
        audiences.parse(text, source="win-back.toml")
    assert words in caught.value.render()
    assert caught.value.column == "audience" and caught.value.source == "win-back.toml"


def test_missing_scores_name_the_command(tmp_path):
    (tmp_path / "orders.csv").write_text(ORDERS)
    s = load_settings(store=tmp_path / "store")
    with Workspace.open(s) as ws:
        ingest("orders", tmp_path / "orders.csv", workspace=ws)
    with pytest.raises(InputError, match="tenure fit churn"):
        audiences.evaluate(s, audiences.parse_all(["churn_risk:0.5"]))


def test_the_list_sorts_by_value_and_risk_and_exports(settings, tmp_path):
    criteria = audiences.parse_all(["lapsed:89"])  # B, C, D
    by_clv = audiences.listing(settings, criteria, sort="clv")
    assert [(r["customer_id"], r["clv"]) for r in by_clv["rows"]] == [
        ("C", 75.0), ("B", 50.0), ("D", None)]  # fmt: skip
    by_risk = audiences.listing(settings, criteria, sort="churn_risk", limit=2,
                                export=str(tmp_path / "list.csv"))  # fmt: skip
    assert [(r["customer_id"], r["churn_risk"]) for r in by_risk["rows"]] == [
        ("C", 0.61), ("B", 0.6)]  # fmt: skip
    assert by_risk["customers"] == 3 and by_risk["as_of"] == "2024-06-30"
    lines = (tmp_path / "list.csv").read_text().splitlines()
    assert lines[0] == "customer_id,name,email,clv,churn_risk,expected_value"
    assert [line.split(",")[0] for line in lines[1:]] == ["C", "B", "D"]  # every row, sorted
    with pytest.raises(InputError, match="Sort by one of"):
        audiences.listing(settings, criteria, sort="age")
