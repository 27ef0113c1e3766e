"""``tenure campaign list | create | launch | pause | status``: campaigns on
the operational store; thin over :mod:`tenure.campaigns.definitions`,
:mod:`~tenure.campaigns.launch` and :mod:`~tenure.campaigns.launch_status`.

:func:`register` adds the commands to a ``campaign`` command group.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from tenure.cli._common import JsonOption, StoreOption, emit_json, engine_settings, out_console
from tenure.cli.tables import Col, WideOption, print_table

LIST_HELP = """The campaigns, their state, audience and holdout.

Example:

    tenure campaign list --json
"""

CREATE_HELP = """Create a campaign (in draft) from flags or a TOML file. The audience is
one or more criteria that must all hold: lapsed:DAYS, first_order:DAYS,
churn_risk:θ, p_alive:θ, overdue:DAYS, segment:rfm:NAME,
segment:business:NAME. The holdout is drawn among the customers outside
the workspace's global control.

Examples:

    tenure campaign create win-back --audience lapsed:120 --template templates/win-back --holdout 0.1

    tenure campaign create --file campaigns/win-back.toml --json
"""

LAUNCH_HELP = """Evaluate the audience, assign every eligible customer to the treatment,
the holdout or the global control, and queue the treatment's messages in
the outbox. With --plan, only show the audience's arms and the minimum
detectable effect, writing nothing. A launch repeated (after a crash, or
of a paused campaign) queues what is left, never a message twice.

Examples:

    tenure campaign launch win-back --plan

    tenure campaign launch win-back --json
"""

PAUSE_HELP = """Stop queueing a campaign's messages and hold those already queued: the
sender leaves them until `tenure campaign launch NAME` resumes the campaign.

Example:

    tenure campaign pause win-back
"""

STATUS_HELP = """A campaign's arms and what became of every assigned customer: held out,
queued, sent, blocked or failed with the reason, or without a message and
why. --measure adds the lift of the treatment over the holdout, as
`tenure campaign measure` computes it; --export writes the assignments
file that command reads.

Examples:

    tenure campaign status win-back

    tenure campaign status win-back --measure --window 30 --json
"""

AUDIENCE_HELP = """A campaign's audience as it is now, one row per customer with the
predicted CLV, the churn risk and the expected value of contacting them
(uplift × value: empty until an uplift model is kept), sorted highest
first; --export writes every row to a CSV file.

Examples:

    tenure campaign audience win-back --sort churn_risk --limit 20

    tenure campaign audience win-back --export win-back-audience.csv --json
"""

NameArg = Annotated[str, typer.Argument(help="The campaign's name.")]


def _open(store: Path | None):
    from tenure.store.workspace import Workspace

    settings = engine_settings(store)
    return settings, Workspace.open(settings, create=False)


def list_command(store: StoreOption = None, json_: JsonOption = False) -> None:
    from tenure.campaigns.definitions import all_campaigns

    _, ws = _open(store)
    with ws, ws.ops.engine.connect() as conn:
        found = [c.as_dict() for c in all_campaigns(conn)]
    if json_:
        emit_json({"campaigns": found})
        return
    out = out_console(markup=False)
    if not found:
        out.print("No campaigns yet. Create one: tenure campaign create NAME --audience "
                  "lapsed:90 --template DIR")  # fmt: skip
        return
    cols = [Col("campaign", numeric=False), Col("state", numeric=False),
            Col("channel", numeric=False, rank=1), Col("audience", numeric=False),
            Col("holdout")]  # fmt: skip
    rows = [[c["name"], c["state"], c["channel"], " & ".join(c["audience"]),
             f"{c['holdout'] * 100:g} %"] for c in found]  # fmt: skip
    print_table(out, cols, rows, wide=False)


def create_command(
    name: Annotated[str | None, typer.Argument(help="The campaign's name (or in --file).")] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="A campaign's TOML file.", show_default=False)
    ] = None,
    audience: Annotated[
        list[str] | None,
        typer.Option("--audience", help="A criterion, e.g. lapsed:90; repeat for several, "
                     "all of which must hold.", show_default=False),
    ] = None,  # fmt: skip
    template: Annotated[
        Path | None, typer.Option(help="The template's folder.", show_default=False)
    ] = None,
    holdout: Annotated[str, typer.Option(help="Share held out, e.g. 0.1 or 10%.")] = "0.1",
    channel: Annotated[str, typer.Option(help="email, sms, push, webhook, ...")] = "email",
    purpose: Annotated[str, typer.Option(help="What consent is asked for.")] = "marketing",
    priority: Annotated[str, typer.Option(help="Its place in the contact budget.")] = "normal",
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure.campaigns import definitions
    from tenure.campaigns.consent import write_transaction
    from tenure.errors import UsageError

    if file is not None:
        if name or audience or template:
            raise UsageError("give either --file or the name, --audience and --template.",
                             hint="The file holds them all.")  # fmt: skip
        values = definitions.spec_from_file(file)
    else:
        if not name or not template:
            raise UsageError("a campaign needs a name and --template (or --file).",
                             hint="tenure campaign create win-back --audience lapsed:90 "
                             "--template templates/win-back")  # fmt: skip
        values = definitions.spec(name=name, template=template, audience=audience or [],
                                  holdout=holdout, channel=channel, purpose=purpose,
                                  priority=priority)  # fmt: skip
    _, ws = _open(store)
    with ws, write_transaction(ws.ops) as conn:
        campaign = definitions.create(conn, values)
    doc = campaign.as_dict()
    if json_:
        emit_json(doc)
        return
    out = out_console(markup=False)
    out.print(f"Created {doc['name']} (draft): {' & '.join(doc['audience'])}, holdout "
              f"{doc['holdout'] * 100:g} %.")  # fmt: skip
    out.print(f"Next: tenure campaign launch {doc['name']} --plan")


def _print_plan(out: Any, doc: dict[str, Any]) -> None:
    arms, p = doc["arms"], doc["power"]
    out.print(f"{doc['campaign']}: {doc['eligible']:,} eligible as of {doc['as_of']}: "
              f"treatment {arms['treatment']:,}, holdout {arms['holdout']:,}, global "
              f"control {arms['global_control']:,}.")  # fmt: skip
    if p["mde_absolute"] is None:
        out.print("No holdout or no treatment: the lift cannot be measured.")
    else:
        out.print(f"At a {p['baseline'] * 100:g} % conversion rate, a lift of "
                  f"{p['mde_absolute'] * 100:.2f} points ({p['mde_relative'] * 100:.0f} %) or "
                  "more is found 80 % of the time (5 % level).")  # fmt: skip


def launch_command(
    name: NameArg,
    plan_only: Annotated[bool, typer.Option("--plan", help="Show the arms and the minimum "
                                            "detectable effect; write nothing.")] = False,
    baseline: Annotated[float, typer.Option(help="The conversion rate assumed for the "
                                            "minimum detectable effect.")] = 0.05,
    batch: Annotated[int, typer.Option(help="Messages queued per transaction.")] = 5000,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:  # fmt: skip
    from tenure.campaigns.launch import launch, plan

    settings, ws = _open(store)
    with ws:
        if plan_only:
            doc = {"plan": plan(settings, ws.ops, name, baseline=baseline)}
        else:
            doc = launch(settings, ws.ops, name, batch=max(1, batch), baseline=baseline)
    if json_:
        emit_json(doc)
        return
    out = out_console(markup=False)
    if plan_only:
        _print_plan(out, doc["plan"])
        return
    if doc["assigned"]:
        _print_plan(out, doc["assigned"])
    new = "assigned now" if doc["assigned"] else "assigned before"
    out.print(f"{name}: {new}; {doc['queued']:,} messages queued, {doc['skipped']:,} "
              f"without an address; now {doc['state']}.")  # fmt: skip


def pause_command(name: NameArg, store: StoreOption = None, json_: JsonOption = False) -> None:
    from tenure.campaigns.launch import pause

    _, ws = _open(store)
    with ws:
        doc = pause(ws.ops, name)
    if json_:
        emit_json(doc)
        return
    out_console(markup=False).print(f"{name} paused. Resume: tenure campaign launch {name}")


def status_command(
    name: NameArg,
    measure: Annotated[bool, typer.Option("--measure", help="Add the lift over the holdout.")] = False,
    window: Annotated[int, typer.Option(help="Days after assignment to measure.")] = 30,
    metric: Annotated[str, typer.Option(help="conversion, revenue, orders, visits or "
                                        "time_to_order.")] = "conversion",
    export: Annotated[Path | None, typer.Option(help="Write the assignments file "
                                                "(customer_id, group, assigned_at).",
                                                show_default=False)] = None,
    wide: WideOption = False,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:  # fmt: skip
    from tenure.campaigns import launch_status

    settings, ws = _open(store)
    with ws:
        doc = launch_status.status(ws.ops, name)
        if export is not None:
            doc["exported"] = {"file": str(export),
                               "rows": launch_status.export_assignments(ws.ops, name, export)}
        if measure:
            doc["measure"] = launch_status.measure(settings, ws.ops, name, window=window,
                                                   metric=metric)  # fmt: skip
    if json_:
        emit_json(doc)
        return
    _print_status(doc, wide)


def _print_status(doc: dict[str, Any], wide: bool) -> None:
    out = out_console(markup=False)
    c, arms, fates = doc["campaign"], doc["arms"], doc["fates"]
    out.print(f"{c['name']} ({c['state']}): {doc['assigned']:,} assigned"
              + (f" at {c['launched_at'][:16]}" if c["launched_at"] else "") + ".")  # fmt: skip
    rows = [["treatment", f"{arms['treatment']:,}"], ["holdout", f"{arms['holdout']:,}"],
            ["global control", f"{arms['global_control']:,}"]]  # fmt: skip
    print_table(out, [Col("arm", numeric=False), Col("customers")], rows, wide=wide)
    labels = {"held_out": "held out (holdout, global control)", "not_queued": "not queued yet",
              "pending": "queued", "sending": "being sent",
              "held": "queued, held by the pause"}  # fmt: skip
    fate_rows = [[labels.get(f, f), f"{fates[f]:,}"]
                 for f in ("held_out", "not_queued", "pending", "held", "sending", "sent", "blocked",
                           "failed", "expired") if fates.get(f)]  # fmt: skip
    fate_rows += [[f"no message: {why}", f"{n:,}"] for why, n in fates["no_message"].items()]
    for state, reasons in doc["not_sent"].items():
        fate_rows += [[f"{state}: {why}"[:60], f"{n:,}"] for why, n in reasons.items()]
    print_table(out, [Col("what became of them", numeric=False), Col("customers")], fate_rows,
                wide=wide)  # fmt: skip
    out.print("Every assigned customer is accounted for." if doc["accounted"] else
              "Not every assigned customer is accounted for: a launch may be running.")  # fmt: skip
    if "exported" in doc:
        out.print(f"{doc['exported']['rows']:,} assignments written to:")
        out.print(doc["exported"]["file"], soft_wrap=True)
    if "measure" in doc:
        from tenure.cli.campaign import _print

        _print(doc["measure"], wide)


def audience_command(
    name: NameArg,
    sort: Annotated[str, typer.Option(help="clv, churn_risk, expected_value or "
                                      "customer_id.")] = "clv",
    limit: Annotated[int, typer.Option(help="Rows shown.", min=0)] = 20,
    export: Annotated[Path | None, typer.Option(help="Write every row to this CSV file.",
                                                show_default=False)] = None,
    wide: WideOption = False,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:  # fmt: skip
    from tenure.campaigns import audiences, definitions

    settings, ws = _open(store)
    with ws, ws.ops.engine.connect() as conn:
        campaign = definitions.get(conn, name)
    doc = audiences.listing(settings, audiences.from_texts(campaign.audience), sort=sort,
                            limit=limit, export=None if export is None else str(export))  # fmt: skip
    if json_:
        emit_json({"campaign": name, **doc})
        return
    out = out_console(markup=False)
    out.print(f"{name}: {doc['customers']:,} customers as of {doc['as_of']}, by {sort}.")

    def num(x: Any, digits: int) -> str:
        return "—" if x is None else f"{x:,.{digits}f}"

    rows = [[r["customer_id"], r["name"] or "", num(r["clv"], 2), num(r["churn_risk"], 3),
             num(r["expected_value"], 2)] for r in doc["rows"]]  # fmt: skip
    cols = [Col("customer", numeric=False), Col("name", numeric=False, rank=2),
            Col(f"CLV ({doc['currency']})"), Col("churn risk"),
            Col("expected value", rank=1)]  # fmt: skip
    print_table(out, cols, rows, wide=wide)
    if doc["exported"]:
        out.print(f"Every row written to {doc['exported']}", soft_wrap=True)


def register(group: typer.Typer) -> None:
    """Add ``list``, ``create``, ``audience``, ``launch``, ``pause`` and
    ``status`` to ``group``."""
    group.command("list", help=LIST_HELP)(list_command)
    group.command("create", help=CREATE_HELP)(create_command)
    group.command("audience", help=AUDIENCE_HELP)(audience_command)
    group.command("launch", help=LAUNCH_HELP)(launch_command)
    group.command("pause", help=PAUSE_HELP)(pause_command)
    group.command("status", help=STATUS_HELP)(status_command)
