"""The campaigns on the dashboard, the API and the report, over a store
with one launched campaign whose customers partly ordered again: the lift
per assigned customer is worked out by hand from the assignments and the
orders planted, and the same lift, interval and n are on every surface
(``tenure campaign status --measure --json``, the API, the dashboard's
pages and the HTML report); a customer's page shows their messages and
consents."""

from __future__ import annotations

import html as html_lib
import json
import re
import secrets
from dataclasses import replace
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from tenure.report.campaigns import difference, interval
from tenure.report.formatting import Formatter
from tests.campaigns.test_launch import AT, N, _store
from tests.web.conftest import PASSWORDS, Site, needs_web, serve

# the lapsed (even) customers who order again in July, after the launch:
# every third of them, whatever their arm
AGAIN = [f"c{i:04d}" for i in range(0, N, 2) if i % 3 == 0]


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", page)))


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    needs_web()
    from tenure.access import users
    from tenure.campaigns import consent, definitions
    from tenure.campaigns.consent import write_transaction
    from tenure.campaigns.launch import launch
    from tenure.ingestion.pipeline import ingest
    from tenure.store.workspace import Workspace
    from tenure.web import create_app

    folder = tmp_path_factory.mktemp("campaign-pages")
    settings, template = _store(folder)
    later = [f"p{c},{c},2024-07-10 12:00:00,20" for c in AGAIN]
    (folder / "later.csv").write_text("order_id,customer_id,placed_at,amount\n" + "\n".join(later))
    with Workspace.open(settings, create=False) as ws:
        for email, password in PASSWORDS.items():
            users.add_user(ws.ops, email, email.split("@")[0], password)
        with write_transaction(ws.ops) as conn:
            definitions.create(conn, definitions.spec(name="win-back", template=template,
                                                      audience=["lapsed:90"], holdout=0.3,
                                                      salt="pages"))  # fmt: skip
            definitions.create(conn, definitions.spec(name="welcome", template=template,
                                                      audience=["lapsed:90"], holdout=0.1))  # fmt: skip
        launch(settings, ws.ops, "win-back", at=AT)
        consent.record(ws.ops, "c0002", "email", "marketing", True, source="import",
                       at=datetime(2024, 3, 1, tzinfo=UTC))  # fmt: skip
        consent.record(ws.ops, "c0002", "email", "marketing", False, source="unsubscribe_link",
                       at=datetime(2024, 7, 2, tzinfo=UTC))  # fmt: skip
        ingest("orders", folder / "later.csv", workspace=ws)
    settings = replace(settings, secret_key=secrets.token_urlsafe(40))
    url, stop = serve(create_app(settings, warm=False))
    yield Site(url, settings, settings.store)
    stop()


def _arms(site: Site) -> dict[str, list[str]]:
    engine = sa.create_engine(site.settings.ops_database_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT customer_id, arm FROM campaign_assignments")).all()
    engine.dispose()
    out: dict[str, list[str]] = {}
    for customer, arm in rows:
        out.setdefault(arm, []).append(customer)
    return out


def test_one_lift_on_every_surface(shop, cli, tmp_path):
    from tenure.report.build import write_report

    arms = _arms(shop)
    again = set(AGAIN)
    treated, held = arms["treatment"], arms["holdout"]
    # the share of each arm who ordered again, by hand
    rate_t = sum(c in again for c in treated) / len(treated)
    rate_h = sum(c in again for c in held) / len(held)
    store = str(shop.store)
    done = cli("campaign", "status", "win-back", "--measure", "--store", store, "--json")
    assert done.code == 0, done.err
    doc = done.json()["measure"]
    r = doc["metrics"]["conversion"][0]
    assert (r["n_arm"], r["n_control"]) == (len(treated), len(held))
    assert r["arm_mean"] == pytest.approx(rate_t) and r["control_mean"] == pytest.approx(rate_h)
    assert r["absolute"]["estimate"] == pytest.approx(rate_t - rate_h)
    low, high = r["absolute"]["ci"]
    assert low < rate_t - rate_h < high
    # every third lapsed customer ordered again in both arms: no effect to find
    assert r["verdict"] == "inconclusive"

    client = shop.login("viewer@shop.example")
    api = client.get("/api/v1/campaigns/win-back", params={"measure": "true"}).json()
    assert json.dumps(api["measure"]["metrics"]) == json.dumps(doc["metrics"])
    assert api["measure"]["arms"] == doc["arms"]
    wrong = client.get("/api/v1/campaigns/win-back", params={"measure": "true", "metric": "clicks"})
    assert wrong.status_code in (400, 422) and wrong.json()["error"]["code"] == "unknown_metric"

    fmt = Formatter("en", "EUR")
    lift = difference(fmt, "conversion", r["absolute"]["estimate"])
    ci = interval(fmt, "conversion", r["absolute"]["ci"])
    anytime = interval(fmt, "conversion", r["anytime_valid"]["absolute"]["ci"])
    listing = client.get("/campaigns")
    assert listing.status_code == 200
    row = _text(re.search(r'<tr id="campaign-row-win-back">.*?</tr>', listing.text).group(0))
    assert lift in row and ci in row and "inconclusive" in row
    # a draft says why it has no lift instead of a number
    draft = _text(re.search(r'<tr id="campaign-row-welcome">.*?</tr>', listing.text).group(0))
    assert "not launched yet" in draft
    page = client.get("/campaigns/win-back")
    assert page.status_code == 200
    text = _text(page.text)
    n_line = f"holdout n = {fmt.number(len(held))}, treatment n = {fmt.number(len(treated))}"
    assert n_line in text
    assert f"{lift} {ci} {anytime}" in text
    assert "plotly" in page.text.lower()  # the interval chart
    assert client.get("/campaigns/nobody").status_code == 404

    report = _text(write_report(shop.settings, tmp_path / "r.html").path.read_text("utf-8"))
    section = report[report.index("Each campaign's treatment") :]
    assert n_line in section and f"{lift} {ci} {anytime}" in section


def test_a_customers_page_shows_messages_and_consents(shop):
    arms = _arms(shop)
    client = shop.login("viewer@shop.example")
    customer = next(c for c in sorted(arms["treatment"]) if int(c[1:]) % 10 != 0)
    page = client.get(f"/customers/{customer}")
    assert page.status_code == 200
    table = page.text[page.text.index('id="customer-messages"') :].split("</table>")[0]
    n = int(customer[1:])
    # the template's German subject, with the customer's first name
    assert "win-back" in table and "Hallo Ann" in _text(table) and "pending" in table
    link = re.search(rf'href="(/customers/{customer}/messages/\d+)"', table).group(1)
    body = client.get(link)
    assert body.status_code == 200 and f"Hallo Ann {n}" in _text(body.text)
    assert client.get(f"/customers/c0001/messages/{link.rsplit('/', 1)[1]}").status_code == 404
    # consents, newest first: the withdrawal through the link, then the grant
    withdrawn = client.get("/customers/c0002").text
    rows = re.findall(r"<tr><td>email</td>.*?</tr>",
                      withdrawn[withdrawn.index('id="customer-consents"') :])  # fmt: skip
    assert [("withdrawn" in r, "unsubscribe_link" in r) for r in rows] == [(True, True),
                                                                           (False, False)]  # fmt: skip
    # a held-out customer has no message
    held = sorted(arms["holdout"])[0]
    assert 'id="customer-messages"' not in client.get(f"/customers/{held}").text


@pytest.mark.parametrize("lang", ["de", "es"])
def test_the_campaign_pages_are_said_in_full(shop, lang):
    """Every text the campaign pages ask the catalog for is in it: only the
    campaigns' own names are shown as they are."""
    from tenure.web.i18n import translations

    client = shop.login("viewer@shop.example")
    customer = sorted(_arms(shop)["treatment"])[1]
    translations(lang).missing.clear()
    for path in ("/campaigns", "/campaigns/win-back", "/customers/c0002", f"/customers/{customer}"):
        assert client.get(path, params={"lang": lang}).status_code == 200
    assert translations(lang).missing <= {"win-back", "welcome"}
    page = _text(client.get("/campaigns", params={"lang": lang}).text)
    assert {"de": "nicht schlüssig", "es": "no concluyente"}[lang] in page


def test_the_campaign_pages_in_a_browser(shop):
    """Headless Chromium: the navigation reaches the Campaigns page, the
    campaign's page draws its interval chart under the page's policy (which
    refuses nothing), and a customer's message opens from their page."""
    import shutil

    from tests.conftest import skip_or_fail
    from tests.web.test_browser import ARGS, ARTIFACTS

    try:
        from playwright.sync_api import sync_playwright
    except ModuleNotFoundError:
        skip_or_fail("playwright is not installed (pip install -e '.[test]')")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        skip_or_fail("Chromium is not installed (apt-get install chromium)")
    customer = next(c for c in sorted(_arms(shop)["treatment"]) if int(c[1:]) % 10 != 0)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        context = browser.new_context(base_url=shop.url)
        page = context.new_page()
        page.set_default_timeout(60_000)
        refused = []
        page.on("console", lambda m: "Content Security Policy" in m.text and refused.append(m))
        page.goto("/login")
        page.fill("#email", "viewer@shop.example")
        page.fill("#password", PASSWORDS["viewer@shop.example"])
        page.click("button[type=submit]")
        page.wait_for_url("**/")
        page.click("nav.pages >> text=Campaigns")
        page.wait_for_url("**/campaigns")
        assert "inconclusive" in page.locator("#campaign-row-win-back").inner_text()
        page.click("#campaign-row-win-back >> text=win-back")
        page.wait_for_url("**/campaigns/win-back")
        page.wait_for_selector(".plotly-graph-div .main-svg")
        # the chart's two rows of intervals: a point per metric measured
        assert page.locator(".plotly-graph-div .scatterlayer .trace").count() == 2
        page.screenshot(path=str(ARTIFACTS / "campaign.png"), full_page=True)
        page.goto(f"/customers/{customer}")
        page.click("#customer-messages >> text=Hallo")
        page.wait_for_url(f"**/customers/{customer}/messages/*")
        assert f"Hallo Ann {int(customer[1:])}" in page.locator("#message-body").inner_text()
        assert not refused
        context.close()
        browser.close()


def test_new_orders_change_the_kept_measurement(shop, cli, tmp_path):
    """The page keeps the measurement until the store changes: orders
    ingested beside the server (every treated customer buys again in July)
    show on the next visit, as the command line measures them. Last in this
    file: it changes the shared store."""
    from tenure.ingestion.pipeline import ingest
    from tenure.store.workspace import Workspace

    client = shop.login("viewer@shop.example")
    before = _text(client.get("/campaigns/win-back").text)
    assert "inconclusive" in before
    treated = [c for c in _arms(shop)["treatment"] if c not in set(AGAIN)]
    rows = [f"q{c},{c},2024-07-12 12:00:00,30" for c in treated]
    (tmp_path / "more.csv").write_text("order_id,customer_id,placed_at,amount\n" + "\n".join(rows))
    with Workspace.open(shop.settings, create=False) as ws:
        ingest("orders", tmp_path / "more.csv", workspace=ws)
    done = cli("campaign", "status", "win-back", "--measure", "--store", str(shop.store), "--json")
    r = done.json()["measure"]["metrics"]["conversion"][0]
    # now every treated customer ordered again: the treatment's rate is 1
    assert r["arm_mean"] == 1.0 and r["verdict"] == "better"
    fmt = Formatter("en", "EUR")
    row = _text(re.search(r'<tr id="campaign-row-win-back">.*?</tr>',
                          client.get("/campaigns").text).group(0))  # fmt: skip
    assert difference(fmt, "conversion", r["absolute"]["estimate"]) in row
    assert interval(fmt, "conversion", r["absolute"]["ci"]) in row and "better" in row
