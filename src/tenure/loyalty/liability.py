"""The program's liability: what the points members hold are worth, less
what of them is expected never to be spent (breakage), IFRS 15 style.

    liability = outstanding points × point value × (1 − expected breakage)

- **outstanding**: what the lots still hold at the date (usable or
  pending), less members' debts, leaving out lots past their expiry
  (recorded as expired or not yet);
- **expected breakage**: of the points of the lots that have *closed* by
  the date (expired, or fully drawn), the share that expired rather than
  was redeemed: expired / (expired + redeemed). Points clawed back (a
  refunded order) are neither: the customer gave them back. Until
  ``breakage_min_lots`` lots have closed with points redeemed or expired,
  the program's history is too short to say, and the settings'
  ``breakage_fallback`` is used instead (IFRS 15 B46: breakage is
  recognised only as far as it is highly probable not to reverse).

Caveats (docs/loyalty.md, Liability): the closed lots are the program's
oldest, earned under the conditions of their time; a lot that closes by
expiry takes a full expiry period to close, so a young program's closed
lots are mostly those spent quickly, and its breakage is understated
until its first lots reach their expiry.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tenure.loyalty import clock
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import loyalty_allocations, loyalty_entries, loyalty_lots

CLAWBACKS = ("reverse", "adjust")


@dataclass(frozen=True)
class Breakage:
    """The share of points expected never to be redeemed, and what it rests on."""

    rate: float  # the rate used
    source: str  # "history" or "fallback"
    observed: float | None  # expired / (expired + redeemed) of the closed lots; None: none
    closed_lots: int  # lots closed by the date with points redeemed or expired
    min_lots: int  # the closed lots the history needs before it is used
    expired_points: int  # of the closed lots
    redeemed_points: int  # of the closed lots


@dataclass(frozen=True)
class Liability:
    """The document of ``tenure loyalty liability --json``."""

    as_of: datetime
    outstanding_points: int
    point_value: float
    currency: str | None
    breakage: Breakage
    gross_value: float  # outstanding × point value
    liability: float  # gross × (1 − breakage)
    members_with_points: int

    def doc(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["as_of"] = self.as_of.isoformat()
        return doc


def _per_lot(at: datetime) -> sa.Subquery:
    """Each lot made by ``at``, with what entries up to ``at`` drew from it,
    by the kind of the draw."""
    lots, alloc, e = loyalty_lots, loyalty_allocations, loyalty_entries
    made = sa.alias(loyalty_entries, "made")  # the posting that wrote the allocation

    def drawn(condition: Any) -> Any:
        return sa.func.coalesce(sa.func.sum(sa.case((condition, alloc.c.points), else_=0)), 0)

    draws = (
        sa.select(
            alloc.c.lot_id,
            drawn(e.c.kind == "redeem").label("redeemed"),
            drawn(e.c.kind == "expire").label("expired"),
            drawn(sa.true()).label("used"),
        )
        .select_from(
            alloc.join(e, e.c.id == alloc.c.entry_id).join(made, made.c.id == alloc.c.made_by)
        )
        .where(made.c.at <= at)
        .group_by(alloc.c.lot_id)
        .subquery()
    )
    # a lot made pending and cancelled before approval is closed too: its
    # allocations are a reversal's (a clawback), neither spent nor expired
    return (
        sa.select(
            lots.c.id,
            lots.c.customer_id,
            lots.c.points,
            lots.c.expires_at,
            sa.func.coalesce(draws.c.redeemed, 0).label("redeemed"),
            sa.func.coalesce(draws.c.expired, 0).label("expired"),
            (lots.c.points - sa.func.coalesce(draws.c.used, 0)).label("left"),
        )
        .select_from(lots.outerjoin(draws, draws.c.lot_id == lots.c.id))
        .where(lots.c.created_at <= at)
        .subquery()
    )


def _debt(conn: sa.Connection, at: datetime) -> int:
    """What clawbacks up to ``at`` took beyond the points they found, less
    what later points paid of it by ``at``."""
    e, alloc = loyalty_entries, loyalty_allocations
    made = sa.alias(loyalty_entries, "made")
    taken = conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(-e.c.points), 0)).where(
            e.c.kind.in_(CLAWBACKS), e.c.points < 0, e.c.at <= at
        )
    ).scalar_one()
    covered = conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(alloc.c.points), 0))
        .select_from(
            alloc.join(e, e.c.id == alloc.c.entry_id).join(made, made.c.id == alloc.c.made_by)
        )
        .where(e.c.kind.in_(CLAWBACKS), e.c.points < 0, e.c.at <= at, made.c.at <= at)
    ).scalar_one()
    return int(taken) - int(covered)


def breakage(
    ops: OpsStore, *, as_of: datetime | None = None, fallback: float = 0.0, min_lots: int = 100
) -> Breakage:
    """Expected breakage from the lots closed by ``as_of`` (see the module's
    docstring); ``fallback`` while fewer than ``min_lots`` have closed."""
    at = clock.utc(as_of) if as_of is not None else clock.now()
    with ops.engine.connect() as conn:
        return _breakage(conn, at, fallback, min_lots)


def _breakage(conn: sa.Connection, at: datetime, fallback: float, min_lots: int) -> Breakage:
    lot = _per_lot(at)
    past = lot.c.expires_at.is_not(None) & (lot.c.expires_at <= at)
    # what a lot past its expiry still holds expires, whether recorded yet or not
    expired = lot.c.expired + sa.case((past, lot.c.left), else_=0)
    closed = past | (lot.c.left <= 0)
    row = conn.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(expired), 0),
            sa.func.coalesce(sa.func.sum(lot.c.redeemed), 0),
        ).where(closed, (expired + lot.c.redeemed) > 0)
    ).one()
    n, gone, spent = int(row[0]), int(row[1]), int(row[2])
    observed = gone / (gone + spent) if gone + spent else None
    enough = observed is not None and n >= min_lots
    return Breakage(
        rate=round(observed if enough else fallback, 6),
        source="history" if enough else "fallback",
        observed=None if observed is None else round(observed, 6),
        closed_lots=n,
        min_lots=min_lots,
        expired_points=gone,
        redeemed_points=spent,
    )


def liability(
    ops: OpsStore,
    *,
    as_of: datetime | None = None,
    point_value: float = 0.01,
    fallback: float = 0.0,
    min_lots: int = 100,
    currency: str | None = None,
) -> Liability:
    """The liability of the points outstanding at ``as_of`` (default: now)."""
    at = clock.utc(as_of) if as_of is not None else clock.now()
    with ops.engine.connect() as conn:
        lot = _per_lot(at)
        live = lot.c.expires_at.is_(None) | (lot.c.expires_at > at)
        rows = conn.execute(
            sa.select(lot.c.customer_id, sa.func.sum(lot.c.left))
            .where(live, lot.c.left > 0)
            .group_by(lot.c.customer_id)
        ).all()
        held = sum(int(points) for _, points in rows)
        outstanding = max(held - _debt(conn, at), 0)
        rate = _breakage(conn, at, fallback, min_lots)
    gross = outstanding * point_value
    return Liability(
        as_of=at,
        outstanding_points=outstanding,
        point_value=point_value,
        currency=currency,
        breakage=rate,
        gross_value=round(gross, 2),
        liability=round(gross * (1 - rate.rate), 2),
        members_with_points=len(rows),
    )


def from_settings(ops: OpsStore, settings: Any, *, as_of: datetime | None = None) -> Liability:
    """The liability under the ``[loyalty]`` settings of tenure.toml."""
    s = settings.loyalty
    return liability(ops, as_of=as_of, point_value=float(s.point_value),
                     fallback=float(s.breakage_fallback), min_lots=int(s.breakage_min_lots),
                     currency=settings.reporting_currency)  # fmt: skip
