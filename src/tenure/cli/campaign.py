"""``tenure campaign``: lifecycle campaigns and the measurement of their lift."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from tenure.cli._common import JsonOption, StoreOption, emit_json, engine_settings, out_console
from tenure.cli._common import fmt_number as fmt
from tenure.cli.tables import Col, WideOption, print_table

HELP = """Lifecycle campaigns with holdouts: their messages previewed and
test-sent, and whether they worked.

Examples:

    tenure campaign measure --assignments sent.csv --window 30 --json
    tenure campaign preview templates/win-back C000042
"""

MEASURE_HELP = """Measure a campaign another tool sent: the lift of each arm over the
control group in the customers' orders after their assignment, with a 95 %
interval, an anytime-valid interval, CUPED on the same days before it, a
sample-ratio check and a verdict ("inconclusive" when the interval holds
zero).

The file has customer_id, group (treatment/control or named arms) and
assigned_at (YYYY-MM-DD or an ISO 8601 time). Unusable rows go to a
quarantine file with their reason.

--global-control measures every campaign launched in tenure against none:
the customers of the global control against all others assigned, from
each customer's first assignment (see docs/campaigns.md, "Measuring the
global control").

Example:

    tenure campaign measure --assignments sent.csv --window 30 --metric revenue

    tenure campaign measure --global-control --window 30 --json

    tenure campaign measure --assignments sent.csv --split control=10,treatment=90 --json
"""

app = typer.Typer(help=HELP, no_args_is_help=True, rich_markup_mode=None)

LABELS = {"conversion": "conversion rate", "orders": "orders per customer",
          "revenue": "revenue per customer", "time_to_order": "days to next order",
          "visits": "visit days per customer"}  # fmt: skip


def _split(value: str | None) -> dict[str, float] | None:
    if not value:
        return None
    shares: dict[str, float] = {}
    for part in value.split(","):
        name, sep, share = part.partition("=")
        try:
            shares[name.strip()] = float(share.strip().rstrip("%"))
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise typer.BadParameter(
                f"{part!r} is not GROUP=SHARE; e.g. --split control=10,treatment=90.",
                param_hint="'--split'",
            )
    return shares


@app.command("measure", help=MEASURE_HELP)
def measure(
    assignments: Annotated[
        Path | None,
        typer.Option(
            "--assignments",
            help="CSV, Parquet or JSON lines: customer_id, group, assigned_at.",
            show_default=False,
        ),
    ] = None,  # fmt: skip
    global_control: Annotated[
        bool,
        typer.Option(
            "--global-control",
            help="Measure all campaigns launched in tenure against none: the global control "
            "against every other customer assigned.",
        ),
    ] = False,  # fmt: skip
    window: Annotated[
        int, typer.Option(help="Days after each customer's assigned_at to measure.")
    ] = 30,
    metric: Annotated[
        str,
        typer.Option(
            help="The metric the verdict is about: conversion, revenue, orders, visits or "
            "time_to_order. Every metric is in --json.",
            callback=lambda v: _one_of(v),
        ),
    ] = "conversion",
    control: Annotated[
        str | None,
        typer.Option(
            help="The control group's name. Default: 'control' or 'holdout'.", show_default=False
        ),
    ] = None,  # fmt: skip
    split: Annotated[
        str | None,
        typer.Option(
            help="The intended shares, for the sample-ratio check, e.g. "
            "control=10,treatment=90. Default: equal shares.",
            show_default=False,
        ),
    ] = None,  # fmt: skip
    sequential: Annotated[
        bool,
        typer.Option(
            "--sequential",
            help="Decide on the anytime-valid interval: for a campaign "
            "looked at before its window ended, or looked at more than once.",
        ),
    ] = False,  # fmt: skip
    wide: WideOption = False,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure.campaigns.measure import measure_campaign
    from tenure.errors import UsageError

    if (assignments is None) == (not global_control) or (global_control and (control or split)):
        raise UsageError(
            "give either --assignments FILE or --global-control (without --control or --split).",
            hint="tenure campaign measure --assignments sent.csv, or tenure campaign measure "
            "--global-control: its arms and split are the global control's.",
        )  # fmt: skip
    if global_control:
        from tenure.campaigns.measure_global import measure_global
        from tenure.store.workspace import Workspace

        settings = engine_settings(store)
        with Workspace.open(settings, create=False) as ws:
            doc = measure_global(settings, ws.ops, window=window, metric=metric,
                                 sequential=sequential)  # fmt: skip
    else:
        assert assignments is not None
        doc = measure_campaign(
            engine_settings(store), assignments, window=window, metric=metric, control=control,
            split=_split(split), sequential=sequential,
        )  # fmt: skip
    if json_:
        emit_json(doc)
        return
    _print(doc, wide)


def _one_of(value: str) -> str:
    from tenure.campaigns.measure import METRICS

    if value not in METRICS:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(METRICS)}.")
    return value


def _pct(x: Any, digits: int = 1) -> str:
    return "—" if x is None else f"{x * 100:+.{digits}f} %"


def _value(x: Any, metric: str) -> str:
    if x is None:
        return "—"
    if metric == "conversion":
        return f"{x * 100:.{2}f} %"
    return fmt(x, 2)


def _print(doc: dict[str, Any], wide: bool) -> None:
    out = out_console(markup=False)
    metric = doc["metric"]
    read = doc["assignments"]
    arms = ", ".join(f"{a['name']} {a['n']:,}" for a in doc["arms"])
    out.print(f"{read['file']}: {arms}; {doc['window_days']} days after assignment.")
    # a conversion's lift in percentage points, other metrics in their own unit
    scale, unit = (100, " (pp)") if metric == "conversion" else (1, "")
    cols = [Col("arm", numeric=False), Col(LABELS[metric]), Col(f"lift{unit}"),
            Col(f"95 % interval{unit}", numeric=False), Col("relative", rank=2),
            Col(f"anytime-valid{unit}", numeric=False, rank=1),
            Col("verdict", numeric=False)]  # fmt: skip

    def num(x: Any) -> str:
        return "—" if x is None else f"{x * scale:+,.2f}"

    def between(ci: list[Any]) -> str:
        return f"{num(ci[0])} to {num(ci[1])}"

    control = doc["control"]
    rows = []
    if doc["lifts"]:
        label = control if control.lower() == "control" else f"{control} (control)"
        rows.append([label, _value(doc["lifts"][0]["control_mean"], metric), "", "", "", "", ""])
    for r in doc["lifts"]:
        ab, rel, seq = r["absolute"], r["relative"], r["anytime_valid"]["absolute"]
        rows.append([r["arm"], _value(r["arm_mean"], metric), num(ab["estimate"]),
                     between(ab["ci"]), _pct(rel["estimate"]), between(seq["ci"]),
                     r["verdict"]])  # fmt: skip
    print_table(out, cols, rows, wide=wide)
    srm = doc["srm"]
    mark = "FLAGGED" if srm["flagged"] else "ok"
    out.print(f"Sample ratio: p = {srm['p_value']:.3g} ({mark}). CUPED on the "
              f"{doc['window_days']} days before assignment.")  # fmt: skip
    points = " pp" if metric == "conversion" else ""
    for r in doc["lifts"]:
        if r["verdict"] == "inconclusive" and r["mde_absolute"] is not None:
            out.print(f"{r['arm']}: inconclusive. With these customers, a lift of "
                      f"{num(r['mde_absolute']).lstrip('+')}{points} or more "
                      "would be found 80 % of the time.")  # fmt: skip
    if read["rejected"]:
        out.print(f"{read['rejected']:,} rows rejected: {read['quarantine']}")
    if doc.get("global_control", {}).get("excluded"):
        g = doc["global_control"]
        out.print(f"{g['excluded']:,} customers left out: the global share changed between "
                  f"launches ({', '.join(f'{s * 100:g} %' for s in g['shares_used'])}).")
    for note in doc["notes"]:
        out.print(note)


# uplift targeting: tenure campaign uplift fit | score
from tenure.cli.campaign_uplift import app as uplift_app  # noqa: E402

app.add_typer(uplift_app, name="uplift", help=uplift_app.info.help)

# list, create, launch, pause and status: campaigns kept in the store
from tenure.cli import campaign_manage  # noqa: E402 - after the group it adds to

campaign_manage.register(app)

# triggers and service-recovery tasks: tenure campaign triggers | tasks
from tenure.cli import campaign_triggers  # noqa: E402 - after the group it adds to

campaign_triggers.register(app)
