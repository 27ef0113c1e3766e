"""`tenure demo` end to end: generated files ingested through the public path."""

from __future__ import annotations

import csv

from tests.conftest import query


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
        assert (result["accepted"], result["rejected"], result["inserted"]) == (
            expected,
            0,
            expected,
        ), kind
        assert query(store, f"SELECT count(*) FROM {kind}") == [(expected,)]
    assert report["headline"]["customers"] == 400
    assert query(store, "SELECT count(DISTINCT currency) FROM orders")[0][0] >= 4
    # every amount in a foreign currency was converted with a rate
    assert query(store, "SELECT count(*) FROM orders WHERE amount_reporting IS NULL") == [(0,)]
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
