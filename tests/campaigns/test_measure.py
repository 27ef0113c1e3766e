"""``tenure campaign measure`` end to end: a store built from generated
orders in which the treatment has a planted effect, and an assignments file.

Each customer orders at a rate λ drawn from a gamma distribution (so the
days before assignment predict the days after: CUPED has something to
use); treated customers order at 1.5 λ in the 30 days after their own
assigned_at. The truth the command must recover is known from the drawn
λ: per assigned customer, orders rise by 0.5 · 30 · mean(λ), and the chance
of an order by mean(exp(−30 λ) − exp(−45 λ)).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from tenure.config import load_settings
from tenure.ingestion.pipeline import ingest
from tenure.store.workspace import Workspace

N = 4000
WINDOW = 30
EFFECT = 0.5
START = np.datetime64("2024-03-01T00:00:00")


def _orders_in(rng, starts, rate_days, ids, kind):
    """Poisson orders of each customer between starts and starts + WINDOW days."""
    counts = rng.poisson(rate_days)
    who = np.repeat(np.arange(len(ids)), counts)
    offset = (rng.random(len(who)) * WINDOW * 86400).astype("timedelta64[s]")
    when = starts[who] + offset
    amount = np.round(rng.gamma(2.0, 25.0, len(who)), 2)
    return [(f"{kind}-{i}", ids[c], str(t).replace("T", " "), a)
            for i, (c, t, a) in enumerate(zip(who, when, amount, strict=True))]  # fmt: skip


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    """The store, the assignments file and the truth."""
    folder = tmp_path_factory.mktemp("campaign")
    rng = np.random.default_rng(2024)
    ids = np.array([f"c{i:05d}" for i in range(N)])
    lam = rng.gamma(0.5, 0.03 / 0.5, N)  # orders per day, mean 0.03, widely spread
    treated = rng.random(N) < 0.5
    assigned = START + (rng.random(N) * 14 * 86400).astype("timedelta64[s]")
    day = np.timedelta64(86400, "s")
    rows = _orders_in(rng, assigned - 2 * WINDOW * day, lam * WINDOW, ids, "old")
    rows += _orders_in(rng, assigned - WINDOW * day, lam * WINDOW, ids, "pre")
    rows += _orders_in(rng, assigned, lam * WINDOW * np.where(treated, 1 + EFFECT, 1), ids, "post")
    rows += _orders_in(rng, assigned + WINDOW * day, lam * WINDOW, ids, "late")
    orders = folder / "orders.csv"
    with orders.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["order_id", "customer_id", "placed_at", "amount"])
        w.writerows(rows)
    customers = folder / "customers.csv"
    customers.write_text("customer_id\n" + "\n".join(ids) + "\n")
    settings = load_settings(store=folder / "store")
    with Workspace.open(settings) as ws:
        ingest("customers", customers, workspace=ws)
        ingest("orders", orders, workspace=ws)
    sent = folder / "assignments.csv"
    with sent.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Customer ID", "group", "assigned_at"])
        w.writerows(zip(ids, np.where(treated, "treatment", "control"),
                        [str(t).replace("T", " ") for t in assigned], strict=True))  # fmt: skip
    truth = {
        "orders": float(np.mean(lam * WINDOW * EFFECT)),
        "conversion": float(np.mean(np.exp(-lam * WINDOW) - np.exp(-lam * WINDOW * (1 + EFFECT)))),
    }
    return folder, sent, truth, treated


def _measure(cli, folder, *args):
    return cli("campaign", "measure", "--store", str(folder / "store"), *map(str, args), "--json")


def test_recovers_the_planted_effect(cli, campaign):
    folder, sent, truth, treated = campaign
    result = _measure(cli, folder, "--assignments", sent, "--window", WINDOW, "--metric", "orders")
    assert result.code == 0, result.out + result.err
    doc = result.json()
    assert {a["name"]: a["n"] for a in doc["arms"]} == {
        "control": int((~treated).sum()), "treatment": int(treated.sum())}  # fmt: skip
    assert doc["assignments"]["rejected"] == 0 and doc["control"] == "control"
    assert not doc["srm"]["flagged"]
    for metric in ("orders", "conversion"):
        (arm,) = doc["metrics"][metric]
        low, high = arm["absolute"]["ci"]
        assert low < truth[metric] < high, (metric, low, truth[metric], high)
        assert arm["verdict"] == "better"
        # the pre-period predicts the window: CUPED is applied and narrows the interval
        assert arm["cuped"]["applied"] and arm["cuped"]["variance_reduction"] > 0.05
        plain = arm["unadjusted"]["absolute"]
        assert high - low < plain["ci"][1] - plain["ci"][0]
        seq = arm["anytime_valid"]["absolute"]["ci"]
        assert seq[0] < low and seq[1] > high  # wider: it holds at every look
    assert doc["lifts"] == doc["metrics"]["orders"]
    # a planted +50 % on orders shows in relative terms too
    rel = doc["metrics"]["orders"][0]["relative"]["ci"]
    assert rel[0] < EFFECT < rel[1]
    (ttn,) = doc["metrics"]["time_to_order"]
    assert ttn["absolute"]["estimate"] < 0 and ttn["verdict"] == "better"  # sooner is better
    assert doc["metrics"]["visits"] == {
        "available": False,
        "reason": doc["metrics"]["visits"]["reason"],
    }
    assert "events" in doc["metrics"]["visits"]["reason"]


def test_no_effect_between_two_control_halves_is_inconclusive(cli, campaign, tmp_path):
    """The control customers split in two at random: no effect, so the
    interval includes zero and the verdict says so."""
    folder, sent, _, treated = campaign
    lines = sent.read_text().splitlines()
    rng = np.random.default_rng(9)
    rows = [line for line in lines[1:] if line.split(",")[1] == "control"]
    halves = rng.random(len(rows)) < 0.5
    path = tmp_path / "aa.csv"
    path.write_text("customer_id,group,assigned_at\n" + "\n".join(
        line.replace(",control,", ",holdout," if h else ",b,") for line, h in zip(rows, halves, strict=True)
    ) + "\n")  # fmt: skip
    doc = _measure(cli, folder, "--assignments", path).json()
    assert doc["control"] == "holdout"
    (arm,) = doc["lifts"]
    low, high = arm["absolute"]["ci"]
    assert low < 0 < high and arm["verdict"] == "inconclusive"
    # what it could have found: (1.95996 + 0.84162) standard errors
    assert arm["mde_absolute"] == pytest.approx(2.80158 * arm["absolute"]["se"], rel=1e-5)
    text = cli("campaign", "measure", "--store", str(folder / "store"), "--assignments", path).out
    assert "b: inconclusive. With these customers, a lift of" in text


def test_sample_ratio_mismatch_overrides_the_verdict(cli, campaign):
    folder, sent, _, _ = campaign
    doc = _measure(cli, folder, "--assignments", sent, "--split", "control=90,treatment=10").json()
    assert doc["srm"]["flagged"] and doc["srm"]["p_value"] < 0.001
    assert doc["lifts"][0]["verdict"] == "sample ratio mismatch"
    assert any("split" in note for note in doc["notes"])


def test_rows_that_cannot_be_used_are_quarantined(cli, campaign, tmp_path):
    folder, sent, _, _ = campaign
    lines = sent.read_text().splitlines()
    bad = [
        "c00001,treatment,31/02/2024",  # line 2: not a date
        "nobody,control,2024-03-02",  # line 3: unknown customer
        ",control,2024-03-02",  # line 4: no id
    ]
    path = tmp_path / "bad.csv"
    # the first two customers' rows replaced by the bad ones
    path.write_text("\n".join([lines[0], *bad, *lines[3:]]) + "\n")
    result = _measure(cli, folder, "--assignments", path)
    assert result.code == 0, result.out
    read = result.json()["assignments"]
    assert read["rejected"] == 3 and read["used"] == N - 2  # c00000 and c00001 left out
    first = {e["line"]: e for e in read["first_errors"]}
    assert first[2]["column"] == "assigned_at" and first[2]["value"] == "31/02/2024"
    assert "not a date" in first[2]["reason"]
    assert first[3]["column"] == "Customer ID" and first[3]["value"] == "nobody"
    assert "not a customer in the store" in first[3]["reason"]
    with open(read["quarantine"], newline="") as f:
        quarantined = list(csv.DictReader(f))
    assert [r["_line"] for r in quarantined] == ["2", "3", "4"]
    assert quarantined[1]["Customer ID"] == "nobody"


@pytest.mark.parametrize(
    ("text", "code", "words"),
    [
        ("customer,arm,when\nc00001,treatment,2024-03-01\n", "column_not_found", "assigned_at"),
        ("customer_id,group,assigned_at\nc00001,treatment,2024-03-01\n"
         "c00002,treatment,2024-03-01\n", "no_control_arm", "'treatment'"),
        ("customer_id,group,assigned_at\nc00001,control,2024-03-01\n", "one_arm_only",
         "only one group"),
        ("customer_id,group,assigned_at\nc00001,control,2024-13-01\n", "no_usable_rows",
         "line 2, column 'assigned_at'"),
    ],
)  # fmt: skip
def test_a_file_that_cannot_be_measured_is_one_json_error(cli, campaign, tmp_path, text, code,
                                                          words):  # fmt: skip
    folder, _, _, _ = campaign
    path = tmp_path / "a.csv"
    path.write_text(text)
    result = _measure(cli, folder, "--assignments", path)
    assert result.code == 1
    err = result.json()["error"]
    assert err["code"] == code
    assert words in err["message"] + (err["hint"] or ""), err
    assert "Traceback" not in result.err


def test_visits_without_events_says_so(cli, campaign):
    folder, sent, _, _ = campaign
    result = _measure(cli, folder, "--assignments", sent, "--metric", "visits")
    assert result.code == 1
    err = result.json()["error"]
    assert err["code"] == "no_events" and "tenure ingest events" in err["message"]


def test_table_fits_80_columns_and_help_has_an_example(cli, campaign, monkeypatch):
    folder, sent, _, _ = campaign
    monkeypatch.setenv("COLUMNS", "80")
    result = cli("campaign", "measure", "--store", str(folder / "store"), "--assignments", sent)
    assert result.code == 0, result.err
    assert "treatment" in result.out and "better" in result.out
    assert max(len(line) for line in result.out.splitlines()) <= 80
    help_text = cli("campaign", "measure", "--help").out
    assert "Example:" in help_text and "--assignments" in help_text


def test_the_library_gives_the_same_document(campaign):
    """The command prints what the library returns (no number decided in the CLI)."""
    from tenure.campaigns.measure import measure_campaign

    folder, sent, truth, _ = campaign
    doc = measure_campaign(load_settings(store=Path(folder) / "store"), sent, metric="orders")
    low, high = doc["lifts"][0]["absolute"]["ci"]
    assert low < truth["orders"] < high
