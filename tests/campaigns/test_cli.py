"""``tenure consent ...`` end to end in the CLI: --json documents, an
import with rejected rows and their quarantine file, errors without a
traceback, and every command's help with its example."""

from __future__ import annotations

import csv

import pytest

from tenure.config import load_settings
from tenure.store.workspace import Workspace

COMMANDS = ["set", "show", "import", "suppress", "unsuppress", "suppressions", "bounce", "purge",
            "complaint", "check", "link"]  # fmt: skip


@pytest.fixture
def made(store):
    with Workspace.open(load_settings(store=store)):
        pass
    return store


def test_set_show_and_check(cli, made):
    s = ("--store", made)
    r = cli("consent", "set", "C1", "email", "marketing", "--at", "2026-03-01T09:00", "--key", "k",
            "--json", *s)  # fmt: skip
    assert r.code == 0 and r.json()["event"]["state"] == "granted"
    again = cli("consent", "set", "C1", "email", "marketing", "--at", "2026-03-01T09:00", "--key", "k",
                "--json", *s)  # fmt: skip
    assert again.json() == {**r.json(), "replayed": True}
    cli("consent", "set", "C1", "sms", "--withdraw", "--at", "2026-03-02", *s)
    shown = cli("consent", "show", "C1", "--json", *s).json()
    assert [(c["channel"], c["state"]) for c in shown["consents"]] == [
        ("email", "granted"), ("sms", "withdrawn")]  # fmt: skip
    ok = cli("consent", "check", "C1", "email", "--at", "2026-03-05T12:00", "--json", *s).json()
    assert (ok["allowed"], ok["reason"]) == (True, None)
    no = cli("consent", "check", "C1", "sms", "--at", "2026-03-05T12:00", "--json", *s).json()
    assert (no["allowed"], no["reason"]) == (False, "consent_withdrawn")
    cli("consent", "complaint", "c1@example.com", "--customer", "C1", "--at", "2026-03-06", *s)
    after = cli("consent", "check", "C1", "email", "--at", "2026-03-07", "--json", *s).json()
    assert after["reason"] == "consent_withdrawn"
    listed = cli("consent", "suppressions", "--json", *s).json()
    assert [(x["address"], x["reason"]) for x in listed["suppressions"]] == [
        ("c1@example.com", "complaint")]  # fmt: skip


def test_import_counts_every_row_and_quarantines_the_rejected(cli, made, tmp_path):
    path = tmp_path / "consents.csv"
    path.write_text(
        "customer_id,channel,purpose,state,at\n"
        "C1,email,marketing,opt_in,2026-01-01T10:00\n"
        "C2,sms,,yes,2026-01-02\n"
        "C3,e mail,marketing,yes,2026-01-02\n"
        "C4,email,marketing,maybe,2026-01-02\n"
        "C5,email,marketing,no,31/01/2026\n"
        "C1,email,marketing,opt_in,2026-01-01T10:00\n"
    )
    r = cli("consent", "import", path, "--store", made, "--json")
    doc = r.json()
    assert (doc["read"], doc["accepted"], doc["duplicates"], doc["rejected"]) == (6, 2, 1, 3)
    assert [(e["line"], e["column"], e["value"]) for e in doc["first_errors"]] == [
        (4, "channel", "e mail"), (5, "state", "maybe"), (6, "at", "31/01/2026")]  # fmt: skip
    with open(doc["quarantine"], newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(q["_file"], q["_line"], q["_column"], q["customer_id"]) for q in rows] == [
        ("consents.csv", "4", "channel", "C3"), ("consents.csv", "5", "state", "C4"),
        ("consents.csv", "6", "at", "C5")]  # fmt: skip
    twice = cli("consent", "import", path, "--store", made, "--json").json()
    assert (twice["accepted"], twice["duplicates"]) == (0, 3)
    refused = cli("consent", "import", path, "--store", made, "--max-errors", "2", "--json")
    assert refused.code == 1 and "more than --max-errors 2" in refused.json()["error"]["message"]
    shown = cli("consent", "show", "C2", "--json", "--store", made).json()["consents"]
    assert [(c["purpose"], c["source"], c["reference"]) for c in shown] == [
        ("marketing", "import", "consents.csv:3")]  # fmt: skip


def test_a_missing_column_is_one_json_error(cli, made, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("customer,channel,state,at\nC1,email,yes,2026-01-01\n")
    r = cli("consent", "import", path, "--store", made, "--json")
    assert r.code == 1 and "Traceback" not in r.err
    assert r.json()["error"]["column"] == "customer_id"


@pytest.mark.parametrize("command", COMMANDS)
def test_every_consent_command_has_an_example(cli, command):
    r = cli("consent", command, "--help")
    assert r.code == 0 and "Example" in r.out and f"tenure consent {command}" in r.out


def test_consent_from_the_ingested_customers(cli, store, tmp_path):
    def ingest(text: str) -> None:
        path = tmp_path / "customers.csv"
        path.write_text("customer_id,email,consent_email,consent_sms\n" + text)
        r = cli("ingest", "customers", path, "--store", store, "--json")
        assert r.code == 0, r.out

    def sync() -> dict:
        return cli("consent", "import", "--from-customers", "--store", store, "--json").json()

    def states(customer: str) -> dict:
        doc = cli("consent", "show", customer, "--store", store, "--json").json()
        return {c["channel"]: (c["state"], c["source"]) for c in doc["consents"]}

    ingest("C1,c1@x.com,true,false\nC2,c2@x.com,true,\nC3,c3@x.com,,\nC4,c4@x.com,yes,\n")
    # C4 unsubscribed by link before the first export was taken in
    cli("consent", "set", "C4", "email", "--withdraw", "--source", "unsubscribe_link", "--store",
        store)  # fmt: skip
    assert sync() == {"customers": 3, "recorded": 3, "unchanged": 0, "kept_withdrawn": 1}
    assert states("C1") == {"email": ("granted", "ingest"), "sms": ("withdrawn", "ingest")}
    assert states("C4") == {"email": ("withdrawn", "unsubscribe_link")}
    # C1 withdraws by the API; the same export again changes nothing
    cli("consent", "set", "C1", "email", "--withdraw", "--source", "api", "--store", store)
    assert sync() == {"customers": 3, "recorded": 0, "unchanged": 3, "kept_withdrawn": 1}
    assert states("C1")["email"] == ("withdrawn", "api")
    # a new export: C2 opts out, C1 opts in to SMS; C1's e-mail "true" is unchanged
    ingest("C1,c1@x.com,true,true\nC2,c2@x.com,false,\nC3,c3@x.com,,\nC4,c4@x.com,yes,\n")
    assert sync() == {"customers": 3, "recorded": 2, "unchanged": 1, "kept_withdrawn": 1}
    assert states("C1") == {"email": ("withdrawn", "api"), "sms": ("granted", "ingest")}
    assert states("C2") == {"email": ("withdrawn", "ingest")}
    both = cli("consent", "import", tmp_path / "customers.csv", "--from-customers", "--store", store,
               "--json")  # fmt: skip
    assert (
        both.code == 1
        and "either a consent FILE or --from-customers" in both.json()["error"]["message"]
    )


def test_purge_keeps_a_day_of_keys(cli, made):
    from datetime import timedelta

    from tenure.campaigns.consent import now
    from tenure.campaigns.consent_requests import once, purge
    from tenure.errors import InputError
    from tenure.store.ops import OpsStore

    ops = OpsStore.open(f"sqlite:///{made / 'ops.sqlite'}")
    try:
        assert once(ops, "key:a", "k1", "f" * 64, "C1", lambda: (201, {"ok": True})) == (
            201, {"ok": True}, False)  # fmt: skip
        assert purge(ops, hours=24, now=now() + timedelta(hours=23)) == 0
        assert purge(ops, hours=24, now=now() + timedelta(hours=25)) == 1
        with pytest.raises(InputError, match="under 24"):
            purge(ops, hours=12)
    finally:
        ops.close()
    r = cli("consent", "purge", "--older-than", "48", "--store", made, "--json")
    assert r.json() == {"removed": 0, "older_than_hours": 48}


def test_a_wrong_setting_is_one_json_error_naming_it(cli, made, tmp_path, monkeypatch):
    bad = tmp_path / "bad.toml"
    bad.write_text('[campaigns.quiet_hours]\nstart = "21:00"\nend = "25:00"\n')
    monkeypatch.setenv("TENURE_CONFIG", str(bad))
    r = cli("consent", "check", "C1", "email", "--store", made, "--json")
    error = r.json()["error"]
    assert r.code == 1 and "Traceback" not in r.err
    assert (error["column"], error["value"]) == ("end", "25:00")
    assert (
        "[campaigns.quiet_hours] end = '25:00': it is not a time of day HH:MM" in error["message"]
    )
    assert error["hint"] == 'Write it as end = "08:00".'
