"""``tenure loyalty post``: earn the points of ingested orders."""

from __future__ import annotations

from typing import Annotated

import typer

from tenure.cli._common import JsonOption, StoreOption, emit_json, err_console, out_console

POST_HELP = """Earn the points of the orders in the store, by the earning rules of
tenure.toml ([loyalty.earning] or rules_file), and reverse those of refunded
and cancelled order lines. Each order line earns once: run it again, or
after a new ingest, and only what is new is posted. Every `tenure ingest`
of orders or order items does this for what it wrote; use this command to
catch up on orders ingested before the rules were declared. Run daily,
it also grants the birthday bonus to members whose birthday it is in their
time zone.

Example:

    tenure loyalty post --since 2026-01-01 --json
"""


JOIN_HELP = """Enrol a customer in the loyalty program, with the sign-up bonus the
earning rules declare ([loyalty.earning.bonuses] sign_up), granted once
per member: running it again enrols no one twice and grants nothing more.
(A customer also becomes a member with their first points.)

Example:

    tenure loyalty join C1042 --json
"""


def register(app: typer.Typer) -> None:
    app.command("post", help=POST_HELP)(post)
    app.command("join", help=JOIN_HELP)(join)


def join(
    customer: Annotated[str, typer.Argument(help="The customer's id.", show_default=False)],
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure.cli._common import engine_settings
    from tenure.loyalty.bonus import join as enrol
    from tenure.store.workspace import Workspace

    settings = engine_settings(store)
    with Workspace.open(settings) as ws:
        doc = enrol(ws.ops, customer, rules=ws.settings.loyalty.earning)
    if json_:
        emit_json(doc)
        return
    text = (f"{doc['customer_id']} joined the program." if doc["new"]
            else f"{doc['customer_id']} was a member already (since {doc['joined_at'][:10]}).")  # fmt: skip
    bonus = doc["bonus"]
    if bonus is not None and not bonus["replayed"]:
        text += f" Sign-up bonus: {bonus['points']:,} points (entry {bonus['entry_id']})."
    out_console(markup=False).print(text)


def post(
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Only orders placed on or after this day (YYYY-MM-DD).",
            show_default=False,
        ),
    ] = None,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure.cli._common import engine_settings
    from tenure.config import parse_date
    from tenure.errors import ConfigError
    from tenure.loyalty.posting import post_configured
    from tenure.store.workspace import Workspace

    day = parse_date(since, "--since") if since is not None else None
    settings = engine_settings(store)
    if settings.loyalty.earning is None:
        raise ConfigError(
            "no earning rules are declared, so no points can be earned from orders.",
            hint="Declare them in tenure.toml under [loyalty.earning] (or rules_file = "
            '"rules.toml" under [loyalty]); see docs/loyalty.md, Earning rules.',
        )
    with Workspace.open(settings) as ws, _bar(not json_) as update:
        result = post_configured(ws.settings, ws.ops, since=day, progress=update, birthdays=True)
    if result is None:
        raise ConfigError(f"the store {settings.store} holds no ingested orders.",
                          hint="Ingest orders first: tenure ingest orders orders.csv")  # fmt: skip
    if json_:
        emit_json(result.to_dict())
        return
    out_console(markup=False).print(
        f"Posted {result.posted:,} order line(s) for {result.points:,} pending points "
        f"({result.members:,} member(s)); {result.already:,} were posted before. Reversed "
        f"{result.reversed_points:,} points of {result.reversed_lines:,} refunded or "
        f"cancelled line(s). {result.lines:,} line(s) read in {result.seconds:.1f}s."
        + (f" Granted {result.birthdays:,} birthday bonus(es)." if result.birthdays else "")
    )


def _bar(enabled: bool):
    """A progress bar on stderr: ``update(done, total)``."""
    import sys
    from contextlib import contextmanager

    @contextmanager
    def bar():
        if not enabled or not sys.stderr.isatty():
            yield lambda _done, _total: None
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        with Progress("posting order lines", BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=err_console(), transient=True) as p:  # fmt: skip
            task = p.add_task("post", total=None)
            yield lambda done, total: p.update(task, completed=done, total=total)

    return bar()
