"""The global control measured across campaigns, on simulated stores.

Two campaigns are launched 20 days apart over overlapping audiences (A:
c00000..c02999, B: c01000..c03999), with the real hash and a global share
of 30 %. Each customer orders at a rate λ drawn from a gamma distribution;
customers outside the global control order at (1 + EFFECT) λ in the 30
days after their *first* assignment (A's launch for c01000..c02999). The
truth is known from the drawn λ: per customer, orders rise by
EFFECT · 30 · mean(λ). With EFFECT = 0 the interval must cover 0.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from tenure.campaigns import definitions, holdouts
from tenure.campaigns.consent import write_transaction
from tenure.campaigns.launch import _insert_assignments
from tenure.campaigns.measure_global import measure_global
from tenure.config import load_settings
from tenure.ingestion.pipeline import ingest
from tenure.jsondoc import dumps
from tenure.store.ops_schema import ops_meta
from tenure.store.workspace import Workspace

N = 4000
WINDOW = 30
SHARE = 0.3
A_AT = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
B_AT = A_AT + timedelta(days=20)
A_IDS, B_IDS = slice(0, 3000), slice(1000, N)


def _orders(rng, starts, rate, ids, kind):
    counts = rng.poisson(rate)
    who = np.repeat(np.arange(len(ids)), counts)
    offset = rng.random(len(who)) * WINDOW * 86400
    return [(f"{kind}-{i}", ids[c], (starts[c] + timedelta(seconds=float(s)))
             .strftime("%Y-%m-%d %H:%M:%S"), 20.0)
            for i, (c, s) in enumerate(zip(who, offset, strict=True))]  # fmt: skip


def _launched(conn, name, ids, at, share, template):
    holdouts.set_global_share(conn, share)
    control = holdouts.global_control(conn)
    campaign = definitions.create(conn, {
        "name": name, "channel": "email", "purpose": "marketing", "priority": "normal",
        "template": str(template), "audience": '["lapsed:90"]', "holdout": 0.2,
        "salt": f"salt-{name}"}, at=at)  # fmt: skip
    arms = holdouts.assign(list(ids), salt=campaign.salt, holdout=0.2, control=control)
    _insert_assignments(conn, campaign.id, list(ids), arms, at)
    definitions.set_state(conn, campaign, "done", launched_at=at, global_share=share)
    return control


def _program(folder, effect, *, b_share=SHARE, seed=7):
    """A store with both campaigns launched; (settings, truth, control salt)."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"c{i:05d}" for i in range(N)])
    settings = load_settings(store=folder / "store")
    with Workspace.open(settings) as ws, write_transaction(ws.ops) as conn:
        # a fixed global salt: the same arms on every run
        conn.execute(ops_meta.insert(), [{"key": holdouts._SALT_KEY, "value": "global-salt"},
                                         {"key": holdouts._SHARE_KEY, "value": repr(SHARE)}])
        control = _launched(conn, "a", ids[A_IDS], A_AT, SHARE, folder)
        _launched(conn, "b", ids[B_IDS], B_AT, b_share, folder)
    first = [A_AT if i < A_IDS.stop else B_AT for i in range(N)]
    outside = holdouts.draws(control.salt, ids) >= SHARE
    lam = rng.gamma(0.5, 0.03 / 0.5, N)
    before = [t - timedelta(days=WINDOW) for t in first]
    rows = _orders(rng, before, lam * WINDOW, ids, "pre")
    rows += _orders(rng, first, lam * WINDOW * np.where(outside, 1 + effect, 1), ids, "post")
    rows += _orders(rng, [t + timedelta(days=WINDOW) for t in first], lam * WINDOW, ids, "late")
    with (folder / "orders.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["order_id", "customer_id", "placed_at", "amount"])
        w.writerows(rows)
    (folder / "customers.csv").write_text("customer_id\n" + "\n".join(ids) + "\n")
    with Workspace.open(settings, create=False) as ws:
        ingest("customers", folder / "customers.csv", workspace=ws)
        ingest("orders", folder / "orders.csv", workspace=ws)
    return settings, float(np.mean(lam * WINDOW * effect)), control


def assert_same(got, expected, where="doc"):
    """Equal documents, floats to 1e-9 relative: DuckDB's parallel sums add
    in an order that changes from run to run, in the last bits."""
    if isinstance(expected, float) and isinstance(got, float | int):
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-12), where
    elif isinstance(expected, dict):
        assert isinstance(got, dict) and set(got) == set(expected), where
        for key in expected:
            assert_same(got[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(got, list) and len(got) == len(expected), where
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            assert_same(g, e, f"{where}[{i}]")
    else:
        assert got == expected, where


def _orders_lift(doc):
    (entry,) = doc["metrics"]["orders"]
    return entry


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    return _program(tmp_path_factory.mktemp("global-planted"), 0.5)


def test_a_planted_effect_of_the_program_is_recovered(planted):
    settings, truth, control = planted
    with Workspace.open(settings, create=False) as ws:
        doc = measure_global(settings, ws.ops, window=WINDOW, metric="orders")
    entry = _orders_lift(doc)
    low, high = entry["absolute"]["ci"]
    assert low <= truth <= high and low > 0
    assert entry["verdict"] == "better"
    # the arms are the hash's: every assigned customer once, by their draw
    draws = holdouts.draws(control.salt, [f"c{i:05d}" for i in range(N)])
    n = {a["name"]: a["n"] for a in doc["arms"]}
    assert n == {"control": int(np.sum(draws < SHARE)), "campaigns": int(np.sum(draws >= SHARE))}
    assert doc["global_control"]["customers"] == N and doc["global_control"]["excluded"] == 0
    assert doc["global_control"]["campaigns"] == 2
    assert {a["name"]: a["expected_share"] for a in doc["arms"]} == pytest.approx(
        {"control": SHARE, "campaigns": 1 - SHARE})
    assert not doc["srm"]["flagged"]


def test_each_customer_counts_from_their_first_assignment(planted):
    from tenure.campaigns.measure_global import first_eligibility

    settings, _, control = planted
    with Workspace.open(settings, create=False) as ws, ws.ops.engine.connect() as conn:
        rows = {c: (held, at) for c, held, at in first_eligibility(conn)}
    assert len(rows) == N
    for customer, first in (("c00000", A_AT), ("c01500", A_AT), ("c02999", A_AT),
                            ("c03000", B_AT), ("c03999", B_AT)):  # fmt: skip
        held, at = rows[customer]
        assert at.replace(tzinfo=UTC) == first, customer
        assert held == (holdouts.draw(control.salt, customer) < SHARE)


def test_no_effect_gives_an_interval_covering_zero(tmp_path):
    settings, truth, _ = _program(tmp_path, 0.0, seed=11)
    with Workspace.open(settings, create=False) as ws:
        doc = measure_global(settings, ws.ops, window=WINDOW, metric="conversion")
    assert truth == 0
    for metric in ("conversion", "orders", "revenue"):
        (entry,) = doc["metrics"][metric]
        low, high = entry["absolute"]["ci"]
        assert low <= 0 <= high, metric
    assert doc["lifts"][0]["verdict"] == "inconclusive"


def test_a_changed_share_leaves_out_the_customers_between(tmp_path):
    """B launched with a 40 % share: customers drawn in [0.3, 0.4) are in
    the control of B only, so they are left out; the split is 30 : 60."""
    settings, _, control = _program(tmp_path, 0.0, b_share=0.4)
    with Workspace.open(settings, create=False) as ws:
        doc = measure_global(settings, ws.ops, window=WINDOW)
    draws = holdouts.draws(control.salt, [f"c{i:05d}" for i in range(N)])
    between = int(np.sum((draws >= SHARE) & (draws < 0.4)))
    assert doc["global_control"]["excluded"] == between > 0
    assert doc["global_control"]["shares_used"] == [SHARE, 0.4]
    shares = {a["name"]: a["expected_share"] for a in doc["arms"]}
    assert shares == pytest.approx({"control": 0.3 / 0.9, "campaigns": 0.6 / 0.9})


def test_the_command_prints_the_library_document(planted, cli):
    settings, _, _ = planted
    out = cli("campaign", "measure", "--global-control", "--window", str(WINDOW), "--metric",
              "orders", "--store", str(settings.store), "--json")  # fmt: skip
    with Workspace.open(settings, create=False) as ws:
        doc = measure_global(settings, ws.ops, window=WINDOW, metric="orders")
    assert_same(json.loads(out.out), json.loads(dumps(doc)))  # NaN written as null
    table = cli("campaign", "measure", "--global-control", "--store", str(settings.store))
    assert "global control" in table.out


def test_nothing_launched_is_one_json_error(tmp_path, cli):
    settings = load_settings(store=tmp_path / "store")
    Workspace.open(settings).close()
    out = cli("campaign", "measure", "--global-control", "--store", str(settings.store),
              "--json")  # fmt: skip
    assert out.code == 1 and json.loads(out.out)["error"]["code"] == "no_global_comparison"
    both = cli("campaign", "measure", "--global-control", "--assignments", "x.csv", "--store",
               str(settings.store), "--json")  # fmt: skip
    neither = cli("campaign", "measure", "--store", str(settings.store), "--json")
    assert both.code == neither.code == 2
    assert "--assignments" in json.loads(both.out)["error"]["message"]
