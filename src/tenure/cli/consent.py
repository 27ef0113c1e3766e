"""``tenure consent ...``: the consent ledger, the suppression list, bounces
and complaints, the send-time gate and unsubscribe links, thin over
:mod:`tenure.campaigns`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from tenure.cli._common import JsonOption, StoreOption, emit_json, engine_settings, out_console

HELP = """Who may be sent what: consent per channel and purpose, the suppression
list, bounces and complaints, and the sending rules of [campaigns] in
tenure.toml (docs/campaigns.md).

Example:

    tenure consent set C1 email marketing --grant

    tenure consent show C1 --json
"""

app = typer.Typer(help=HELP, no_args_is_help=True, rich_markup_mode=None)

Customer = Annotated[str, typer.Argument(help="The customer's id, as ingested.")]
Channel = Annotated[
    str, typer.Argument(help="email, sms, push, webhook, or a channel of your own.")
]
Purpose = Annotated[str, typer.Argument(help="marketing (default), transactional, or your own.")]
AtOption = Annotated[
    str | None,
    typer.Option("--at", help="When it happened, YYYY-MM-DD[THH:MM[+HH:MM]] (default: now; "
                 "without an offset: UTC).", show_default=False),
]  # fmt: skip
ChannelOption = Annotated[str, typer.Option("--channel", help="The channel of the address.")]
CustomerOption = Annotated[
    str | None,
    typer.Option("--customer", help="The customer the address is theirs.", show_default=False),
]


def _open(store):
    from tenure.store.workspace import Workspace

    settings = engine_settings(store)
    return settings, Workspace.open(settings, create=False)


def _when(text: str | None, option: str = "--at") -> datetime | None:
    if text is None:
        return None
    from tenure.campaigns.consent import utc
    from tenure.errors import InputError

    try:
        return utc(datetime.fromisoformat(text))
    except ValueError:
        raise InputError(f"{option} {text!r} is not a date or date and time.",
                         hint=f"Write it as {option} 2026-03-01 or {option} 2026-03-01T09:30+01:00.",
                         value=text) from None  # fmt: skip


def _say(text: str) -> None:
    out_console(markup=False).print(text, markup=False)


SET_HELP = """Record that a customer gave (--grant) or withdrew (--withdraw) consent
for a purpose on a channel. Appended to the ledger; the latest event is
the state. With --key, a retry records nothing more.

Example:

    tenure consent set C1 email marketing --withdraw --source cli --key req-42
"""


@app.command("set", help=SET_HELP)
def set_(
    customer_id: Customer, channel: Channel, purpose: Purpose = "marketing",
    grant: Annotated[bool, typer.Option("--grant/--withdraw", help="Given, or withdrawn.")] = True,
    source: Annotated[str, typer.Option("--source", help="Where it came from: cli, api, import, "
                                        "preference_center...")] = "cli",
    at: AtOption = None,
    key: Annotated[str | None, typer.Option("--key", help="An idempotency key for retries.",
                                            show_default=False)] = None,
    store: StoreOption = None, json_: JsonOption = False,
) -> None:  # fmt: skip
    from tenure.campaigns import consent

    _, ws = _open(store)
    with ws:
        event, replayed = consent.record(ws.ops, customer_id, channel, purpose, grant, source=source,
                                         at=_when(at), key=key)  # fmt: skip
    doc = {"event": event.doc(), "replayed": replayed}
    if json_:
        emit_json(doc)
        return
    state = "granted" if event.granted else "withdrawn"
    again = " (recorded before under this key)" if replayed else ""
    _say(f"{event.customer_id}: {event.purpose} consent for {event.channel} {state} at "
         f"{event.at.isoformat()}{again}.")  # fmt: skip


SHOW_HELP = """A customer's consents: the state per channel and purpose, with the
source and moment of each; --history lists every event.

Example:

    tenure consent show C1 --history --json
"""


@app.command("show", help=SHOW_HELP)
def show(
    customer_id: Customer,
    history: Annotated[bool, typer.Option("--history", help="Every event, oldest first.")] = False,
    store: StoreOption = None, json_: JsonOption = False,
) -> None:  # fmt: skip
    from tenure.campaigns import consent

    _, ws = _open(store)
    with ws:
        doc = (
            consent.history(ws.ops, customer_id) if history else consent.state(ws.ops, customer_id)
        )
    if json_:
        emit_json(doc)
        return
    rows = doc["events"] if history else doc["consents"]
    if not rows:
        _say(f"No consent recorded for {doc['customer_id']}.")
        return
    for e in rows:
        _say(
            f"{e['channel']:<10} {e['purpose']:<14} {e['state']:<10} {e['at'][:19]}  {e['source']}"
        )


IMPORT_HELP = """Import consent events from a CSV file with the columns customer_id,
channel, state (granted/withdrawn, yes/no, opt_in/opt_out) and at, and
optionally purpose and source. Rejected rows go to the quarantine folder
with their reasons; importing a file twice records it once. With
--from-customers instead: the consent_email, consent_sms and consent_push
columns of the customers ingested (tenure ingest customers), what changed
since the last time; an unchanged "yes" never undoes an unsubscribe.

Example:

    tenure consent import consents.csv --max-errors 100 --json

    tenure consent import --from-customers --json
"""


@app.command("import", help=IMPORT_HELP)
def import_(
    path: Annotated[Path | None, typer.Argument(help="The CSV file.", show_default=False)] = None,
    from_customers: Annotated[bool, typer.Option("--from-customers", help="Take the consent "
                              "columns of the ingested customers instead of a file.")] = False,
    max_errors: Annotated[int | None, typer.Option("--max-errors", min=0, help="Record nothing when "
                          "more rows than this are rejected.", show_default=False)] = None,
    store: StoreOption = None, json_: JsonOption = False,
) -> None:  # fmt: skip
    from tenure.campaigns.consent_import import import_file
    from tenure.errors import InputError

    if (path is None) == (not from_customers):
        raise InputError("give either a consent FILE or --from-customers.",
                         hint="tenure consent import consents.csv, or tenure consent import "
                         "--from-customers after tenure ingest customers FILE.")  # fmt: skip
    settings, ws = _open(store)
    if from_customers:
        from tenure.campaigns.consent_ingest import sync_from_customers

        with ws:
            counts = sync_from_customers(ws)
        if json_:
            emit_json(counts)
            return
        _say(f"{counts['customers']} customers with consent columns: {counts['recorded']} "
             f"change(s) recorded, {counts['unchanged']} unchanged, {counts['kept_withdrawn']} "
             "not granted again over a later withdrawal.")  # fmt: skip
        return
    assert path is not None
    with ws:
        result = import_file(ws.ops, path, timezone=settings.timezone,
                             quarantine_dir=settings.quarantine_dir, max_errors=max_errors)  # fmt: skip
    doc = result.doc()
    if json_:
        emit_json(doc)
        return
    _say(f"Read {doc['read']} rows from {path}: {doc['accepted']} recorded, {doc['duplicates']} "
         f"already recorded, {doc['rejected']} rejected.")  # fmt: skip
    for e in doc["first_errors"]:
        _say(f"  line {e['line']}, column '{e['column']}': {e['value']!r} {e['reason']}")
    if doc["quarantine"]:
        _say(f"Rejected rows with their reasons: {doc['quarantine']}")


SUPPRESS_HELP = """Put an address (or a customer, with --customer) on the suppression list
of a channel (or of every channel, with --channel any): nothing is sent to
it until `tenure consent unsuppress ID`.

Example:

    tenure consent suppress ann@example.com --channel email --json
"""


@app.command("suppress", help=SUPPRESS_HELP)
def suppress(
    address: Annotated[str | None, typer.Argument(help="The address sent to.", show_default=False)] = None,
    channel: Annotated[str, typer.Option("--channel", help="A channel, or any.")] = "email",
    customer_id: CustomerOption = None,
    detail: Annotated[str | None, typer.Option("--detail", help="Why, in words.", show_default=False)] = None,
    store: StoreOption = None, json_: JsonOption = False,
) -> None:  # fmt: skip
    from tenure.campaigns import suppression

    _, ws = _open(store)
    with ws:
        doc = suppression.suppress(ws.ops, None if channel == "any" else channel, address=address,
                                   customer_id=customer_id, detail=detail)  # fmt: skip
    if json_:
        emit_json(doc)
        return
    row = doc["suppression"]
    said = "Suppressed" if doc["added"] else "Already suppressed"
    _say(f"{said}: {row['address'] or row['customer_id']} on {row['channel'] or 'every channel'} "
         f"(id {row['id']}).")  # fmt: skip


UNSUPPRESS_HELP = """Lift a suppression by its id (see `tenure consent suppressions`); its row
is kept, marked lifted.

Example:

    tenure consent unsuppress 12
"""


@app.command("unsuppress", help=UNSUPPRESS_HELP)
def unsuppress(
    suppression_id: Annotated[int, typer.Argument(help="The suppression's id.")],
    store: StoreOption = None, json_: JsonOption = False,
) -> None:  # fmt: skip
    from tenure.campaigns import suppression

    _, ws = _open(store)
    with ws:
        doc = suppression.lift(ws.ops, suppression_id)
    if json_:
        emit_json(doc)
        return
    _say(f"Lifted suppression {suppression_id}.")


LIST_HELP = """The suppression list: addresses and customers not sent to, with the reason
(hard_bounce, soft_bounces, complaint, manual) and source.

Example:

    tenure consent suppressions --json
"""


@app.command("suppressions", help=LIST_HELP)
def suppressions(
    lifted: Annotated[bool, typer.Option("--lifted", help="Also those lifted.")] = False,
    store: StoreOption = None, json_: JsonOption = False,
) -> None:  # fmt: skip
    from tenure.campaigns import suppression

    _, ws = _open(store)
    with ws:
        doc = suppression.listing(ws.ops, lifted=lifted)
    if json_:
        emit_json(doc)
        return
    if not doc["suppressions"]:
        _say("The suppression list is empty.")
    for r in doc["suppressions"]:
        _say(f"{r['id']:>6} {r['channel'] or 'any':<8} {r['address'] or r['customer_id']:<32} "
             f"{r['reason']:<13} {r['source']:<10} {r['at'][:19]}")  # fmt: skip


BOUNCE_HELP = """Record a bounce: --hard suppresses the address at once; --soft after
soft_bounce_limit of them within soft_bounce_days ([campaigns.sending]).

Example:

    tenure consent bounce ann@example.com --hard --json
"""


@app.command("bounce", help=BOUNCE_HELP)
def bounce(
    address: Annotated[str, typer.Argument(help="The address that bounced.")],
    hard: Annotated[bool, typer.Option("--hard/--soft", help="A hard or a soft bounce.")] = True,
    channel: ChannelOption = "email", customer_id: CustomerOption = None, at: AtOption = None,
    store: StoreOption = None, json_: JsonOption = False,
) -> None:  # fmt: skip
    from tenure.campaigns import suppression
    from tenure.campaigns.consent_settings import SendingRules

    settings, ws = _open(store)
    with ws:
        doc = suppression.bounce(ws.ops, channel, address, "hard" if hard else "soft",
                                 customer_id=customer_id, source="cli", at=_when(at),
                                 rules=SendingRules.from_settings(settings))  # fmt: skip
    if json_:
        emit_json(doc)
        return
    _say(f"Recorded a {doc['kind']} bounce of {doc['address']}"
         + (f"; suppressed ({doc['suppression']['reason']})." if doc["suppression"] else "."))  # fmt: skip


COMPLAINT_HELP = """Record a complaint (a message marked as spam): the address is suppressed
and, with --customer, their marketing consent on the channel withdrawn.

Example:

    tenure consent complaint ann@example.com --customer C1 --json
"""


@app.command("complaint", help=COMPLAINT_HELP)
def complaint(
    address: Annotated[str, typer.Argument(help="The address that complained.")],
    channel: ChannelOption = "email", customer_id: CustomerOption = None, at: AtOption = None,
    store: StoreOption = None, json_: JsonOption = False,
) -> None:  # fmt: skip
    from tenure.campaigns import suppression

    _, ws = _open(store)
    with ws:
        doc = suppression.complaint(ws.ops, channel, address, customer_id=customer_id, source="cli",
                                    at=_when(at))  # fmt: skip
    if json_:
        emit_json(doc)
        return
    _say(f"Recorded a complaint: {doc['suppression']['address']} suppressed"
         + (", marketing consent withdrawn." if doc["consent"] else "."))  # fmt: skip


CHECK_HELP = """Ask the send-time gate whether a message may go now (or --at a moment):
consent, suppression, frequency caps, the contact budget and quiet hours,
as the sender asks it.

Example:

    tenure consent check C1 email marketing --address ann@example.com --timezone Europe/Berlin --json
"""


@app.command("check", help=CHECK_HELP)
def check(
    customer_id: Customer, channel: Channel, purpose: Purpose = "marketing",
    address: Annotated[str | None, typer.Option("--address", help="The address it would go to.",
                                                show_default=False)] = None,
    timezone: Annotated[str | None, typer.Option("--timezone", help="The customer's time zone.",
                                                 show_default=False)] = None,
    priority: Annotated[str | None, typer.Option("--priority", help="The campaign's priority.",
                                                 show_default=False)] = None,
    at: AtOption = None, store: StoreOption = None, json_: JsonOption = False,
) -> None:  # fmt: skip
    from tenure.campaigns.consent import now
    from tenure.campaigns.consent_settings import SendingRules
    from tenure.campaigns.gate import may_contact

    settings, ws = _open(store)
    rules = SendingRules.from_settings(settings)
    with ws, ws.ops.engine.connect() as conn:
        decision = may_contact(conn, customer_id, channel, purpose, _when(at) or now(), rules=rules,
                               address=address, timezone=timezone, priority=priority)  # fmt: skip
    doc: dict[str, Any] = {"customer_id": customer_id, "channel": channel, "purpose": purpose,
                           **decision.doc()}  # fmt: skip
    if json_:
        emit_json(doc)
        return
    if decision.allowed:
        _say("Allowed.")
        return
    retry = f" Retry at {doc['retry_at']}." if doc["retry_at"] else ""
    _say(f"Not now: {decision.reason}: {decision.detail}.{retry}")


LINK_HELP = """A one-click unsubscribe link for a customer (RFC 8058) and the
List-Unsubscribe headers a message carries it in; signed with the
workspace's secret, valid unsubscribe_days ([campaigns.sending]).

Example:

    tenure consent link C1 email marketing --json
"""


@app.command("link", help=LINK_HELP)
def link(
    customer_id: Customer, channel: Channel, purpose: Purpose = "marketing",
    store: StoreOption = None, json_: JsonOption = False,
) -> None:  # fmt: skip
    from tenure.campaigns import consent_unsubscribe as unsub
    from tenure.campaigns.consent_settings import SendingRules

    settings, ws = _open(store)
    with ws:
        url = unsub.link(unsub.workspace_secret(settings), SendingRules.from_settings(settings),
                         customer_id, channel, purpose)  # fmt: skip
    doc = {"url": url, "headers": unsub.headers(url)}
    if json_:
        emit_json(doc)
        return
    for name, value in doc["headers"].items():
        _say(f"{name}: {value}")


PURGE_HELP = """Remove the consent API's stored Idempotency-Key responses older than
--older-than hours (24 or more; the ledger's events are never removed).

Example:

    tenure consent purge --older-than 48 --json
"""


@app.command("purge", help=PURGE_HELP)
def purge(
    older_than: Annotated[int, typer.Option("--older-than", help="Hours, 24 or more.")] = 24,
    store: StoreOption = None, json_: JsonOption = False,
) -> None:  # fmt: skip
    from tenure.campaigns.consent_requests import purge as run

    _, ws = _open(store)
    with ws:
        removed = run(ws.ops, hours=older_than)
    if json_:
        emit_json({"removed": removed, "older_than_hours": older_than})
        return
    _say(f"Removed {removed} stored response(s) older than {older_than} hours.")
