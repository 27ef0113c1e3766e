"""Filters: a filtered read equals the same read of a store that holds only
the matching customers (made by filtering the files with pandas and
ingesting them), and the CLI, the Python API and the REST API give the
same numbers for the same filter."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

import tenure
from tenure.config import load_settings
from tenure.errors import ConfigError, InputError
from tenure.report.formatting import Formatter
from tests.conftest import demo_store


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """A small demo store, its files, and its as-of date."""
    folder = tmp_path_factory.mktemp("filters")
    settings, files = demo_store(folder, customers=300, seed=7)
    as_of = tenure.metrics(settings=settings).attrs["definitions"]["as_of"]
    return folder, files.by_kind(), settings, as_of


def _store_of(shop, name: str, keep) -> object:
    """A store of only the customers ``keep(customers, orders)`` names."""
    from tenure.datamodel import INGEST_ORDER as ORDER
    from tenure.ingestion.pipeline import ingest
    from tenure.store.workspace import Workspace

    folder, files, _, _ = shop
    read = {"dtype": str, "keep_default_na": False}
    customers = pd.read_csv(files["customers"], **read)
    orders = pd.read_csv(files["orders"], **read)
    ids = set(keep(customers, orders))
    out = folder / name
    out.mkdir()
    settings = load_settings(store=out / "store", reporting_currency="EUR")
    with Workspace.open(settings) as ws:
        for kind in ORDER:
            path = files[kind]
            if path.suffix == ".jsonl":
                rows = [json.loads(line) for line in path.read_text().splitlines() if line]
                rows = [r for r in rows if r.get("customer_id") in ids]
                target = out / path.name
                target.write_text("".join(json.dumps(r) + "\n" for r in rows))
            else:
                frame = pd.read_csv(path, **read)
                if "customer_id" in frame:
                    frame = frame[frame.customer_id.isin(ids)]
                elif kind == "order_items":
                    kept = orders[orders.customer_id.isin(ids)].order_id
                    frame = frame[frame.order_id.isin(kept)]
                target = out / path.name
                frame.to_csv(target, index=False)
            ingest(kind, target, workspace=ws)
    return settings


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))


def test_a_country_filter_equals_a_store_of_that_country(shop):
    _, _, settings, as_of = shop
    only = _store_of(shop, "de", lambda c, o: c[c.country == "DE"].customer_id)
    filtered = tenure.metrics(settings=settings, as_of=as_of, filters={"country": "DE"})
    alone = tenure.metrics(settings=only, as_of=as_of)
    assert filtered.attrs["definitions"]["filters"] == {"country": "DE"}
    assert (
        0
        < filtered.customers_end.iloc[-1]
        < tenure.metrics(settings=settings).customers_end.iloc[-1]
    )
    _same(filtered, alone)
    _same(
        tenure.cohorts(settings=settings, as_of=as_of, filters={"country": "de"}),
        tenure.cohorts(settings=only, as_of=as_of),
    )


def test_a_channel_and_cohort_filter_equals_a_store_of_those_customers(shop):
    _, _, settings, as_of = shop

    def keep(customers, orders):
        paid = set(customers[customers.acquisition_channel == "organic"].customer_id)
        bought = orders[orders.status.isin(["completed", "pending", "partially_refunded"])]
        first = bought.groupby("customer_id").placed_at.min().str[:7]
        return [c for c, month in first.items() if month == "2026-02" and c in paid]

    only = _store_of(shop, "organic-2026-02", keep)
    chosen = {"channel": "organic", "cohort": "2026-02"}
    cohorts = tenure.cohorts(settings=settings, as_of=as_of, filters=chosen)
    assert list(cohorts.cohort) == ["2026-02"] and cohorts["size"].iloc[0] == len(keep(
        *(pd.read_csv(shop[1][k], dtype=str, keep_default_na=False) for k in ("customers", "orders"))
    ))  # fmt: skip
    _same(cohorts, tenure.cohorts(settings=only, as_of=as_of))
    _same(
        tenure.metrics(settings=settings, as_of=as_of, filters=chosen),
        tenure.metrics(settings=only, as_of=as_of),
    )


def test_a_segment_filter_keeps_the_segment_and_its_scores(shop):
    _, _, settings, _ = shop
    every = tenure.segments(settings=settings, kind="business", per_customer=True)
    at_risk = tenure.segments(
        settings=settings, kind="business", per_customer=True, filters={"segment": "at risk"}
    )
    expected = every[every.value_segment == "at risk"].reset_index(drop=True)
    assert len(expected) > 0
    # the RFM scores stay those among every customer: a filter does not re-rank
    _same(at_risk, expected)
    sizes = tenure.segments(settings=settings, kind="business", filters={"segment": "at risk"})
    assert dict(zip(sizes.segment, sizes.customers, strict=True)) == {
        "new": 0, "at risk": len(expected), "high value": 0, "active": 0, "lapsed": 0,
    }  # fmt: skip


def test_a_date_range_ends_the_data_and_drops_earlier_periods(shop):
    _, _, settings, _ = shop
    ranged = tenure.metrics(settings=settings, filters={"start": "2025-01-01", "end": "2025-12-31"})
    whole = tenure.metrics(settings=settings, as_of="2025-12-31")
    assert list(ranged.period) == [f"2025-{m:02d}" for m in range(1, 13)]
    _same(ranged, whole[whole.period >= "2025-01"])


def test_customers_whose_data_ended_long_ago_keep_the_data_s_as_of_date(shop):
    _, _, settings, as_of = shop
    early = tenure.metrics(settings=settings, filters={"cohort": "2024-01"})
    assert early.attrs["definitions"]["as_of"] == as_of
    assert early.period.iloc[-1] == as_of[:7] or early.period_end.iloc[-1].isoformat() <= as_of


def test_bad_filters_say_what_to_write():
    with pytest.raises(ConfigError, match="is not a month"):
        tenure.metrics(filters={"cohort": "March"})
    with pytest.raises(ConfigError, match="backwards"):
        tenure.metrics(filters={"start": "2026-02-01", "end": "2026-01-01"})
    with pytest.raises(ConfigError, match="Filter by: "):
        tenure.metrics(filters={"region": "EU"})


def test_the_cli_and_the_api_give_the_python_apis_numbers(shop, cli):
    from tests.web.conftest import PASSWORDS, Site, needs_web, serve

    needs_web()
    from tenure.access import users
    from tenure.store.workspace import Workspace
    from tenure.web import create_app

    _, _, settings, _ = shop
    chosen = {"country": "DE", "segment": "active"}
    expected = tenure.analysis.metrics_document(
        tenure.metrics(settings=settings, filters={**chosen, "start": "2026-01-01"}), "month"
    )
    printed = cli(
        "metrics", "--store", settings.store, "--country", "DE", "--segment", "active",
        "--from", "2026-01-01", "--json",
    )  # fmt: skip
    assert printed.code == 0, printed.err
    assert printed.json() == json.loads(json.dumps(expected))
    with Workspace.open(settings) as ws:
        users.add_user(ws.ops, "viewer@shop.example", "viewer", PASSWORDS["viewer@shop.example"])
    import secrets
    from dataclasses import replace

    url, stop = serve(
        create_app(replace(settings, secret_key=secrets.token_urlsafe(40)), warm=False)
    )
    try:
        client = Site(url, settings, settings.store).login("viewer@shop.example")
        answer = client.get("/api/v1/metrics", params={**chosen, "from": "2026-01-01"}).json()
        assert answer == json.loads(json.dumps(expected))
        sizes = client.get("/api/v1/segments", params={"kind": "business", **chosen}).json()
        assert [s["customers"] for s in sizes["segments"] if s["segment"] != "active"] == [0] * 4
        bad = client.get("/api/v1/metrics", params={"cohort": "March"})
        assert bad.status_code in (400, 422)
        # the dashboard's form, as a browser sends it: blank fields are no filter
        form = {"country": "DE", "channel": "", "cohort": "", "segment": "active",
                "from": "2026-01-01", "to": ""}  # fmt: skip
        page = client.get("/", params=form)
        assert page.status_code == 200, page.text[:500]
        last = expected["metrics"][-1]
        fmt = Formatter("en", settings.reporting_currency)
        churn = re.search(r'Churn rate</div>\s*<div class="value">([^<]+)<', page.text)
        assert churn is not None and churn.group(1) == fmt.percent(last["churn_rate"])
        assert 'name="from" type="date" value="2026-01-01"' in page.text
        # a from date after the data's last complete month says so
        late = client.get("/retention", params={**form, "from": "2031-01-01"})
        assert "starts on or after 2031-01-01" in late.text
    finally:
        stop()


def test_a_filter_that_matches_nobody_says_which(shop, cli):
    _, _, settings, _ = shop
    with pytest.raises(InputError) as caught:
        tenure.metrics(settings=settings, filters={"country": "ZZ"})
    assert "matches country=ZZ" in caught.value.what
    # the store holds orders: the message is about the filter, not the data
    assert "Ingest orders" not in str(caught.value)
    r = cli("metrics", "--store", settings.store, "--channel", "carrier-pigeon", "--json")
    assert r.code == 1
    assert "matches channel=carrier-pigeon" in r.json()["error"]["message"]
