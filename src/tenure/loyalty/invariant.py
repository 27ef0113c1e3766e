"""The ledger's invariant, checked from the tables:

    issued = outstanding + redeemed + expired + clawed back

Each side is read from different rows: what was issued, redeemed, expired
and clawed back from the entries; what is outstanding from the lots less
what was drawn from them, less the debts. A posting that wrote its entry
but not its allocations (or the other way round) breaks it. Every write
checks its member's part before it commits; :func:`check_invariant`
without a customer checks the whole program.

- issued: points earned (active or pending) and added by adjustments;
- redeemed: points redeemed, less redemptions reversed (their points came
  back as a fresh lot);
- expired: points expired;
- clawed back: points reversed from earnings and taken by adjustments,
  including what is still owed;
- outstanding: what the lots hold (usable or pending) less the debts,
  which is the sum of all balances and pending points.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import sqlalchemy as sa

from tenure.errors import LedgerError
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import loyalty_allocations, loyalty_entries, loyalty_lots


@dataclass
class LedgerTotals:
    issued: int
    outstanding: int
    redeemed: int
    expired: int
    clawed_back: int
    balance: int
    pending: int
    debt: int
    problems: list[str] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        return not self.problems


def ledger_totals(source: OpsStore | sa.Connection, customer_id: str | None = None) -> LedgerTotals:
    """The totals of the whole program, or of one member, and what breaks
    the invariant (``problems``, empty when it holds)."""
    if isinstance(source, OpsStore):
        with source.engine.connect() as conn:
            return _totals(conn, customer_id)
    return _totals(source, customer_id)


def check_invariant(
    source: OpsStore | sa.Connection, customer_id: str | None = None
) -> LedgerTotals:
    totals = ledger_totals(source, customer_id)
    if totals.problems:
        who = f"customer {customer_id}" if customer_id else "the program"
        raise LedgerError(
            f"the loyalty ledger of {who} does not balance: " + "; ".join(totals.problems[:5]),
            hint="This is a bug in tenure; nothing was written. Please report it with "
            "this message.",
            code="ledger_invariant",
        )
    return totals


@functools.cache
def _statements(per_member: bool) -> tuple[sa.Select, sa.Select, sa.Select]:
    """The three queries of the check, for the whole program or (with the
    parameter ``customer_id``) for one member. Built once: every write runs
    the member's check, and building these expressions anew each time was
    a third of a write's time."""
    e, lots, alloc = loyalty_entries, loyalty_lots, loyalty_allocations
    sum_, case = sa.func.sum, sa.case

    def of_customer(query, table):
        return query.where(table.c.customer_id == sa.bindparam("customer_id")) if per_member \
            else query  # fmt: skip

    claw = (e.c.kind == "adjust") & (e.c.points < 0) | (e.c.kind == "reverse") & (e.c.points <= 0)
    sums = of_customer(sa.select(
        sum_(case((e.c.kind == "earn", e.c.points), (e.c.kind == "pending", e.c.pending),
                  ((e.c.kind == "adjust") & (e.c.points > 0), e.c.points), else_=0)),
        sum_(case((e.c.kind == "redeem", -e.c.points),
                  ((e.c.kind == "reverse") & (e.c.points > 0), -e.c.points), else_=0)),
        sum_(case((e.c.kind == "expire", -e.c.points), else_=0)),
        sum_(case((claw, -(e.c.points + e.c.pending)), else_=0)),
        sum_(e.c.points),
        sum_(e.c.pending),
    ), e)  # fmt: skip

    # what each draw took, per entry, and what is left of each lot
    # (for one member, only the allocations of their lots: a write's check
    # must not grow with the whole program)
    mine = alloc.join(lots, lots.c.id == alloc.c.lot_id)
    drawn = (
        of_customer(
            sa.select(alloc.c.entry_id, sum_(alloc.c.points).label("drawn")).select_from(mine), lots
        )
        .group_by(alloc.c.entry_id)
        .subquery()
    )
    used = (
        of_customer(
            sa.select(alloc.c.lot_id, sum_(alloc.c.points).label("used")).select_from(mine), lots
        )
        .group_by(alloc.c.lot_id)
        .subquery()
    )
    approved = sa.exists(sa.select(e.c.id).where(e.c.lot_id == lots.c.id, e.c.kind == "approve"))
    left = lots.c.points - sa.func.coalesce(used.c.used, 0)
    lots_left = of_customer(
        sa.select(lots.c.id, left, lots.c.pending & ~approved)
        .select_from(lots.outerjoin(used, used.c.lot_id == lots.c.id)),
        lots,
    )  # fmt: skip
    owed = sa.func.coalesce(drawn.c.drawn, 0)
    draws = of_customer(
        sa.select(e.c.id, e.c.kind, e.c.points, e.c.pending, owed)
        .select_from(e.outerjoin(drawn, drawn.c.entry_id == e.c.id))
        .where((e.c.points < 0) | (e.c.pending < 0) & (e.c.kind == "reverse")),
        e,
    )  # fmt: skip
    return sums, lots_left, draws


def _totals(conn: sa.Connection, customer_id: str | None) -> LedgerTotals:
    sums, lots_left, draws = _statements(customer_id is not None)
    params = {} if customer_id is None else {"customer_id": customer_id}
    row = conn.execute(sums, params).one()
    issued, redeemed, expired, clawed, balance, pending = (int(v or 0) for v in row)
    lot_rows = conn.execute(lots_left, params).all()
    problems = [f"lot {lot_id} has {rest} points left" for lot_id, rest, _ in lot_rows if rest < 0]
    held = sum(int(rest) for _, rest, _ in lot_rows)
    held_pending = sum(int(rest) for _, rest, waiting in lot_rows if waiting)

    # every draw took its points from lots, but a clawback may owe part of its own
    debt = 0
    for entry_id, kind, points, pend, took in conn.execute(draws, params):
        want = -int(points) - (int(pend) if kind == "reverse" else 0)
        took = int(took)
        if kind in ("reverse", "adjust") and points < 0:
            if took > want:
                problems.append(f"entry {entry_id} ({kind}) took {took} of {want} points")
            debt += want - took
        elif took != want:
            problems.append(f"entry {entry_id} ({kind}) of {want} points drew {took} from lots")
    outstanding = held - debt
    if issued != outstanding + redeemed + expired + clawed:
        problems.append(
            f"issued {issued} != outstanding {outstanding} + redeemed {redeemed} + "
            f"expired {expired} + clawed back {clawed}"
        )
    if balance + pending != outstanding:
        problems.append(
            f"balance {balance} + pending {pending} (entries) != outstanding {outstanding} (lots)"
        )
    if pending != held_pending:
        problems.append(f"pending {pending} (entries) != {held_pending} held by pending lots")
    return LedgerTotals(issued, outstanding, redeemed, expired, clawed, balance, pending, debt,
                        problems)  # fmt: skip
