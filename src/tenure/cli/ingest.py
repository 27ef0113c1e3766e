"""``tenure ingest KIND PATH``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tenure.cli._common import (
    JsonOption,
    StoreOption,
    emit_json,
    err_console,
    out_console,
    progress,
)

HELP = """Load a file of one KIND into the store, checking every row.

KIND is one of: customers, orders, order_items, subscriptions, support_tickets,
survey_responses, events, fx_rates. PATH is a CSV or other text file of columns
(delimiter, runs of spaces, header, encoding, date order and decimal commas
detected), an Excel workbook (.xlsx), a Parquet or JSON-lines file, any of them
gzip-, bzip2- or Zstandard-compressed, or a database URL with --table or --query.

Every row is accepted, rejected (kept with its reason in a quarantine file)
or a duplicate. Re-importing a file changes nothing; a changed row with the
same id updates it. The store changes all at once or not at all.

Examples:

    tenure ingest orders orders.csv

    tenure ingest orders export.csv --map "Order Date=placed_at" --map "Total=amount"

    tenure ingest orders orders_export.csv --preset shopify --json

    tenure ingest orders CDNOW_master.txt --map column1=customer_id --map column2=placed_at --map column4=amount --currency USD

    tenure ingest customers postgresql://me@db/crm --table contacts
"""


DEMO_STORE = (
    "this store was made by tenure demo: its data are made up, and its login (shown on the "
    "demo's login page) and secret are published. Keep real data in a store of its own, e.g. "
    "tenure ingest KIND PATH --store shop-data."
)


def ingest(
    kind: Annotated[
        str, typer.Argument(help="What the rows are, e.g. orders.", show_default=False)
    ],
    path: Annotated[str, typer.Argument(help="File path or database URL.", show_default=False)],
    map_: Annotated[
        list[str] | None,
        typer.Option("--map", help='Map a source column to a field: "SOURCE=field". Repeatable.'),
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option(help="A TOML or JSON mapping file (see docs/ingest.md).")
    ] = None,
    preset: Annotated[
        str | None, typer.Option(help="Column mapping of a known export: shopify, stripe, hubspot.")
    ] = None,
    max_errors: Annotated[
        int | None,
        typer.Option(help="Fail, writing nothing, when more rows than this are rejected."),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="csv, xlsx, parquet or jsonl (default: detected)."),
    ] = None,
    encoding: Annotated[str | None, typer.Option(help="Text encoding (default: detected).")] = None,
    delimiter: Annotated[
        str | None, typer.Option(help="CSV delimiter, or 'whitespace' (default: detected).")
    ] = None,
    date_format: Annotated[
        str | None, typer.Option(help="strptime format of every date column, e.g. '%d/%m/%Y'.")
    ] = None,
    date_order: Annotated[
        str | None,
        typer.Option(help="dmy, mdy or ymd, for dates like 03/04/2024 (default: detected)."),
    ] = None,
    timezone: Annotated[
        str | None,
        typer.Option(
            help="IANA zone of timestamps that carry no offset (default: the "
            "'timezone' setting, UTC unless set)."
        ),
    ] = None,
    currency: Annotated[
        str | None, typer.Option(help="Currency of amounts when the file has no currency column.")
    ] = None,
    create_customers: Annotated[
        bool | None,
        typer.Option(
            "--create-customers/--no-create-customers",
            help="Create customers that rows name but the store lacks (default: the "
            "'create_customers' setting, on unless set).",
            show_default=False,
        ),
    ] = None,
    table: Annotated[str | None, typer.Option(help="Table to read from a database URL.")] = None,
    query: Annotated[
        str | None, typer.Option(help="SQL query to read from a database URL.")
    ] = None,
    reporting_currency: Annotated[
        str | None,
        typer.Option(
            help="Currency the store reports in (set when the store is created).",
            envvar="TENURE_REPORTING_CURRENCY",
        ),
    ] = None,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure.access import audit, is_demo
    from tenure.config import load_settings
    from tenure.ingestion.mapping import kind_named
    from tenure.loyalty.on_ingest import ingest as run
    from tenure.store.workspace import Workspace, removed_if_failed

    kind_named(kind)  # an unknown kind is a usage error, before any store is opened
    settings = load_settings(store=store, reporting_currency=reporting_currency)
    with (
        removed_if_failed(settings.store),
        Workspace.open(settings) as ws,
        progress(not json_) as update,
    ):
        result = run(
            kind,
            path,
            workspace=ws,
            map=map_,
            mapping=mapping,
            preset=preset,
            max_errors=max_errors,
            fmt=fmt,
            encoding=encoding,
            delimiter=delimiter,
            date_format=date_format,
            date_order=date_order,
            timezone=timezone,
            currency=currency,
            create_customers=create_customers,
            table=table,
            query=query,
            progress=update,
        )
        audit.record_ingest(ws.ops, audit.os_actor(), result)
        if is_demo(ws.ops):  # its login and secret are published: not a place for real data
            result.warnings.append(DEMO_STORE)
    if json_:
        emit_json(result.to_dict() | {"refreshed": result.refreshed})
        return
    print_result(result)
    if line := refreshed_line(result.refreshed):
        out_console().print(line, markup=False)


def refreshed_line(refreshed: dict) -> str | None:
    from tenure.refresh import Refreshed

    return Refreshed(**refreshed).describe()


def print_result(result) -> None:
    from tenure.ingestion.quarantine import describe

    out = out_console()
    out.print(
        f"[bold]{result.source}[/] → {result.kind}: {result.read:,} read, "
        f"[green]{result.accepted:,} accepted[/], "
        f"{'[red]' if result.rejected else ''}{result.rejected:,} rejected"
        f"{'[/]' if result.rejected else ''}, {result.duplicates:,} duplicates "
        f"({result.inserted:,} inserted, {result.updated:,} updated, "
        f"{result.unchanged:,} unchanged)"
        + (f"; {result.customers_created:,} customers created" if result.customers_created else "")
        + f" in {result.seconds:.1f}s"
    )
    if result.ignored_columns:
        out.print("Columns not used: " + ", ".join(result.ignored_columns), markup=False)
    for warning in result.warnings:
        err_console().print(f"Warning: {warning}", markup=False)
    if result.rejected:
        err = err_console()
        for e in result.errors:
            err.print("  " + describe(result.source, e), markup=False)
        if result.rejected > len(result.errors):
            err.print(f"  … and {result.rejected - len(result.errors):,} more.", markup=False)
        err.print(f"Rejected rows and their reasons: {result.quarantine}", markup=False)
