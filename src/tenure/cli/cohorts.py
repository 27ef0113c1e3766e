"""``tenure cohorts``: acquisition cohorts by periods since acquisition."""

from __future__ import annotations

from typing import Annotated

import typer

from tenure.cli._common import (
    AsOfOption,
    ChannelOption,
    CohortOption,
    CountryOption,
    EngineOption,
    FromOption,
    JsonOption,
    MasterOption,
    PeriodOption,
    SegmentFilterOption,
    StoreOption,
    TimezoneOption,
    ToOption,
    emit_json,
    engine_settings,
    filters_of,
    fmt_number,
    one_of,
    out_console,
    progress,
)
from tenure.cli.tables import Col, WideOption, print_table

HELP = """Cohort matrix: customers by the period of their first purchase (rows) and
the periods since (columns), as customer retention (%), revenue retention (%)
or cumulative revenue per customer. --by groups customers by an attribute
(country, acquisition_channel, first_category, or any customers column).

Example:

    tenure cohorts --period quarter --value revenue --json
"""

VALUE_NAMES = {
    "customers": "% of the cohort purchasing",
    "revenue": "revenue as % of the first period's",
    "cumulative_revenue": "cumulative revenue per customer",
}


def cohorts(
    period: PeriodOption = "month",
    value: Annotated[
        str,
        typer.Option(
            help="customers, revenue or cumulative_revenue.",
            callback=one_of("customers", "revenue", "cumulative_revenue"),
        ),
    ] = "customers",
    by: Annotated[
        str | None,
        typer.Option(
            help="Group by this attribute instead of the acquisition period.", show_default=False
        ),
    ] = None,
    as_of: AsOfOption = None,
    timezone: TimezoneOption = None,
    wide: WideOption = False,
    country: CountryOption = None,
    channel: ChannelOption = None,
    cohort: CohortOption = None,
    segment: SegmentFilterOption = None,
    from_: FromOption = None,
    to: ToOption = None,
    engine: EngineOption = None,
    master: MasterOption = None,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure.analysis import cohorts as compute
    from tenure.analysis import cohorts_document

    settings = engine_settings(store, timezone=timezone)
    with progress(not json_) as update:
        update("computing cohorts")
        frame = compute(
            period=period, value=value, by=by, as_of=as_of, engine=engine, master=master,
            settings=settings,
            filters=filters_of(
                country=country, channel=channel, cohort=cohort, segment=segment,
                start=from_, end=to,
            ),
        )  # fmt: skip
    steps = [c for c in frame.columns if c not in ("cohort", "size")]
    if json_:
        emit_json(cohorts_document(frame, period, value, by))
        return
    digits = 0 if value != "cumulative_revenue" else 2
    # the later periods since acquisition give way first
    cols = [Col(by or "cohort", numeric=False), Col("size")]
    cols += [Col(str(c), rank=i + 1) for i, c in enumerate(steps)]
    top = max((v for c in steps for v in frame[c].dropna()), default=0.0)
    rows = []
    for _, row in frame.iterrows():
        cells = []
        for c in steps:
            v = row[c]
            text = fmt_number(v, digits)
            if text != "—" and value != "cumulative_revenue" and top:
                shade = int(40 + 180 * min(v / 100.0, 1.0))
                text = f"[on rgb(0,{shade // 2},{shade})]{text}[/]"
            cells.append(text)
        rows.append([str(row["cohort"]), f"{row['size']:,}", *cells])
    title = f"Cohorts per {period}: {VALUE_NAMES[value]}"
    print_table(out_console(), cols, rows, title=title, wide=wide)
