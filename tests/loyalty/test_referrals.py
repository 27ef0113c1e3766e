"""Referrals: self-referral refused (the worked example), rewarded exactly
once after the friend's first qualifying order in a store filled by the
real ingest, the cap per advocate, and bad input; on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from tenure.config import load_settings
from tenure.errors import ConfigError, NotFoundError
from tenure.loyalty import balance, check_invariant, history
from tenure.loyalty.referrals import refer, referral_code, referrals, settle_referrals
from tenure.loyalty_settings import Program, Referrals
from tenure.refresh import ingest
from tenure.store.ops_schema import loyalty_awards

AT = datetime(2026, 3, 1, tzinfo=UTC)
LATER = datetime(2026, 6, 1, tzinfo=UTC)
PROGRAM = Program(referrals=Referrals(advocate_points=500, friend_points=250, min_order=20.0))


def _orders(tmp_path, store, name: str, rows: list[str]) -> None:
    path = tmp_path / name
    path.write_text("order_id,customer_id,placed_at,amount,status\n" + "\n".join(rows) + "\n")
    ingest("orders", path, store=store)


def test_self_referral_is_refused_by_email_address_or_payment_and_shown(ops):
    code = referral_code(ops, "ANN", email="Ann.Lee@Example.com",
                         address="Hauptstraße 5, 10115 Berlin", payment_fingerprint="fp_9Xa2",
                         at=AT)["code"]  # fmt: skip
    # the same e-mail in capitals and in full-width letters (NFKC makes them ASCII)
    by_case = refer(ops, code, "F1", email="ANN.LEE@EXAMPLE.COM", at=AT)
    by_form = refer(ops, code, "F2", email="ａｎｎ.ｌｅｅ@example.com", at=AT)
    # ß case-folds to ss; commas and spacing are set aside
    by_address = refer(ops, code, "F3", address="HAUPTSTRASSE 5  10115 berlin", at=AT)
    by_payment = refer(ops, code, "F4", payment_fingerprint=" fp_9Xa2 ", at=AT)
    by_id = refer(ops, code, "ANN", at=AT)
    # the same refused request again is answered with its first refusal
    retry = refer(ops, code, "F1", email="ANN.LEE@EXAMPLE.COM", at=AT)
    assert (retry["id"], retry["replayed"]) == (by_case["id"], True)
    assert [(d["status"], d["reason"]) for d in (by_case, by_form, by_address, by_payment, by_id)
            ] == [("refused", "same_email"), ("refused", "same_email"),
                  ("refused", "same_address"), ("refused", "same_payment"),
                  ("refused", "self_referral")]  # fmt: skip
    # another person is accepted: a fingerprint differs by case, so it is another card
    other = refer(ops, code, "F5", email="bob@example.com", payment_fingerprint="FP_9XA2", at=AT)
    assert other["status"] == "pending"
    listed = referrals(ops, advocate="ANN")
    assert listed["counts"] == {"pending": 1, "qualified": 0, "rewarded": 0, "refused": 5}
    reasons = {r["friend_id"]: r["reason_text"] for r in listed["referrals"]}
    assert reasons["F3"] == "the friend's address is the advocate's"


def test_the_advocates_email_in_the_ingested_customers_refuses_at_settlement(ops, tmp_path):
    store = tmp_path / "store"
    path = tmp_path / "customers.csv"
    path.write_text("customer_id,email\nANN,ann@example.com\nBEN,ANN@Example.com\n")
    ingest("customers", path, store=store)
    code = referral_code(ops, "ANN", at=AT)["code"]
    assert refer(ops, code, "BEN", store=store, at=AT)["reason"] == "same_email"
    # without the store at the referral, the settlement finds it
    pending = refer(ops, code, "CAL", at=AT)
    assert pending["status"] == "pending"
    path.write_text("customer_id,email\nCAL,Ann@example.COM\n")
    ingest("customers", path, store=store)
    _orders(tmp_path, store, "o.csv", ["O1,CAL,2026-03-02,30.00,completed"])
    done = settle_referrals(ops, store, ["CAL"], at=LATER, program=PROGRAM)
    assert (done["refused"], done["rewarded"]) == (1, 0)
    assert done["referrals"][0]["reason"] == "same_email"
    assert balance(ops, "ANN", at=LATER)["balance"] == 0


def test_a_referral_is_rewarded_once_after_the_first_qualifying_order_and_not_before(ops, tmp_path):
    store = tmp_path / "store"
    code = referral_code(ops, "ANN", at=AT)["code"]
    refer(ops, code, "BOB", at=AT)
    # BOB's first order is 15.00, below the 20.00 a referral needs; a refunded 50.00 does not count
    _orders(tmp_path, store, "o1.csv", ["O1,BOB,2026-03-02,15.00,completed",
                                         "O2,BOB,2026-03-03,50.00,refunded"])  # fmt: skip
    first = settle_referrals(ops, store, ["BOB"], at=LATER, program=PROGRAM)
    assert (first["rewarded"], first["waiting"]) == (0, 1)
    assert balance(ops, "ANN", at=LATER)["balance"] == 0
    _orders(tmp_path, store, "o2.csv", ["O3,BOB,2026-03-10,25.00,completed"])
    second = settle_referrals(ops, store, ["BOB"], at=LATER, program=PROGRAM)
    assert (second["rewarded"], second["waiting"]) == (1, 0)
    [decided] = second["referrals"]
    assert (decided["status"], decided["order_id"], decided["order_amount"]) == (
        "rewarded", "O3", 25.0)  # fmt: skip
    # settling again (with or without the customers) pays nothing more
    for ids in (["BOB"], None):
        again = settle_referrals(ops, store, ids, at=LATER, program=PROGRAM)
        assert (again["rewarded"], again["qualified"]) == (0, 0)
    assert balance(ops, "ANN", at=LATER)["balance"] == 500
    assert balance(ops, "BOB", at=LATER)["balance"] == 250
    assert [e["points"] for e in history(ops, "ANN")["entries"]] == [500]
    with ops.engine.connect() as conn:
        assert conn.execute(sa.select(loyalty_awards.c.role).order_by(loyalty_awards.c.role)
                            ).scalars().all() == ["advocate", "friend"]  # fmt: skip
    check_invariant(ops)


def test_the_cap_per_advocate_refuses_beyond_it_within_the_period(ops, tmp_path):
    store = tmp_path / "store"
    program = Program(referrals=Referrals(advocate_points=100, friend_points=0,
                                          max_per_advocate=2, cap_days=30))  # fmt: skip
    code = referral_code(ops, "ANN", at=AT)["code"]
    for friend in ("F1", "F2", "F3", "F4"):
        refer(ops, code, friend, at=AT)
    # orders on 1, 5 and 10 April: the third is the third within 30 days; 20 May is
    # 40 days after the second and the 30 days before it hold none rewarded
    _orders(tmp_path, store, "o.csv", ["A1,F1,2026-04-01,9,completed",
                                        "A2,F2,2026-04-05,9,completed",
                                        "A3,F3,2026-04-10,9,completed",
                                        "A4,F4,2026-05-20,9,completed"])  # fmt: skip
    done = settle_referrals(ops, store, at=LATER, program=program)
    status = {r["friend_id"]: (r["status"], r["reason"]) for r in done["referrals"]}
    assert status == {"F1": ("rewarded", None), "F2": ("rewarded", None),
                      "F3": ("refused", "cap_reached"), "F4": ("rewarded", None)}  # fmt: skip
    assert balance(ops, "ANN", at=LATER)["balance"] == 300
    # the friend refused for the cap stays referred: another code cannot pay for F3
    other = refer(ops, referral_code(ops, "BEN", at=AT)["code"], "F3", at=LATER)
    assert (other["status"], other["reason"]) == ("refused", "already_referred")
    refused = next(r for r in done["referrals"] if r["friend_id"] == "F3")
    assert refused["detail"] == "2 referrals rewarded for orders in the 30 days to 2026-04-10; " \
                                "the cap is 2"  # fmt: skip


def test_a_friend_who_ordered_before_the_day_of_the_referral_is_refused(ops, tmp_path):
    store = tmp_path / "store"
    code = referral_code(ops, "ANN", at=AT)["code"]
    refer(ops, code, "OLD", at=datetime(2026, 3, 1, 15, 0, tzinfo=UTC))
    refer(ops, code, "NEW", at=datetime(2026, 3, 1, 15, 0, tzinfo=UTC))
    # OLD bought on 28 February; NEW's order of 1 March (midnight) is the day of the referral
    _orders(tmp_path, store, "o.csv", ["P1,OLD,2026-02-28,5.00,completed",
                                        "P2,OLD,2026-03-05,40.00,completed",
                                        "P3,NEW,2026-03-01,40.00,completed"])  # fmt: skip
    done = settle_referrals(ops, store, at=LATER, program=PROGRAM)
    status = {r["friend_id"]: (r["status"], r["reason"], r["detail"]) for r in done["referrals"]}
    assert status == {
        "OLD": ("refused", "existing_customer", "order P1 on 2026-02-28, referred on 2026-03-01"),
        "NEW": ("rewarded", None, None),
    }  # fmt: skip


def test_a_friend_is_referred_once_and_an_unknown_code_is_refused(ops):
    ann = referral_code(ops, "ANN", at=AT)["code"]
    assert referral_code(ops, "ANN", at=AT)["code"] == ann  # one code per member
    ben = referral_code(ops, "BEN", at=AT)["code"]
    first = refer(ops, ann, "CAL", at=AT)
    assert refer(ops, ann.lower(), "CAL", at=AT)["replayed"] is True
    second = refer(ops, ben, "CAL", at=AT)
    assert (second["status"], second["reason"]) == ("refused", "already_referred")
    assert second["detail"] == f"referral {first['id']} with the code {ann}"
    with pytest.raises(NotFoundError, match="no member has the referral code 'NOPE'"):
        refer(ops, "nope", "DAN", at=AT)


def test_a_bad_referral_setting_names_the_key_and_the_value(tmp_path, monkeypatch):
    path = tmp_path / "tenure.toml"
    path.write_text("[loyalty]\nreferrals = {advocate_points = 500, max_per_advocate = 0}\n")
    monkeypatch.setenv("TENURE_CONFIG", str(path))
    with pytest.raises(ConfigError, match=r"referrals: 'max_per_advocate' has the value 0"):
        load_settings()


def test_the_cli_records_settles_and_lists_referrals(cli, store, tmp_path, monkeypatch):
    toml = tmp_path / "tenure.toml"
    toml.write_text("[loyalty]\nreferrals = {advocate_points = 500, friend_points = 250, "
                    "min_order = 20.0}\n")  # fmt: skip
    monkeypatch.setenv("TENURE_CONFIG", str(toml))
    code = cli("loyalty", "referral-code", "ANN", "--email", "ann@example.com", "--store", store,
               "--json").json()["code"]  # fmt: skip
    r = cli("loyalty", "refer", code, "SAM", "--email", "ANN@EXAMPLE.COM", "--store", store)
    assert r.code == 0 and "refused: the friend's e-mail is the advocate's" in r.out
    assert cli("loyalty", "refer", code, "BOB", "--store", store, "--json").json()["status"] == (
        "pending")  # fmt: skip
    # an order of the day BOB was referred (a date without a time: its midnight)
    today = datetime.now(UTC).date().isoformat()
    orders = tmp_path / "orders.csv"
    orders.write_text(f"order_id,customer_id,placed_at,amount\nO1,BOB,{today},30.00\n")
    # the ingest settles the referrals of the customers it touched
    ingested = cli("ingest", "orders", orders, "--store", store, "--json")
    assert ingested.code == 0
    assert ingested.json()["refreshed"]["loyalty_settled"]["referrals"]["rewarded"] == 1
    doc = cli("loyalty", "referrals", "--settle", "--store", store, "--json").json()
    assert doc["settled"]["rewarded"] == 0
    assert doc["counts"] == {"pending": 0, "qualified": 0, "rewarded": 1, "refused": 1}
    again = cli("loyalty", "referrals", "--settle", "--store", store, "--json").json()
    assert again["settled"]["rewarded"] == 0
    assert cli("loyalty", "balance", "ANN", "--store", store, "--json").json()["balance"] == 500
    r = cli("loyalty", "refer", "NOPE", "X", "--store", store, "--json")
    assert r.code == 1 and "no member has the referral code" in r.json()["error"]["message"]


def test_settling_the_program_after_an_ingest_pays_referrals_and_badges_once(
    ops, tmp_path, monkeypatch
):
    from tenure.loyalty.settle import settle_program

    path = tmp_path / "tenure.toml"
    path.write_text(
        "[loyalty]\nreferrals = {advocate_points = 500, friend_points = 250}\n"
        'challenges = [{id = "two", kind = "orders", count = 2, days = 7, points = 40}]\n'
    )
    monkeypatch.setenv("TENURE_CONFIG", str(path))
    settings = load_settings().loyalty
    store = tmp_path / "store"
    refer(ops, referral_code(ops, "ANN", at=AT)["code"], "BOB", at=AT)
    _orders(tmp_path, store, "o.csv", ["O1,BOB,2026-03-02,10,completed",
                                        "O2,BOB,2026-03-05,10,completed"])  # fmt: skip
    for _ in range(2):
        settle_program(ops, store, ["BOB"], settings=settings, at=LATER)
    # BOB: 250 for the referral and 40 for two orders within 7 days; ANN: 500
    assert balance(ops, "BOB", at=LATER)["balance"] == 290
    assert balance(ops, "ANN", at=LATER)["balance"] == 500
