"""The global control measured: all campaigns against none.

The global control (:mod:`.holdouts`) is a workspace-wide share of
customers, drawn by a stable hash under one salt, that is sent no campaign.
Every campaign stores it among its assignments (arm ``global_control``), so
the comparison "the program as a whole against nothing" is made from the
stored assignments of every launched campaign:

* **who**: every customer assigned to at least one campaign, once;
* **when**: their first eligibility, ``assigned_at`` = the earliest
  assignment time across the campaigns. Before it nobody in either group
  was contacted by a campaign, so whether and when a customer first
  becomes eligible cannot depend on having been treated: the two groups
  are chosen by the hash alone, as in one campaign;
* **arms**: ``control``, the customers in the global control in every
  campaign they were assigned to, against ``campaigns``, those in it in
  none (whether a campaign then held them out or sent to them: intent to
  treat, at the level of the program). When the global share was changed
  between launches, the customers whose draw lies between the smallest and
  the largest share used (in the control of some launches and not of
  others, or only by the luck of which campaigns they were eligible for)
  are left out and counted in ``excluded``.

It is measured by :func:`tenure.campaigns.measure.measure_campaign`, the
code that measures one campaign: lift with its 95 % interval, CUPED on
the pre-period, the anytime-valid interval, and the sample-ratio check.
The split the check expects follows from the hash: a customer's draw under
the global salt puts them in the control at every launch when it is below
the smallest share used, and in none when it is at least the largest, so
among those kept the control's expected share is
``min share / (min share + 1 - max share)``: the share itself when it
never changed.
"""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tenure.campaigns import holdouts
from tenure.campaigns.consent import utc
from tenure.errors import InputError
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import campaign_assignments as assign_t
from tenure.store.ops_schema import campaigns as campaigns_t

CONTROL, PROGRAM = "control", "campaigns"


def first_eligibility(conn: sa.Connection) -> list[tuple[str, bool, Any]]:
    """Per assigned customer (by id): (customer_id, whether they are in
    the global control of every campaign they were assigned to, earliest
    ``assigned_at``); a customer in it for none or only some is False."""
    a = assign_t
    in_control = sa.func.sum(sa.case((a.c.arm == "global_control", 1), else_=0))
    rows = conn.execute(
        sa.select(a.c.customer_id, sa.func.min(a.c.assigned_at), in_control, sa.func.count())
        .group_by(a.c.customer_id).order_by(a.c.customer_id)
    ).all()  # fmt: skip
    return [(customer_id, held == n, first) for customer_id, first, held, n in rows]


def arms(rows: list[tuple[str, bool, Any]], control: holdouts.GlobalControl,
         low: float, high: float) -> list[str | None]:  # fmt: skip
    """Each customer's arm: ``control`` below the smallest share used,
    ``campaigns`` at or above the largest, None (left out) between; a
    stored arm that disagrees with the draw is left out too."""
    draws = holdouts.draws(control.salt, [r[0] for r in rows])
    out: list[str | None] = []
    for (_, held, _), u in zip(rows, draws, strict=True):
        if u < low and held:
            out.append(CONTROL)
        elif u >= high and not held:
            out.append(PROGRAM)
        else:
            out.append(None)
    return out


def _shares(conn: sa.Connection) -> list[float]:
    """The global shares the launched campaigns were assigned with."""
    c = campaigns_t
    found = conn.execute(sa.select(c.c.global_share).distinct()
                         .where(c.c.launched_at.is_not(None))).scalars().all()  # fmt: skip
    return sorted(float(s) for s in found if s is not None)


def measure_global(settings: Any, ops: OpsStore, **options: Any) -> dict[str, Any]:
    """The measurement document of the global control (``window``,
    ``metric``, ``sequential`` as :func:`~tenure.campaigns.measure.
    measure_campaign` takes them), with ``global_control``: the share(s),
    the campaigns counted, the customers kept and left out."""
    from tenure.campaigns.measure import measure_campaign

    with ops.engine.connect() as conn:
        rows = first_eligibility(conn)
        shares = _shares(conn)
        launched = conn.execute(sa.select(sa.func.count()).select_from(campaigns_t)
                                .where(campaigns_t.c.launched_at.is_not(None))).scalar_one()  # fmt: skip
        control = _control(conn)
    low, high = (shares[0], shares[-1]) if shares else (control.share, control.share)
    kept = [(c, arm, at) for (c, _, at), arm in zip(rows, arms(rows, control, low, high),
                                                     strict=True) if arm is not None]  # fmt: skip
    groups = {r[1] for r in kept}
    if groups != {CONTROL, PROGRAM}:
        missing = "nobody was assigned" if not kept else (
            "nobody is in the global control" if CONTROL not in groups
            else "everyone assigned is in the global control")  # fmt: skip
        raise InputError(
            f"the global control cannot be measured yet: {missing}.", code="no_global_comparison",
            hint="Launch a campaign (tenure campaign launch NAME); the global control is a "
            "share of every campaign's audience (5 % unless set).",
        )  # fmt: skip
    split = {CONTROL: low, PROGRAM: 1 - high}
    with tempfile.TemporaryDirectory(prefix="tenure-global-control-") as folder:
        path = Path(folder) / "global-control.csv"
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["customer_id", "group", "assigned_at"])
            for customer_id, arm, at in kept:
                w.writerow([customer_id, arm, utc(at).isoformat()])
        doc = measure_campaign(settings, path, control=CONTROL, split=split, **options)
    doc["assignments"]["file"] = "global control"
    doc["global_control"] = {
        "share": control.share, "shares_used": shares, "campaigns": int(launched),
        "customers": len(kept), "excluded": len(rows) - len(kept),
        "assigned_at": "each customer's first assignment across the campaigns",
    }  # fmt: skip
    return doc


def _control(conn: sa.Connection) -> holdouts.GlobalControl:
    """The global control as kept, without making it (a read); share 5 %
    and no salt when no campaign was launched."""
    from tenure.store.ops_schema import ops_meta

    found = dict(conn.execute(
        sa.select(ops_meta.c.key, ops_meta.c.value)
        .where(ops_meta.c.key.in_((holdouts._SALT_KEY, holdouts._SHARE_KEY)))).all())  # fmt: skip
    return holdouts.GlobalControl(found.get(holdouts._SALT_KEY, ""),
                                  float(found.get(holdouts._SHARE_KEY, holdouts.GLOBAL_SHARE)))
