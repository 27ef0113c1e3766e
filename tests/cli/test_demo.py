"""`tenure demo` end to end: generated files ingested through the public path."""

from __future__ import annotations

import csv

import pandas as pd

from tests.conftest import query

ORDERS = ("orders", "order_items")


def _rows(path) -> int:
    if str(path).endswith(".jsonl"):
        with open(path, encoding="utf-8") as fh:
            return sum(1 for line in fh if line.strip())
    with open(path, newline="", encoding="utf-8") as fh:
        return sum(1 for _ in csv.reader(fh)) - 1


def test_demo_ingests_every_generated_row(cli, tmp_path, store):
    out = tmp_path / "files"
    html = tmp_path / "demo-report.html"
    r = cli(
        "demo", "--customers", "400", "--seed", "3", "--out", out, "--store", store,
        "--report", html, "--json",
    )  # fmt: skip
    assert r.code == 0, r.err
    report = r.json()
    assert report["report"] == str(html.resolve())
    assert "Customer retention report" in html.read_text(encoding="utf-8")
    by_kind = {x["kind"]: x for x in report["ingested"]}
    assert list(by_kind) == [
        "fx_rates",
        "customers",
        "orders",
        "order_items",
        "subscriptions",
        "support_tickets",
        "survey_responses",
        "events",
    ]
    for kind, result in by_kind.items():
        expected = _rows(next(out.glob(f"{kind}.*")))
        assert result["read"] == expected, kind
        # the orders before the campaigns' launch were ingested first (the
        # store as it stood then), the rest after it: together, every row
        inserted = result["inserted"] + (result["unchanged"] if kind in ORDERS else 0)
        assert (result["accepted"], result["rejected"], inserted) == (expected, 0, expected), kind
        if kind in ORDERS:
            assert 0 < result["inserted"] < expected, kind
        assert query(store, f"SELECT count(*) FROM {kind}") == [(expected,)]
    assert report["headline"]["customers"] == 400
    # the subscriptions' sBG fit is kept, over every subscription in the file
    subs = pd.read_csv(out / "subscriptions.csv")
    fitted = report["subscriptions"]
    assert fitted["subscriptions"] == len(subs)
    assert fitted["active"] == subs["ended_at"].isna().sum()
    assert fitted["churned"] == subs["ended_at"].notna().sum()
    assert fitted["curve"][0] == {"t": 0, "survival": 1.0, "retention": None}
    assert ("sbg",) in query(store, "SELECT model FROM model_fits")
    # every customer bought; the one-time buyers are those with one purchase day
    orders = pd.read_csv(out / "orders.csv")
    buys = orders[orders["status"].isin(["completed", "partially_refunded"])]
    days = buys.assign(day=buys["placed_at"].str[:10]).groupby("customer_id")["day"].nunique()
    p = report["predictions"]
    assert p["customers"] == len(days) == 400
    assert (p["one_time_buyers"], p["repeat_customers"]) == ((days == 1).sum(), (days > 1).sum())
    assert p["model_choice"]["chosen"] == p["model"]
    assert query(store, "SELECT count(DISTINCT currency) FROM orders")[0][0] >= 4
    # every amount in a foreign currency was converted with a rate
    assert query(store, "SELECT count(*) FROM orders WHERE amount_reporting IS NULL") == [(0,)]
    # the loyalty program: its whole history posted under the demo's
    # tenure.toml, placed where the commands read it (the current folder)
    program = report["loyalty"]
    assert program["refused"] == 0 and program["members"] > 0
    assert program["settings"] == {"path": str((tmp_path / "tenure.toml").resolve()),
                                   "in_use": True}  # fmt: skip
    assert (tmp_path / "tenure.toml").read_bytes() == (out / "tenure.toml").read_bytes()
    tiers = cli("loyalty", "tiers", "--store", store, "--json")
    assert tiers.code == 0, tiers.err
    doc = tiers.json()
    assert [(t["name"], t["threshold"]) for t in doc["tiers"]] == [("Silver", 150), ("Gold", 400)]
    assert doc["members"] == program["members"]
    # the dashboard's program page reads the same thresholds
    from tenure.config import load_settings as settings_of
    from tenure.loyalty import Policy
    from tenure.loyalty.program import summary
    from tenure.store.ops import OpsStore

    ops = OpsStore.open(settings_of(store=store).ops_database_url)
    try:
        shown = summary(ops, Policy.from_settings(settings_of(store=store).loyalty))
    finally:
        ops.close()
    assert [(t["name"], t["threshold"]) for t in shown["tiers"]] == [("Silver", 150), ("Gold", 400)]
    assert shown["redemptions"]["count"] > 0
    # a demo into a new store finds its own tenure.toml in use; one of the
    # user's own is kept, and the demo's named
    fresh = cli("demo", "--customers", "50", "--seed", "3", "--out", tmp_path / "f2", "--store",
                tmp_path / "s2", "--no-report", "--json").json()  # fmt: skip
    assert fresh["loyalty"]["settings"]["in_use"] is True
    (tmp_path / "tenure.toml").write_text("[loyalty]\nexpiry_days = 90\n", encoding="utf-8")
    kept = cli("demo", "--customers", "50", "--seed", "3", "--out", tmp_path / "f3", "--store",
               tmp_path / "s3", "--no-report", "--json").json()  # fmt: skip
    assert kept["loyalty"]["settings"] == {"path": str((tmp_path / "f3" / "tenure.toml").resolve()),
                                           "in_use": False}  # fmt: skip
    assert (tmp_path / "tenure.toml").read_text(encoding="utf-8") == "[loyalty]\nexpiry_days = 90\n"
    (tmp_path / "tenure.toml").write_bytes((out / "tenure.toml").read_bytes())
    # the same demo again changes nothing
    again = cli(
        "demo", "--customers", "400", "--seed", "3", "--out", out, "--store", store,
        "--no-report", "--json",
    ).json()  # fmt: skip
    assert again["report"] is None
    assert all(x["unchanged"] == x["accepted"] and x["inserted"] == 0 for x in again["ingested"])
    # the store is the demo's, with the login the output names, and it works
    from tenure.access import users
    from tenure.config import load_settings
    from tenure.store.workspace import Workspace

    login = again["dashboard"]["login"]
    assert f"--store {store}" in again["dashboard"]["command"]
    with Workspace.open(load_settings(store=store), create=False) as ws:
        user = users.authenticate(ws.ops, login["email"], login["password"], "127.0.0.1")
    assert user["role"] == "admin"
