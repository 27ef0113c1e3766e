"""Loyalty triggers, read from the ledger in the operational store.

``tier_changed[:TIER]``: a member's tier changed (an upgrade, a downgrade or
a manual tier; a renewal keeps the tier and does not count), to TIER when
named. Occurrence ``tier-<change id>``, at when it took effect.

``points_expiring:N``: a lot with points left expires within N days. It
enters once, when its expiry comes within N days (``expires_at - N days``);
occurrence ``lot-<lot id>``. What is left is the lot's points less what was
drawn from it (``loyalty_allocations``), as :mod:`tenure.loyalty.lots`
derives it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pyarrow as pa
import sqlalchemy as sa

from tenure.campaigns.triggers_spec import Trigger
from tenure.store.ops_schema import loyalty_allocations, loyalty_lots, loyalty_tier_changes


def _window(column, since: datetime | None, as_of: datetime):
    return sa.and_(column <= as_of, *([column > since] if since is not None else []))


def rows(conn: sa.Connection, t: Trigger, since: datetime | None, as_of: datetime) -> list:
    if t.kind == "tier_changed":
        c = loyalty_tier_changes.c
        q = (sa.select(c.customer_id, c.id, c.at, c.previous, c.tier)
             .where(_window(c.at, since, as_of), c.kind != "renew",
                    sa.func.coalesce(c.tier, "") != sa.func.coalesce(c.previous, "")))  # fmt: skip
        if t.name:
            q = q.where(sa.func.lower(c.tier) == t.name.lower())
        return [(r[0], f"tier-{r[1]}", r[2], f"{r[3] or '-'} -> {r[4] or '-'}")
                for r in conn.execute(q.order_by(c.id))]  # fmt: skip
    days = timedelta(days=int(t.value or 0))
    lots, alloc = loyalty_lots.c, loyalty_allocations.c
    used = (sa.select(alloc.lot_id, sa.func.sum(alloc.points).label("used"))
            .group_by(alloc.lot_id).subquery())  # fmt: skip
    left = lots.points - sa.func.coalesce(used.c.used, 0)
    # the window is on expires_at - N days, moved to expires_at's side so
    # both SQLite and PostgreSQL compare plain timestamps
    hi = as_of + days
    cond = [lots.expires_at.is_not(None), lots.expires_at <= hi, lots.expires_at > as_of, left > 0]
    if since is not None:
        cond.append(lots.expires_at > since + days)
    q = (sa.select(lots.customer_id, lots.id, lots.expires_at, left)
         .select_from(loyalty_lots.outerjoin(used, used.c.lot_id == lots.id))
         .where(*cond).order_by(lots.id))  # fmt: skip
    return [(r[0], f"lot-{r[1]}", _utc(r[2]) - days, f"{int(r[3])} points expire {_utc(r[2]).date()}")
            for r in conn.execute(q)]  # fmt: skip


def _utc(when: datetime) -> datetime:
    from tenure.loyalty.clock import utc

    return utc(when)


def table(found: list) -> pa.Table:
    from tenure.campaigns.triggers_state import SCHEMA, as_table

    return as_table(found) if found else SCHEMA.empty_table()
