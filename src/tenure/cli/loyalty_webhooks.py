"""``tenure loyalty webhooks [add | remove | deliver | purge]``: the loyalty
program's outgoing webhooks, thin over :mod:`tenure.loyalty.webhooks`."""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer

from tenure.cli._common import JsonOption, StoreOption, emit_json, engine_settings, out_console
from tenure.cli.tables import Col, print_table

HELP = """Outgoing webhooks: earnings, redemptions, tier changes and points about
to expire, signed and retried. Without a subcommand: the endpoints, their
deliveries, and those that failed.

Example:

    tenure loyalty webhooks add https://crm.example/hooks/tenure

    tenure loyalty webhooks --json
"""

app = typer.Typer(help=HELP, invoke_without_command=True, rich_markup_mode=None)


def _open(store):
    from tenure.store.workspace import Workspace

    settings = engine_settings(store)
    return settings, Workspace.open(settings, create=False)


@app.callback()
def show(ctx: typer.Context, store: StoreOption = None, json_: JsonOption = False) -> None:
    if ctx.invoked_subcommand is not None:
        return
    from tenure.loyalty import webhooks

    settings, ws = _open(store)
    with ws:
        doc = webhooks.report(ws.ops, settings)
    if json_:
        emit_json(doc)
        return
    if not doc["endpoints"]:
        out_console(markup=False).print("No webhook endpoints. Add one: tenure loyalty webhooks add URL")
        return
    console = out_console(markup=False)
    print_table(
        console,
        [Col("endpoint", False), Col("from", False), Col("delivered"), Col("pending"),
         Col("failed")],
        [[e["url"], e["origin"], str(e["delivered"]), str(e["pending"]), str(e["failed"])]
         for e in doc["endpoints"]],
        title="Loyalty webhooks",
    )  # fmt: skip
    if doc["failed"]:
        print_table(
            console,
            [Col("event", False), Col("type", False), Col("customer", False),
             Col("endpoint", False), Col("attempts"), Col("error", False, 1),
             Col("failed at (UTC)", False, 2)],
            [[f["event_id"], f["type"], f["customer_id"], f["url"], str(f["attempts"]),
              f["last_error"] or "", str(f["done_at"])[:16].replace("T", " ")]
             for f in doc["failed"]],
            title=f"Failed deliveries (after {doc['max_attempts']} attempts)",
        )  # fmt: skip


ADD_HELP = """Send the loyalty events to URL (http or https) from now on, signed with
a secret of its own, printed here (and again by running add once more).

Example:

    tenure loyalty webhooks add https://crm.example/hooks/tenure --json
"""


@app.command("add", help=ADD_HELP)
def add(
    url: Annotated[str, typer.Argument(help="The endpoint, http:// or https://.")],
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure.loyalty import webhooks

    settings, ws = _open(store)
    with ws:
        doc = webhooks.add(ws.ops, settings, url)
    if json_:
        emit_json(doc)
        return
    said = "Added" if doc["added"] else "Already declared:"
    out_console(markup=False).print(f"{said} {doc['url']}\nSigning secret: {doc['secret']}", markup=False)


REMOVE_HELP = """Stop sending to an endpoint added with `add`; its pending deliveries
are marked failed.

Example:

    tenure loyalty webhooks remove https://crm.example/hooks/tenure
"""


@app.command("remove", help=REMOVE_HELP)
def remove(
    url: Annotated[str, typer.Argument(help="The endpoint, as added.")],
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure.loyalty import webhooks

    settings, ws = _open(store)
    with ws:
        doc = webhooks.remove(ws.ops, settings, url)
    if json_:
        emit_json(doc)
        return
    out_console(markup=False).print(f"Removed {doc['url']}; {doc['pending_dropped']} pending delivery(ies) "
                        "marked failed.", markup=False)  # fmt: skip


DELIVER_HELP = """Deliver the pending webhook events: with --once one pass, else a pass
every --every seconds until stopped (Ctrl-C). `tenure serve` also
delivers, every 5 seconds, when endpoints are declared.

Example:

    tenure loyalty webhooks deliver --once --json
"""


@app.command("deliver", help=DELIVER_HELP)
def deliver(
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit.")] = False,
    every: Annotated[float, typer.Option("--every", min=0.5, help="Seconds between passes.")] = 5.0,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure.loyalty import webhooks

    settings, ws = _open(store)
    with ws:
        while True:
            doc = webhooks.deliver(ws.ops, settings)
            if json_:
                emit_json(doc)
            elif once or any(doc[k] for k in ("delivered", "retrying", "failed")):
                out_console(markup=False).print(
                    f"Delivered {doc['delivered']}, to retry {doc['retrying']}, failed "
                    f"{doc['failed']}; {doc['new_events']} new event(s), "
                    f"{doc['expiring_events']} about expiring points.", markup=False,
                )  # fmt: skip
            if once:
                return
            sys.stdout.flush()
            time.sleep(every)  # the pace of a worker, not a wait for a fault


PURGE_HELP = """Delete the webhook events whose every delivery is done (delivered, or
failed for good) more than --older-than days ago (default: the
[loyalty] table's webhook_retention_days, 30), with their deliveries.
Events still to deliver, or waiting for an endpoint, are never deleted.
`tenure serve` does the same once an hour.

Example:

    tenure loyalty webhooks purge --older-than 90 --json
"""


@app.command("purge", help=PURGE_HELP)
def purge(
    older_than: Annotated[
        float | None,
        typer.Option(
            "--older-than",
            min=0,
            metavar="DAYS",
            help="Keep what was done within this many days (0: delete all that is done).",
        ),
    ] = None,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure.loyalty import outbox

    settings, ws = _open(store)
    days = settings.loyalty.webhook_retention_days if older_than is None else older_than
    with ws:
        # webhook_retention_days = 0 keeps events for ever, unless asked here
        kept = older_than is None and not days
        doc = ({"older_than_days": None, "events": 0, "deliveries": 0} if kept
               else outbox.purge(ws.ops, days))  # fmt: skip
    if json_:
        emit_json(doc)
    elif kept:
        out_console(markup=False).print(
            "webhook_retention_days is 0 in [loyalty]: events are kept. Give --older-than "
            "DAYS to delete those done before.", markup=False)  # fmt: skip
    else:
        out_console(markup=False).print(
            f"Deleted {doc['events']} webhook event(s) and {doc['deliveries']} delivery(ies) "
            f"done before {doc['cutoff'][:19].replace('T', ' ')} UTC.", markup=False)  # fmt: skip
