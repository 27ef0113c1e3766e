"""``tenure campaign uplift fit | score``: a model of who a message
changes, fitted from a past campaign's groups; thin over
:mod:`tenure.campaigns.uplift`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from tenure.cli._common import JsonOption, StoreOption, emit_json, engine_settings, out_console

HELP = """Uplift targeting: who a message changes. Fit a model on a past
campaign's treated and control customers, then list the persuadable top k %.

Example:

    tenure campaign uplift fit --assignments sent.csv --window 30

    tenure campaign uplift score --top 10% --out persuadable.csv
"""

FIT_HELP = """Fit an uplift model on a campaign's assignments (customer_id, group,
assigned_at, as for campaign measure): the outcome over --window days after
each customer's assignment, the churn features as of the day before it. It
is judged on a random 30 % of each group it did not see (Qini coefficient,
AUUC and the uplift in the top 10/20/30 %, against random targeting), then
fitted on everyone and kept, with every customer's predicted uplift.

Example:

    tenure campaign uplift fit --assignments sent.csv --window 30 --learner ct --json
"""

SCORE_HELP = """List the customers the kept uplift model ranks first: the top share
by predicted uplift, with their CLV when tenure predict has kept one.

Example:

    tenure campaign uplift score --top 10% --out persuadable.csv
"""

app = typer.Typer(help=HELP, no_args_is_help=True, rich_markup_mode=None)


def _choice(*allowed: str):
    def check(value: str) -> str:
        if value not in allowed:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(allowed)}.")
        return value

    return check


@app.command("fit", help=FIT_HELP)
def fit(
    assignments: Annotated[
        Path,
        typer.Option("--assignments", help="CSV, Parquet or JSON lines: customer_id, group, "
                     "assigned_at.", show_default=False),
    ],  # fmt: skip
    window: Annotated[int, typer.Option(help="Days after each customer's assigned_at.")] = 30,
    metric: Annotated[
        str,
        typer.Option(help="The outcome: conversion (ordered or not), orders or revenue.",
                     callback=_choice("conversion", "orders", "revenue")),
    ] = "conversion",  # fmt: skip
    learner: Annotated[
        str,
        typer.Option(help="t: two outcome models (any metric). ct: class transformation "
                     "(conversion only).", callback=_choice("t", "ct")),
    ] = "t",  # fmt: skip
    control: Annotated[
        str | None,
        typer.Option(help="The control group's name. Default: 'control' or 'holdout'.",
                     show_default=False),
    ] = None,  # fmt: skip
    arm: Annotated[
        str | None,
        typer.Option(help="The messaged group to model, when the file has several.",
                     show_default=False),
    ] = None,  # fmt: skip
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure.campaigns.uplift import fit_uplift

    record = fit_uplift(engine_settings(store), assignments, window=window, metric=metric,
                        learner=learner, control=control, arm=arm)  # fmt: skip
    if json_:
        emit_json(record)
        return
    _print_fit(record)


def _num(x: Any, metric: str) -> str:
    if x is None or x != x:
        return "—"
    return f"{x * 100:+.2f} pp" if metric == "conversion" else f"{x:+,.3f}"


def _print_fit(r: dict[str, Any]) -> None:
    from rich.table import Table

    out = out_console(markup=False)
    s, v, metric = r["sizes"], r["validation"], r["metric"]
    read = r["assignments"]
    out.print(f"{read['file']}: {s['treated']:,} treated, {s['control']:,} control; "
              f"{metric} over {r['window_days']} days after assignment. "
              f"{r['learner']}, fitted on {s['train']:,}, tested on {s['test']:,}.")  # fmt: skip
    band = v["random_band"]
    t = Table("on the held-out customers", "model", "random targeting",
              title="Does the model rank who the message changes?")  # fmt: skip
    t.add_row("Qini coefficient", f"{v['qini']:.3f}",
              f"{band['qini_low']:.3f} to {band['qini_high']:.3f} (95 %)")  # fmt: skip
    t.add_row("AUUC", f"{v['auuc']:.3f}", f"{band['auuc_low']:.3f} to {band['auuc_high']:.3f} (95 %)")
    for share, value in v["uplift_at_top"].items():
        t.add_row(f"uplift in the top {share}", _num(value, metric),
                  _num(v["overall_uplift"], metric))  # fmt: skip
    out.print(t)
    if v["qini"] == v["qini"] and v["qini"] <= band["qini_high"]:
        out.print("The Qini coefficient is within what random rankings reach: this model does "
                  "not find who responds better than chance. Target on the campaign's overall "
                  "lift instead, or fit on a larger campaign.")  # fmt: skip
    if read["rejected"]:
        out.print(f"{read['rejected']:,} rows rejected: {read['quarantine']}")
    out.print(f"Kept as uplift version {r['model_version']}, with {s['scored']:,} customers' "
              f"predicted uplift (as of {r['as_of']}) in uplift_predictions.")  # fmt: skip


@app.command("score", help=SCORE_HELP)
def score(
    top: Annotated[str, typer.Option(help="The share to list, e.g. 10% or 0.1.")] = "10%",
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Also write the list to this CSV file.", show_default=False),
    ] = None,  # fmt: skip
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure.campaigns.uplift import persuadables

    doc = persuadables(engine_settings(store), top)
    if out is not None:
        import csv

        with Path(out).open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["customer_id", "predicted_uplift", "clv"])
            w.writerows([c["customer_id"], c["predicted_uplift"],
                         "" if c["clv"] is None else c["clv"]] for c in doc["customers"])  # fmt: skip
        doc["out"] = str(out)
    if json_:
        emit_json(doc)
        return
    _print_score(doc)


def _print_score(doc: dict[str, Any]) -> None:
    from rich.table import Table

    out = out_console(markup=False)
    metric = doc["metric"]
    n = len(doc["customers"])
    out.print(f"The {n:,} customers ({doc['top_share'] * 100:g} % of {doc['customers_scored']:,}) "
              f"with the largest predicted uplift in {metric} over {doc['window_days']} days "
              f"(uplift version {doc['model_version']}, as of {doc['as_of']}).")  # fmt: skip
    clv = f"CLV ({doc['currency']})" if doc["clv_available"] else "CLV"
    t = Table("customer", "predicted uplift", clv)
    for c in doc["customers"][:50]:
        t.add_row(c["customer_id"], _num(c["predicted_uplift"], metric),
                  "—" if c["clv"] is None else f"{c['clv']:,.2f}")  # fmt: skip
    out.print(t)
    if n > 50:
        out.print(f"… and {n - 50:,} more: --out FILE or --json lists them all.")
    if not doc["clv_available"]:
        out.print("No CLV is kept: run tenure predict to show it beside each customer.")
    if doc.get("out"):
        out.print(f"Written to {doc['out']}.")
