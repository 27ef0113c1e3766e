"""Launching a campaign: its audience evaluated, assigned, and queued.

:func:`launch` works in two steps, each safe to repeat:

1. **Assign** (one transaction): the audience is evaluated in the analytics
   store, every eligible customer gets an arm (:mod:`.holdouts`) and an
   assignment row with the launch time as ``assigned_at``, and the campaign
   becomes ``running``. A campaign already assigned is not evaluated again:
   its assignments are its audience, so a launch after a crash, or an
   ingest since, cannot change who is in it.
2. **Queue** (one transaction per batch): the treatment arm's customers not
   yet queued get their message written into the outbox, to be rendered by
   the sender (:func:`tenure.campaigns.outbox.enqueue_unrendered`, dedup key
   ``campaign:1:customer:launch day``), and their assignment is marked
   queued in the same transaction. A treated customer without an address is
   marked with the reason instead. The campaign's state is read in each
   batch's transaction: a pause stops the queueing at the next batch, and
   when nobody is left the campaign is ``done``.

Holdout and global-control customers get their assignment and no message.
A launch repeated assigns and queues nothing new; a launch killed between
batches (the named points ``campaign assigned`` and ``campaign batch
queued`` of :mod:`tenure.faults`) completes on the next one, without
duplicates. Consent, suppression, caps and quiet hours are the sender's
to apply, at send time, to the treatment only: both arms were chosen before
them (intent to treat).

A pause stops the queueing at the next batch and **holds** the messages
already queued: the sender does not claim a paused campaign's messages,
which stay pending (``held`` in :func:`tenure.campaigns.launch_status.status`)
until a launch resumes the campaign. A campaign done queueing can be paused
while messages of it wait.

The queue step writes each message **unrendered** (its template folder and
the customer's locale, :func:`tenure.campaigns.outbox.enqueue_unrendered`:
one bulk insert per batch); the sender renders it when it claims it
(:mod:`tenure.campaigns.send_render`) and keeps the text with the send. The
first message of a launch's run is rendered here too, so that a template
that cannot render stops the launch before anything is queued.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from tenure import faults
from tenure.campaigns import audiences, definitions, holdouts, outbox
from tenure.campaigns.consent import now, utc, write_transaction
from tenure.errors import InputError
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import campaign_assignments as assign_t

# messages queued per transaction: each costs a commit and an address
# lookup, and a pause is seen at the next one (a batch is well under a second)
BATCH = 5000
# the named points of tenure.faults a test can stop a launch at
POINTS = ("campaign assigned", "campaign batch queued")
STEP = "1"
ASSIGN_CHUNK = 50_000
CONVERSION_BASELINE = 0.05  # the conversion rate assumed for the power of a plan


def occurrence(launched_at: datetime) -> str:
    return utc(launched_at).date().isoformat()


def _arm_counts(arms: np.ndarray) -> dict[str, int]:
    return {arm: int(np.sum(arms == arm)) for arm in holdouts.ARMS}


def _power(counts: dict[str, int], baseline: float) -> dict[str, Any]:
    from tenure.campaigns.power import mde

    sd = float(np.sqrt(baseline * (1 - baseline)))
    n_arm, n_hold = counts["treatment"], counts["holdout"]
    m = float(mde(sd, n_arm, n_hold)) if n_arm and n_hold else None
    return {"metric": "conversion", "baseline": baseline, "n_treatment": n_arm,
            "n_holdout": n_hold, "mde_absolute": m,
            "mde_relative": None if m is None else m / baseline,
            "alpha": 0.05, "power": 0.8}  # fmt: skip


def plan(settings: Any, ops: OpsStore, name: str, *,
         baseline: float = CONVERSION_BASELINE) -> dict[str, Any]:  # fmt: skip
    """What a launch would do now: the eligible audience, its arms, and the
    minimum detectable effect of the treatment against the holdout (80 %
    power, 5 % level, a conversion rate of ``baseline``). Nothing is written
    but the global control, made on first use."""
    with write_transaction(ops) as conn:
        campaign = definitions.get(conn, name)
        control = holdouts.global_control(conn)
    audience = audiences.evaluate(settings, audiences.from_texts(campaign.audience))
    ids = [r[0] for r in audience.rows]
    arms = holdouts.assign(ids, salt=campaign.salt, holdout=campaign.holdout, control=control)
    counts = _arm_counts(arms)
    return {"campaign": campaign.name, "as_of": _iso(audience.as_of), "eligible": len(ids),
            "arms": counts, "holdout": campaign.holdout, "global_share": control.share,
            "power": _power(counts, baseline)}  # fmt: skip


def _iso(day: Any) -> str | None:
    return None if day is None else day.isoformat()


def _assign(settings: Any, ops: OpsStore, campaign: definitions.Campaign,
            at: datetime, baseline: float) -> dict[str, Any] | None:  # fmt: skip
    """Step 1; None when the campaign was assigned already."""
    audience = audiences.evaluate(settings, audiences.from_texts(campaign.audience))
    ids = [r[0] for r in audience.rows]
    with write_transaction(ops) as conn:
        fresh = definitions.get(conn, campaign.name)
        if fresh.launched_at is not None:  # another launch got there first
            return None
        control = holdouts.global_control(conn)
        arms = holdouts.assign(ids, salt=campaign.salt, holdout=campaign.holdout,
                               control=control)  # fmt: skip
        _insert_assignments(conn, campaign.id, ids, arms, at)
        definitions.set_state(conn, campaign, "running", launched_at=at,
                              global_share=control.share)  # fmt: skip
    counts = _arm_counts(arms)
    return {"campaign": campaign.name, "as_of": _iso(audience.as_of), "eligible": len(ids),
            "arms": counts, "holdout": campaign.holdout, "global_share": control.share,
            "power": _power(counts, baseline)}  # fmt: skip


def _insert_assignments(conn: sa.Connection, campaign_id: int, ids: list[str], arms: np.ndarray,
                        at: datetime) -> None:  # fmt: skip
    t = assign_t
    if conn.dialect.name != "sqlite":
        for start in range(0, len(ids), ASSIGN_CHUNK):
            conn.execute(t.insert(), [
                {"campaign_id": campaign_id, "customer_id": c, "arm": a, "assigned_at": at,
                 "queued": False}
                for c, a in zip(ids[start:start + ASSIGN_CHUNK],
                                arms[start:start + ASSIGN_CHUNK], strict=True)
            ])  # fmt: skip
        return
    # the driver's executemany: a million rows in seconds, where SQLAlchemy's
    # statement per chunk of dicts takes twenty; the value stored as
    # SQLAlchemy stores it (its bind processors)
    def stored(column: sa.Column, value: Any) -> Any:
        process = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
        return value if process is None else process(value)

    when, false = stored(t.c.assigned_at, at), stored(t.c.queued, False)
    sql = (f"INSERT INTO {t.name} (campaign_id, customer_id, arm, assigned_at, queued) "
           "VALUES (?, ?, ?, ?, ?)")
    for start in range(0, len(ids), ASSIGN_CHUNK):
        conn.exec_driver_sql(sql, [(campaign_id, c, str(a), when, false) for c, a in zip(
            ids[start:start + ASSIGN_CHUNK], arms[start:start + ASSIGN_CHUNK], strict=True)])


def launch(settings: Any, ops: OpsStore, name: str, *, batch: int = BATCH,
           at: datetime | None = None, baseline: float = CONVERSION_BASELINE) -> dict[str, Any]:  # fmt: skip
    """Assign and queue the campaign (see the module docstring); what was
    done: ``assigned`` (the audience, its arms and their power as
    :func:`plan` gives them; None when it was assigned before) and
    ``queued``, ``skipped`` in this run, and the campaign's state after it."""
    from tenure.campaigns.send_render import Profiles, variables
    from tenure.campaigns.templates import load_template

    with write_transaction(ops) as conn:
        campaign = definitions.get(conn, name)
        if campaign.state == "paused":  # launching a paused campaign resumes it
            definitions.set_state(conn, campaign, "running")
    assigned = None
    if campaign.launched_at is None:
        assigned = _assign(settings, ops, campaign, utc(at) if at else now(), baseline)
    faults.checkpoint(POINTS[0])
    queued = skipped = 0
    state = campaign.state
    if campaign.state != "done":
        template = load_template(Path(campaign.template))
        after = ""  # the batches go in customer_id order: each starts after the last
        check: Any = template  # the first batch renders one message: see _queue_batch
        with Profiles(settings, variables(template)) as profiles:
            while True:
                done, q, s, state, after = _queue_batch(ops, name, check, profiles, batch,
                                                        after)  # fmt: skip
                check = None
                queued, skipped = queued + q, skipped + s
                if done:
                    break
                faults.checkpoint(POINTS[1])
    return {"campaign": name, "assigned": assigned, "queued": queued, "skipped": skipped,
            "state": state}  # fmt: skip


def _queue_batch(ops: OpsStore, name: str, template: Any, profiles: Any, batch: int,
                 after: str) -> tuple[bool, int, int, str, str]:  # fmt: skip
    """One batch of step 2, of the customers after ``after``: (finished,
    queued, skipped, state, the batch's last customer). With a ``template``,
    the batch's first message is rendered before anything is written, so
    that a template that cannot render stops the launch with its error."""
    a = assign_t
    with write_transaction(ops) as conn:
        campaign = definitions.get(conn, name)
        if campaign.state != "running":
            return True, 0, 0, campaign.state, after
        ids = conn.execute(
            sa.select(a.c.customer_id)
            .where(a.c.campaign_id == campaign.id, a.c.customer_id > after,
                   a.c.arm == "treatment", a.c.queued.is_(False), a.c.skipped.is_(None))
            .order_by(a.c.customer_id).limit(batch)
        ).scalars().all()  # fmt: skip
        if not ids:
            definitions.set_state(conn, campaign, "done", finished_at=now())
            return True, 0, 0, "done", after
        assert campaign.launched_at is not None
        email = campaign.channel == "email"
        found = profiles.addresses(ids)
        recipients: list[tuple[str, str, str]] = []
        missing: list[str] = []
        for customer_id in ids:
            address, locale = found.get(customer_id, (None, None))
            recipient = address if email else customer_id
            if recipient:
                recipients.append((customer_id, recipient, locale or ""))
            else:
                missing.append(customer_id)
        if recipients and template is not None:
            first = recipients[0][0]
            for _, context in profiles.contexts([first], campaign.launched_at):
                template.render(context, context["locale"])
        outbox.enqueue_unrendered(
            conn, campaign=campaign.name, step=STEP, occurrence=occurrence(campaign.launched_at),
            channel=campaign.channel, purpose=campaign.purpose, template=campaign.template,
            priority=campaign.priority, recipients=recipients,
        )  # fmt: skip
        _mark(conn, campaign.id, [r[0] for r in recipients], queued=True)
        _mark(conn, campaign.id, missing, skipped=f"no {campaign.channel} address")
    return False, len(recipients), len(missing), "running", ids[-1]


def _mark(conn: sa.Connection, campaign_id: int, ids: list[str], **values: Any) -> None:
    if ids:
        conn.execute(assign_t.update().where(
            assign_t.c.campaign_id == campaign_id,
            assign_t.c.customer_id.in_(sa.bindparam("ids", expanding=True)),
        ).values(**values), {"ids": ids})  # fmt: skip


def pause(ops: OpsStore, name: str) -> dict[str, Any]:
    """Stop queueing, and hold the campaign's queued messages: the sender
    leaves them pending until ``launch`` resumes the campaign. A campaign
    done queueing may be paused while some of its messages wait."""
    from tenure.store.ops_schema import campaign_messages as m

    with write_transaction(ops) as conn:
        campaign = definitions.get(conn, name)
        if campaign.state == "done":
            waiting = conn.execute(sa.select(sa.func.count()).where(
                m.c.campaign == name, m.c.state.in_(("pending", "sending")))).scalar()  # fmt: skip
            if not waiting:
                raise InputError(
                    f"the campaign {name!r} is done: every message was queued and none "
                    "waits to be sent.", value=name,
                    hint="Nothing is left to pause; its outcome: tenure campaign status "
                    f"{name}.", code="campaign_done",
                )  # fmt: skip
        if campaign.state == "draft":
            raise InputError(f"the campaign {name!r} was not launched.", value=name,
                             hint=f"Launch it first: tenure campaign launch {name}.",
                             code="campaign_draft")  # fmt: skip
        definitions.set_state(conn, campaign, "paused")
    return {"campaign": name, "state": "paused", "was": campaign.state}
