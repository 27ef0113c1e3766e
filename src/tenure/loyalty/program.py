"""The program at a glance: members, tiers, redemptions, the liability and
the effect estimate, as one document for the dashboard's program page,
its API twin and the report's loyalty section.

Every number comes from the functions that decide it
(:mod:`.liability`, :mod:`.effect`, the ledger's tables); this module only
gathers them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from tenure.loyalty import clock, effect, liability
from tenure.loyalty.policy import Policy
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import loyalty_entries, loyalty_members, loyalty_tier_changes


def has_program(ops: OpsStore) -> bool:
    """Whether the ledger has a member."""
    with ops.engine.connect() as conn:
        return conn.execute(sa.select(loyalty_members.c.customer_id).limit(1)).first() is not None


def tier_counts(conn: sa.Connection, policy: Policy) -> list[dict[str, Any]]:
    """Members per tier, as their latest recorded tier change says (the
    tiers the settings declare, with their thresholds, even when empty;
    then any other recorded tier)."""
    t = loyalty_tier_changes
    latest = sa.select(t.c.customer_id, sa.func.max(t.c.id).label("id")).group_by(t.c.customer_id)
    latest = latest.subquery()
    rows = conn.execute(
        sa.select(t.c.tier, sa.func.count())
        .select_from(t.join(latest, latest.c.id == t.c.id))
        .where(t.c.tier.is_not(None))
        .group_by(t.c.tier)
    ).all()
    counts = {tier: int(n) for tier, n in rows}
    declared = [] if policy.tiers is None else list(policy.tiers.tiers)
    out = [{"name": tier.name, "threshold": tier.threshold, "members": counts.pop(tier.name, 0)}
           for tier in declared]  # fmt: skip
    # tiers the settings no longer (or do not) declare: lowest first, by the
    # least value any member was upgraded to them on
    reached = dict(conn.execute(
        sa.select(t.c.tier, sa.func.min(t.c.value)).where(t.c.kind == "upgrade").group_by(t.c.tier)
    ).all())  # fmt: skip
    rest = sorted(
        counts, key=lambda name: (reached.get(name) is None, reached.get(name) or 0, name)
    )
    out += [{"name": name, "threshold": None, "members": counts[name]} for name in rest]
    return out


def summary(ops: OpsStore, policy: Policy, *, at: datetime | None = None) -> dict[str, Any]:
    """Members, tiers and redemptions (all time, and the last 365 days)."""
    at = clock.utc(at) if at is not None else clock.now()
    e = loyalty_entries
    year_ago = at - timedelta(days=365)
    with ops.engine.connect() as conn:
        members = int(conn.execute(sa.select(sa.func.count()).select_from(loyalty_members))
                      .scalar_one())  # fmt: skip
        joined = conn.execute(
            sa.select(sa.func.count()).where(loyalty_members.c.joined_at > year_ago)
        ).scalar_one()
        redeem = e.c.kind == "redeem"
        row = conn.execute(sa.select(
            sa.func.count(), sa.func.coalesce(sa.func.sum(-e.c.points), 0),
            sa.func.count(sa.distinct(e.c.customer_id)),
        ).where(redeem)).one()  # fmt: skip
        recent = conn.execute(sa.select(
            sa.func.count(), sa.func.coalesce(sa.func.sum(-e.c.points), 0),
        ).where(redeem, e.c.at > year_ago)).one()  # fmt: skip
        rewards = conn.execute(
            sa.select(e.c.reward, sa.func.count(), sa.func.sum(-e.c.points))
            .where(redeem)
            .group_by(e.c.reward)
            .order_by(sa.func.count().desc(), e.c.reward)
            .limit(10)
        ).all()
        tiers = tier_counts(conn, policy)
    in_tier = sum(t["members"] for t in tiers)
    return {
        "members": members,
        "joined_last_365_days": int(joined),
        "tiers": tiers,
        "no_tier": members - in_tier,
        "redemptions": {
            "count": int(row[0]),
            "points": int(row[1]),
            "members": int(row[2]),
            "count_last_365_days": int(recent[0]),
            "points_last_365_days": int(recent[1]),
            "rewards": [
                {"reward": r or "(none given)", "count": int(n), "points": int(p)}
                for r, n, p in rewards
            ],  # fmt: skip
        },
        "as_of": at.isoformat(),
    }


def report(ops: OpsStore, settings: Any, *, at: datetime | None = None) -> dict[str, Any]:
    """The program's document: ``summary``, ``liability`` and ``effect``
    (the effect: null with the reason when the analytics store has no
    orders to compare on)."""
    from tenure.errors import TenureError

    policy = Policy.from_settings(settings.loyalty)
    doc = summary(ops, policy, at=at)
    doc["liability"] = liability.from_settings(ops, settings, as_of=at).doc()
    try:
        doc["effect"] = effect.estimate(ops, settings).doc()
        doc["effect_unavailable"] = None
    except TenureError as exc:
        doc["effect"] = None
        doc["effect_unavailable"] = str(exc)
    return doc


def member(ops: OpsStore, customer_id: str, policy: Policy, *, recent: int = 10) -> dict | None:
    """A member's part of the customer page: the balance document (lots,
    tier progress), the ``recent`` newest entries, and the tier as last
    recorded; None for a customer who is not a member."""
    from tenure.loyalty import balances, tiers
    from tenure.loyalty.serial import is_member

    with ops.engine.connect() as conn:
        if not is_member(conn, customer_id):
            return None
        recorded = tiers.recorded(conn, customer_id).tier
    doc = balances.balance(ops, customer_id, policy=policy)
    past = balances.history(ops, customer_id, limit=recent)
    doc["recent"] = list(reversed(past["entries"]))
    doc["recorded_tier"] = recorded
    return doc
