"""Worked examples of the ledger, each computed by hand in its comments,
on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tenure.errors import (
    IdempotencyKeyReusedError,
    InsufficientPointsError,
    LedgerError,
    NotFoundError,
)
from tenure.loyalty import (
    Policy,
    adjust,
    balance,
    check_invariant,
    earn,
    expire,
    history,
    idempotency,
    redeem,
    reverse,
)
from tenure.store.ops_schema import loyalty_allocations, loyalty_entries, loyalty_keys


def day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def rows(ops, table) -> int:
    with ops.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def lots_left(ops, customer, at="2026-01-02") -> dict[int, int]:
    return {lot["id"]: lot["remaining"] for lot in balance(ops, customer, at=day(at))["lots"]}


def test_a_partial_redemption_draws_the_soonest_expiring_lot_first(ops):
    # lot 1: 100 points expiring 2026-06-01; lot 2: 50 points expiring 2026-03-01.
    # Redeeming 80 takes all 50 of lot 2 (it expires first), then 30 of lot 1.
    a = earn(ops, "C1", 100, at=day("2026-01-01"), expires_at=day("2026-06-01"))
    b = earn(ops, "C1", 50, at=day("2026-01-01"), expires_at=day("2026-03-01"))
    r = redeem(ops, "C1", 80, reward="tote bag", at=day("2026-02-01"))
    lot_a, lot_b = a.doc["lot"]["id"], b.doc["lot"]["id"]
    assert r.doc["from_lots"] == [{"lot_id": lot_b, "points": 50}, {"lot_id": lot_a, "points": 30}]
    assert r.doc["balance"] == 70
    assert lots_left(ops, "C1", "2026-02-02") == {lot_a: 70}
    # the allocation rows are kept
    with ops.engine.connect() as conn:
        kept = conn.execute(
            sa.select(loyalty_allocations.c.lot_id, loyalty_allocations.c.points)
            .where(loyalty_allocations.c.entry_id == r.entry_id)
            .order_by(loyalty_allocations.c.id)
        ).all()
    assert [tuple(k) for k in kept] == [(lot_b, 50), (lot_a, 30)]
    totals = check_invariant(ops)
    assert (totals.issued, totals.outstanding, totals.redeemed) == (150, 70, 80)


def test_expiry_after_a_redemption_takes_only_what_is_left_of_the_lot(ops):
    # 100 points expiring 2026-03-01; 30 redeemed in February; on expiry the
    # lot has 70 left, and 70 expire (not 100): 100 = 0 + 30 + 70 + 0.
    earn(ops, "C1", 100, at=day("2026-01-01"), expires_at=day("2026-03-01"))
    redeem(ops, "C1", 30, at=day("2026-02-01"))
    done = expire(ops, as_of=day("2026-03-02"))
    assert (done["expired_lots"], done["expired_points"], done["members"]) == (1, 70, 1)
    entries = history(ops, "C1")["entries"]
    assert [(e["kind"], e["points"], e["balance_after"]) for e in entries] == [
        ("earn", 100, 100), ("redeem", -30, 70), ("expire", -70, 0),
    ]  # fmt: skip
    totals = check_invariant(ops)
    assert (totals.issued, totals.outstanding, totals.redeemed, totals.expired) == (100, 0, 30, 70)
    # a second run finds nothing more to expire
    assert expire(ops, as_of=day("2026-03-03"))["expired_points"] == 0


def test_a_clawback_of_spent_points_is_a_debt_that_later_earnings_pay_first(ops):
    # earn 100, redeem 80, then the order is refunded: 20 points come back
    # from the lot, 80 were spent and become a debt (balance -80).
    first = earn(ops, "C1", 100, at=day("2026-01-01"))
    redeem(ops, "C1", 80, at=day("2026-01-02"))
    back = reverse(ops, "C1", first.entry_id, reason="refund", at=day("2026-01-03"))
    assert back.doc["entry"]["points"] == -100
    assert back.doc["from_lots"] == [{"lot_id": first.doc["lot"]["id"], "points": 20}]
    assert (back.doc["balance"], back.doc["debt"]) == (-80, 80)
    # the next 50 points all go to the debt (-30 left), the next 100 pay
    # the last 30 and leave 70 to spend
    second = earn(ops, "C1", 50, at=day("2026-01-04"))
    assert (second.doc["debt_paid"], second.doc["balance"], second.doc["debt"]) == (50, -30, 30)
    with pytest.raises(InsufficientPointsError):
        redeem(ops, "C1", 1, at=day("2026-01-04"))
    third = earn(ops, "C1", 100, at=day("2026-01-05"))
    assert (third.doc["debt_paid"], third.doc["balance"], third.doc["debt"]) == (30, 70, 0)
    assert third.doc["lot"]["remaining"] == 70
    totals = check_invariant(ops)
    # 250 issued = 70 outstanding + 80 redeemed + 0 expired + 100 clawed back
    assert (totals.issued, totals.outstanding, totals.redeemed, totals.clawed_back) == (
        250, 70, 80, 100,
    )  # fmt: skip
    assert redeem(ops, "C1", 70, at=day("2026-01-06")).doc["balance"] == 0


def test_a_redemption_beyond_the_balance_is_refused_and_changes_nothing(ops):
    earn(ops, "C1", 120, at=day("2026-01-01"))
    earn(ops, "C1", 30, pending=True, at=day("2026-01-01"))
    before = (rows(ops, loyalty_entries), rows(ops, loyalty_allocations), rows(ops, loyalty_keys))
    with pytest.raises(InsufficientPointsError) as caught:
        redeem(ops, "C1", 200, key="r-1", at=day("2026-01-02"))
    assert caught.value.what == (
        "customer C1 has 120 points available; redeeming 200 needs 80 more. Nothing was redeemed."
    )
    assert caught.value.hint == "Redeem at most 120 points, or wait for the 30 pending points."
    after = (rows(ops, loyalty_entries), rows(ops, loyalty_allocations), rows(ops, loyalty_keys))
    assert after == before
    # the refusal stored nothing under its key: the same key may be retried
    assert redeem(ops, "C1", 100, key="r-1", at=day("2026-01-02")).doc["balance"] == 20


def test_pending_points_become_usable_when_the_return_window_closes(ops):
    # 40 pending on 2026-01-01 with a 30-day window: usable from 2026-01-31
    p = earn(ops, "C1", 40, pending=True, at=day("2026-01-01"))
    assert p.doc["entry"]["kind"] == "pending"
    assert (p.doc["balance"], p.doc["pending"]) == (0, 40)
    assert p.doc["lot"]["available_at"] == "2026-01-31T00:00:00+00:00"
    with pytest.raises(InsufficientPointsError):
        redeem(ops, "C1", 10, at=day("2026-01-30"))
    # the next write after the window settles the approval first
    r = redeem(ops, "C1", 10, at=day("2026-02-01"))
    assert (r.doc["balance"], r.doc["pending"]) == (30, 0)
    kinds = [(e["kind"], e["points"], e["pending"]) for e in history(ops, "C1")["entries"]]
    assert kinds == [("pending", 0, 40), ("approve", 40, -40), ("redeem", -10, 0)]
    check_invariant(ops)


def test_the_expiry_run_approves_pending_points_and_a_reversal_before_that_cancels_them(ops):
    keep = earn(ops, "C1", 40, pending=True, at=day("2026-01-01"))
    gone = earn(ops, "C2", 25, pending=True, at=day("2026-01-01"))
    back = reverse(ops, "C2", gone.entry_id, at=day("2026-01-10"))  # returned within the window
    assert (back.doc["balance"], back.doc["pending"], back.doc["debt"]) == (0, 0, 0)
    done = expire(ops, as_of=day("2026-02-01"))
    assert (done["approved_lots"], done["approved_points"]) == (1, 40)
    assert balance(ops, "C1", at=day("2026-02-01"))["balance"] == 40
    assert balance(ops, "C2", at=day("2026-02-01"))["balance"] == 0
    totals = check_invariant(ops)
    assert (totals.issued, totals.outstanding, totals.clawed_back) == (65, 40, 25)
    assert keep.doc["lot"]["status"] == "pending"


def test_reversing_a_redemption_gives_the_points_back_as_a_fresh_lot(ops):
    earn(ops, "C1", 100, at=day("2026-01-01"), expires_at=day("2026-02-01"))
    r = redeem(ops, "C1", 60, at=day("2026-01-10"))
    back = reverse(ops, "C1", r.entry_id, points=20, reason="reward out of stock",
                   at=day("2026-01-20"))  # fmt: skip
    # 20 of the 60 come back in a new lot that expires a year later
    assert back.doc["entry"]["points"] == 20
    assert back.doc["lot"]["expires_at"] == "2027-01-20T00:00:00+00:00"
    assert back.doc["balance"] == 60
    expire(ops, as_of=day("2026-02-02"))  # the first lot's 40 expire, the fresh 20 do not
    assert balance(ops, "C1", at=day("2026-02-02"))["balance"] == 20
    totals = check_invariant(ops)
    assert (totals.issued, totals.redeemed, totals.expired, totals.outstanding) == (100, 40, 40, 20)
    with pytest.raises(LedgerError, match="40 points left to reverse; asked for 50"):
        reverse(ops, "C1", r.entry_id, points=50, at=day("2026-02-03"))


def test_points_that_expired_are_not_clawed_back_again(ops):
    # 100 earned, 60 spent, 40 expired; the order is refunded: only the 60
    # spent can be owed, the 40 already left with the expiry
    e = earn(ops, "C1", 100, at=day("2026-01-01"), expires_at=day("2026-02-01"))
    redeem(ops, "C1", 60, at=day("2026-01-10"))
    back = reverse(ops, "C1", e.entry_id, at=day("2026-02-05"))
    assert (back.doc["entry"]["points"], back.doc["debt"], back.doc["balance"]) == (-60, 60, -60)
    totals = check_invariant(ops)
    assert (totals.issued, totals.redeemed, totals.expired, totals.clawed_back) == (100, 60, 40, 60)


def test_the_same_key_and_request_replays_and_another_request_is_refused(ops):
    first = earn(ops, "C1", 100, reason="welcome", key="k-1", at=day("2026-01-01"))
    count = rows(ops, loyalty_entries)
    again = earn(ops, "C1", 100, reason="welcome", key="k-1", at=day("2026-01-05"))
    assert again.replayed and not first.replayed
    assert again.doc == first.doc
    assert rows(ops, loyalty_entries) == count
    with pytest.raises(IdempotencyKeyReusedError, match="'k-1' was first used for another"):
        earn(ops, "C1", 101, reason="welcome", key="k-1", at=day("2026-01-05"))
    with pytest.raises(IdempotencyKeyReusedError):
        redeem(ops, "C1", 100, key="k-1", at=day("2026-01-05"))
    assert rows(ops, loyalty_entries) == count
    assert balance(ops, "C1", at=day("2026-01-05"))["balance"] == 100


def test_an_order_line_earns_once_per_rule_whatever_the_key(ops):
    a = earn(ops, "C1", 30, order_line="O1:1", rule="base", key="a", at=day("2026-01-01"))
    b = earn(ops, "C1", 30, order_line="O1:1", rule="base", key="b", at=day("2026-01-02"))
    c = earn(ops, "C1", 30, order_line="O1:1", rule="base", at=day("2026-01-03"))
    assert b.replayed and c.replayed and b.entry_id == c.entry_id == a.entry_id
    bonus = earn(ops, "C1", 10, order_line="O1:1", rule="double-days", at=day("2026-01-03"))
    assert not bonus.replayed
    assert balance(ops, "C1", at=day("2026-01-04"))["balance"] == 40
    assert rows(ops, loyalty_entries) == 2
    with pytest.raises(LedgerError, match="earned points under rule 'base' for customer C1"):
        earn(ops, "C2", 30, order_line="O1:1", rule="base", at=day("2026-01-03"))


def test_a_negative_adjustment_takes_points_and_owes_the_rest(ops):
    earn(ops, "C1", 30, at=day("2026-01-01"))
    a = adjust(ops, "C1", -50, reason="points given twice by hand", at=day("2026-01-02"))
    assert (a.doc["balance"], a.doc["debt"]) == (-20, 20)
    b = adjust(ops, "C1", 25, reason="goodwill", at=day("2026-01-03"))
    assert (b.doc["debt_paid"], b.doc["balance"], b.doc["debt"]) == (20, 5, 0)
    totals = check_invariant(ops)
    assert (totals.issued, totals.clawed_back, totals.outstanding) == (55, 50, 5)


def test_a_customer_who_is_not_a_member_is_named(ops):
    for call in (lambda: balance(ops, "C9"), lambda: history(ops, "C9"),
                 lambda: redeem(ops, "C9", 10)):  # fmt: skip
        with pytest.raises(NotFoundError, match="customer 'C9' is not a loyalty member"):
            call()
    assert rows(ops, loyalty_entries) == 0


def test_keys_are_kept_24_hours_then_removed(ops):
    earn(ops, "C1", 10, key="k-old")
    now = datetime.now(UTC)
    with ops.engine.begin() as conn:
        assert idempotency.purge(conn, now + timedelta(hours=23), 24) == 0
    with ops.engine.begin() as conn:
        assert idempotency.purge(conn, now + timedelta(hours=25), 24) == 1
    assert rows(ops, loyalty_keys) == 0


def test_a_policy_without_expiry_and_with_a_week_of_return_window(ops):
    policy = Policy(expiry_days=None, return_window_days=7)
    p = earn(ops, "C1", 40, pending=True, at=day("2026-01-01"), policy=policy)
    assert p.doc["lot"]["available_at"] == "2026-01-08T00:00:00+00:00"
    assert p.doc["lot"]["expires_at"] is None
    assert expire(ops, as_of=day("2030-01-01"))["approved_points"] == 40
    assert expire(ops, as_of=day("2030-01-02"))["expired_points"] == 0
    assert balance(ops, "C1", at=day("2030-01-02"))["balance"] == 40
