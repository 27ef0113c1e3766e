"""``tenure campaign measure`` on a small store worked by hand: named arms,
visits from behaviour events, duplicates, time zones and windows not over."""

from __future__ import annotations

import pytest

from tenure.campaigns.measure import measure_campaign
from tenure.config import load_settings
from tenure.ingestion.pipeline import ingest
from tenure.store.workspace import Workspace

# six customers in three groups, assigned on 2024-03-10 (c6 late, on 2024-04-01)
ASSIGNMENTS = """customer_id,arm,assigned_at
c1,email,2024-03-10
c2,email,2024-03-10T01:00:00+02:00
c3,sms,2024-03-10
c4,sms,2024-03-10
c5,control,2024-03-10
c6,control,2024-04-01
c1,email,2024-03-12
"""
ORDERS = """order_id,customer_id,placed_at,amount,status
o1,c1,2024-03-01,10,completed
o2,c1,2024-03-11,20,completed
o3,c1,2024-03-15,30,completed
o4,c2,2024-03-09 23:30:00,40,completed
o5,c3,2024-03-20,50,refunded
o6,c4,2024-03-25,60,completed
o7,c4,2024-04-20,70,completed
o8,c5,2024-02-20,15,completed
o9,c6,2024-04-05,25,completed
"""
EVENTS = """customer_id,name,occurred_at
c1,page_view,2024-03-11 10:00:00
c1,page_view,2024-03-11 11:00:00
c1,page_view,2024-03-12 09:00:00
c3,page_view,2024-03-05 09:00:00
c5,page_view,2024-03-13 09:00:00
"""


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    folder = tmp_path_factory.mktemp("small")
    for name, text in (("orders", ORDERS), ("events", EVENTS), ("a", ASSIGNMENTS)):
        (folder / f"{name}.csv").write_text(text)
    settings = load_settings(store=folder / "store")
    with Workspace.open(settings) as ws:
        ingest("orders", folder / "orders.csv", workspace=ws)
        ingest("events", folder / "events.csv", workspace=ws)
    return settings, folder / "a.csv"


def _means(doc, metric):
    out = {r["arm"]: r["arm_mean"] for r in doc["metrics"][metric]}
    out["control"] = doc["metrics"][metric][0]["control_mean"]
    return out


def test_each_named_arm_against_the_control(small):
    """By hand, 10-day window from each customer's assigned_at:
    c1 (from 03-10) orders o2, o3 (50); c2 was assigned at 2024-03-09 23:00
    UTC, so o4 at 23:30 is inside (40); c3's only order was refunded; c4's
    o6 is 15 days after; c5 none; c6 o9 (25), 4 days after 04-01."""
    settings, path = small
    doc = measure_campaign(settings, path, window=10, metric="orders")
    assert doc["control"] == "control"
    assert {a["name"]: a["n"] for a in doc["arms"]} == {"control": 2, "email": 2, "sms": 2}
    assert doc["assignments"]["duplicates"] == 1 and doc["assignments"]["rejected"] == 0
    assert [r["arm"] for r in doc["lifts"]] == ["email", "sms"]
    assert _means(doc, "orders") == {"email": 1.5, "sms": 0.0, "control": 0.5}
    assert _means(doc, "conversion") == {"email": 1.0, "sms": 0.0, "control": 0.5}
    assert _means(doc, "revenue") == {"email": 45.0, "sms": 0.0, "control": 12.5}
    # days to the next order, capped at 10: c1 1, c2 1/48; c3, c4 10; c5 10, c6 4
    ttn = _means(doc, "time_to_order")
    assert ttn["email"] == pytest.approx((1 + 0.5 / 24) / 2)
    assert (ttn["sms"], ttn["control"]) == (10.0, 7.0)
    # visits: days with an event, in the window: c1 on 03-11 and 03-12; c5 on 03-13
    assert _means(doc, "visits") == {"email": 1.0, "sms": 0.0, "control": 0.5}
    (email_lift,) = [r for r in doc["metrics"]["orders"] if r["arm"] == "email"]
    assert email_lift["unadjusted"]["absolute"]["estimate"] == pytest.approx(1.0)
    assert email_lift["unadjusted"]["relative"]["estimate"] == pytest.approx(2.0)
    # CUPED, email and control pooled: orders after (y) 2, 1, 0, 1 and in the
    # 10 days before (x) 1, 0, 0, 0 (c1's o1): cov = (2 − 4·1·0.25)/3 = 1/3,
    # var(x) = (1 − 4·0.25²)/3 = 1/4, θ = 4/3; email 1.5 − θ·0.5, control 0.5
    assert email_lift["cuped"]["theta"] == pytest.approx(4 / 3)
    assert email_lift["absolute"]["estimate"] == pytest.approx(1.5 - 2 / 3 - 0.5)
    assert email_lift["relative"]["estimate"] == pytest.approx((1.5 - 2 / 3 - 0.5) / 0.5)
    assert email_lift["verdict"] == "inconclusive"  # two customers per arm prove nothing
    # the store's last order is on 04-20: every 10-day window is over by
    # then, but c6's 30-day one (from 04-01) is not
    late = measure_campaign(settings, path, window=30)
    assert any(n.startswith("1 customer was assigned") for n in late["notes"])
    assert not any("not over" in n for n in doc["notes"])


def test_the_control_can_be_named(small):
    settings, path = small
    doc = measure_campaign(settings, path, window=10, control="sms")
    assert doc["control"] == "sms"
    assert sorted(r["arm"] for r in doc["lifts"]) == ["control", "email"]


def test_a_customer_in_two_groups_is_rejected_in_both(small, tmp_path):
    settings, path = small
    both = tmp_path / "both.csv"
    both.write_text(path.read_text() + "c3,email,2024-03-10\n")
    doc = measure_campaign(settings, both, window=10)
    read = doc["assignments"]
    assert read["rejected"] == 2  # c3's sms row (line 4) and its email row (line 9)
    assert {a["name"]: a["n"] for a in doc["arms"]} == {"control": 2, "email": 2, "sms": 1}
    (reason,) = read["reasons"]
    assert reason["column"] == "arm" and reason["count"] == 2 and reason["first_line"] == 4
    assert "more than one group (email, sms)" in reason["reason"]
