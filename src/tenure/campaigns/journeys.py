"""Journeys on the operational store: created, listed, updated while running.

A journey (its definition: :mod:`.journeys_spec`) has a ``version``, 1 when
created and one more at each :func:`update`. Its members
(``journey_members``, one row per entry of a customer: see
:mod:`.journeys_entry`) record the version they follow. An update is one
transaction, and decides for every active member at once:

- a member on a step the new version still has (the same id) stays on it,
  with its due time, and goes on by the new version's steps;
- a member on a step the new version lacks moves to the step the file's
  ``moves`` table names for it (``moves = { second-mail = "last-mail" }``),
  arriving there at the update (a wait there starts then); without one, it exits with the reason ``step STEP removed
  in version N``.

The salt of the holdout's hash is kept across versions, so a customer's arm
in a journey never changes; a new holdout share applies to entries after
the update (the members already in keep the arm drawn at their entry).
A journey's name is its messages' campaign in the outbox, so it may not be
a campaign's name too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tenure.campaigns.consent import now, utc
from tenure.campaigns.journeys_spec import Definition, arrival, from_dict
from tenure.errors import InputError, NotFoundError
from tenure.store.ops_schema import campaigns as campaigns_t
from tenure.store.ops_schema import journey_members as members_t
from tenure.store.ops_schema import journeys as journeys_t

STATES = ("active", "paused")
MEMBER_STATES = ("active", "held_out", "exited", "completed")


@dataclass(frozen=True)
class Journey:
    id: int
    name: str
    version: int
    definition: Definition
    state: str
    created_at: datetime
    updated_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "version": self.version, "state": self.state,
                "created_at": self.created_at.isoformat(),
                "updated_at": self.updated_at.isoformat(),
                **{k: v for k, v in self.definition.as_dict().items() if k != "name"}}  # fmt: skip


def _row(row: Any) -> Journey:
    m = row._mapping
    return Journey(id=int(m["id"]), name=m["name"], version=int(m["version"]),
                   definition=from_dict(json.loads(m["definition"])), state=m["state"],
                   created_at=utc(m["created_at"]), updated_at=utc(m["updated_at"]))  # fmt: skip


def _stored(definition: Definition) -> str:
    # the moves belong to one update, not to the journey
    return json.dumps({**definition.as_dict(), "moves": {}})


def create(conn: sa.Connection, definition: Definition, *, at: datetime | None = None) -> Journey:
    """Record a new journey, active at version 1; a name taken is refused."""
    name = definition.name
    taken = conn.execute(sa.select(journeys_t.c.id).where(journeys_t.c.name == name)).first()
    if taken is not None:
        raise InputError(f"there is already a journey {name!r}.", column="name", value=name,
                         code="journey_exists",
                         hint=f"Change it with: tenure journey update FILE (name = {name!r}), "
                         "or choose another name.")  # fmt: skip
    if conn.execute(sa.select(campaigns_t.c.id).where(campaigns_t.c.name == name)).first():
        raise InputError(f"there is a campaign {name!r}: its messages and the journey's "
                         "would share their dedup keys.", column="name", value=name,
                         code="journey_exists", hint="Give the journey another name.")  # fmt: skip
    at = utc(at) if at else now()
    conn.execute(journeys_t.insert().values(
        name=name, version=1, definition=_stored(definition), salt=definition.salt,
        holdout=definition.holdout, state="active", created_at=at, updated_at=at))  # fmt: skip
    return get(conn, name)


def get(conn: sa.Connection, name: str) -> Journey:
    row = conn.execute(sa.select(journeys_t).where(journeys_t.c.name == name)).first()
    if row is None:
        names = conn.execute(sa.select(journeys_t.c.name).order_by(journeys_t.c.name)
                             .limit(10)).scalars().all()  # fmt: skip
        raise NotFoundError(f"there is no journey {name!r}.", value=name, code="no_journey",
                            hint=f"Known: {', '.join(names)}." if names else
                            "Create one: tenure journey create FILE, or from a playbook: "
                            "tenure journey create --playbook win-back.")  # fmt: skip
    return _row(row)


def all_journeys(conn: sa.Connection) -> list[Journey]:
    rows = conn.execute(sa.select(journeys_t).order_by(journeys_t.c.name)).all()
    return [_row(r) for r in rows]


def update(conn: sa.Connection, definition: Definition, *,
           at: datetime | None = None) -> dict[str, Any]:  # fmt: skip
    """Replace the journey's definition by a new version (see the module
    docstring); what happened to the active members."""
    current = get(conn, definition.name)
    at = utc(at) if at else now()
    version = current.version + 1
    # the salt stays, so that nobody's arm changes with an edit
    kept = Definition(**{**definition.__dict__, "salt": current.definition.salt})
    conn.execute(journeys_t.update().where(journeys_t.c.id == current.id).values(
        version=version, definition=_stored(kept), holdout=kept.holdout,
        updated_at=at))  # fmt: skip
    m = members_t
    active = (m.c.journey_id == current.id) & (m.c.state == "active")
    steps = {s.id for s in kept.steps}
    gone = conn.execute(sa.select(m.c.step, sa.func.count()).where(
        active, m.c.step.not_in(steps)).group_by(m.c.step)).all()  # fmt: skip
    moved: dict[str, int] = {}
    exited: dict[str, int] = {}
    for step, n in gone:
        where = active & (m.c.step == step)
        if step in kept.moves:
            target = kept.step(kept.moves[step])
            assert target is not None  # checked when the file was read
            conn.execute(m.update().where(where).values(step=target.id,
                                                        due_at=arrival(target, at)))
            moved[step] = int(n)
        else:
            conn.execute(m.update().where(where).values(
                state="exited", step=None, due_at=None, exited_at=at,
                exit_reason=f"step {step} removed in version {version}"))  # fmt: skip
            exited[step] = int(n)
    stayed = conn.execute(sa.select(sa.func.count()).where(active)).scalar_one()
    conn.execute(m.update().where(active).values(version=version))
    return {"journey": current.name, "version": version, "was": current.version,
            "moved": moved, "exited": exited, "stayed": int(stayed)}  # fmt: skip


def set_state(conn: sa.Connection, name: str, state: str) -> Journey:
    """Pause (members stay where they are, nobody enters or advances) or
    resume a journey."""
    journey = get(conn, name)
    conn.execute(journeys_t.update().where(journeys_t.c.id == journey.id)
                 .values(state=state, updated_at=now()))  # fmt: skip
    return get(conn, name)
