"""``tenure journey``: multi-step journeys and the playbooks; thin over
:mod:`tenure.campaigns.journeys` and its sibling modules."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from tenure.cli._common import JsonOption, StoreOption, emit_json, engine_settings, out_console

HELP = """Journeys: messages in steps, with waits, conditions, splits, exit goals
and a holdout drawn at entry; and ready-made playbooks.

Examples:

    tenure journey playbooks
    tenure journey create --playbook win-back
    tenure journey run --json
    tenure journey status win-back --measure
"""

app = typer.Typer(help=HELP, no_args_is_help=True, rich_markup_mode=None)

NameArg = Annotated[str, typer.Argument(help="The journey's name.")]
AtOption = Annotated[
    str | None,
    typer.Option("--at", help="Run as of this time (ISO 8601, UTC when no offset) instead "
                 "of now: to replay a day, or in tests.", show_default=False),
]  # fmt: skip


def _open(store: Path | None):
    from tenure.store.workspace import Workspace

    settings = engine_settings(store)
    return settings, Workspace.open(settings, create=False)


def _at(text: str | None) -> datetime | None:
    from tenure.campaigns.consent import utc
    from tenure.errors import UsageError

    if text is None:
        return None
    try:
        return utc(datetime.fromisoformat(text))
    except ValueError:
        raise UsageError(f"--at {text!r} is not a time.",
                         hint="Write it as 2026-03-01T09:00 or 2026-03-01.") from None


def _print(json_: bool, doc: dict[str, Any], text: str) -> None:
    if json_:
        emit_json(doc)
    else:
        out_console(markup=False).print(text)


@app.command("list", help="""The journeys, their version, state and entry.

Example:

    tenure journey list --json
""")
def list_command(store: StoreOption = None, json_: JsonOption = False) -> None:
    from tenure.campaigns.journeys import all_journeys

    _, ws = _open(store)
    with ws, ws.ops.engine.connect() as conn:
        found = [j.as_dict() for j in all_journeys(conn)]
    lines = [f"{j['name']}  v{j['version']}  {j['state']}  entry: {j['entry']}  holdout "
             f"{j['holdout'] * 100:g} %" for j in found] or ["No journeys yet. Install one: "
                                                           "tenure journey create --playbook "
                                                           "win-back"]  # fmt: skip
    _print(json_, {"journeys": found}, "\n".join(lines))


@app.command("playbooks", help="""The playbooks shipped with tenure, one per seed strategy,
each with a 10 % holdout.

Example:

    tenure journey playbooks --json
""")
def playbooks_command(json_: JsonOption = False) -> None:
    from tenure.campaigns.journeys_playbooks import listing

    found = listing()
    _print(json_, {"playbooks": found},
           "\n".join(f"{p['name']}: {p['about']}" for p in found))


@app.command("create", help="""Create a journey from its TOML file, or install a playbook
into the workspace (STORE/journeys/NAME, to edit) and create it.

Examples:

    tenure journey create journeys/win-back.toml

    tenure journey create --playbook win-back --json
""")
def create_command(
    file: Annotated[Path | None, typer.Argument(help="The journey's TOML file.")] = None,
    playbook: Annotated[str | None, typer.Option(help="A playbook's name (tenure journey "
                                                 "playbooks).", show_default=False)] = None,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:  # fmt: skip
    from tenure.campaigns import journeys, journeys_spec
    from tenure.campaigns.consent import write_transaction
    from tenure.campaigns.journeys_playbooks import install
    from tenure.errors import UsageError

    if (file is None) == (playbook is None):
        raise UsageError("give a journey's file or --playbook NAME.",
                         hint="tenure journey create --playbook win-back")
    settings, ws = _open(store)
    with ws:
        if playbook:
            doc = install(settings, ws.ops, playbook)
            name = doc["journey"]["name"]
        else:
            assert file is not None
            with write_transaction(ws.ops) as conn:
                doc = {"journey": journeys.create(conn, journeys_spec.from_file(file)).as_dict()}
            name = doc["journey"]["name"]
    _print(json_, doc, f"Created the journey {name}. Next: tenure journey run {name}")


@app.command("update", help="""Replace a running journey's definition by a new version.
Members on a step that still exists stay on it; members on a removed step
move to the step named in the file's [moves] table, or exit with the reason
"step STEP removed in version N".

Example:

    tenure journey update journeys/win-back.toml --json
""")
def update_command(
    file: Annotated[Path, typer.Argument(help="The journey's TOML file (its name names it).")],
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure.campaigns import journeys, journeys_spec
    from tenure.campaigns.consent import write_transaction

    _, ws = _open(store)
    with ws, write_transaction(ws.ops) as conn:
        doc = journeys.update(conn, journeys_spec.from_file(file))
    _print(json_, doc, f"{doc['journey']} is at version {doc['version']}: {doc['stayed']} "
           f"members stay, moved {doc['moved'] or 'none'}, exited {doc['exited'] or 'none'}.")


@app.command("enter", help="""Enter the customers of a CSV file (customer_id, and an
optional occurrence) into a journey, with the re-entry rule and the holdout
drawn as for any entry. `tenure journey run` then moves them on.

Example:

    tenure journey enter win-back --customers lapsed.csv --json
""")
def enter_command(
    name: NameArg,
    customers: Annotated[Path, typer.Option(help="A CSV file with a customer_id column.")],
    at: AtOption = None,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure.campaigns.consent import now
    from tenure.campaigns.journeys_entry import enter, read_customers

    when = _at(at) or now()
    _, ws = _open(store)
    with ws:
        doc = enter(ws.ops, name, read_customers(customers, at=when), at=when)
    _print(json_, doc, f"{doc['entered']} entered {name} ({doc['arms']}); not entered: "
           f"{doc['not_entered'] or 'none'}.")


@app.command("run", help="""Enter who is due to enter each active journey (or NAME), and move
every member on: messages written to the outbox with their decision, waits,
conditions, splits and exits. Safe to repeat and to kill: nothing is sent
twice. Run it on a schedule (every few minutes), with `tenure campaign send`.

Examples:

    tenure journey run

    tenure journey run win-back --json
""")
def run_command(
    name: Annotated[str | None, typer.Argument(help="One journey (default: all).")] = None,
    at: AtOption = None,
    batch: Annotated[int, typer.Option(help="Members moved per transaction.")] = 500,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure.campaigns.journeys_runner import run

    settings, ws = _open(store)
    with ws:
        doc = run(settings, ws.ops, name, at=_at(at), batch=max(1, batch))
    lines = [f"{j['journey']}: {j['state']}" + (
        f", not run: {j['error']['message']}" if "error" in j else "") + (
        f", entered {j['entered']['entered']}, queued {j['queued']}, completed "
        f"{j['completed']}, exited {j['exited'] or 'none'}" if "queued" in j else "")
        for j in doc["journeys"]] or ["No journeys."]  # fmt: skip
    _print(json_, doc, "\n".join(lines))


@app.command("status", help="""Every entrant of a journey: held out, on each step, completed,
or exited with the reason; its messages by state. --measure adds the lift of
the treatment over the holdout (each customer's first entry as assignment).

Examples:

    tenure journey status win-back

    tenure journey status win-back --measure --window 30 --json
""")
def status_command(
    name: NameArg,
    measure: Annotated[bool, typer.Option("--measure", help="Measure the lift.")] = False,
    window: Annotated[int, typer.Option(help="Days after entry measured.")] = 30,
    metric: Annotated[str, typer.Option(help="conversion, revenue, orders or visits.")] = (
        "conversion"),
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure.campaigns import journeys_status

    settings, ws = _open(store)
    with ws:
        doc = journeys_status.status(ws.ops, name)
        if measure:
            doc["measure"] = journeys_status.measure(settings, ws.ops, name, window=window,
                                                     metric=metric)  # fmt: skip
    text = (f"{name} v{doc['journey']['version']} ({doc['journey']['state']}): "
            f"{doc['entries']} entries; held out {doc['held_out']}; active {doc['active']}; "
            f"completed {doc['completed']}; exited {doc['exited'] or 'none'}; messages "
            f"{ {k: v for k, v in doc['messages'].items() if v} }; accounted: "
            f"{'yes' if doc['accounted'] else 'NO'}")
    if measure:
        text += f"\nverdict: {doc['measure'].get('verdict')}"
    _print(json_, doc, text)


def _state(name: str, state: str, store: Path | None, json_: bool) -> None:
    from tenure.campaigns import journeys
    from tenure.campaigns.consent import write_transaction

    _, ws = _open(store)
    with ws, write_transaction(ws.ops) as conn:
        doc = journeys.set_state(conn, name, state).as_dict()
    _print(json_, doc, f"{name} is {state}.")


@app.command("pause", help="""Pause a journey: nobody enters or moves on until it is resumed.

Example:

    tenure journey pause win-back
""")
def pause_command(name: NameArg, store: StoreOption = None, json_: JsonOption = False) -> None:
    _state(name, "paused", store, json_)


@app.command("resume", help="""Resume a paused journey.

Example:

    tenure journey resume win-back
""")
def resume_command(name: NameArg, store: StoreOption = None, json_: JsonOption = False) -> None:
    _state(name, "active", store, json_)
