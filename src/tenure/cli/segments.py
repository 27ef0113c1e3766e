"""``tenure segments``: RFM and business segments, sizes and movements."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tenure.cli._common import (
    ActiveByOption,
    ActivityWindowOption,
    AsOfOption,
    ChannelOption,
    CohortOption,
    CountryOption,
    EngineOption,
    JsonOption,
    MasterOption,
    SegmentFilterOption,
    StoreOption,
    TimezoneOption,
    emit_json,
    engine_settings,
    filters_of,
    fmt_number,
    out_console,
    progress,
)
from tenure.cli.tables import Col, WideOption, print_table

HELP = """Segment sizes and revenue shares: RFM segments (champions, loyal, at risk,
lost...) or the business segments (new, at risk, high value; thresholds in
tenure.toml). --from/--to shows how customers moved between two dates;
--export writes every customer's scores and segments to a CSV file.

Example:

    tenure segments --kind business --from 2026-04-30 --to 2026-10-31 --json
"""


def segments(
    kind: Annotated[str, typer.Option(help="rfm or business.")] = "rfm",
    from_: Annotated[
        str | None,
        typer.Option(
            "--from", help="Show movements from this date (YYYY-MM-DD)...", show_default=False
        ),
    ] = None,
    to: Annotated[
        str | None,
        typer.Option(
            "--to", help="...to this date (default: as of the latest purchase).", show_default=False
        ),
    ] = None,
    export: Annotated[
        Path | None,
        typer.Option(
            help="Write each customer's scores and segments to this CSV file.", show_default=False
        ),
    ] = None,
    as_of: AsOfOption = None,
    activity_window: ActivityWindowOption = None,
    active_by: ActiveByOption = None,
    timezone: TimezoneOption = None,
    wide: WideOption = False,
    country: CountryOption = None,
    channel: ChannelOption = None,
    cohort: CohortOption = None,
    segment: SegmentFilterOption = None,
    engine: EngineOption = None,
    master: MasterOption = None,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure.analysis import segments as compute
    from tenure.analysis import segments_document, transitions
    from tenure.errors import ConfigError

    if to and not from_:
        raise ConfigError(
            "--to needs --from.", hint="Give both: --from 2026-04-30 --to 2026-10-31."
        )
    settings = engine_settings(store, timezone=timezone)
    common = dict(
        activity_window=activity_window, active_by=active_by, engine=engine, master=master,
        settings=settings,
    )  # fmt: skip
    chosen = filters_of(country=country, channel=channel, cohort=cohort, segment=segment)
    with progress(not json_) as update:
        update("scoring customers")
        # as records: the sizes are made and printed without importing pandas
        sizes = compute(kind=kind, as_of=to or as_of, filters=chosen, output="records", **common)
        matrix = None
        if from_:
            update("comparing two dates")
            end = to or sizes.attrs["definitions"]["as_of"]
            matrix = transitions(from_, end, kind=kind, **common)
        if export:
            update(f"writing {export}")
            per = compute(kind=kind, as_of=to or as_of, per_customer=True, **common)
            from tenure.csvexport import write_csv

            write_csv(per, export)
    result = segments_document(sizes, kind, matrix, from_, to)
    if export:
        result["export"] = str(export)
    if json_:
        emit_json(result)
        return
    out = out_console()
    cols = [Col("segment", numeric=False), Col("customers"), Col("share", rank=2),
            Col("revenue"), Col("revenue share", rank=1), Col("avg recency (days)", rank=3),
            Col("avg orders", rank=4)]  # fmt: skip
    rows = [
        [r["segment"], fmt_number(int(r["customers"])), fmt_number(r["share"], 1, " %"),
         fmt_number(r["revenue"], 0), fmt_number(r["revenue_share"], 1, " %"),
         fmt_number(r["avg_recency_days"], 0), fmt_number(r["avg_orders"], 1)]
        for r in result["segments"]
    ]  # fmt: skip
    title = f"{kind.upper() if kind == 'rfm' else 'Business'} segments as of {result['definitions']['as_of']}"
    print_table(out, cols, rows, title=title, wide=wide)
    if matrix is not None:
        # the segments a customer moves to, in the matrix's order, give way from the last
        cols = [Col("from \\ to", numeric=False)]
        cols += [Col(str(c), rank=i + 1) for i, c in enumerate(matrix.columns)]
        rows = [[name, *[f"{v:,}" if v else "·" for v in row]] for name, row in matrix.iterrows()]
        title = f"Customers moving from {from_} to {result['transitions']['to']}"
        print_table(out, cols, rows, title=title, wide=wide)
    if export:
        out.print(f"Wrote {export}")
