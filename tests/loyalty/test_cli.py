"""``tenure loyalty``: the CLI contract (one JSON document, exit 1 with a
message for a user error, no traceback) over the ledger."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tenure.config import load_settings
from tenure.loyalty import earn, redeem
from tenure.store.workspace import Workspace


def test_earn_pending_redeem_and_balance(cli, store):
    r = cli("loyalty", "earn", "C1", "100", "--reason", "welcome", "--store", store, "--json")
    assert r.code == 0, r.err
    assert (r.json()["entry"]["points"], r.json()["balance"]) == (100, 100)
    r = cli("loyalty", "earn", "C1", "40", "--pending", "--store", store, "--json")
    assert (r.json()["entry"]["kind"], r.json()["pending"]) == ("pending", 40)
    r = cli("loyalty", "redeem", "C1", "30", "--reward", "mug", "--store", store, "--json")
    assert r.code == 0, r.err
    assert r.json()["balance"] == 70
    doc = cli("loyalty", "balance", "C1", "--store", store, "--json").json()
    assert {k: doc[k] for k in ("customer_id", "balance", "pending", "tier")} == {
        "customer_id": "C1", "balance": 70, "pending": 40, "tier": None,
    }  # fmt: skip
    assert [(lot["remaining"], lot["status"]) for lot in doc["lots"]] == [
        (70, "active"), (40, "pending"),
    ]  # fmt: skip
    human = cli("loyalty", "balance", "C1", "--store", store)
    assert human.code == 0 and "C1: 70 points, 40 pending." in human.out


def test_a_redemption_beyond_the_balance_exits_1_and_changes_nothing(cli, store):
    cli("loyalty", "earn", "C1", "70", "--store", store)
    before = cli("loyalty", "history", "C1", "--store", store, "--json").json()
    r = cli("loyalty", "redeem", "C1", "500", "--store", store, "--json")
    assert r.code == 1
    error = r.json()["error"]
    assert error["code"] == "insufficient_points"
    assert error["message"] == (
        "customer C1 has 70 points available; redeeming 500 needs 430 more. Nothing was redeemed."
    )
    assert error["hint"] == "Redeem at most 70 points."
    assert cli("loyalty", "history", "C1", "--store", store, "--json").json() == before
    human = cli("loyalty", "redeem", "C1", "500", "--store", store)
    assert human.code == 1 and "Traceback" not in human.err
    assert "needs 430 more" in human.err and human.out == ""


def test_a_retried_key_answers_the_same_and_another_request_under_it_is_refused(cli, store):
    cli("loyalty", "earn", "C1", "100", "--store", store)
    first = cli("loyalty", "redeem", "C1", "30", "--key", "k1", "--store", store, "--json")
    again = cli("loyalty", "redeem", "C1", "30", "--key", "k1", "--store", store, "--json")
    assert again.code == 0 and again.out == first.out
    assert "already posted under the key 'k1'; nothing changed" in again.err
    other = cli("loyalty", "redeem", "C1", "31", "--key", "k1", "--store", store, "--json")
    assert other.code == 1
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    entries = cli("loyalty", "history", "C1", "--store", store, "--json").json()["entries"]
    assert [(e["kind"], e["points"], e["balance_after"]) for e in entries] == [
        ("earn", 100, 100), ("redeem", -30, 70),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["earn", "C1", "0"], 1, "points must be a whole number of 1 or more; got 0."),
        (["earn", "C1", "ten"], 2, "'points'"),
        (["balance", "C9"], 1, "customer 'C9' is not a loyalty member"),
        (["history", "C9"], 1, "customer 'C9' is not a loyalty member"),
        (["expire", "--as-of", "2026-02-30"], 1, "--as-of '2026-02-30' is not a date."),
        (["expire", "--as-of", "2999-01-01"], 1, "--as-of 2999-01-01 is in the future"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_errors_are_one_json_document_that_names_the_value(cli, store, args, code, words):
    cli("loyalty", "earn", "C1", "5", "--store", store)
    r = cli("loyalty", *args, "--store", store, "--json")
    assert r.code == code
    assert words in r.json()["error"]["message"]
    assert "Traceback" not in r.err


def test_a_command_on_a_missing_store_creates_none(cli, store):
    for args in (["balance", "C1"], ["redeem", "C1", "5"], ["expire"], ["earn", "C1", "0"]):
        r = cli("loyalty", *args, "--store", store, "--json")
        assert r.code == 1
        assert not store.exists(), args


def test_expire_records_what_has_expired_and_history_shows_it(cli, store):
    def day(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)

    # C1: 100 points expiring on 2026-03-01, 25 of them redeemed before;
    # C2: 60 points expiring then and 15 that expire in September.
    # As of the end of 2026-03-01: 75 + 60 expire, in 2 lots of 2 members.
    with Workspace.open(load_settings(store=store)) as ws:
        earn(ws.ops, "C1", 100, at=day("2026-01-01"), expires_at=day("2026-03-01"))
        redeem(ws.ops, "C1", 25, at=day("2026-02-01"))
        earn(ws.ops, "C2", 60, at=day("2026-01-01"), expires_at=day("2026-03-01"))
        earn(ws.ops, "C2", 15, at=day("2026-01-01"), expires_at=day("2026-09-01"))
    r = cli("loyalty", "expire", "--as-of", "2026-03-01", "--store", store, "--json")
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["as_of"] == "2026-03-02T00:00:00+00:00"
    assert (doc["expired_lots"], doc["expired_points"], doc["members"]) == (2, 135, 2)
    entries = cli("loyalty", "history", "C1", "--store", store, "--json").json()["entries"]
    assert [(e["kind"], e["points"], e["balance_after"]) for e in entries] == [
        ("earn", 100, 100), ("redeem", -25, 75), ("expire", -75, 0),
    ]  # fmt: skip
    again = cli("loyalty", "expire", "--as-of", "2026-03-01", "--store", store, "--json").json()
    assert (again["expired_lots"], again["expired_points"]) == (0, 0)
    human = cli("loyalty", "history", "C2", "--store", store)
    assert human.code == 0 and "expire" in human.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["earn", "C1", "100000000000000000000"],
         "points must be at most 1,000,000,000,000 in one write; got 100,000,000,000,000,000,000."),
        (["earn", "C\tX", "5"],
         "the customer id 'C\\tX' holds a control character (U+0009 at character 2)."),
        (["earn", "C1", "5", "--key", "k\x001"],
         "the idempotency key 'k\\x001' holds a control character (U+0000 at character 2)."),
    ],
)  # fmt: skip
def test_hostile_points_ids_and_keys_are_refused_with_the_value_and_write_nothing(
    cli, store, args, message
):
    """A number beyond what the databases hold, and control characters in an
    id or a key, are refused as the user's error (exit 1, no traceback)."""
    assert cli("loyalty", "earn", "C0", "5", "--store", store).code == 0  # the store exists
    r = cli("loyalty", *args, "--store", store, "--json")
    assert r.code == 1, r.err
    assert r.json()["error"]["message"] == message
    human = cli("loyalty", *args, "--store", store)
    assert human.code == 1 and "Traceback" not in human.err and "internal error" not in human.err
    # nothing was written: C1 never became a member
    assert cli("loyalty", "balance", "C1", "--store", store, "--json").json()["error"]["code"] == (
        "not_found"
    )
