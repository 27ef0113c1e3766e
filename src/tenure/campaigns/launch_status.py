"""Where a launched campaign stands, and what it did.

:func:`status` accounts for every assigned customer: the holdout and the
global control (held out, no message), and the treatment by what became of
its message (the outbox's states with their reasons), or why it has none
(no address), or that it is not queued yet (a paused or unfinished launch);
a paused campaign's pending messages are ``held``.
``accounted`` is true when these add up to the arms' sizes.

:func:`export_assignments` writes the campaign's assignments as the file
``tenure campaign measure --assignments`` reads, and :func:`measure` measures
the campaign from it with :func:`tenure.campaigns.measure.measure_campaign`:
the treatment against the campaign's own holdout, the sample-ratio check
against the shares the campaign was launched with. The global control is
left out: it is shared by every campaign and measured across them.
"""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tenure.campaigns import definitions, holdouts, outbox
from tenure.campaigns.consent import utc
from tenure.errors import InputError
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import campaign_assignments as assign_t


def status(ops: OpsStore, name: str) -> dict[str, Any]:
    """The campaign, its arms and every assigned customer's fate."""
    a = assign_t
    with ops.engine.connect() as conn:
        campaign = definitions.get(conn, name)
        arms = dict.fromkeys(holdouts.ARMS, 0)
        for arm, n in conn.execute(sa.select(a.c.arm, sa.func.count())
                                   .where(a.c.campaign_id == campaign.id).group_by(a.c.arm)):
            arms[arm] = int(n)  # fmt: skip
        queued, unqueued = (int(x or 0) for x in conn.execute(
            sa.select(sa.func.sum(sa.case((a.c.queued.is_(True), 1), else_=0)),
                      sa.func.sum(sa.case(((a.c.queued.is_(False) & a.c.skipped.is_(None)), 1),
                                          else_=0)))
            .where(a.c.campaign_id == campaign.id, a.c.arm == "treatment")).one())  # fmt: skip
        skipped = {reason: int(n) for reason, n in conn.execute(
            sa.select(a.c.skipped, sa.func.count())
            .where(a.c.campaign_id == campaign.id, a.c.skipped.is_not(None))
            .group_by(a.c.skipped).order_by(a.c.skipped))}  # fmt: skip
        messages = outbox.accounting(conn, campaign.name)
    fates = {"held_out": arms["holdout"] + arms["global_control"],
             "not_queued": unqueued, "no_message": skipped,
             **{state: n for state, n in messages["states"].items()}}  # fmt: skip
    # a paused campaign's pending messages are held: the sender leaves them
    fates["held"] = fates["pending"] if campaign.state == "paused" else 0
    if campaign.state == "paused":
        fates["pending"] = 0
    accounted = (messages["total"] == queued
                 and queued + sum(skipped.values()) + unqueued == arms["treatment"])  # fmt: skip
    # how far the queueing got: the treatment queued or found without an
    # address so far, and what a running (or paused) launch has left
    progress = {"treatment": arms["treatment"], "queued": queued,
                "no_message": sum(skipped.values()), "left": unqueued}  # fmt: skip
    return {"campaign": campaign.as_dict(), "assigned": sum(arms.values()), "arms": arms,
            "fates": fates, "not_sent": messages["not_sent"], "progress": progress,
            "accounted": accounted}  # fmt: skip


def export_assignments(ops: OpsStore, name: str, path: Path | str, *,
                       global_control: bool = False) -> int:  # fmt: skip
    """Write ``customer_id, group, assigned_at`` (the holdout as ``control``)
    to a CSV file; the rows written."""
    a = assign_t
    with ops.engine.connect() as conn:
        campaign = definitions.get(conn, name)
        where = [a.c.campaign_id == campaign.id]
        if not global_control:
            where.append(a.c.arm != "global_control")
        rows = conn.execute(sa.select(a.c.customer_id, a.c.arm, a.c.assigned_at)
                            .where(*where).order_by(a.c.customer_id))  # fmt: skip
        n = 0
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["customer_id", "group", "assigned_at"])
            for customer_id, arm, at in rows:
                group = "control" if arm == "holdout" else arm
                w.writerow([customer_id, group, utc(at).isoformat()])
                n += 1
    return n


def measure(settings: Any, ops: OpsStore, name: str, **options: Any) -> dict[str, Any]:
    """The measurement document of the campaign (options as
    :func:`~tenure.campaigns.measure.measure_campaign`'s, but ``split``)."""
    from tenure.campaigns.measure import measure_campaign

    with ops.engine.connect() as conn:
        campaign = definitions.get(conn, name)
    if campaign.launched_at is None:
        raise InputError(f"the campaign {name!r} was not launched: nobody is assigned.",
                         value=name, code="campaign_draft",
                         hint=f"Launch it first: tenure campaign launch {name}.")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="tenure-campaign-") as folder:
        path = Path(folder) / f"{name}.csv"
        export_assignments(ops, name, path)
        split = {"control": campaign.holdout, "treatment": 1 - campaign.holdout}
        doc = measure_campaign(settings, path, control="control", split=split, **options)
    doc["assignments"]["file"] = f"campaign {name}"
    return doc
