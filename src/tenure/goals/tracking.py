"""Setting goals and tracking them: what ``tenure goal`` and the report call."""

from __future__ import annotations

from datetime import date
from typing import Any

from tenure.config import Settings
from tenure.errors import ConfigError
from tenure.goals import progress, registry
from tenure.goals.targets import metric_info, target_value


def _metrics(
    settings: Settings,
    period: str,
    definitions: dict[str, Any],
    as_of: date | None = None,
    **engine: Any,
):
    from tenure.analysis import metrics

    keep = {k: definitions.get(k) for k in ("activity_window", "active_by", "timezone")}
    return metrics(store=settings.store, period=period, as_of=as_of, **keep, **engine)


def set_goal(
    settings: Settings,
    metric: str,
    change: str,
    by: date | str,
    *,
    period: str = "month",
    **engine: Any,
) -> dict[str, Any]:
    """Record a goal; its baseline is the metric in the last complete period."""
    from tenure.store.workspace import Workspace

    metric_info(metric)
    deadline = _date(by)
    definitions = {
        "activity_window": settings.activity_window,
        "active_by": settings.active_by,
        "timezone": settings.timezone,
    }
    frame = _metrics(settings, period, definitions, **engine)
    as_of = date.fromisoformat(frame.attrs["definitions"]["as_of"])
    if deadline <= as_of:
        raise ConfigError(
            f"the deadline {deadline} is not after the data's last day, {as_of}.",
            hint="Give a later date with --by.",
        )
    values = frame[metric].dropna()
    if values.empty:
        reasons = {m.get(metric) for m in frame["missing"] if m.get(metric)}
        raise ConfigError(
            f"{metric} has no value in any {period} yet"
            + (f" ({'; '.join(sorted(reasons))})." if reasons else "."),
            hint="Ingest the data it needs, or choose another metric.",
        )
    last = values.index[-1]
    baseline = float(values.iloc[-1])
    target = target_value(metric, change, baseline)
    with Workspace.open(settings, create=False) as ws:
        goal_id = registry.add(
            ws.ops, metric=metric, period=period, change=change,
            baseline_period=str(frame.at[last, "period"]), baseline_value=baseline,
            target_value=target, deadline=deadline, definitions=definitions,
        )  # fmt: skip
        goal = next(g for g in registry.active(ws.ops) if g["id"] == goal_id)
    return {**_public(goal), **progress.evaluate(goal, frame, as_of)}


def list_goals(settings: Settings, **engine: Any) -> list[dict[str, Any]]:
    """Every goal that is not removed, with its progress."""
    from tenure.store.workspace import Workspace

    with Workspace.open(settings, create=False) as ws:
        goals = registry.active(ws.ops)
    out, cache = [], {}
    for goal in goals:
        key = (goal["period"], tuple(sorted(goal["definitions"].items())))
        if key not in cache:
            cache[key] = _metrics(settings, goal["period"], goal["definitions"], **engine)
        frame = cache[key]
        as_of = date.fromisoformat(frame.attrs["definitions"]["as_of"])
        out.append({**_public(goal), **progress.evaluate(goal, frame, as_of)})
    return out


def remove_goal(settings: Settings, goal_id: int) -> None:
    from tenure.store.workspace import Workspace

    with Workspace.open(settings, create=False) as ws:
        registry.remove(ws.ops, goal_id)


def _public(goal: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": goal["id"],
        "metric": goal["metric"],
        "period": goal["period"],
        "change": goal["change"],
        "baseline_period": goal["baseline_period"],
        "baseline_value": goal["baseline_value"],
        "target_value": goal["target_value"],
        "deadline": goal["deadline"].isoformat(),
        "definitions": goal["definitions"],
        "created_at": goal["created_at"].isoformat() if goal.get("created_at") else None,
    }


def _date(value: date | str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(
            f"--by {value!r} is not a date.", hint="Write it as YYYY-MM-DD."
        ) from None
