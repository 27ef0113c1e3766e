"""Data sent as it happens: the write endpoints ingest like files do."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.conftest import query
from tests.web.test_api import SHAPE, _auth, _key


def test_orders_sent_as_json_are_ingested_like_a_file(site):
    write = _key(site, "read", "write")
    rows = [
        {"order_id": "API-1", "customer_id": "C000001", "placed_at": "2026-11-01T10:00:00Z",
         "amount": 12.5, "currency": "EUR", "channel": "app"},
        {"order_id": "API-2", "customer_id": "C000001", "placed_at": "not a date", "amount": "x"},
        {"order_id": "API-1", "customer_id": "C000001", "placed_at": "2026-11-01T10:00:00Z",
         "amount": "12.50", "currency": "EUR"},
        {"order_id": "API-3", "customer_id": "NEW-API-CUSTOMER", "placed_at": "2026-11-02",
         "amount": 30, "currency": "EUR", "gift_wrap": True},
    ]  # fmt: skip
    with site.client() as c:

        def newcomers() -> int:
            found = c.get("/api/v1/customers", params={"q": "NEW-API"}, headers=_auth(write))
            return found.json()["total"]

        assert newcomers() == 0
        r = c.post("/api/v1/orders", json=rows, headers=_auth(write))
        assert r.status_code == 200, r.text
        assert newcomers() == 1  # what the server keeps in memory follows the store
        out = r.json()
        assert (out["read"], out["accepted"], out["rejected"], out["duplicates"]) == (4, 2, 1, 1)
        assert (out["inserted"], out["customers_created"]) == (2, 1)
        # what followed the commit: no scores are kept in this store to refresh
        assert out["refreshed"] == {
            "summary_rebuilt": False, "timezone": "UTC", "scores_refreshed": None,
        }  # fmt: skip
        assert out["errors"] == [{
            "index": 1, "column": "placed_at", "value": "not a date",
            "reason": out["errors"][0]["reason"],
        }]  # fmt: skip
        assert out["errors"][0]["reason"].startswith("is not a date")
        assert "gift_wrap" in out["ignored_columns"]
        # sending the same orders again changes nothing
        again = c.post("/api/v1/orders", json=rows, headers=_auth(write)).json()
        assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 2)
        changed = c.post("/api/v1/orders", json=[{**rows[0], "amount": 13}], headers=_auth(write))
        assert changed.json()["updated"] == 1
    stored = query(site.store, "SELECT order_id, CAST(amount AS DOUBLE) FROM orders "
                               "WHERE order_id LIKE 'API-%' ORDER BY 1")  # fmt: skip
    assert stored == [("API-1", 13.0), ("API-3", 30.0)]


def test_the_other_kinds_and_who_may_send_them(site):
    read, write = _key(site, "read"), _key(site, "read", "write")
    with site.client() as c:
        event = [{"event_id": "E-API-1", "customer_id": "C000002", "name": "page_view",
                  "occurred_at": "2026-11-03T08:00:00Z"}]  # fmt: skip
        denied = c.post("/api/v1/events", json=event, headers=_auth(read))
        assert denied.status_code == 403 and set(denied.json()["error"]) == SHAPE
        ok = c.post("/api/v1/events", json=event, headers=_auth(write))
        assert ok.status_code == 200 and ok.json()["accepted"] == 1, ok.text
        answer = [{"response_id": "S-API-1", "customer_id": "C000002", "survey": "nps",
                   "score": 9, "answered_at": "2026-11-03"}]  # fmt: skip
        r = c.post("/api/v1/survey-answers", json=answer, headers=_auth(write))
        assert r.status_code == 200 and r.json()["kind"] == "survey_responses", r.text
        for bad in ([], [{}] * 10_001, {"order_id": "not a list"}):
            r = c.post("/api/v1/orders", json=bad, headers=_auth(write))
            assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"
        r = c.post("/api/v1/orders", json=[{}], headers=_auth(write))
        assert r.status_code == 422 and r.json()["error"]["message"] == "every row is empty."


def test_reads_and_writes_at_once(site):
    write = _key(site, "read", "write")

    def read(_):
        with site.client() as c:
            return c.get("/api/v1/metrics", headers=_auth(write)).status_code

    def send(i):
        with site.client() as c:
            rows = [{"order_id": f"PAR-{i}", "customer_id": "C000003",
                     "placed_at": "2026-11-04", "amount": i + 1, "currency": "EUR"}]  # fmt: skip
            return c.post("/api/v1/orders", json=rows, headers=_auth(write)).status_code

    with ThreadPoolExecutor(6) as pool:
        reads = pool.map(read, range(8))
        writes = pool.map(send, range(4))
        assert list(reads) == [200] * 8 and list(writes) == [200] * 4
    assert query(site.store, "SELECT count(*) FROM orders WHERE order_id LIKE 'PAR-%'") == [(4,)]
