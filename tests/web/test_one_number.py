"""One number on every surface: after ``tenure fit paretonbd`` and ``tenure
predict --model paretonbd --margin 0.3``, the predicted CLV total and one
customer's CLV are the same in ``tenure predict --json``, the HTML report,
the dashboard's Predictions page, the customer's page and the API, and
equal to the scores table read directly from the store."""

from __future__ import annotations

import html as html_lib
import re

from tenure.report.formatting import Formatter
from tests.conftest import query
from tests.web.conftest import build_store, needs_web, serve

CALIBRATION_END = "2026-03-31"


def _text(page: str) -> str:
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", page))


def test_the_kept_clv_is_the_same_number_everywhere(tmp_path, cli):
    needs_web()
    from tenure.report.build import write_report
    from tenure.web import create_app
    from tests.web.conftest import PASSWORDS, Site

    settings = build_store(tmp_path)
    store = str(settings.store)
    fitted = cli(
        "fit", "paretonbd", "--calibration-end", CALIBRATION_END, "--store", store, "--json"
    )
    assert fitted.code == 0, fitted.err
    done = cli("predict", "--model", "paretonbd", "--margin", "0.3", "--store", store, "--json")
    assert done.code == 0, done.err
    predicted = done.json()
    assert (predicted["model"], predicted["margin"]) == ("paretonbd", 0.3)

    # the independent read: the scores table as tenure predict wrote it
    [(total, margins, models)] = query(
        settings.store,
        "SELECT sum(clv), list(DISTINCT margin), list(DISTINCT model) FROM customer_predictions",
    )
    assert (margins, models) == ([0.3], ["paretonbd"])
    top = predicted["top_customers"][0]
    [(chosen, clv)] = query(
        settings.store,
        f"SELECT customer_id, clv FROM customer_predictions WHERE customer_id = '{top['customer_id']}'",
    )
    assert abs(predicted["predicted_clv"] - total) <= 1e-9 * abs(total)
    assert top["clv"] == clv

    fmt = Formatter("en", "EUR")
    worth = f"worth {fmt.money(total, 0)} "

    # the report: the kept scores, at the user's margin
    report = _text(write_report(settings, tmp_path / "report.html").path.read_text("utf-8"))
    predictions = report[report.index("Scored by tenure predict") :]
    assert worth in predictions and f"margin {fmt.percent(30, 0)}" in predictions
    assert "Pareto/NBD" in predictions

    url, stop = serve(create_app(settings, warm=False))
    try:
        site = Site(url, settings, settings.store)
        client = site.login("analyst@shop.example", PASSWORDS["analyst@shop.example"])
        page = client.get("/predictions")
        assert page.status_code == 200
        text = _text(page.text)
        assert worth in text and f"margin {fmt.percent(30, 0)}" in text
        # every kept fit is listed with its holdout check
        [(error,)] = query(
            settings.store,
            "SELECT CAST(json_extract(validation, '$.total_error_pct') AS DOUBLE) "
            "FROM model_fits WHERE validation IS NOT NULL",
        )
        assert fmt.percent(error) in text and text.count("paretonbd") >= 2

        person = _text(client.get(f"/customers/{chosen}").text)
        assert fmt.money(clv) in person

        api = client.get("/api/v1/predictions").json()
        assert api["predicted_clv"] == predicted["predicted_clv"]
        assert (api["model"], api["margin"]) == ("paretonbd", 0.3)
        assert api["top_customers"][0] == top
        assert client.get(f"/api/v1/customers/{chosen}").json()["predictions"]["clv"] == clv
        fits = client.get("/api/v1/predictions/fits").json()["fits"]
        assert [f["model"] for f in fits] == ["paretonbd", "paretonbd", "gammagamma"]
        assert fits[0]["validation"]["total_error_pct"] == error
        assert fits[1]["validation"] is None
        # tenure fits lists the same fits, with the same checks
        listed = cli("fits", "--store", store, "--json")
        assert listed.code == 0 and listed.json()["fits"] == fits
    finally:
        stop()


def test_with_no_scores_kept_the_api_names_the_command(site):
    client = site.login("viewer@shop.example")
    answer = client.get("/api/v1/predictions")
    assert answer.status_code == 404
    assert "tenure predict" in answer.text


def test_the_dashboard_filtered_shows_the_filtered_numbers(site):
    import tenure

    client = site.login("viewer@shop.example")
    chosen = {"country": "DE", "segment": "active"}
    last = tenure.metrics(settings=site.settings, filters=chosen).iloc[-1]
    whole = tenure.metrics(settings=site.settings).iloc[-1]
    assert last.customers_end != whole.customers_end
    fmt = Formatter("en", "EUR")
    for path in ("/", "/retention"):
        page = client.get(path, params=chosen)
        assert page.status_code == 200
        assert 'name="country" size="4" value="DE"' in page.text
    tiles = dict(
        re.findall(
            r'<div class="label">([^<]+)</div>\s*<div class="value">([^<]+)</div>',
            client.get("/", params=chosen).text,
        )
    )
    assert html_lib.unescape(tiles["Active customers"]) == fmt.number(last.customers_end)
    unfiltered = dict(
        re.findall(
            r'<div class="label">([^<]+)</div>\s*<div class="value">([^<]+)</div>',
            client.get("/").text,
        )
    )
    assert html_lib.unescape(unfiltered["Active customers"]) == fmt.number(whole.customers_end)
