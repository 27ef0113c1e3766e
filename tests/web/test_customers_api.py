"""Looking customers up: the list, its filters and pages, the CSV export,
and a customer's page, checked against the store itself."""

from __future__ import annotations

import csv
import io
import json

from tests.conftest import query
from tests.web.test_api import SHAPE, _auth, _key


def test_search_finds_by_any_part_of_id_email_or_name(site):
    key = _key(site, "read")
    email, name = query(
        site.store, "SELECT email, name FROM customers WHERE customer_id = 'C000007'"
    )[0]
    with site.client() as c:
        for q in (email.split("@")[0].upper(), name.split()[-1].lower(), "c000007"):
            found = c.get("/api/v1/customers", params={"q": q}, headers=_auth(key)).json()
            assert "C000007" in {x["customer_id"] for x in found["customers"]}, q
            needle = q.lower()
            expected = query(
                site.store,
                "SELECT count(*) FROM customers WHERE contains(lower(customer_id), ?) "
                "OR contains(lower(coalesce(email, '')), ?) OR contains(lower(coalesce(name, '')), ?)".replace(
                    "?", f"'{needle}'"
                ),
            )[0][0]
            assert found["total"] == expected, q
        none = c.get("/api/v1/customers", params={"q": "no such person"}, headers=_auth(key))
        assert none.json()["total"] == 0 and none.json()["customers"] == []


def test_segments_pages_and_the_export_agree(site, cli):
    key = _key(site, "read")
    sizes = json.loads(cli("segments", "--kind", "business", "--store", site.store, "--json").out)
    counts = {s["segment"]: s["customers"] for s in sizes["segments"]}
    with site.client() as c:
        for segment, n in counts.items():
            page = c.get("/api/v1/customers", params={"segment": segment, "limit": 500},
                         headers=_auth(key)).json()  # fmt: skip
            assert page["total"] == n, segment
            assert {x["value_segment"] for x in page["customers"]} <= {segment}
        everyone = c.get("/api/v1/customers", params={"limit": 500}, headers=_auth(key)).json()
        revenue = [x["revenue"] for x in everyone["customers"] if x["revenue"] is not None]
        assert revenue == sorted(revenue, reverse=True)
        pages = []
        for offset in range(0, 120, 40):
            pages += c.get("/api/v1/customers", params={"limit": 40, "offset": offset},
                           headers=_auth(key)).json()["customers"]  # fmt: skip
        assert [x["customer_id"] for x in pages] == [
            x["customer_id"] for x in everyone["customers"][:120]
        ]
        export = c.get("/api/v1/customers.csv", params={"segment": "lapsed"}, headers=_auth(key))
        assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
        assert 'filename="customers-lapsed.csv"' in export.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(export.text)))
        assert len(rows) == counts["lapsed"] and {r["value_segment"] for r in rows} == {"lapsed"}
        empty = c.get("/api/v1/customers.csv", params={"q": "no such person"}, headers=_auth(key))
        assert empty.text.splitlines()[0].startswith("customer_id,email,name")  # the header still
        by_id = c.get("/api/v1/customers", params={"sort": "customer_id", "limit": 5},
                      headers=_auth(key)).json()["customers"]  # fmt: skip
        first = query(site.store, "SELECT customer_id FROM customers ORDER BY 1 LIMIT 5")
        assert [x["customer_id"] for x in by_id] == [r[0] for r in first]
        bad = c.get("/api/v1/customers", params={"sort": "mood"}, headers=_auth(key))
        assert bad.status_code == 422 and bad.json()["error"]["column"] == "sort"


def test_a_customers_page_holds_their_story(site):
    key = _key(site, "read")
    cid = query(
        site.store, "SELECT customer_id FROM orders GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
    )[0][0]
    with site.client() as c:
        page = c.get(f"/api/v1/customers/{cid}", headers=_auth(key)).json()
        missing = c.get("/api/v1/customers/NOBODY", headers=_auth(key))
    assert missing.status_code == 404 and set(missing.json()["error"]) == SHAPE
    assert page["profile"]["customer_id"] == cid and "_hash" not in page["profile"]
    n = {
        t: query(site.store, f"SELECT count(*) FROM {t} WHERE customer_id = '{cid}'")[0][0]
        for t in ("orders", "support_tickets", "survey_responses")
    }
    ended = query(
        site.store,
        f"SELECT count(*), count(ended_at) FROM subscriptions WHERE customer_id = '{cid}'",
    )[0]
    kinds = [e["kind"] for e in page["timeline"]]
    assert kinds.count("order") == n["orders"]
    assert kinds.count("ticket") == n["support_tickets"]
    assert kinds.count("survey answer") == n["survey_responses"]
    assert (kinds.count("subscription started"), kinds.count("subscription ended")) == ended
    times = [e["happened_at"] for e in page["timeline"]]
    assert times == sorted(times, reverse=True)
    purchases = query(
        site.store,
        f"SELECT count(*), sum(amount_reporting) FROM orders WHERE customer_id = '{cid}' "
        "AND status IN ('completed', 'pending', 'partially_refunded')",
    )[0]
    assert page["summary"]["orders"] == purchases[0]
    assert abs(page["summary"]["monetary_total"] - float(purchases[1])) < 0.01


def test_a_customers_segment_history_is_the_segments_of_each_month_end(site, cli, tmp_path):
    key = _key(site, "read")
    with site.client() as c:
        page = c.get("/api/v1/customers/C000005", headers=_auth(key)).json()
    history = page["segment_history"]
    assert [h["date"][5:] for h in history][-1] in {"01-31", "02-28", "02-29", "03-31", "04-30",
                                                    "05-31", "06-30", "07-31", "08-31", "09-30",
                                                    "10-31", "11-30", "12-31"}  # fmt: skip
    assert len(history) == 6 and history == sorted(history, key=lambda h: h["date"])
    for h in (history[0], history[-1]):  # as `tenure segments --export` writes them that day
        out = tmp_path / f"{h['date']}.csv"
        r = cli("segments", "--kind", "business", "--as-of", h["date"], "--export", out,
                "--store", site.store, "--json")  # fmt: skip
        assert r.code == 0, r.err
        with out.open(encoding="utf-8") as fh:
            rows = {row["customer_id"]: row for row in csv.DictReader(fh)}
        mine = rows.get("C000005")
        assert (h["segment"], h["rfm"]) == (
            (mine["value_segment"], mine["segment"]) if mine else (None, None)
        )
