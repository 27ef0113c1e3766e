"""``tenure goal``: SMART goals on any metric, with progress and trend."""

from __future__ import annotations

from typing import Annotated

import typer

from tenure.cli._common import (
    EngineOption,
    JsonOption,
    MasterOption,
    StoreOption,
    emit_json,
    engine_settings,
    fmt_number,
    out_console,
    progress,
)
from tenure.cli.tables import Col, WideOption, print_table

HELP = """Set goals on a metric and follow their progress.

A change is relative (-10%), in percentage points (-2pp) or the target
itself (=75). The baseline is the metric's last complete period.

Example:

    tenure goal set churn_rate -10% --by 2027-03-31

    tenure goal list --json
"""

app = typer.Typer(help=HELP, no_args_is_help=True, rich_markup_mode=None)


@app.command(
    "set",
    help="Set a goal: METRIC CHANGE --by DATE.\n\nExample:\n\n    tenure goal set churn_rate -10% --by 2027-03-31",
    context_settings={"ignore_unknown_options": True},
)
def set_(
    metric: Annotated[
        str, typer.Argument(help="The metric, e.g. churn_rate, retention_rate, aov, nps.")
    ],
    change: Annotated[str, typer.Argument(help="-10% (relative), -2pp (points) or =75 (target).")],
    by: Annotated[str, typer.Option("--by", help="Deadline, YYYY-MM-DD.")],
    period: Annotated[str, typer.Option(help="month, quarter or year.")] = "month",
    engine: EngineOption = None,
    master: MasterOption = None,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure.goals.tracking import set_goal

    settings = engine_settings(store)
    with progress(not json_) as update:
        update(f"computing the baseline of {metric}")
        goal = set_goal(settings, metric, change, by, period=period, engine=engine, master=master)
    if json_:
        emit_json(goal)
        return
    projected = ""
    if goal["projected_value"] is not None:
        projected = f" (projected {_projected(goal)} by the deadline)"
    out_console().print(
        f"Goal {goal['id']}: {metric} from {fmt_number(goal['baseline_value'], 2)} "
        f"({goal['baseline_period']}) to {fmt_number(goal['target_value'], 2)} by "
        f"{goal['deadline']}. Trend: {goal['status']}{projected}.",
        soft_wrap=False,
    )


def _projected(goal: dict) -> str:
    """The projection, marked when the trend's line left the metric's range
    and the projection is its bound."""
    text = fmt_number(goal["projected_value"], 2)
    return f"{text}, at its bound" if goal.get("projection_bounded") else text


@app.command(
    "list",
    help="List the goals with progress and trend.\n\nExample:\n\n    tenure goal list --json",
)
def list_(
    wide: WideOption = False,
    engine: EngineOption = None,
    master: MasterOption = None,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure.goals.tracking import list_goals

    with progress(not json_) as update:
        update("computing progress")
        goals = list_goals(engine_settings(store), engine=engine, master=master)
    if json_:
        emit_json({"goals": goals})
        return
    out = out_console()
    if not goals:
        out.print("No goals yet. Set one: tenure goal set churn_rate -10% --by 2027-03-31")
        return
    cols = [Col("id"), Col("metric", numeric=False), Col("baseline", numeric=False, rank=4),
            Col("target"), Col("by", numeric=False), Col("current", numeric=False, rank=2),
            Col("progress", rank=3), Col("projected", numeric=False, rank=1),
            Col("status", numeric=False)]  # fmt: skip
    rows = [
        [str(g["id"]), f"{g['metric']} ({g['period']})",
         f"{fmt_number(g['baseline_value'], 2)} ({g['baseline_period']})",
         fmt_number(g["target_value"], 2), g["deadline"],
         f"{fmt_number(g['current_value'], 2)} ({g['current_period'] or '—'})",
         fmt_number(g["progress"], 0, " %"),
         _projected(g) if g["projected_value"] is not None else "—", g["status"]]
        for g in goals
    ]  # fmt: skip
    print_table(out, cols, rows, wide=wide)


@app.command("remove", help="Remove a goal.\n\nExample:\n\n    tenure goal remove 3")
def remove(
    goal_id: Annotated[int, typer.Argument(help="The goal's id (see tenure goal list).")],
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure.goals.tracking import remove_goal

    remove_goal(engine_settings(store), goal_id)
    if json_:
        emit_json({"removed": goal_id})
    else:
        out_console().print(f"Removed goal {goal_id}.")
