"""The journey runner: enter who is due to enter, and move every member on.

:func:`run` takes each active journey (or the one named) in two parts, each
safe to repeat:

1. **Enter**: the entry source's customers (:mod:`.journeys_entry`) are
   entered, with their arms, in one transaction; a trigger's watermark
   moves in that transaction too. The named point
   ``journey entered`` of :mod:`tenure.faults` follows.
2. **Advance**, in batches of active members (in ``customer_id,
   occurrence`` order), each batch one transaction: a member whose exit
   goal holds leaves (``goal: order``); otherwise its steps are taken while
   they are due:

   - ``send``: the message, rendered for the customer, is written to the
     outbox (:func:`tenure.campaigns.outbox.enqueue_many`) with the dedup
     key ``journey:step:customer:occurrence``, in the transaction that
     moves the member past the step. A member without an address on the
     step's channel exits (``no email address``);
   - ``wait``: due at the end of its delay, counted from when the member
     reached it (the time it was due there, not the time of the run: a
     late run does not push the rest of the journey later);
   - ``wait_until``: looked at on every run; its condition holding moves
     the member to ``next``, the timeout passing first to ``on_timeout``;
   - ``split``: ``yes`` if the condition holds (or the customer's stable
     draw under the journey's salt and the step's id is below ``random``),
     else ``no``;
   - ``exit``: the member leaves with the step's reason; past the last
     step it has ``completed`` the journey.

   The named point ``journey batch advanced`` follows each batch.

A run of every journey reports a journey that cannot run (its trigger
wrongly written, the data a trigger or an audience needs missing) with its
error, and goes on with the others; a run of one journey raises it.

Conditions are read as of the run: an audience criterion is evaluated once
per run (:func:`tenure.campaigns.audiences.evaluate`), and ``order`` is an
order placed (not refunded or cancelled) at or after the member's entry.
Consent, suppression, caps and quiet hours are the sender's, at send time,
as for a campaign. Since the decision and its message are one transaction
and the key is unique, a run repeated, or killed at either point and run
again, sends nothing twice and loses nobody. A paused journey is skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from tenure import faults
from tenure.campaigns import audiences, holdouts, outbox
from tenure.campaigns.consent import now, utc, write_transaction
from tenure.campaigns.journeys import Journey, all_journeys, get
from tenure.campaigns.journeys_entry import enter_due
from tenure.campaigns.journeys_spec import ORDER, Definition, Step, arrival
from tenure.errors import TenureError
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import journey_members as members_t

BATCH = 500
POINTS = ("journey entered", "journey batch advanced")
EntrySource = Callable[..., pa.Table]


@dataclass
class _Member:
    customer_id: str
    occurrence: str
    step: str
    due_at: datetime
    entered_at: datetime


@dataclass
class _Outcome:
    state: str = "active"
    step: str | None = None
    due_at: datetime | None = None
    reason: str | None = None
    sends: list[Step] | None = None


class _Conditions:
    """The conditions of one run: audiences evaluated once, and who ordered
    since their entry, per batch."""

    def __init__(self, settings: Any, at: datetime) -> None:
        self.settings, self.at = settings, at
        self.found: dict[str, set[str]] = {}
        self.ordered: set[tuple[str, str]] = set()

    def audience(self, text: str) -> set[str]:
        if text not in self.found:
            found = audiences.evaluate(self.settings, audiences.from_texts([text]))
            self.found[text] = {r[0] for r in found.rows}
        return self.found[text]

    def load_orders(self, con: Any, members: list[_Member]) -> None:
        from tenure.campaigns.measure import COUNTED

        self.ordered = set()
        if not members:
            return
        rows = con.execute(f"""
            SELECT m.c, m.k FROM (
              SELECT unnest(?::VARCHAR[]) AS c, unnest(?::VARCHAR[]) AS k,
                     unnest(?::TIMESTAMP[]) AS t) m
            WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = m.c
                          AND o.placed_at >= m.t AND {COUNTED})""", [
            [m.customer_id for m in members], [m.occurrence for m in members],
            [utc(m.entered_at).replace(tzinfo=None) for m in members]]).fetchall()  # fmt: skip
        self.ordered = {(c, k) for c, k in rows}

    def holds(self, text: str, member: _Member) -> bool:
        if text == ORDER:
            return (member.customer_id, member.occurrence) in self.ordered
        return member.customer_id in self.audience(text)


def _walk(d: Definition, member: _Member, at: datetime, cond: _Conditions) -> _Outcome | None:
    """Where the member goes now (None: it stays as it is)."""
    for goal in d.goals:
        if cond.holds(goal, member):
            return _Outcome("exited", reason=f"goal: {goal}")
    step_id, due = member.step, member.due_at
    sends: list[Step] = []
    # a journey whose steps loop without a wait would never stop: a member
    # visits each step at most twice in one run
    for _ in range(2 * len(d.steps) + 1):
        step = d.step(step_id)
        if step is None:  # (an update moves or exits these; kept for safety)
            return _Outcome("exited", reason=f"step {step_id} removed", sends=sends)
        if step.type == "wait_until":
            if cond.holds(step.condition or "", member):
                target, base = d.after(step), at
            elif due <= at:
                target, base = d.after(step, step.on_timeout), due
            else:
                break
        elif due > at:
            break
        elif step.type == "exit":
            return _Outcome("exited", reason=step.reason, sends=sends)
        elif step.type == "split":
            if step.random is not None:
                yes = holdouts.draw(f"{d.salt}.{step.id}", member.customer_id) < step.random
            else:
                yes = cond.holds(step.condition or "", member)
            target, base = d.after(step, step.yes if yes else step.no), due
        else:  # send, or a wait that has ended
            if step.type == "send":
                sends.append(step)
            target, base = d.after(step), due
        if target is None:
            return _Outcome("completed", sends=sends)
        step_id = target
        nxt = d.step(target)
        assert nxt is not None  # targets are checked when the file is read
        due = arrival(nxt, base)
    else:
        return _Outcome("exited", reason="steps loop without a wait", sends=sends)
    if step_id == member.step and due == member.due_at and not sends:
        return None
    return _Outcome("active", step=step_id, due_at=due, sends=sends)


def run(settings: Any, ops: OpsStore, name: str | None = None, *, at: datetime | None = None,
        batch: int = BATCH, entries: EntrySource | None = None,
        enter_now: bool = True) -> dict[str, Any]:  # fmt: skip
    """Enter and advance the journey ``name`` (every active journey when
    None) as of ``at`` (now); per journey, what was done."""
    at = utc(at) if at else now()
    with ops.engine.connect() as conn:
        chosen = [get(conn, name)] if name else all_journeys(conn)
    done = []
    for journey in chosen:
        doc: dict[str, Any] = {"journey": journey.name, "state": journey.state}
        if journey.state != "active":
            done.append(doc)
            continue
        try:
            if enter_now:
                doc["entered"] = enter_due(settings, ops, journey, at=at, source=entries)
                faults.checkpoint(POINTS[0])
            doc.update(advance(settings, ops, journey.name, at=at, batch=batch))
        except TenureError as exc:
            if name:
                raise
            # one journey that cannot run (its trigger wrongly written, an
            # audience's data missing) does not hold up the others
            doc["error"] = {"code": exc.code, "message": str(exc)}
        done.append(doc)
    return {"at": at.isoformat(), "journeys": done}


def advance(settings: Any, ops: OpsStore, name: str, *, at: datetime,
            batch: int = BATCH) -> dict[str, Any]:  # fmt: skip
    """Part 2 of :func:`run`: the members moved, the messages queued, and
    the exits by reason."""
    from tenure.campaigns.send_render import Profiles, variables
    from tenure.campaigns.templates import load_template

    with ops.engine.connect() as conn:
        journey = get(conn, name)
    sends = [s for s in journey.definition.steps if s.type == "send"]
    templates = {s.template: load_template(Path(s.template))
                 for s in sends if s.template}  # fmt: skip
    used: set[str] = set()
    for t in templates.values():
        used |= variables(t)
    cond = _Conditions(settings, at)
    totals = {"moved": 0, "queued": 0, "completed": 0, "exited": {}}
    after = ("", "")
    with Profiles(settings, used) as profiles:
        while True:
            finished, after = _batch(ops, name, at, batch, after, cond, profiles, templates,
                                     totals)  # fmt: skip
            if finished:
                break
            faults.checkpoint(POINTS[1])
    return totals


def _batch(ops: OpsStore, name: str, at: datetime, size: int, after: tuple[str, str],
           cond: _Conditions, profiles: Any, templates: dict[str, Any],
           totals: dict[str, Any]) -> tuple[bool, tuple[str, str]]:  # fmt: skip
    m = members_t
    with write_transaction(ops) as conn:
        journey = get(conn, name)
        if journey.state != "active":
            return True, after
        d = journey.definition
        where = [m.c.journey_id == journey.id, m.c.state == "active",
                 sa.tuple_(m.c.customer_id, m.c.occurrence) > sa.tuple_(*after)]  # fmt: skip
        waiting = [s.id for s in d.steps if s.type == "wait_until"]
        if not d.goals:  # with goals, every active member is looked at
            where.append(sa.or_(m.c.due_at <= at, m.c.step.in_(waiting)))
        rows = conn.execute(
            sa.select(m.c.customer_id, m.c.occurrence, m.c.step, m.c.due_at, m.c.entered_at)
            .where(*where).order_by(m.c.customer_id, m.c.occurrence).limit(size)).all()  # fmt: skip
        if not rows:
            return True, after
        members = [_Member(r[0], r[1], r[2], utc(r[3]), utc(r[4])) for r in rows]
        if ORDER in d.goals or any(s.condition == ORDER for s in d.steps):
            cond.load_orders(profiles.con, members)
        outcomes = {(x.customer_id, x.occurrence): _walk(d, x, at, cond) for x in members}
        messages = _messages(journey, members, outcomes, profiles, templates, at)
        outbox.enqueue_many(conn, messages, now=at)
        moves: list[dict[str, Any]] = []
        for member in members:
            out = outcomes[(member.customer_id, member.occurrence)]
            if out is None:
                continue
            gone = out.state != "active"
            moves.append({"b_customer": member.customer_id, "b_occurrence": member.occurrence,
                          "b_state": out.state, "b_step": None if gone else out.step,
                          "b_due": None if gone else out.due_at,
                          "b_exited": at if gone else None, "b_reason": out.reason})  # fmt: skip
            if out.state == "completed":
                totals["completed"] += 1
            elif gone:
                totals["exited"][out.reason] = totals["exited"].get(out.reason, 0) + 1
        if moves:  # one statement, executed for each member (the driver's executemany)
            b = sa.bindparam
            conn.execute(m.update().where(
                m.c.journey_id == journey.id, m.c.customer_id == b("b_customer"),
                m.c.occurrence == b("b_occurrence")).values(
                state=b("b_state"), step=b("b_step"), due_at=b("b_due"),
                exited_at=b("b_exited"), exit_reason=b("b_reason"),
                version=journey.version), moves)  # fmt: skip
        totals["moved"] += len(moves)
        totals["queued"] += len(messages)
    return False, (rows[-1][0], rows[-1][1])


def _messages(journey: Journey, members: list[_Member], outcomes: dict[tuple[str, str], Any],
              profiles: Any, templates: dict[str, Any], at: datetime) -> list[dict[str, Any]]:  # fmt: skip
    """The batch's messages; a member without an address on a send's
    channel is turned into an exit instead."""
    sending = [x for x in members if (o := outcomes[(x.customer_id, x.occurrence)]) and o.sends]
    if not sending:
        return []
    contexts = dict(profiles.contexts(sorted({x.customer_id for x in sending}), at))
    out: list[dict[str, Any]] = []
    for member in sending:
        outcome = outcomes[(member.customer_id, member.occurrence)]
        context = contexts[member.customer_id]
        mine = []
        for step in outcome.sends:
            recipient = context["email"] if step.channel == "email" else member.customer_id
            if not recipient:
                outcomes[(member.customer_id, member.occurrence)] = _Outcome(
                    "exited", reason=f"no {step.channel} address")
                mine = []
                break
            mine.append(dict(
                campaign=journey.name, step=step.id, customer_id=member.customer_id,
                occurrence=member.occurrence, channel=step.channel, purpose=step.purpose,
                recipient=recipient, priority=step.priority,
                message=templates[step.template].render(context, context["locale"])))  # fmt: skip
        out.extend(mine)
    return out
