"""Tiers, worked by hand in the comments, on SQLite and on PostgreSQL.

Every write and read is given its moment (``at=``), so that the periods,
reviews and grace days are fixed whatever the day the tests run.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenure.errors import (
    ConfigError,
    IdempotencyKeyReusedError,
    InputError,
    InsufficientPointsError,
)
from tenure.loyalty import (
    Policy,
    Tier,
    TierProgram,
    balance,
    earn,
    expire,
    history,
    redeem,
    reverse,
    set_tier,
    tier_table,
)
from tenure.store.ops_schema import loyalty_tier_changes

SILVER_GOLD = (Tier("Silver", 500), Tier("Gold", 2000))
_members = itertools.count()


def day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def policy(**program) -> Policy:
    return Policy(expiry_days=None, tiers=TierProgram(SILVER_GOLD, **program))


def changes(ops, customer: str) -> list[tuple]:
    t = loyalty_tier_changes
    with ops.engine.connect() as conn:
        rows = conn.execute(
            sa.select(t.c.kind, t.c.tier, t.c.previous, t.c.value, t.c.at, t.c.kept_until,
                      t.c.entry_id)
            .where(t.c.customer_id == customer).order_by(t.c.id)
        ).all()  # fmt: skip
    return [(k, tier, prev, v, at.replace(tzinfo=UTC) if at.tzinfo is None else at,
             None if kept is None else kept.replace(tzinfo=UTC) if kept.tzinfo is None else kept,
             entry) for k, tier, prev, v, at, kept, entry in rows]  # fmt: skip


def tier_at(ops, customer: str, when: str, p: Policy) -> str | None:
    return balance(ops, customer, at=day(when), policy=p)["tier"]


def test_an_upgrade_is_recorded_by_the_write_that_crosses_the_threshold(ops):
    p = policy()
    # 300 earned: under Silver's 500, no tier and no row
    first = earn(ops, "C1", 300, at=day("2026-01-10"), policy=p)
    assert first.doc["tier"] is None and changes(ops, "C1") == []
    # 300 + 250 = 550 >= 500: Silver at this write, kept 12 months
    second = earn(ops, "C1", 250, at=day("2026-02-01"), policy=p)
    assert second.doc["tier"] == "Silver"
    assert changes(ops, "C1") == [("upgrade", "Silver", None, 550, day("2026-02-01"),
                                   day("2027-02-01"), second.entry_id)]  # fmt: skip
    # 550 + 1450 = 2000: Gold at once, from Silver
    third = earn(ops, "C1", 1450, at=day("2026-03-01"), policy=p)
    assert third.doc["tier"] == "Gold"
    assert changes(ops, "C1")[-1] == ("upgrade", "Gold", "Silver", 2000, day("2026-03-01"),
                                      day("2027-03-01"), third.entry_id)  # fmt: skip
    # spending points leaves the tier: qualification is on points earned, not the balance
    redeem(ops, "C1", 1900, at=day("2026-03-02"), policy=p)
    doc = balance(ops, "C1", at=day("2026-03-03"), policy=p)
    assert (doc["balance"], doc["tier"]) == (100, "Gold")
    assert doc["tier_progress"]["next_tier"] is None
    # the review on 2027-03-01 counts what is earned after 2026-03-01: none yet
    assert doc["tier_progress"]["to_keep"] == {"needed": 2000, "by": "2027-03-01T00:00:00+00:00"}
    assert len(changes(ops, "C1")) == 2


def test_balance_shows_what_the_next_tier_still_needs(ops):
    p = policy()
    earn(ops, "C1", 620, at=day("2026-05-01"), policy=p)
    progress = balance(ops, "C1", at=day("2026-05-02"), policy=p)["tier_progress"]
    # Silver at 620; Gold needs 2000 - 620 = 1380 more; Silver is reviewed on
    # 2027-05-01 on the 12 months after 2026-05-01, which hold nothing yet:
    # 500 to earn by then to keep it
    assert progress["tier"] == "Silver"
    assert progress["next_tier"] == {"name": "Gold", "threshold": 2000, "needed": 1380}
    assert progress["to_keep"] == {"needed": 500, "by": "2027-05-01T00:00:00+00:00"}
    assert progress["qualifying"] == 620


def test_a_downgrade_comes_after_the_grace_days_and_not_before(ops):
    p = policy(window="calendar_year", grace_days=30)
    # 2000 in 2026: Gold, kept to the end of 2027
    earn(ops, "C1", 2000, at=day("2026-03-01"), policy=p)
    # 600 in 2027: Silver's level; Gold is reviewed at 2028-01-01 on 2027
    earn(ops, "C1", 600, at=day("2027-05-01"), policy=p)
    assert tier_at(ops, "C1", "2027-12-31T23:59", p) == "Gold"
    # in the 30 grace days (to 2028-01-31) Gold holds; a write then, which
    # does not qualify again (10 in 2028), records nothing
    assert tier_at(ops, "C1", "2028-01-15", p) == "Gold"
    earn(ops, "C1", 10, at=day("2028-01-20"), policy=p)
    assert [c[0] for c in changes(ops, "C1")] == ["upgrade"]
    assert tier_at(ops, "C1", "2028-01-30T23:59", p) == "Gold"
    # 2028-01-01 + 30 days = 2028-01-31: Silver, on 2027's 600, kept through 2028
    assert tier_at(ops, "C1", "2028-01-31", p) == "Silver"
    summary = expire(ops, as_of=day("2028-02-01"), policy=p)
    assert summary["tier_changes"] == 1
    assert changes(ops, "C1")[-1][:6] == ("downgrade", "Silver", "Gold", 600,
                                         day("2028-01-31"), day("2029-01-01"))  # fmt: skip
    # recorded once: another run finds nothing due
    assert expire(ops, as_of=day("2028-02-02"), policy=p)["tier_changes"] == 0


def test_a_write_in_the_grace_days_that_qualifies_again_renews_the_tier(ops):
    p = policy(window="calendar_year", grace_days=30)
    earn(ops, "C1", 600, at=day("2026-06-01"), policy=p)  # Silver to the end of 2027
    # nothing in 2027: the review at 2028-01-01 finds 0; in the grace days
    # 500 earned in 2028 qualifies again: Silver through 2029
    renewed = earn(ops, "C1", 500, at=day("2028-01-10"), policy=p)
    assert changes(ops, "C1")[-1] == ("renew", "Silver", "Silver", 500, day("2028-01-10"),
                                      day("2030-01-01"), renewed.entry_id)  # fmt: skip
    assert tier_at(ops, "C1", "2028-06-01", p) == "Silver"


def test_a_rolling_window_drops_earnings_older_than_12_months(ops):
    p = policy()  # rolling 12 months, no grace
    earn(ops, "C1", 300, at=day("2026-01-15"), policy=p)
    earn(ops, "C1", 300, at=day("2026-06-01"), policy=p)  # 600: Silver to 2027-06-01
    # on 2027-01-20 the 300 of 2026-01-15 has left the window: 300 remain
    progress = balance(ops, "C1", at=day("2027-01-20"), policy=p)["tier_progress"]
    assert progress["qualifying"] == 300
    earn(ops, "C1", 250, at=day("2027-02-01"), policy=p)
    # the review at 2027-06-01 counts after 2026-06-01: only the 250 of
    # 2027-02-01; 250 < 500, so no tier from then (no grace)
    assert tier_at(ops, "C1", "2027-05-31T23:59", p) == "Silver"
    assert tier_at(ops, "C1", "2027-06-01", p) is None
    earn(ops, "C1", 1, at=day("2027-06-02"), policy=p)
    assert changes(ops, "C1")[-1][:6] == ("downgrade", None, "Silver", 250, day("2027-06-01"),
                                         None)  # fmt: skip


def test_a_manual_tier_ends_on_its_date(ops):
    p = policy()
    earn(ops, "C1", 600, at=day("2026-03-01"), policy=p)  # Silver
    doc = set_tier(ops, "C1", "Gold", until=day("2026-04-01"), at=day("2026-03-10"), policy=p)
    assert (doc["tier"], doc["previous"]) == ("Gold", "Silver")
    # earnings meanwhile change nothing: the manual tier holds to its end
    earn(ops, "C1", 10, at=day("2026-03-20"), policy=p)
    assert tier_at(ops, "C1", "2026-03-31T23:59", p) == "Gold"
    assert balance(ops, "C1", at=day("2026-03-31"), policy=p)["tier_progress"]["manual"]
    # from 2026-04-01 the member's own tier again: 610 earned, Silver
    assert tier_at(ops, "C1", "2026-04-01", p) == "Silver"
    earn(ops, "C1", 10, at=day("2026-04-02"), policy=p)
    assert [c[:3] for c in changes(ops, "C1")] == [
        ("upgrade", "Silver", None), ("manual", "Gold", "Silver"),
        ("manual_end", "Silver", "Gold")]  # fmt: skip
    assert changes(ops, "C1")[-1][3:6] == (610, day("2026-04-01"), day("2027-04-01"))
    with pytest.raises(InputError, match="no tier 'Platinum'"):
        set_tier(ops, "C1", "Platinum", until=day("2026-05-01"), at=day("2026-04-03"), policy=p)


def test_spend_is_the_sum_of_the_amounts_less_refund_reversals(ops):
    p = Policy(tiers=TierProgram((Tier("Silver", 100), Tier("Gold", 1000)), basis="spend"))
    earn(ops, "C1", 60, amount=60.0, at=day("2026-01-01"), policy=p)
    second = earn(ops, "C1", 45, amount=45.0, at=day("2026-01-02"), policy=p)
    # 60 + 45 = 105 EUR >= 100: Silver
    assert second.doc["tier"] == "Silver"
    # a refund of 15 of the 45 points takes 15/45 of 45 EUR = 15 EUR: 90 EUR
    rev = reverse(ops, "C1", second.entry_id, points=15, at=day("2026-01-03"), policy=p)
    assert history(ops, "C1")["entries"][-1]["amount"] == -15.0
    progress = balance(ops, "C1", at=day("2026-01-04"), policy=p)["tier_progress"]
    assert progress["qualifying"] == 90.0
    # the tier is kept to the end of its period: a downgrade waits for the review
    assert rev.doc["tier"] == "Silver" and progress["tier"] == "Silver"
    # reviewed on 2027-01-02 on what is spent after 2026-01-02: 100 EUR to go
    assert progress["to_keep"] == {"needed": 100, "by": "2027-01-02T00:00:00+00:00"}
    assert progress["next_tier"]["needed"] == 910


def test_the_tier_table_counts_members_per_tier(ops):
    p = policy()
    earn(ops, "A", 100, at=day("2026-01-01"), policy=p)
    earn(ops, "B", 600, at=day("2026-01-01"), policy=p)
    earn(ops, "C", 700, at=day("2026-01-01"), policy=p)
    earn(ops, "D", 2500, at=day("2026-01-01"), policy=p)
    doc = tier_table(ops, at=day("2026-02-01"), policy=p)
    assert [(t["name"], t["members"]) for t in doc["tiers"]] == [("Silver", 2), ("Gold", 1)]
    assert (doc["no_tier"], doc["members"]) == (1, 4)
    # a year on, with nothing earned since, everyone's review found 0
    later = tier_table(ops, at=day("2027-01-02"), policy=p)
    assert (later["no_tier"], [t["members"] for t in later["tiers"]]) == (4, [0, 0])


def test_a_program_without_tiers_has_no_tier_and_no_tier_commands(ops):
    earn(ops, "C1", 5000, at=day("2026-01-01"))
    assert balance(ops, "C1", at=day("2026-01-02"))["tier"] is None
    with pytest.raises(ConfigError, match="no tiers"):
        tier_table(ops)


def test_the_amount_is_part_of_the_request_an_idempotency_key_stands_for(ops):
    first = earn(ops, "C1", 50, amount=20.0, key="o-1", at=day("2026-01-01"))
    again = earn(ops, "C1", 50, amount=20.0, key="o-1", at=day("2026-01-01"))
    assert again.replayed and again.doc == first.doc
    with pytest.raises(IdempotencyKeyReusedError):
        earn(ops, "C1", 50, amount=25.0, key="o-1", at=day("2026-01-01"))
    with pytest.raises(InputError, match="0 or more; got -5"):
        earn(ops, "C1", 50, amount=-5, at=day("2026-01-01"))
    assert [e["amount"] for e in history(ops, "C1")["entries"]] == [20.0]


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(st.lists(st.tuples(st.booleans(), st.integers(1, 400)), min_size=1, max_size=12))
def test_within_a_first_year_the_tier_follows_points_earned_whatever_is_spent(sqlite_ops, writes):
    # an oracle independent of the window code: inside the first 12 months
    # nothing drops out and no review falls due, so the tier after each write
    # is the highest threshold the points earned so far reach; redemptions
    # (which lower the balance) change nothing
    p = policy()
    customer = f"M{next(_members)}"  # a fresh member per example on the same store
    earned = 0
    for i, (is_earn, points) in enumerate(writes):
        at = day("2026-01-01") + timedelta(days=i)
        if is_earn or earned == 0:
            earned += points
            doc = earn(sqlite_ops, customer, points, at=at, policy=p).doc
        else:
            try:
                doc = redeem(sqlite_ops, customer, points, at=at, policy=p).doc
            except InsufficientPointsError:
                continue
        expected = "Gold" if earned >= 2000 else "Silver" if earned >= 500 else None
        assert doc["tier"] == expected
        assert balance(sqlite_ops, customer, at=at, policy=p)["tier"] == expected
