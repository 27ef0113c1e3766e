"""The loyalty program on the dashboard, its API and the report, over a
demo store whose program history was posted through the ledger: a member's
part of the customer page, the program page, and one liability and one
effect estimate on every surface (the CLI's --json, the API, the page and
the report)."""

from __future__ import annotations

import html as html_lib
import re

import pytest
import sqlalchemy as sa

from tenure.report.formatting import Formatter
from tests.web.conftest import PASSWORDS, Site, build_store, needs_web, serve


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", page)))


def _share(fmt: Formatter, value: float, sign: bool = False) -> str:
    text = fmt.percent(100 * value)
    return ("+" + text) if sign and value > 0 else text


@pytest.fixture(scope="module")
def program_site(tmp_path_factory):
    needs_web()
    from tenure import loyalty
    from tenure.loyalty.history_import import import_history, read_events
    from tenure.store.ops import OpsStore
    from tenure.web import create_app

    folder = tmp_path_factory.mktemp("program")
    settings = build_store(folder, customers=1500)
    policy = loyalty.Policy(
        expiry_months=12,
        tiers=loyalty.TierProgram((loyalty.Tier("Silver", 150), loyalty.Tier("Gold", 400))),
    )
    ops = OpsStore.open(settings.ops_database_url)
    done = import_history(ops, read_events(folder / "files" / "loyalty_ledger.csv"), policy=policy)
    assert done.members > 100 and done.entries > done.members
    loyalty.expire(ops, policy=policy)  # as tenure demo does: expiries due by now recorded
    ops.close()
    url, stop = serve(create_app(settings, warm=False))
    yield Site(url, settings, settings.store)
    stop()


def _members(site: Site) -> list[tuple[str, int]]:
    """(customer, balance) of every member, read from the ledger's table directly."""
    engine = sa.create_engine(site.settings.ops_database_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT customer_id, sum(points) FROM loyalty_entries GROUP BY customer_id "
            "ORDER BY sum(points) DESC"
        )).all()  # fmt: skip
    engine.dispose()
    return [(c, int(p)) for c, p in rows]


def test_a_members_page_shows_balance_lots_history_and_tier(program_site):
    client = program_site.login("viewer@shop.example")
    customer, points = _members(program_site)[0]
    page = client.get(f"/customers/{customer}")
    assert page.status_code == 200
    assert 'id="loyalty"' in page.text and 'id="loyalty-lots"' in page.text
    section = _text(page.text[page.text.index('id="loyalty"') :].split("</section>")[0])
    fmt = Formatter("en", "EUR")
    assert f"Points {fmt.number(points)}" in section
    # the newest entry heads the recent history
    engine = sa.create_engine(program_site.settings.ops_database_url)
    with engine.connect() as conn:
        newest, reason = conn.execute(sa.text(
            "SELECT id, coalesce(reason, reward, '') FROM loyalty_entries "
            "WHERE customer_id = :c ORDER BY id DESC LIMIT 1"), {"c": customer}).one()  # fmt: skip
    engine.dispose()
    history = page.text[page.text.index('id="loyalty-history"') :]
    first = _text(re.search(r"<tbody><tr>(.*?)</tr>", history).group(1))
    assert first.strip().startswith(f"{newest} ") and reason in first
    tier = re.search(r'id="loyalty-tier">([^<]+)<', page.text).group(1)
    assert tier in ("Silver", "Gold", "—")
    # a customer who never joined has no loyalty part
    members = {c for c, _ in _members(program_site)}
    api = client.get("/api/v1/customers", params={"limit": 200}).json()["customers"]
    outsider = next(c["customer_id"] for c in api if c["customer_id"] not in members)
    assert 'id="loyalty"' not in client.get(f"/customers/{outsider}").text


def test_one_liability_and_one_effect_on_every_surface(program_site, cli, tmp_path):
    from tenure.report.build import write_report

    store = str(program_site.store)
    liability = cli("loyalty", "liability", "--store", store, "--json")
    assert liability.code == 0, liability.err
    effect = cli("loyalty", "effect", "--store", store, "--json")
    assert effect.code == 0, effect.err
    liab, eff = liability.json(), effect.json()
    # with the expiries recorded, what is outstanding is the sum of all entries
    assert liab["outstanding_points"] == sum(p for _, p in _members(program_site))
    assert eff["compared"] > 50 and eff["estimate"]["difference"] is not None

    client = program_site.login("analyst@shop.example", PASSWORDS["analyst@shop.example"])
    api_liability = client.get("/api/v1/loyalty/program/liability").json()
    api_effect = client.get("/api/v1/loyalty/program/effect").json()
    whole = client.get("/api/v1/loyalty/program").json()
    for doc in (api_liability, whole["liability"]):
        assert {k: v for k, v in doc.items() if k != "as_of"} == {
            k: v for k, v in liab.items() if k != "as_of"}  # fmt: skip
    assert api_effect == eff and whole["effect"] == eff

    fmt = Formatter("en", "EUR")
    est, naive = eff["estimate"], eff["naive"]
    page = client.get("/loyalty")
    assert page.status_code == 200
    text = _text(page.text)
    assert fmt.money(liab["liability"]) in text
    assert _share(fmt, liab["breakage"]["rate"]) in text
    matched = _text(re.search(r'<tr id="effect-matched">.*?</tr>', page.text).group(0))
    assert _share(fmt, est["difference"], True) in matched
    assert f"{_share(fmt, est['ci_low'], True)} … {_share(fmt, est['ci_high'], True)}" in matched
    naive_row = _text(re.search(r'<tr id="effect-naive">.*?</tr>', page.text).group(0))
    assert "naive" in naive_row and _share(fmt, naive["difference"], True) in naive_row
    tiers = {t["name"]: t["members"] for t in whole["tiers"]}
    # the settings declare no tiers here: the recorded ones, the lowest first
    assert [t["name"] for t in whole["tiers"]] == ["Silver", "Gold"]
    assert set(tiers) <= {"Silver", "Gold"} and sum(tiers.values()) + whole["no_tier"] == whole[
        "members"]  # fmt: skip

    report = _text(write_report(program_site.settings, tmp_path / "r.html").path.read_text("utf-8"))
    section = report[report.index("Loyalty program") :]
    assert fmt.money(liab["liability"]) in section
    assert f"{_share(fmt, est['ci_low'], True)} … {_share(fmt, est['ci_high'], True)}" in section
    assert "naive: all members against all non-members" in section


def test_the_api_needs_a_login_and_a_program(program_site, site):
    anonymous = program_site.client().get("/api/v1/loyalty/program/liability")
    assert anonymous.status_code in (401, 303)
    # the shared demo site has no members: a 404 that says how to start
    client = site.login("viewer@shop.example")
    answer = client.get("/api/v1/loyalty/program")
    assert answer.status_code == 404 and "tenure loyalty earn" in answer.text
    page = client.get("/loyalty")
    assert page.status_code == 200 and 'id="no-program"' in page.text


def test_the_loyalty_page_in_a_browser(program_site):
    """Headless Chromium: the navigation reaches the page, the liability and
    both comparisons are shown, the page's policy refuses nothing, and a
    member's page shows their balance."""
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
    customer, points = _members(program_site)[0]
    fmt = Formatter("en", "EUR")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        context = browser.new_context(base_url=program_site.url)
        page = context.new_page()
        page.set_default_timeout(60_000)
        refused = []
        page.on("console", lambda m: "Content Security Policy" in m.text and refused.append(m))
        page.goto("/login")
        page.fill("#email", "viewer@shop.example")
        page.fill("#password", PASSWORDS["viewer@shop.example"])
        page.click("button[type=submit]")
        page.wait_for_url("**/")
        page.click("nav.pages >> text=Loyalty")
        page.wait_for_url("**/loyalty")
        assert page.locator("h1").inner_text() == "Loyalty program"
        assert page.locator("#effect-matched").is_visible()
        assert "naive" in page.locator("#effect-naive").inner_text()
        assert page.locator("#liability-value").inner_text().strip()
        page.screenshot(path=str(ARTIFACTS / "loyalty.png"), full_page=True)
        page.goto(f"/customers/{customer}")
        balance = page.locator("#loyalty-balance").inner_text()
        assert fmt.number(points) in balance
        page.screenshot(path=str(ARTIFACTS / "loyalty-member.png"), full_page=True)
        assert not refused
        context.close()
        browser.close()
