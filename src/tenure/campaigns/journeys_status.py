"""Where a journey stands, and whether it worked.

:func:`status` accounts for every entrant: the held out (holdout and global
control, who follow no step), the active members per step, the members who
completed the journey, and those who exited, by reason; ``accounted`` is
true when these add up to the entries. The journey's messages are counted
by the outbox's states, with the reasons of those not sent.

:func:`measure` measures a journey as a campaign
(:func:`tenure.campaigns.measure.measure_campaign`): each customer's first
entry is their assignment (``assigned_at`` = the entry's time), the
treatment against the journey's holdout, intent to treat (a treated member
who exited early, or was never sent a message, counts as treated).
"""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tenure.campaigns import holdouts, outbox
from tenure.campaigns.consent import utc
from tenure.campaigns.journeys import get
from tenure.errors import InputError
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import journey_members as members_t


def status(ops: OpsStore, name: str) -> dict[str, Any]:
    """The journey's entrants, by arm and by where they are."""
    m = members_t
    with ops.engine.connect() as conn:
        journey = get(conn, name)
        mine = m.c.journey_id == journey.id
        arms = dict.fromkeys(holdouts.ARMS, 0)
        for arm, n in conn.execute(sa.select(m.c.arm, sa.func.count()).where(mine)
                                   .group_by(m.c.arm)):  # fmt: skip
            arms[arm] = int(n)
        states: dict[str, int] = {}
        steps = {s.id: 0 for s in journey.definition.steps}
        exits: dict[str, int] = {}
        for state, step, reason, n in conn.execute(
                sa.select(m.c.state, m.c.step, m.c.exit_reason, sa.func.count()).where(mine)
                .group_by(m.c.state, m.c.step, m.c.exit_reason)):  # fmt: skip
            states[state] = states.get(state, 0) + int(n)
            if state == "active":
                steps[step] = steps.get(step, 0) + int(n)
            elif state == "exited":
                exits[reason or "(no reason)"] = exits.get(reason or "(no reason)", 0) + int(n)
        customers = conn.execute(sa.select(sa.func.count(sa.distinct(m.c.customer_id)))
                                 .where(mine)).scalar_one()  # fmt: skip
        messages = outbox.accounting(conn, journey.name)
    entries = sum(arms.values())
    held = states.get("held_out", 0)
    accounted = (held == arms["holdout"] + arms["global_control"]
                 and held + sum(steps.values()) + states.get("completed", 0)
                 + sum(exits.values()) == entries)  # fmt: skip
    return {"journey": journey.as_dict(), "entries": entries, "customers": int(customers),
            "arms": arms, "held_out": held, "active": steps,
            "completed": states.get("completed", 0), "exited": exits,
            "messages": messages["states"], "not_sent": messages["not_sent"],
            "accounted": accounted}  # fmt: skip


def export_assignments(ops: OpsStore, name: str, path: Path | str) -> int:
    """Each customer's first entry as ``customer_id, group, assigned_at``
    (the holdout as ``control``; the global control left out); the rows."""
    m = members_t
    with ops.engine.connect() as conn:
        journey = get(conn, name)
        first = (sa.select(m.c.customer_id, sa.func.min(m.c.entered_at).label("at"))
                 .where(m.c.journey_id == journey.id).group_by(m.c.customer_id).subquery())
        rows = conn.execute(
            sa.select(m.c.customer_id, m.c.arm, m.c.entered_at)
            .join(first, (first.c.customer_id == m.c.customer_id) & (first.c.at == m.c.entered_at))
            .where(m.c.journey_id == journey.id, m.c.arm != "global_control")
            .order_by(m.c.customer_id)).all()  # fmt: skip
    seen: set[str] = set()
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["customer_id", "group", "assigned_at"])
        for customer_id, arm, at in rows:
            if customer_id in seen:  # two occurrences entered at the same moment
                continue
            seen.add(customer_id)
            w.writerow([customer_id, "control" if arm == "holdout" else arm, utc(at).isoformat()])
    return len(seen)


def measure(settings: Any, ops: OpsStore, name: str, **options: Any) -> dict[str, Any]:
    """The measurement document of the journey (options as
    :func:`~tenure.campaigns.measure.measure_campaign`'s, but ``split``)."""
    from tenure.campaigns.measure import measure_campaign

    with ops.engine.connect() as conn:
        journey = get(conn, name)
    holdout = journey.definition.holdout
    if holdout == 0:
        raise InputError(f"the journey {name!r} has no holdout: it cannot be measured.",
                         value=name, code="no_holdout",
                         hint="Give it a holdout (holdout = 0.1) and update it; entries "
                         "after the update are measured.")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="tenure-journey-") as folder:
        path = Path(folder) / f"{name}.csv"
        if export_assignments(ops, name, path) == 0:
            raise InputError(f"nobody has entered the journey {name!r} yet.", value=name,
                             code="no_entries", hint=f"Run it first: tenure journey run {name}.")
        doc = measure_campaign(settings, path, control="control",
                               split={"control": holdout, "treatment": 1 - holdout}, **options)
    doc["assignments"]["file"] = f"journey {name}"
    return doc
