"""The dashboard in a real browser: headless Chromium (Debian's), driven by
Playwright. Log in, open every page, compare the numbers shown with the
engine's, search, export a list, switch the language. Screenshots of every
page are kept in test-artifacts/screenshots/."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from tenure.report.formatting import Formatter
from tests.conftest import query, skip_or_fail
from tests.web.conftest import PASSWORDS, build_store, needs_web, serve

ARTIFACTS = Path(__file__).parents[2] / "test-artifacts" / "screenshots"
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    needs_web()
    try:
        from playwright.sync_api import sync_playwright
    except ModuleNotFoundError:
        skip_or_fail("playwright is not installed (pip install -e '.[test]')")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        skip_or_fail("Chromium is not installed (apt-get install chromium)")
    from tenure.analysis.fitting import predict
    from tenure.web import create_app

    settings = build_store(tmp_path_factory.mktemp("browser"))
    predict(settings=settings, save=True)  # P(alive) and CLV on the pages
    from tenure.analysis.fitting import fit

    fit("churn", settings=settings, save=True)  # churn risk and its drivers
    url, stop = serve(create_app(settings))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        yield url, settings, browser
        browser.close()
    stop()


@pytest.fixture
def page(served):
    url, _, browser = served
    context = browser.new_context(base_url=url, viewport={"width": 1300, "height": 900},
                                  accept_downloads=True)  # fmt: skip
    page = context.new_page()
    page.set_default_timeout(60_000)
    # what the page's Content-Security-Policy refused, and where it loaded from
    page.refused = []
    page.on(
        "console", lambda m: "Content Security Policy" in m.text and page.refused.append(m.text)
    )
    page.loaded = []
    page.on("request", lambda r: page.loaded.append(r.url))
    yield page
    context.close()


def _login(page, email="analyst@shop.example"):
    page.goto("/")
    assert "/login" in page.url  # no session: the login form
    page.fill("#email", email)
    page.fill("#password", PASSWORDS[email])
    page.click("button[type=submit]")
    page.wait_for_url("**/")


def _shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_every_page_opens_and_shows_the_engines_numbers(served, page):
    from tenure.analysis import metrics

    _, settings, _ = served
    _login(page)
    page.wait_for_selector(".plotly-graph-div .main-svg")
    monthly = metrics(period="month", settings=settings)
    fmt = Formatter("en", "EUR")
    last = monthly.iloc[-1]
    tiles = dict(zip(page.locator(".tile .label").all_inner_texts(),
                     page.locator(".tile .value").all_inner_texts(), strict=True))  # fmt: skip
    assert tiles["Active customers"] == fmt.number(last.customers_end)
    assert tiles["Churn rate"] == fmt.percent(last.churn_rate)
    assert tiles["Revenue"] == fmt.money(last.revenue, 0)
    _shot(page, "overview")
    for path, heading, charts in (
        ("/retention", "Retention", True),
        ("/segments", "Segments", True),
        ("/predictions", "Predictions", True),
        ("/customers", "Customers", False),
        ("/data", "Data", False),
    ):
        page.goto(path)
        assert page.locator("h1").first.inner_text() == heading
        assert page.locator("[aria-current=page]").inner_text() == heading
        if charts:
            page.wait_for_selector(".plotly-graph-div .main-svg")
            assert page.locator(".plotly-graph-div").count() >= 2
        _shot(page, path.strip("/"))
    page.goto("/predictions")  # the fits kept in the store, with their dates
    models = page.locator("section#models table").inner_text()
    assert "bgnbd" in models and "gammagamma" in models
    # the churn part is the kept churn model's, not a new fit: its test AUC
    (auc,) = query(
        settings.store, "SELECT validation->>'$.model.auc' FROM model_fits WHERE model = 'churn'"
    )[0]
    churn_part = page.locator("section#churn").inner_text()
    assert "kept in the store (version 1" in churn_part
    assert fmt.number(float(auc), 3) in churn_part
    page.goto("/data")
    orders = query(settings.store, "SELECT count(*) FROM orders")[0][0]
    rows = dict(zip(page.locator("#tables td:nth-child(1)").all_inner_texts(),
                    page.locator("#tables td:nth-child(2)").all_inner_texts(), strict=True))  # fmt: skip
    assert rows["orders"] == fmt.number(orders)
    assert page.refused == []  # every page works under its CSP
    assert all(u.startswith(served[0]) or u.startswith("data:") for u in page.loaded)


def test_the_api_docs_load_from_this_server_only(served, page):
    url, _, _ = served
    _login(page)
    page.goto("/api/v1/docs")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "tenure" in page.locator(".swagger-ui .info .title").inner_text()
    assert page.locator(".opblock").count() >= 10  # every operation listed
    assert page.refused == []
    assert all(u.startswith(url) or u.startswith("data:") for u in page.loaded), page.loaded


def test_find_a_customer_and_export_a_segment(served, page):
    from tenure.profiles import customer_list

    _, settings, _ = served
    _login(page)
    page.goto("/segments")
    page.click("a[href='/customers?segment=lapsed']")  # the lapsed customers
    page.wait_for_url("**/customers?segment=*")
    segment = page.locator("#segment").input_value()
    expected = customer_list(settings, segment=segment)["total"]
    assert page.locator("#total").inner_text() == str(expected)
    with page.expect_download() as download:
        page.click("#export")
    saved = download.value.path()
    with open(saved, newline="", encoding="utf-8") as fh:
        exported = list(csv.DictReader(fh))
    assert len(exported) == expected and {r["value_segment"] for r in exported} == {segment}
    # search by part of an email, then open the customer
    email = query(settings.store, "SELECT email FROM customers WHERE customer_id = 'C000011'")[0][0]
    page.goto("/customers")
    page.fill("#q", email.split("@")[0])
    page.click("button:has-text('Search')")
    page.wait_for_url("**q=*")
    page.click("text=C000011")
    page.wait_for_url("**/customers/C000011")
    n = sum(
        query(settings.store, f"SELECT count(*) FROM {t} WHERE customer_id = 'C000011'")[0][0]
        for t in ("orders", "support_tickets", "survey_responses")
    )
    started, ended = query(settings.store, "SELECT count(*), count(ended_at) FROM subscriptions "
                                           "WHERE customer_id = 'C000011'")[0]  # fmt: skip
    assert page.locator("#timeline tbody tr").count() == n + started + ended
    assert page.locator("#history tbody tr").count() == 6  # the last six month ends
    _shot(page, "customer")


def test_the_language_and_the_keyboard(served, page):
    page.goto("/login?lang=de")
    assert page.locator("h1").inner_text() == "Anmelden"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Zum Inhalt springen"
    for label in ("E-Mail", "Passwort"):  # every field has its label
        assert page.get_by_label(label).count() == 1
    page.fill("#email", "viewer@shop.example")
    page.fill("#password", PASSWORDS["viewer@shop.example"])
    page.keyboard.press("Enter")
    page.wait_for_url("**/")
    assert page.locator("h1").inner_text() == "Übersicht"
    page.click("text=Español")
    assert page.locator("h1").inner_text() == "Resumen"
    assert page.locator("nav.pages a").all_inner_texts()[:2] == ["Resumen", "Retención"]
    _shot(page, "overview-es")


def test_a_customers_churn_risk_and_its_drivers(served, page):
    _, settings, _ = served
    cid, p, d1, d2, d3 = query(
        settings.store,
        "SELECT customer_id, churn_probability, driver_1, driver_2, driver_3 "
        "FROM churn_predictions WHERE driver_1 IS NOT NULL ORDER BY churn_probability DESC LIMIT 1",
    )[0]
    _login(page)
    page.goto(f"/customers/{cid}")
    facts = dict(zip(page.locator("#outlook dt").all_inner_texts(),
                     page.locator("#outlook dd").all_inner_texts(), strict=True))  # fmt: skip
    assert facts["Churn risk"] == Formatter("en", "EUR").percent(100 * p)
    drivers = page.locator("li").all_inner_texts()
    assert len(drivers) == sum(d is not None for d in (d1, d2, d3))
    assert all(": " in d and d.rstrip().endswith(")") for d in drivers)
