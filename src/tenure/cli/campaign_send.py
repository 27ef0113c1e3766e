"""``tenure campaign preview | test-send | send``: a template rendered for
one customer, shown or sent to a staff address; and the outbox's due
messages sent through the configured channels with the send-time gate;
thin over :mod:`tenure.campaigns.personal`, :mod:`tenure.campaigns.sender`
and :mod:`tenure.campaigns.sending`.

:func:`register` adds the commands to a ``campaign`` command group.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from tenure.cli._common import JsonOption, StoreOption, emit_json, engine_settings, out_console

HELP = """Campaigns: their messages previewed and test-sent.

Example:

    tenure campaign preview templates/win-back C000042
"""

PREVIEW_HELP = """Render a template (a folder with LOCALE/subject.txt, body.txt and
body.html) for one customer, in their locale, without sending it: the
subject, the bodies, and the variables it was rendered from.

Example:

    tenure campaign preview templates/win-back C000042 --locale de-AT --json
"""

TEST_SEND_HELP = """Send a customer's message, as a template renders it for them, to a
staff address (never to the customer) over SMTP, and keep it with the
other messages, marked as a test. The SMTP password is read from
TENURE_SMTP_PASSWORD.

Example:

    tenure campaign test-send templates/win-back C000042 --to qa@shop.example --smtp-host smtp.shop.example --from news@shop.example
"""

TemplateArg = Annotated[
    Path, typer.Argument(help="The template's folder: one sub-folder per locale.")
]
CustomerArg = Annotated[str, typer.Argument(help="The customer's id.")]
LocaleOption = Annotated[
    str | None,
    typer.Option("--locale", help="Render in this locale (BCP 47, e.g. de-AT) instead of the "
                 "customer's own."),
]  # fmt: skip


def _open(store: Path | None):
    from tenure.store.workspace import Workspace

    settings = engine_settings(store)
    return settings, Workspace.open(settings, create=False)


def _render(settings: Any, ops: Any, template: Path, customer: str, locale: str | None):
    from tenure.campaigns.personal import preview as render_for
    from tenure.campaigns.templates import load_template

    return render_for(settings, ops, load_template(template), customer, locale=locale)


def _message_doc(customer: str, message: Any) -> dict[str, Any]:
    return {"customer_id": customer, "template": message.template, "locale": message.locale,
            "subject": message.subject, "text": message.text, "html": message.html}  # fmt: skip


def preview(
    template: TemplateArg,
    customer: CustomerArg,
    locale: LocaleOption = None,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    settings, ws = _open(store)
    with ws:
        message, variables = _render(settings, ws.ops, template, customer, locale)
    if json_:
        emit_json({**_message_doc(customer, message), "variables": variables})
        return
    console = out_console(markup=False)
    console.print(f"Template {message.template}, locale {message.locale}, for {customer}")
    console.print(f"Subject: {message.subject}\n\n{message.text}")
    if message.html is not None:
        console.print(f"\n--- HTML ---\n{message.html}")


def test_send_command(
    template: TemplateArg,
    customer: CustomerArg,
    to: Annotated[str, typer.Option("--to", help="The staff address that receives it.")],
    sender: Annotated[
        str, typer.Option("--from", envvar="TENURE_SMTP_FROM", help="The From: address.")
    ],
    host: Annotated[
        str, typer.Option("--smtp-host", envvar="TENURE_SMTP_HOST", help="The SMTP server.")
    ] = "localhost",
    port: Annotated[int, typer.Option("--smtp-port", envvar="TENURE_SMTP_PORT")] = 587,
    security: Annotated[
        str, typer.Option("--security", help="starttls (587), ssl (465) or none (localhost).")
    ] = "starttls",
    user: Annotated[
        str | None, typer.Option("--smtp-user", envvar="TENURE_SMTP_USER", help="Login name.")
    ] = None,
    locale: LocaleOption = None,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure.campaigns.channels.smtp import SmtpProvider, SmtpSettings
    from tenure.campaigns.sender import send_test
    from tenure.errors import ConfigError

    smtp = SmtpSettings(host=host, port=port, security=security, username=user,
                        password=os.environ.get("TENURE_SMTP_PASSWORD"), sender=sender)  # fmt: skip
    provider = SmtpProvider(smtp)
    settings, ws = _open(store)
    with ws:
        message, _ = _render(settings, ws.ops, template, customer, locale)
        try:
            doc = send_test(ws.ops, provider, message, to=to, customer_id=customer)
        finally:
            provider.close()
    if not doc["sent"]:
        raise ConfigError(
            f"the test message to {to} was not sent: {doc['error']}",
            hint=f"Check the SMTP server {host}:{port}, --security and the login.",
        )
    if json_:
        emit_json({**doc, **_message_doc(customer, message)})
        return
    out_console(markup=False).print(
        f"Sent {message.template} ({message.locale}) for {customer} to {to}: "
        f"{doc['provider_message_id']}"
    )


SEND_HELP = """Send the campaign messages that are due, through the channels of
[campaigns.smtp] and [campaigns.webhooks.NAME] in tenure.toml, each asked of
the send-time gate first: no consent or a suppression blocks a message for
good (with the reason); a frequency cap, the contact budget or quiet hours
postpone it to when it may go. Runs until stopped (Ctrl-C), sending what
falls due every --every seconds; --once sends what is due now and stops.
The SMTP password is read from TENURE_SMTP_PASSWORD.

Example:

    tenure campaign send --once --json
"""


def _send_line(doc: dict[str, Any]) -> str:
    line = (f"{doc['sent']} sent, {doc['blocked']} blocked, {doc['postponed']} postponed, "
            f"{doc['retrying']} to retry, {doc['failed']} failed, {doc['expired']} expired")  # fmt: skip
    if doc.get("next_due"):
        line += f"; next due {doc['next_due']}"
    return line


def send_command(
    once: Annotated[
        bool, typer.Option("--once", help="Send what is due now, then stop (for cron).")
    ] = False,
    every: Annotated[
        float, typer.Option("--every", min=1, help="Without --once: seconds between rounds.")
    ] = 60.0,
    at: Annotated[str | None, typer.Option("--at", hidden=True)] = None,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    import sys
    import time

    from tenure.campaigns.sending import send_pending
    from tenure.cli.consent import _when

    now = _when(at)
    settings, ws = _open(store)
    totals: dict[str, Any] = {}
    with ws:
        try:
            while True:
                doc = send_pending(settings, ws.ops, now=now)
                for key, value in doc.items():
                    totals[key] = totals.get(key, 0) + value if isinstance(value, int) else value
                if once:
                    break
                print(f"tenure: {doc['as_of']}: {_send_line(doc)}", file=sys.stderr, flush=True)
                time.sleep(every)
        except KeyboardInterrupt:
            print("tenure: stopped; messages claimed and not recorded are sent again by the "
                  "next round.", file=sys.stderr)  # fmt: skip
    if json_:
        emit_json(totals)
        return
    out_console(markup=False).print(_send_line(totals))


def register(group: typer.Typer) -> None:
    """Add ``preview``, ``test-send`` and ``send`` to the ``campaign`` group."""
    group.command("preview", help=PREVIEW_HELP)(preview)
    group.command("test-send", help=TEST_SEND_HELP)(test_send_command)
    group.command("send", help=SEND_HELP)(send_command)


app = typer.Typer(help=HELP, rich_markup_mode=None, no_args_is_help=True)
register(app)
