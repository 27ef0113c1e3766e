"""The ``tenure`` Typer application and its entry point."""

from __future__ import annotations

import typer

from tenure._version import __version__
from tenure.cli import accounts as accounts_cmd  # also adds its commands to tenure user
from tenure.cli import campaign as campaign_cmd
from tenure.cli import campaign_send as campaign_send_cmd
from tenure.cli import cohorts as cohorts_cmd
from tenure.cli import consent as consent_cmd
from tenure.cli import demo as demo_cmd
from tenure.cli import goal as goal_cmd
from tenure.cli import ingest as ingest_cmd
from tenure.cli import journey as journey_cmd
from tenure.cli import loyalty as loyalty_cmd
from tenure.cli import metrics as metrics_cmd
from tenure.cli import predict as predict_cmd
from tenure.cli import report as report_cmd
from tenure.cli import segments as segments_cmd
from tenure.cli import store as store_cmd
from tenure.cli import web as web_cmd

app = typer.Typer(
    name="tenure",
    help="tenure: customer retention numbers you can trust.\n\n"
    "Example:\n\n    tenure demo\n\n    tenure ingest orders orders.csv --json",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        print(f"tenure {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """tenure: customer retention numbers you can trust."""


app.command("ingest", help=ingest_cmd.HELP)(ingest_cmd.ingest)
app.command("demo", help=demo_cmd.HELP)(demo_cmd.demo)
app.command("metrics", help=metrics_cmd.HELP)(metrics_cmd.metrics)
app.command("cohorts", help=cohorts_cmd.HELP)(cohorts_cmd.cohorts)
app.command("segments", help=segments_cmd.HELP)(segments_cmd.segments)
app.command("fit", help=predict_cmd.FIT_HELP)(predict_cmd.fit)
app.command("predict", help=predict_cmd.PREDICT_HELP)(predict_cmd.predict)
app.command("fits", help=predict_cmd.FITS_HELP)(predict_cmd.fits)
app.command("report", help=report_cmd.HELP)(report_cmd.report)
app.add_typer(goal_cmd.app, name="goal", help=goal_cmd.HELP)
app.add_typer(loyalty_cmd.app, name="loyalty", help=loyalty_cmd.HELP)
app.command("status", help=store_cmd.STATUS_HELP)(store_cmd.status)
app.command("runs", help=store_cmd.RUNS_HELP)(store_cmd.runs)
app.command("migrate", help=store_cmd.MIGRATE_HELP)(store_cmd.migrate)
app.command("serve", help=web_cmd.SERVE_HELP)(web_cmd.serve)
app.add_typer(web_cmd.user_app, name="user", help=web_cmd.USER_HELP)
app.add_typer(web_cmd.apikey_app, name="apikey", help=web_cmd.APIKEY_HELP)
app.command("audit", help=accounts_cmd.AUDIT_HELP)(accounts_cmd.audit)
campaign_send_cmd.register(campaign_cmd.app)
app.add_typer(campaign_cmd.app, name="campaign", help=campaign_cmd.HELP)
app.add_typer(consent_cmd.app, name="consent", help=consent_cmd.HELP)
app.add_typer(journey_cmd.app, name="journey", help=journey_cmd.HELP)


def only(name: str) -> typer.Typer:
    """``app`` with only its command or group ``name`` (``app`` itself when
    it has none of that name): Typer builds the parser of every command it
    holds before it runs one, a thirtieth of a second of each command's
    start for the thirty-odd of them, where the one run is all it needs.
    Its usage lines, help and errors are those of the whole ``app``."""
    import copy

    commands = [c for c in app.registered_commands if c.name == name]
    groups = [g for g in app.registered_groups if g.name == name]
    if not commands and not groups:
        return app
    narrow = copy.copy(app)
    narrow.registered_commands, narrow.registered_groups = commands, groups
    return narrow


def main() -> None:
    import sys

    from tenure.cli._common import run_app

    run_app(only(sys.argv[1]) if len(sys.argv) > 1 else app)
