"""``tenure campaign uplift fit | score`` end to end, on a store built from
generated orders with a planted persuadable group.

3,000 customers; a fifth are *lapsed* (last order 90 to 180 days before
the campaign), the rest ordered in the 30 days before it. Every customer
orders in the 30 days after their assignment with probability 20 %; a
message raises that to 50 % for the lapsed and changes nothing for the
others. The model sees only the store (the churn features as of the day
before each assignment), so it must find the lapsed through their days
since the last purchase.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest

from tenure.config import load_settings
from tenure.ingestion.pipeline import ingest
from tenure.store.workspace import Workspace
from tests.conftest import query

N = 3000
START = np.datetime64("2024-06-03T08:00:00")
DAY = np.timedelta64(86400, "s")


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    folder = tmp_path_factory.mktemp("uplift")
    rng = np.random.default_rng(11)
    ids = np.array([f"c{i:05d}" for i in range(N)])
    lapsed = rng.random(N) < 0.2
    treated = rng.random(N) < 0.5
    # three sending days, so features are taken as of three different days
    assigned = START + rng.integers(0, 3, N) * DAY
    last = np.where(lapsed, rng.uniform(90, 180, N), rng.uniform(1, 30, N))
    rows = []
    for i in range(N):
        # two to four earlier orders, the latest ``last`` days before assignment
        for k in range(rng.integers(2, 5)):
            at = assigned[i] - int((last[i] + 40 * k) * 86400) * np.timedelta64(1, "s")
            rows.append((f"o{i}-{k}", ids[i], str(at).replace("T", " "), 40.0))
    p = 0.2 + 0.3 * (lapsed & treated)
    converted = rng.random(N) < p
    for i in np.flatnonzero(converted):
        at = assigned[i] + int(rng.uniform(1, 29) * 86400) * np.timedelta64(1, "s")
        rows.append((f"o{i}-post", ids[i], str(at).replace("T", " "), 55.0))
    orders = folder / "orders.csv"
    with orders.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["order_id", "customer_id", "placed_at", "amount"])
        w.writerows(rows)
    settings = load_settings(store=folder / "store")
    with Workspace.open(settings) as ws:
        ingest("orders", orders, workspace=ws)
    sent = folder / "assignments.csv"
    groups = np.where(treated, "treatment", "control")
    with sent.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["customer_id", "group", "assigned_at"])
        w.writerows(zip(ids, groups, [str(t).replace("T", " ") for t in assigned], strict=True))
    truth = pd.DataFrame({"customer_id": ids, "lapsed": lapsed, "treated": treated,
                          "converted": converted, "assigned_at": assigned})  # fmt: skip
    return folder, sent, truth


def _run(cli, folder, *args):
    return cli("campaign", "uplift", *map(str, args), "--store", str(folder / "store"), "--json")


@pytest.mark.parametrize("learner", ["t", "ct"])
def test_fit_finds_the_planted_persuadables(cli, campaign, learner):
    folder, sent, truth = campaign
    result = _run(cli, folder, "fit", "--assignments", sent, "--learner", learner)
    assert result.code == 0, result.out + result.err
    doc = result.json()
    sizes = doc["sizes"]
    assert sizes["treated"] == int(truth.treated.sum()) and sizes["assigned"] == N
    assert sizes["test"] == pytest.approx(0.3 * N, abs=2)
    v = doc["validation"]
    assert v["customers"] == sizes["test"]
    assert v["qini"] > v["random_band"]["qini_high"]
    assert v["auuc"] > v["random_band"]["auuc_high"]
    # the planted effect over everyone: +30 points for a fifth, about +6
    assert abs(v["overall_uplift"] - 0.06) < 0.05
    assert v["uplift_at_top"]["20%"] > v["overall_uplift"] + 0.1
    assert doc["assignments"]["rejected"] == 0
    # kept: one model_fits row, and every customer's predicted uplift
    (kept,) = query(folder / "store", "SELECT count(*), max(model_version) FROM model_fits "
                                      "WHERE model = 'uplift'")  # fmt: skip
    assert kept[1] == doc["model_version"]
    scored = query(folder / "store", "SELECT count(*) FROM uplift_predictions")[0][0]
    assert scored == N == doc["n_customers"]


def test_revenue_uplift_with_the_t_learner(cli, campaign):
    """Each order after the campaign is 55.00: the lapsed gain 0.3 x 55 =
    16.50 per customer when messaged, the others nothing (3.30 overall)."""
    folder, sent, _ = campaign
    result = _run(cli, folder, "fit", "--assignments", sent, "--metric", "revenue")
    assert result.code == 0, result.err
    v = result.json()["validation"]
    assert v["qini"] > v["random_band"]["qini_high"]
    assert abs(v["overall_uplift"] - 3.3) < 3.0
    assert v["uplift_at_top"]["20%"] > v["overall_uplift"] + 5


def test_score_lists_the_lapsed_first(cli, campaign, tmp_path):
    folder, sent, truth = campaign
    assert _run(cli, folder, "fit", "--assignments", sent, "--learner", "t").code == 0
    out = tmp_path / "top.csv"
    result = _run(cli, folder, "score", "--top", "20%", "--out", out)
    assert result.code == 0, result.err
    doc = result.json()
    assert len(doc["customers"]) == int(0.2 * N) and doc["top_share"] == 0.2
    uplifts = [c["predicted_uplift"] for c in doc["customers"]]
    assert uplifts == sorted(uplifts, reverse=True)
    # the lapsed are 20 % of all customers; the model's top fifth is mostly them
    lapsed = set(truth.customer_id[truth.lapsed])
    share = np.mean([c["customer_id"] in lapsed for c in doc["customers"]])
    assert share > 0.6, share
    assert doc["clv_available"] is False and doc["customers"][0]["clv"] is None
    written = pd.read_csv(out)
    assert written.customer_id.tolist() == [c["customer_id"] for c in doc["customers"]]
    plain = cli("campaign", "uplift", "score", "--top", "0.5%", "--store", str(folder / "store"))
    assert plain.code == 0 and plain.out.startswith("The 15 customers (0.5 % of 3,000)")
    assert doc["customers"][0]["customer_id"] in plain.out
    from tenure.campaigns.uplift import persuadable_audience

    audience = persuadable_audience(load_settings(store=folder / "store"), 0.2)
    assert audience.customer_id.tolist() == written.customer_id.tolist()


def test_the_outcomes_match_the_campaigns_truth(campaign):
    """Outcomes from the file and from a table of the same assignments are
    the conversions generated; features are read as of the day before."""
    from tenure.campaigns import uplift_data

    folder, sent, truth = campaign
    settings = load_settings(store=folder / "store")
    read, from_file = uplift_data.outcomes_from_file(settings, sent, window=30,
                                                     metric="conversion")  # fmt: skip
    table = truth.assign(group=np.where(truth.treated, "treatment", "control"))
    from_table = uplift_data.outcomes_from_table(settings, table, window=30, metric="conversion")
    expected = truth.sort_values("customer_id")
    for got in (from_file, from_table):
        assert got.customer_id.tolist() == expected.customer_id.tolist()
        assert got.y.tolist() == expected.converted.astype(float).tolist()
        assert got.treated.tolist() == expected.treated.tolist()
    few = from_file.head(40)
    features = uplift_data.features_at_assignment(settings, few)
    days = (pd.to_datetime(few.assigned_at) - pd.to_datetime(truth.set_index("customer_id")
            .loc[few.customer_id, "assigned_at"].to_numpy())).dt.total_seconds()  # fmt: skip
    assert (days == 0).all()
    # the last order before assignment is 1-30 (recent) or 90-180 (lapsed) days
    # before it; features are as of the day before, so one day less, rounded
    lapsed = truth.set_index("customer_id").loc[few.customer_id, "lapsed"].to_numpy()
    recency = features.recency_days.to_numpy()
    assert (recency[lapsed] >= 88).all() and (recency[~lapsed] <= 30).all()


def test_errors_name_what_to_change(cli, campaign, tmp_path):
    folder, sent, _ = campaign
    result = _run(cli, folder, "fit", "--assignments", sent, "--learner", "ct",
                  "--metric", "revenue")  # fmt: skip
    assert result.code == 1
    error = json.loads(result.out)["error"]
    assert "binary outcome" in error["message"] and "--learner t" in error["hint"]
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,arm_name,assigned_at\nc00001,treatment,2024-06-03\n")
    result = _run(cli, folder, "fit", "--assignments", bad)
    assert result.code == 1
    error = json.loads(result.out)["error"]
    assert error["column"] == "group" and "arm_name" in error["message"]
    result = _run(cli, folder, "score", "--top", "150%")
    assert result.code == 1 and json.loads(result.out)["error"]["value"] == "150%"
    empty = tmp_path / "empty-store"
    settings = load_settings(store=empty)
    orders = tmp_path / "o.csv"
    orders.write_text("order_id,customer_id,placed_at,amount\no1,c1,2024-01-01,10\n")
    with Workspace.open(settings) as ws:
        ingest("orders", orders, workspace=ws)
    result = cli("campaign", "uplift", "score", "--store", str(empty), "--json")
    assert result.code == 1
    assert "tenure campaign uplift fit" in json.loads(result.out)["error"]["hint"]
    # without --json: a message, no traceback
    plain = cli("campaign", "uplift", "score", "--store", str(empty))
    assert plain.code == 1 and "Traceback" not in plain.err and "no uplift model" in plain.err


def test_several_arms_need_one_named(cli, campaign, tmp_path):
    folder, sent, _ = campaign
    lines = sent.read_text().splitlines()
    arms = [lines[0]] + [
        line.replace(",treatment,", ",email," if i % 2 else ",sms,") for i, line in
        enumerate(lines[1:])]  # fmt: skip
    three = tmp_path / "three.csv"
    three.write_text("\n".join(arms) + "\n")
    error = json.loads(_run(cli, folder, "fit", "--assignments", three).out)["error"]
    assert error["code"] == "several_arms" and "--arm" in error["hint"]
    assert "email" in error["message"] and "sms" in error["message"]
    error = json.loads(_run(cli, folder, "fit", "--assignments", three, "--arm", "push").out)
    assert error["error"]["value"] == "push" and error["error"]["column"] == "group"


def test_help_has_an_example(cli):
    for command in ("fit", "score"):
        result = cli("campaign", "uplift", command, "--help")
        assert result.code == 0 and "Example:" in result.out
        assert f"tenure campaign uplift {command}" in result.out
