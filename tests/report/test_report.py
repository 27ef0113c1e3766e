"""The HTML report: self-contained, every section filled, its numbers equal
the engine's, formatted for the locale, and drawn by a real browser."""

from __future__ import annotations

import html as html_lib
import json
import re
import shutil
import subprocess
from datetime import date

import pytest

import tenure
from tenure.config import load_settings
from tenure.report.build import write_report
from tenure.report.formatting import Formatter
from tests.conftest import demo_store, query, skip_or_fail

CALIBRATION_END = "2026-03-31"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A demo store of 400 customers with one goal, and its report in German."""
    from tenure.goals.tracking import set_goal

    folder = tmp_path_factory.mktemp("report")
    settings, _ = demo_store(folder, customers=400, seed=5)
    set_goal(settings, "churn_rate", "-10%", "2027-06-30")
    # kept as a user keeps them: a fit checked on a holdout, then the scores
    tenure.fit("bgnbd", settings=settings, calibration_end=CALIBRATION_END, save=True)
    tenure.predict(settings=settings, model="bgnbd", margin=0.4, save=True)
    tenure.fit("churn", settings=settings, save=True)
    result = write_report(settings, folder / "report.html", locale="de-DE")
    return settings, result, result.path.read_text(encoding="utf-8")


def _tiles(page: str) -> dict[str, str]:
    found = re.findall(r'<div class="label">([^<]+)</div>\s*<div class="value">([^<]+)</div>', page)
    return {html_lib.unescape(k): html_lib.unescape(v) for k, v in found}


def test_the_report_is_one_self_contained_file(demo):
    _, result, page = demo
    assert result.bytes < 10_000_000
    assert page.startswith("<!DOCTYPE html>") and 'lang="de-DE"' in page
    # nothing is fetched: no external scripts, styles or images
    assert not re.search(r'<(script|link|img)[^>]+(src|href)="https?:', page)
    import plotly.offline

    assert plotly.offline.get_plotlyjs() in page  # the whole library is inline, once
    assert page.count(plotly.offline.get_plotlyjs()[:200]) == 1
    for section in (
        "overview",
        "trends",
        "surveys",
        "cohorts",
        "segments",
        "predictions",
        "churn",
        "goals",
        "benchmark",
        "definitions",
    ):
        assert f'id="{section}"' in page, section
    assert result.sections == [
        "trends",
        "surveys",
        "cohorts",
        "segments",
        "predictions",
        "churn",
        "goals",
        "benchmark",
        "definitions",
    ]


def test_tiles_show_the_engines_numbers_in_the_locale(demo):
    settings, _, page = demo
    monthly = tenure.metrics(store=settings.store, period="month")
    last = monthly.iloc[-1]
    fmt = Formatter("de-DE", "EUR")
    tiles = _tiles(page)
    assert tiles["Active customers"] == fmt.number(last.customers_end)
    assert tiles["Churn rate"] == fmt.percent(last.churn_rate)
    assert tiles["Revenue"] == fmt.money(last.revenue, 0)
    assert tiles["Average order value"] == fmt.money(last.aov)
    # German: comma decimals, the euro sign after the number
    assert re.fullmatch(r"\d+,\d\d\xa0€", tiles["Average order value"])
    assert re.fullmatch(r"\d+,\d\xa0%", tiles["Churn rate"])


def _notes(page: str) -> dict[str, str]:
    found = re.findall(
        r'<div class="label">([^<]+)</div>\s*<div class="value">[^<]+</div>\s*'
        r'<div class="period">[^<]*</div>\s*<div class="note">([^<]*)</div>',
        page,
    )
    return {html_lib.unescape(k): html_lib.unescape(v) for k, v in found}


def _over(monthly: float, days: float) -> float:
    """A monthly churn in percent over ``days``, the same share lost in every
    month of 365.25 / 12 = 30.4375 days: 1 - (1 - m)^(days / 30.4375)."""
    return 100 * (1 - (1 - monthly / 100) ** (days / 30.4375))


def test_a_monthly_churn_over_a_horizon_by_hand():
    # 5.5 % a month over 90 days: 0.945^(90 / 30.4375) = 0.945^2.95688 = 0.84597
    assert _over(5.5, 90) == pytest.approx(15.403, abs=1e-3)
    # a whole month is the monthly rate; 30 days a little less: 1 - 0.9^0.98563 = 9.86 %
    assert _over(10.0, 30) == pytest.approx(9.864, abs=1e-3)


def test_the_churn_tile_sets_the_monthly_rate_beside_the_models(demo):
    settings, _, page = demo
    last = tenure.metrics(store=settings.store, period="month").iloc[-1]
    fmt = Formatter("de-DE", "EUR")
    note = _notes(page)["Churn rate"]
    days = int(re.search(r"over (\d+) days", note).group(1))
    # the month's rate over the model's horizon: 1 - (1 - m)^(days / 30.44)
    assert f"≈ {fmt.percent(_over(last.churn_rate, days))} over {days} days" in note
    share = re.search(rf"the churn model: ([^ ]+\xa0%) in the next {days} days", note).group(1)
    # the same share as the churn section states
    section = html_lib.unescape(page[page.index('id="churn"') : page.index('id="goals"')])
    assert f"The churn model's {share} counts the customers active today" in section


def test_predictions_show_the_kept_fits_and_scores_in_the_locale(demo):
    import pandas as pd

    settings, _, page = demo
    fmt = Formatter("de-DE", "EUR")
    # read back independently of the library: the tables tenure predict wrote
    fits = query(
        settings.store,
        "SELECT model, params, validation FROM model_fits WHERE model <> 'churn' ORDER BY fit_id",
    )
    assert [f[0] for f in fits] == ["bgnbd", "bgnbd", "gammagamma"]
    section = page[page.index('id="predictions"') : page.index('id="churn"')]
    text = html_lib.unescape(re.sub(r"<[^>]+>", " ", section))
    for _, params, _ in fits[1:3]:  # the fits the scores came from
        for name, value in json.loads(params).items():
            assert fmt.number(value, 4) in text, name
    names = ["customer_id", "x", "monetary_total", "recency_days", "p_alive", "clv", "margin"]
    c = pd.DataFrame(
        query(settings.store, f"SELECT {', '.join(names)} FROM customer_predictions"),
        columns=names,
    )
    assert set(c.margin) == {0.4}
    high = c.monetary_total >= c.monetary_total.quantile(1 - settings.high_value_top_percent / 100)
    # leaving: a purchase within the activity window still; lapsed: none
    active = c.recency_days < settings.activity_window
    leaving = int((high & (c.p_alive < 0.5) & active).sum())
    lapsed = int((high & (c.p_alive < 0.5) & ~active).sum())
    assert leaving > 0 and lapsed > 0
    assert f"thinks are leaving: {fmt.number(leaving)} " in text
    assert f"Another {fmt.number(lapsed)} such customers have lapsed" in text
    assert f"worth {fmt.money(c.clv.sum(), 0)} " in text
    assert f"margin {fmt.percent(40, 0)}" in text
    # under BG/NBD one-time buyers are alive by construction: counted apart
    repeat = c.x > 0
    alive = int(((c.p_alive >= 0.5) & repeat).sum())
    assert f"{fmt.number(alive)} of {fmt.number(int(repeat.sum()))} repeat customers" in text
    assert f"{fmt.number(int((~repeat).sum()))} one-time buyers, whose status" in text
    # the holdout check kept with the first fit, not fitted again
    validation = json.loads(fits[0][2])
    assert f"Holdout {fmt.date(date.fromisoformat(CALIBRATION_END))} –" in text
    assert fmt.number(validation["actual_purchases"]) in text
    assert "version 1 of the model" in text
    # tracking, by frequency, P(alive) map, CLV
    assert len(re.findall(r'class="chart[" ]', section)) == 4


def test_scores_older_than_the_data_are_shown_as_they_were_and_said_so(tmp_path):
    from tenure.datasets.demo import generate_demo
    from tenure.ingestion.pipeline import ingest
    from tenure.store.workspace import Workspace

    files = generate_demo(tmp_path / "files", customers=150, seed=4)
    settings = load_settings(store=tmp_path / "store", reporting_currency="EUR")
    with Workspace.open(settings) as ws:
        ingest("orders", files.by_kind()["orders"], workspace=ws)
    tenure.predict(settings=settings, as_of="2026-06-30", save=True)
    [(total,)] = query(settings.store, "SELECT sum(clv) FROM customer_predictions")
    page = write_report(settings, tmp_path / "report.html").path.read_text(encoding="utf-8")
    text = html_lib.unescape(re.sub(r"<[^>]+>", " ", page))
    fmt = Formatter("en", "EUR")
    end = date.fromisoformat(tenure.metrics(settings=settings).attrs["definitions"]["as_of"])
    assert (
        f"These scores are those of {fmt.date(date(2026, 6, 30))}; the data now runs to "
        f"{fmt.date(end)}" in text
    )
    assert f"worth {fmt.money(total, 0)} " in text


def test_with_nothing_kept_the_report_says_which_command_fits(tmp_path):
    from tenure.datasets.demo import generate_demo
    from tenure.ingestion.pipeline import ingest
    from tenure.store.workspace import Workspace

    files = generate_demo(tmp_path / "files", customers=120, seed=3)
    settings = load_settings(store=tmp_path / "store", reporting_currency="EUR")
    with Workspace.open(settings) as ws:
        ingest("orders", files.by_kind()["orders"], workspace=ws)
    result = write_report(settings, tmp_path / "report.html")
    page = result.path.read_text(encoding="utf-8")
    section = page[page.index('id="predictions"') : page.index('id="churn"')]
    assert "No predictions are kept in the store yet: run tenure predict" in section
    assert "No churn model is kept in the store yet: tenure fit churn fits one" in page
    assert query(settings.store, "SELECT count(*) FROM information_schema.tables "
                 "WHERE table_name IN ('model_fits', 'customer_predictions')") == [(0,)]  # fmt: skip


def test_goals_benchmark_and_definitions_are_filled(demo):
    settings, _, page = demo
    text = html_lib.unescape(re.sub(r"<[^>]+>", " ", page))
    assert "churn_rate (month)" in text
    assert "retail benchmark" in text and "Statista" in text
    assert "a purchase in the 365 days up to the date" in text
    assert "Metrics missing in some months, and why" in text
    assert "High-value customers at risk" in text
    assert "S − L + N + R = E" in text and "R / S × 100" in text


def test_formatter_follows_the_locale():
    # CLDR's conventions: grouping and decimal marks, currency placement, dates
    assert Formatter("en", "EUR").money(1234.5) == "€1,234.50"
    assert Formatter("de-DE", "EUR").money(1234.5) == "1.234,50\xa0€"
    assert Formatter("de-DE", "EUR").percent(63.45) == "63,5\xa0%"
    assert Formatter("en-GB", "GBP").date("2026-10-31") == "31 Oct 2026"
    assert Formatter("en-IN", "INR").number(1234567) == "12,34,567"
    assert Formatter("en", "USD").money(1234567.4, 0) == "$1,234,567"
    assert Formatter("en", "USD").percent(-0.0001) == "0.0%"  # no "-0.0%"
    assert Formatter("fr-FR", "EUR").separators == ",\u202f"
    with pytest.raises(tenure.ConfigError, match="locale"):
        Formatter("xx-nope", "EUR")


def test_a_real_browser_draws_every_chart(demo, tmp_path):
    _, result, page = demo
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        skip_or_fail("Chromium is not installed (apt-get install chromium)")
    dom = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=15000",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", result.path.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    charts = len(re.findall(r'class="plotly-graph-div"', page))
    assert charts >= 12
    # plotly.js marks each div it has drawn into and fills it with its SVG layers
    assert len(re.findall(r'class="plotly-graph-div js-plotly-plot"', dom)) == charts
    assert len(re.findall(r'class="plot-container plotly"', dom)) == charts
    assert len(re.findall(r'class="main-svg"', dom)) >= 2 * charts


def test_the_report_command(cli, demo, tmp_path):
    settings, _, _ = demo
    out = tmp_path / "r.html"
    r = cli("report", "-o", out, "--store", settings.store, "--locale", "en-GB", "--json")
    assert r.code == 0, r.err
    info = r.json()
    assert info["path"] == str(out.resolve()) and info["bytes"] == out.stat().st_size
    bad = cli("report", "-o", tmp_path / "x.html", "--store", settings.store, "--locale", "klingon")
    assert bad.code == 1 and "locale" in bad.err
    assert not (tmp_path / "x.html").exists()
