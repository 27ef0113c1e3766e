"""``tenure loyalty liability`` and ``effect``: the numbers of the
library, one JSON document, exit 1 with a message for a user error."""

from __future__ import annotations


def test_liability_from_the_settings(cli, store, tmp_path, monkeypatch):
    cli("loyalty", "earn", "C1", "300", "--store", store)
    cli("loyalty", "redeem", "C1", "100", "--store", store)
    config = tmp_path / "tenure.toml"
    config.write_text("[loyalty]\npoint_value = 0.05\nbreakage_fallback = 0.2\n")
    monkeypatch.setenv("TENURE_CONFIG", str(config))
    r = cli("loyalty", "liability", "--store", store, "--json")
    assert r.code == 0, r.err
    doc = r.json()
    # nothing has closed: 200 points × 0.05 = 10.00, less the fallback's 20 %
    assert (doc["outstanding_points"], doc["gross_value"], doc["liability"]) == (200, 10.0, 8.0)
    assert (doc["breakage"]["source"], doc["breakage"]["rate"]) == ("fallback", 0.2)
    human = cli("loyalty", "liability", "--store", store)
    assert human.code == 0 and "8.00" in human.out and "breakage_fallback" in human.out
    # as of a day before the first point, nothing is owed
    early = cli("loyalty", "liability", "--as-of", "2020-01-01", "--store", store, "--json")
    assert early.json()["outstanding_points"] == 0


def test_user_errors_are_one_message(cli, store, tmp_path):
    missing = tmp_path / "nowhere"
    for args in (("liability",), ("effect",)):
        r = cli("loyalty", *args, "--store", missing, "--json")
        assert r.code == 1 and r.json()["error"]["code"] == "config_error"
        assert "no tenure store" in r.json()["error"]["message"]
        assert not missing.exists()  # a report does not create a store
    cli("loyalty", "earn", "C1", "10", "--store", store)
    bad = cli("loyalty", "liability", "--as-of", "2026-02-30", "--store", store)
    assert bad.code == 1 and "2026-02-30" in bad.err and "Traceback" not in bad.err
    # the ledger has a member but the store no orders: nothing to compare on
    r = cli("loyalty", "effect", "--store", store)
    assert r.code == 1 and "Ingest orders first" in r.err and "Traceback" not in r.err
