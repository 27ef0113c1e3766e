"""Customer pages on the dashboard: every customer id shown links to the
customer's page, and a customer without a purchase has a page too, with
missing dates shown as "—" (null in JSON), never "NaT"."""

from __future__ import annotations

import re

import pytest

from tests.conftest import query
from tests.web.conftest import Site, build_store, needs_web, serve

LINK = re.compile(r'<a href="/customers/([^"?]+)">([^<]+)</a>')


@pytest.fixture(scope="module")
def scored_site(tmp_path_factory):
    """A small demo store with its purchase models and churn scores kept."""
    needs_web()
    from tenure.analysis.fitting import fit, predict
    from tenure.web import create_app

    settings = build_store(tmp_path_factory.mktemp("pages"))
    predict(settings=settings, save=True)
    fit("churn", settings=settings, save=True)
    url, stop = serve(create_app(settings, warm=False))
    yield Site(url, settings, settings.store)
    stop()


def _ids(html: str) -> list[str]:
    links = LINK.findall(html)
    assert all(target == shown for target, shown in links)  # an id links to its own page
    return [target for target, _ in links]


def test_customer_ids_link_to_their_pages_everywhere(scored_site):
    store = scored_site.store
    known = {r[0] for r in query(store, "SELECT customer_id FROM customers")}
    riskiest = query(
        store,
        "SELECT customer_id FROM churn_predictions ORDER BY churn_probability DESC, customer_id "
        "LIMIT 1",
    )[0][0]
    at_risk = query(
        store,
        "SELECT customer_id FROM customers WHERE customer_id IN (SELECT customer_id FROM "
        "churn_predictions) ORDER BY customer_id LIMIT 1",
    )[0][0]
    client = scored_site.login("viewer@shop.example")
    try:
        pages = {
            path: client.get(path)
            for path in ("/predictions", "/segments", "/customers", "/customers?segment=at+risk")
        }
        linked = {path: _ids(page.text) for path, page in pages.items()}
        assert all(page.status_code == 200 for page in pages.values())
        assert riskiest in linked["/predictions"]  # the churn section's riskiest customers
        for path, ids in linked.items():
            assert ids, f"{path} links no customer"
            assert set(ids) <= known, path
        assert client.get(f"/customers/{at_risk}").status_code == 200
        assert client.get(f"/customers/{linked['/segments'][0]}").status_code == 200
    finally:
        client.close()


def test_a_customer_without_a_purchase_has_a_page(scored_site):
    from tests.web.test_api import _auth, _key

    # every customer of the demo has bought: a new sign-up has not yet
    cid = "C-NEW-SIGNUP"
    write = _key(scored_site, "write")
    with scored_site.client() as api:
        added = api.post(
            "/api/v1/customers",
            json=[{"customer_id": cid, "created_at": "2026-06-01", "country": "DE"}],
            headers=_auth(write),
        )
    assert added.status_code == 200, added.text
    assert query(
        scored_site.store,
        "SELECT count(*) FROM customers c WHERE customer_id = 'C-NEW-SIGNUP' AND NOT EXISTS "
        "(SELECT 1 FROM orders o WHERE o.customer_id = c.customer_id)",
    ) == [(1,)]
    key = _key(scored_site, "read")
    with scored_site.client() as api:
        answer = api.get(f"/api/v1/customers/{cid}", headers=_auth(key))
        listed = api.get(
            "/api/v1/customers", params={"q": cid, "sort": "last_order"}, headers=_auth(key)
        )
    assert answer.status_code == 200, answer.text
    summary = answer.json()["summary"]
    assert (summary["first_order_at"], summary["last_order_at"], summary["orders"]) == (
        None, None, None,
    )  # fmt: skip
    assert "NaT" not in answer.text and "NaT" not in listed.text
    assert [c["last_order_at"] for c in listed.json()["customers"]] == [None]
    client = scored_site.login("viewer@shop.example")
    try:
        page = client.get(f"/customers/{cid}")
    finally:
        client.close()
    assert page.status_code == 200, page.text[:2000]
    assert "NaT" not in page.text
    last_order = re.search(r"<dt>Last order</dt><dd>([^<]*)</dd>", page.text)
    assert last_order is not None and last_order.group(1).strip() == "—"


def test_the_html_report_keeps_ids_as_text(scored_site, tmp_path):
    from tenure.report.build import write_report

    html = write_report(scored_site.settings, tmp_path / "r.html").path.read_text()
    assert LINK.search(html) is None  # a file has no customer pages to link to
