"""``tenure campaign triggers check | evaluate | list`` and ``tenure campaign
tasks list | close``: thin over :mod:`tenure.campaigns.triggers` and
:mod:`tenure.campaigns.service_tasks`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from tenure.cli._common import JsonOption, StoreOption, emit_json, engine_settings, out_console

TRIGGERS_HELP = """Triggers: what starts a customer's entry into a campaign or journey,
written KIND[:ARG], e.g. event:first_order, event:cart_abandoned:2h,
segment_enter:rfm:at risk, date:birthday, churn_risk_above:0.6,
p_alive_below:0.3, overdue:14, nps_detractor, tier_changed:gold,
points_expiring:30 (docs/campaigns.md, Triggers).

Example:

    tenure campaign triggers check event:first_order --days 7
"""

CHECK_HELP = """How many customers a trigger would let in now, committing nothing: since
--key's last evaluation when given, else over the last --days (every current
member, for a segment or a model threshold).

Example:

    tenure campaign triggers check "segment_enter:rfm:at risk" --json
"""

EVALUATE_HELP = """Evaluate a trigger for its owner --key and advance its watermark: prints
the new entries. A key's first evaluation records a baseline and lets no one
in, unless --backfill.

Example:

    tenure campaign triggers evaluate event:first_order --key journey:welcome --json
"""

TASKS_HELP = """Service-recovery tasks: one per NPS detractor's answer (0-6), opened by
the nps_detractor trigger.

Example:

    tenure campaign tasks list --json

    tenure campaign tasks close 12 --note "called back, refunded"
"""

triggers_app = typer.Typer(help=TRIGGERS_HELP, no_args_is_help=True, rich_markup_mode=None)
tasks_app = typer.Typer(help=TASKS_HELP, no_args_is_help=True, rich_markup_mode=None)
SpecArg = Annotated[str, typer.Argument(help="The trigger, e.g. event:first_order.")]


def _open(store: Path | None):
    from tenure.store.workspace import Workspace

    settings = engine_settings(store)
    return settings, Workspace.open(settings, create=False)


def _as_of(value: str | None) -> datetime | None:
    from tenure.errors import UsageError

    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--as-of {value!r} is not a time.",
                         hint="Write it as 2024-06-30T12:00:00+00:00 (UTC when no offset).") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


AsOf = Annotated[str | None, typer.Option("--as-of", help="Evaluate as of this time (ISO 8601; "
                                           "default now).", show_default=False)]  # fmt: skip


@triggers_app.command("check", help=CHECK_HELP)
def check_command(
    spec: SpecArg,
    key: Annotated[str | None, typer.Option(help="The owner whose watermark to start from.",
                                            show_default=False)] = None,  # fmt: skip
    days: Annotated[float, typer.Option(help="Without --key: look back this many days.")] = 1.0,
    as_of: AsOf = None,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure.campaigns import triggers

    trigger = triggers.parse(spec)
    settings, ws = _open(store)
    with ws:
        doc = triggers.check(settings, ws.ops, trigger, key=key, days=days, as_of=_as_of(as_of))
    if json_:
        emit_json(doc)
        return
    out = out_console(markup=False)
    out.print(f"{doc['entries']:,} would enter on {doc['trigger']} between {doc['since']} and "
              f"{doc['as_of']}.")  # fmt: skip
    _print_rows(out, doc["first"])


def _print_rows(out: Any, rows: list[dict[str, Any]]) -> None:
    from tenure.cli.tables import Col, print_table

    if rows:
        cols = [Col("customer", numeric=False), Col("occurrence", numeric=False),
                Col("occurred at", numeric=False), Col("context", numeric=False, rank=1)]  # fmt: skip
        print_table(out, cols, [[r["customer_id"], r["occurrence"], r["occurred_at"],
                                 r["context"] or ""] for r in rows], wide=False)  # fmt: skip


@triggers_app.command("evaluate", help=EVALUATE_HELP)
def evaluate_command(
    spec: SpecArg,
    key: Annotated[str, typer.Option(help="The owner of the watermark, e.g. journey:welcome.")],
    backfill: Annotated[bool, typer.Option(help="On a first evaluation, let in everyone up "
                                           "to now instead of recording a baseline.")] = False,  # fmt: skip
    as_of: AsOf = None,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure.campaigns import triggers

    trigger = triggers.parse(spec)
    settings, ws = _open(store)
    with ws:
        found = triggers.evaluate(settings, ws.ops, trigger, key=key, as_of=_as_of(as_of),
                                  backfill=backfill)  # fmt: skip
    rows = found.to_pylist()
    for r in rows:
        r["occurred_at"] = r["occurred_at"].isoformat() if r["occurred_at"] else None
    doc = {"trigger": trigger.text, "key": key, "entries": len(rows), "rows": rows}
    if json_:
        emit_json(doc)
        return
    out = out_console(markup=False)
    out.print(f"{len(rows):,} entered on {trigger.text} for {key}.")
    _print_rows(out, rows)


@triggers_app.command("list", help="Each trigger owner's watermark.\n\nExample:\n\n"
                      "    tenure campaign triggers list --json")  # fmt: skip
def list_command(store: StoreOption = None, json_: JsonOption = False) -> None:
    from tenure.campaigns.triggers_state import states

    _, ws = _open(store)
    with ws, ws.ops.engine.connect() as conn:
        found = states(conn)
    if json_:
        emit_json({"triggers": found})
        return
    out = out_console(markup=False)
    if not found:
        out.print("No trigger has been evaluated yet.")
    for s in found:
        out.print(f"{s['key']}: {s['spec']}, up to {s['watermark']} ({s['evaluations']} evaluations)")


@tasks_app.command("list", help="The service-recovery tasks, oldest answer first.\n\n"
                   "Example:\n\n    tenure campaign tasks list --state all --json")  # fmt: skip
def tasks_list(
    state: Annotated[str, typer.Option(help="open, closed or all.")] = "open",
    customer: Annotated[str | None, typer.Option(help="Only this customer's.",
                                                 show_default=False)] = None,  # fmt: skip
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure.campaigns import service_tasks

    _, ws = _open(store)
    with ws, ws.ops.engine.connect() as conn:
        found = service_tasks.listing(conn, state, customer)
    if json_:
        emit_json({"state": state, "tasks": found})
        return
    out = out_console(markup=False)
    if not found:
        out.print(f"No {state if state != 'all' else ''} service-recovery tasks.".replace("  ", " "))
    for t in found:
        out.print(f"#{t['id']} {t['customer_id']}: NPS {t['score']:g} on {t['answered_at'][:10]}"
                  f" ({t['state']}){' - ' + t['comment'] if t['comment'] else ''}")  # fmt: skip


@tasks_app.command("close", help="Close a service-recovery task with what was done.\n\n"
                   "Example:\n\n    tenure campaign tasks close 12 --note \"called back\"")  # fmt: skip
def tasks_close(
    task_id: Annotated[int, typer.Argument(help="The task's number (tasks list).")],
    note: Annotated[str | None, typer.Option(help="What was done.", show_default=False)] = None,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure.campaigns import service_tasks
    from tenure.campaigns.triggers import transaction

    _, ws = _open(store)
    with ws, transaction(ws.ops) as conn:
        doc = service_tasks.close(conn, task_id, note, datetime.now(UTC))
    if json_:
        emit_json(doc)
        return
    out_console(markup=False).print(f"Closed #{doc['id']} ({doc['customer_id']}).")


def register(group: typer.Typer) -> None:
    """Add ``triggers`` and ``tasks`` to the ``campaign`` group."""
    group.add_typer(triggers_app, name="triggers", help=TRIGGERS_HELP)
    group.add_typer(tasks_app, name="tasks", help=TASKS_HELP)
