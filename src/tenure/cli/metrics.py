"""``tenure metrics``: retention, churn, revenue and survey metrics per period."""

from __future__ import annotations

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
    out_console,
    progress,
)
from tenure.cli.tables import Col, WideOption, print_table

HELP = """Retention and churn rate, orders, revenue, AOV, repeat purchases, CLV,
referrals, NPS/CSAT/CES and subscription metrics, one row per complete period.

Every output states the active-customer definition and window it used.
Metrics without their data are shown as missing, with the reason in --json.

Example:

    tenure metrics --period quarter --activity-window 180 --json

    tenure metrics --country DE --from 2026-01-01
"""

# (column, header, digits, rank) shown in the terminal; --json has every
# column. Rank: the order in which columns give way to fit the terminal
# (highest first; see tenure.cli.tables).
SHOWN = [
    ("customers_start", "S", 0, 1),
    ("lost_customers", "L", 0, 1),
    ("new_customers", "N", 0, 1),
    ("reactivated_customers", "R", 0, 1),
    ("customers_end", "E", 0, 1),
    ("retention_rate", "retention %", 1, 2),
    ("churn_rate", "churn %", 1, 2),
    ("reactivation_rate", "react. %", 1, 4),
    ("orders", "orders", 0, 5),
    ("revenue", "revenue", 0, 3),
    ("aov", "AOV", 2, 6),
    ("repeat_purchase_rate", "repeat %", 1, 7),
    ("historic_clv", "CLV", 0, 8),
    ("nps", "NPS", 0, 9),
    ("mrr", "MRR", 0, 10),
]


def metrics(
    period: PeriodOption = "month",
    activity_window: ActivityWindowOption = None,
    active_by: ActiveByOption = None,
    as_of: AsOfOption = None,
    timezone: TimezoneOption = None,
    last: Annotated[
        int | None,
        typer.Option("--last", help="Show only the last N periods.", show_default=False),
    ] = None,
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
    from tenure.analysis import metrics as compute
    from tenure.analysis import metrics_document

    settings = engine_settings(store, timezone=timezone)
    with progress(not json_) as update:
        update(f"computing {period} metrics")
        frame = compute(
            period=period, activity_window=activity_window, active_by=active_by, as_of=as_of,
            engine=engine, master=master, settings=settings,
            filters=filters_of(
                country=country, channel=channel, cohort=cohort, segment=segment,
                start=from_, end=to,
            ),
        )  # fmt: skip
    if last:
        frame = frame.tail(last)
    definitions = frame.attrs["definitions"]
    if json_:
        emit_json(metrics_document(frame, period))
        return
    out = out_console()
    cols = [Col("period", numeric=False), *(Col(h, rank=r) for _, h, _, r in SHOWN)]
    rows = [
        [row["period"], *(fmt_number(row[c], d) for c, _, d, _ in SHOWN)]
        for _, row in frame.iterrows()
    ]
    print_table(out, cols, rows, title=f"Metrics per {period}", wide=wide)
    out.print(
        f"Active customer: {definitions['active_customer']}. Time zone {definitions['timezone']}, "
        f"as of {definitions['as_of']}, amounts in {definitions['currency']}. "
        "S/E: active at the start/end; L: lost; N: new; R: back after a lapse "
        "(S − L + N + R = E). — = missing (see --json for why).",
        soft_wrap=False,
    )
