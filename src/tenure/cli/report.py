"""``tenure report``: the shareable HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tenure.cli._common import (
    AsOfOption,
    EngineOption,
    JsonOption,
    MasterOption,
    StoreOption,
    TimezoneOption,
    emit_json,
    engine_settings,
    out_console,
    progress,
)

HELP = """Write one self-contained HTML report that opens offline: KPI tiles, trends,
cohort heatmaps, segments, the predictions kept by tenure predict and tenure
fit (the report fits no model: run those first), goal progress, the industry
benchmark and the definitions used; numbers, dates and currency formatted
for --locale.

Example:

    tenure report -o report.html --locale de-DE
"""


def report(
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Where to write the HTML file.")
    ] = Path("tenure-report.html"),
    locale: Annotated[
        str | None,
        typer.Option(
            help="Locale for numbers, dates and money, e.g. en-GB, de-DE, fr-FR. Default: en.",
            show_default=False,
        ),
    ] = None,
    as_of: AsOfOption = None,
    timezone: TimezoneOption = None,
    engine: EngineOption = None,
    master: MasterOption = None,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure.config import parse_date
    from tenure.report.build import write_report

    settings = engine_settings(store, timezone=timezone, locale=locale)
    with progress(not json_) as update:
        result = write_report(
            settings, output, engine=engine, master=master,
            as_of=parse_date(as_of, "--as-of") if as_of else None, progress=update,
        )  # fmt: skip
    info = {
        "path": str(result.path.resolve()),
        "bytes": result.bytes,
        "seconds": round(result.seconds, 2),
        "as_of": result.as_of,
        "sections": result.sections,
    }
    if json_:
        emit_json(info)
        return
    out_console().print(
        f"Report: {info['path']} ({result.bytes / 1e6:.1f} MB, as of {result.as_of}, "
        f"{result.seconds:.1f} s)"
    )
