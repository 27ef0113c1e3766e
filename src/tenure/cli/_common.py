"""What every command shares: --store, --json, error printing, progress."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

StoreOption = Annotated[
    Path | None,
    typer.Option(
        "--store",
        envvar="TENURE_STORE",
        help="Workspace folder holding analytics.duckdb and ops.sqlite. "
        "Default: ./tenure-data (or 'store' in tenure.toml).",
        show_default=False,
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON document on stdout and nothing else.")
]


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


def err_console():
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def out_console():
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


@contextmanager
def progress(enabled: bool = True) -> Iterator[Any]:
    """A spinner on stderr that shows the current stage: ``update(stage)``."""
    if not enabled or not sys.stderr.isatty():
        yield lambda _stage: None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err_console(),
        transient=True,
    ) as bar:
        task = bar.add_task("starting")
        yield lambda stage: bar.update(task, description=stage)
