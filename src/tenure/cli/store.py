"""``tenure status``, ``tenure runs`` and ``tenure migrate``: the workspace itself."""

from __future__ import annotations

from typing import Annotated

import typer

from tenure.cli._common import JsonOption, StoreOption, emit_json, out_console

STATUS_HELP = """Show what the store holds: rows per kind, schema versions, currency.

Example:

    tenure status --store tenure-data --json
"""

RUNS_HELP = """List recent ingest runs: when, what, counts, status and quarantine file.

Example:

    tenure runs --limit 5
"""

MIGRATE_HELP = """Upgrade a store written by an older tenure to this version's schema.

Back up the store folder first. Example:

    tenure migrate --store tenure-data
"""


def status(store: StoreOption = None, json_: JsonOption = False) -> None:
    from tenure.config import load_settings
    from tenure.store.workspace import Workspace

    with Workspace.open(load_settings(store=store), create=False) as ws:
        info = ws.status()
    if json_:
        emit_json(info)
        return
    from rich.table import Table

    out = out_console()
    out.print(
        f"Store {info['store']} (schema {info['schema_version']}, "
        f"ops revision {info['ops_revision']}, reporting in {info['reporting_currency']})"
    )
    table = Table("kind", "rows")
    for kind, n in info["tables"].items():
        table.add_row(kind, f"{n:,}")
    out.print(table)


def runs(
    limit: Annotated[int, typer.Option(help="How many runs to show, newest first.")] = 20,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure.config import load_settings
    from tenure.store.workspace import Workspace

    with Workspace.open(load_settings(store=store), create=False) as ws:
        rows = ws.ops.runs(limit)
    if json_:
        emit_json(rows)
        return
    from rich.table import Table

    table = Table(
        "id",
        "started",
        "kind",
        "source",
        "status",
        "read",
        "accepted",
        "rejected",
        "dup",
        "quarantine",
    )
    for r in rows:
        table.add_row(
            str(r["id"]),
            str(r["started_at"])[:19],
            r["kind"],
            r["source"],
            r["status"],
            *(
                f"{r[k]:,}" if r[k] is not None else ""
                for k in ("read", "accepted", "rejected", "duplicates")
            ),
            r["quarantine_path"] or "",
        )
    out_console().print(table)


def migrate(store: StoreOption = None, json_: JsonOption = False) -> None:
    from tenure.config import load_settings
    from tenure.store import analytics
    from tenure.store.ops import OpsStore

    settings = load_settings(store=store)
    if not settings.analytics_path.exists():
        from tenure.store.missing import no_store_error

        raise no_store_error(settings.store)
    from tenure.store import summary

    with analytics.writing(settings.analytics_path, "tenure migrate") as con:
        a_before, a_after = analytics.migrate(con)
        # the customer summary of a store from before it, or of another time zone
        rebuilt = summary.ensure(con, settings.timezone)
    o_before, o_after = OpsStore.migrate(settings.ops_database_url)
    report = {
        "store": str(settings.store),
        "analytics": {"from": a_before, "to": a_after},
        "ops": {"from": o_before, "to": o_after},
        "summary_rebuilt": rebuilt,
    }
    if json_:
        emit_json(report)
        return
    out_console().print(
        f"Migrated {settings.store}: analytics schema {a_before} → {a_after}, "
        f"ops revision {o_before} → {o_after}"
        + (f"; customer summary rebuilt in {settings.timezone}." if rebuilt else ".")
    )
