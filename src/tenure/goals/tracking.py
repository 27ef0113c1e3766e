"""Setting goals and tracking them: what ``tenure goal`` and the report call."""

from __future__ import annotations

from datetime import date
from typing import Any

from tenure.config import Settings
from tenure.errors import ConfigError
from tenure.goals import progress, registry
from tenure.goals.targets import metric_info, target_value

# what a goal's metric depends on, recorded with the goal
DEFINITIONS = ("activity_window", "active_by", "timezone")


def _metrics(
    settings: Settings,
    period: str,
    definitions: dict[str, Any],
    as_of: date | None = None,
    **engine: Any,
):
    from tenure.analysis import metrics

    keep = {k: definitions.get(k) for k in DEFINITIONS}
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


def definitions_key(definitions: dict[str, Any]) -> tuple:
    """A hashable form of a goal's definitions, to share a metrics frame."""
    return tuple(sorted((k, definitions.get(k)) for k in DEFINITIONS))


def list_goals(
    settings: Settings,
    *,
    as_of: date | None = None,
    frames: dict[tuple, Any] | None = None,
    **engine: Any,
) -> list[dict[str, Any]]:
    """Every goal that is not removed, with its progress as of ``as_of``
    (default: the data's last day). ``frames`` holds metrics already computed,
    keyed by (period, :func:`definitions_key`); they are reused."""
    from tenure.store.ops import OpsStore

    ops = OpsStore.open(
        settings.ops_database_url, create=False, store_hint=f" --store {settings.store}"
    )
    try:
        goals = registry.active(ops)
    finally:
        ops.close()
    out, cache = [], dict(frames or {})
    for goal in goals:
        key = (goal["period"], definitions_key(goal["definitions"]))
        if key not in cache:
            cache[key] = _metrics(
                settings, goal["period"], goal["definitions"], as_of=as_of, **engine
            )
        frame = cache[key]
        when = as_of or date.fromisoformat(frame.attrs["definitions"]["as_of"])
        out.append({**_public(goal), **progress.evaluate(goal, frame, when)})
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
