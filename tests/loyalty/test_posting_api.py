"""Orders sent to the REST API earn their points as an ingested file's do."""

from __future__ import annotations

from dataclasses import replace

from tenure.config import LoyaltySettings
from tenure.loyalty.rules import EarningRules
from tests.web.conftest import Site, build_store, needs_web, serve
from tests.web.test_api import _auth, _key


def test_orders_posted_to_the_api_earn_their_points_once(tmp_path):
    needs_web()
    from tenure.web import create_app

    settings = build_store(tmp_path, customers=50)
    settings = replace(settings, loyalty=LoyaltySettings(earning=EarningRules(2.0)))
    url, stop = serve(create_app(settings, warm=False))
    site = Site(url, settings, settings.store)
    try:
        key = _key(site, "read", "write")
        rows = [{"order_id": "API-L1", "customer_id": "C000001",
                 "placed_at": "2026-11-01T10:00:00Z", "amount": 12.5, "currency": "EUR"}]  # fmt: skip
        with site.client() as c:
            first = c.post("/api/v1/orders", json=rows, headers=_auth(key))
            again = c.post("/api/v1/orders", json=rows, headers=_auth(key))
        assert first.status_code == 200, first.text
        # 12.50 EUR at 2 points a EUR: 25
        posted = first.json()["refreshed"]["loyalty_posted"]
        assert (posted["posted"], posted["points"]) == (1, 25)
        # the same order again changes nothing in the store: nothing is posted
        assert again.json()["refreshed"]["loyalty_posted"] is None
    finally:
        stop()
