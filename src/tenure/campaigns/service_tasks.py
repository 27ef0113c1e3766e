"""Service-recovery tasks: one per NPS detractor's answer (a score of 0 to
6), opened by the ``nps_detractor`` trigger in the transaction that
advances its watermark, so a retried evaluation opens none twice (the
answer's id is unique), and closed by hand with a note
(``tenure campaign tasks close ID --note ...``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from tenure.errors import InputError, NotFoundError
from tenure.store.ops_schema import service_recovery_tasks as tasks

STATES = ("open", "closed")


def open_for(conn: sa.Connection, answers: list[dict[str, Any]], now: datetime) -> int:
    """Open a task for each answer (response_id, customer_id, score, comment,
    answered_at) that has none yet; the number opened."""
    if not answers:
        return 0
    ids = [a["response_id"] for a in answers]
    have: set[str] = set()
    for i in range(0, len(ids), 500):
        have |= {r[0] for r in conn.execute(sa.select(tasks.c.response_id)
                                            .where(tasks.c.response_id.in_(ids[i:i + 500])))}  # fmt: skip
    new = [{**a, "created_at": now, "state": "open"} for a in answers if a["response_id"] not in have]
    if new:
        conn.execute(sa.insert(tasks), new)
    return len(new)


def _doc(row: Any) -> dict[str, Any]:
    def iso(w: datetime | None) -> str | None:
        if w is None:
            return None
        return (w.replace(tzinfo=UTC) if w.tzinfo is None else w.astimezone(UTC)).isoformat()

    return {"id": int(row.id), "customer_id": row.customer_id, "response_id": row.response_id,
            "score": float(row.score), "comment": row.comment, "answered_at": iso(row.answered_at),
            "created_at": iso(row.created_at), "state": row.state, "closed_at": iso(row.closed_at),
            "note": row.note}  # fmt: skip


def listing(conn: sa.Connection, state: str = "open", customer_id: str | None = None) -> list[dict]:
    """The tasks in ``state`` (open, closed or all), oldest answer first."""
    if state not in (*STATES, "all"):
        raise InputError(f"there is no task state {state!r}.", column="state", value=state,
                         hint="Use open, closed or all.", code="bad_state")  # fmt: skip
    q = sa.select(tasks).order_by(tasks.c.answered_at, tasks.c.id)
    if state != "all":
        q = q.where(tasks.c.state == state)
    if customer_id is not None:
        q = q.where(tasks.c.customer_id == customer_id)
    return [_doc(r) for r in conn.execute(q)]


def close(conn: sa.Connection, task_id: int, note: str | None, now: datetime) -> dict[str, Any]:
    """Close the task; closing a closed one again changes nothing."""
    row = conn.execute(sa.select(tasks).where(tasks.c.id == int(task_id))).first()
    if row is None:
        raise NotFoundError(f"there is no service-recovery task {task_id}.", value=task_id,
                            hint="List them: tenure campaign tasks list --state all.",
                            code="task_not_found")  # fmt: skip
    if row.state != "closed":
        conn.execute(sa.update(tasks).where(tasks.c.id == row.id)
                     .values(state="closed", closed_at=now, note=note))  # fmt: skip
        row = conn.execute(sa.select(tasks).where(tasks.c.id == row.id)).first()
    return _doc(row)
