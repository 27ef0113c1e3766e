"""The tier program as a whole: a manual tier for one member, the table of
tiers with their members, and the reviews that fell due with time.

The rules of qualification are in :mod:`.tiers`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tenure.errors import ConfigError, InputError
from tenure.faults import checkpoint
from tenure.loyalty import clock, idempotency, outbox, tiers
from tenure.loyalty.policy import DEFAULT, Policy, TierProgram, checked_customer
from tenure.loyalty.serial import member_transaction
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import loyalty_members, loyalty_tier_changes


def program_of(policy: Policy) -> TierProgram:
    if policy.tiers is None:
        raise ConfigError(
            "the loyalty program has no tiers.",
            hint='Declare them in tenure.toml under [loyalty]: tiers = [{name = "Silver", '
            'threshold = 500}, {name = "Gold", threshold = 2000}]',
        )
    return policy.tiers


def set_tier(
    ops: OpsStore,
    customer_id: str,
    name: str,
    *,
    until: datetime,
    reason: str | None = None,
    at: datetime | None = None,
    policy: Policy = DEFAULT,
) -> dict[str, Any]:
    """Give a member the tier ``name`` by hand until ``until``, whatever they
    earn meanwhile; then their tier is what they qualify for. One
    transaction, serialised with the member's ledger writes."""
    program = program_of(policy)
    customer_id = checked_customer(customer_id)
    at = clock.utc(at) if at is not None else clock.now()
    until = clock.utc(until)
    if program.get(name) is None:
        raise InputError(
            f"there is no tier {name!r}.",
            hint=f"Use one of the declared tiers: {', '.join(t.name for t in program.tiers)}.",
            value=name,
        )
    if until <= at:
        raise InputError(
            f"a manual tier must end after it begins; --until {until.date().isoformat()} has "
            "passed.",
            hint="Give an end date to come, as YYYY-MM-DD.",
            value=until.date().isoformat(),
        )
    with member_transaction(ops, customer_id, join_at=None) as conn:
        checkpoint("loyalty locked")
        s = tiers.state(conn, program, customer_id, at)
        tiers.record(conn, customer_id, s, None)  # what fell due before it
        due = {"kind": "manual", "tier": name, "previous": s.tier, "value": None, "at": at,
               "kept_until": until, "reason": reason}  # fmt: skip
        made = conn.execute(loyalty_tier_changes.insert().values(customer_id=customer_id, **due))
        outbox.tier_changed(conn, made.inserted_primary_key[0], customer_id, due)
        checkpoint("loyalty tier written")
        checkpoint("loyalty before commit")
    checkpoint("loyalty after commit")
    return idempotency.as_json({"customer_id": customer_id, "tier": name, "previous": s.tier,
                                "manual": True, "since": at, "until": until})  # fmt: skip


def tier_table(ops: OpsStore, *, at: datetime | None = None,
               policy: Policy = DEFAULT) -> dict[str, Any]:  # fmt: skip
    """The document of ``tenure loyalty tiers --json``: the declared tiers,
    lowest first, with how many members hold each at ``at`` (reviews that
    fell due counted as done), and the members with no tier."""
    program = program_of(policy)
    at = clock.utc(at) if at is not None else clock.now()
    counts: dict[str | None, int] = {}
    manual = 0
    with ops.engine.connect() as conn:
        for (customer_id,) in conn.execute(
            sa.select(loyalty_members.c.customer_id).order_by(loyalty_members.c.customer_id)
        ):
            s = tiers.state(conn, program, customer_id, at)
            counts[s.tier] = counts.get(s.tier, 0) + 1
            manual += s.manual
    declared = {t.name for t in program.tiers}
    rows = [{"name": t.name, "threshold": t.threshold, "members": counts.get(t.name, 0)}
            for t in program.tiers]  # fmt: skip
    # a manual tier that is no longer declared still counts under its name
    rows += [{"name": n, "threshold": None, "members": c} for n, c in sorted(
        (n, c) for n, c in counts.items() if n is not None and n not in declared)]  # fmt: skip
    return idempotency.as_json({
        "basis": program.basis, "window": program.window, "timezone": program.timezone,
        "grace_days": program.grace_days,
        "tiers": rows, "no_tier": counts.get(None, 0), "manual": manual,
        "members": sum(counts.values()), "as_of": at,
    })  # fmt: skip


def review_all(ops: OpsStore, at: datetime, policy: Policy) -> int:
    """Record the reviews and ends of manual tiers due by ``at`` for every
    member with a tier, each in its own transaction; how many changes."""
    if policy.tiers is None:
        return 0
    t = loyalty_tier_changes
    with ops.engine.connect() as conn:
        customers = [r[0] for r in conn.execute(
            sa.select(t.c.customer_id).distinct().order_by(t.c.customer_id))]  # fmt: skip
    made = 0
    for customer_id in customers:
        with ops.engine.connect() as conn:
            if not tiers.state(conn, policy.tiers, customer_id, at).due:
                continue
        with member_transaction(ops, customer_id, join_at=None) as conn:
            s = tiers.state(conn, policy.tiers, customer_id, at)
            made += tiers.record(conn, customer_id, s, None)
    return made
