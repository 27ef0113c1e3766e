"""Progress towards a goal, and whether its trend gets there in time.

* progress = (current - baseline) / (target - baseline) x 100, from the
  metric's latest complete period;
* the trend is a least-squares line through the last (up to) six complete
  periods; its value at the deadline's period, held within what the metric
  can be (its bounds in :data:`tenure.goals.targets.METRICS`: a rate
  between 0 and 100, a count or an amount at 0 or more), is the projection.
  A straight line leaves that range sooner or later; where it has by the
  deadline, ``projection_bounded`` is true and the projection is the bound;
* status: ``achieved`` (the latest period meets the target), ``missed``
  (the deadline has passed without it), ``on track`` (the projection meets
  it), ``off track``, or ``not enough data`` (fewer than three periods).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from tenure.engine import periods
from tenure.goals.targets import metric_info, reached

TREND_PERIODS = 6


def evaluate(goal: dict[str, Any], frame: pd.DataFrame, as_of: date) -> dict[str, Any]:
    """Progress of ``goal`` (a registry row) given the metrics ``frame`` of its period."""
    metric, period = goal["metric"], goal["period"]
    base, target = float(goal["baseline_value"]), float(goal["target_value"])
    deadline: date = goal["deadline"]
    index = frame["period_start"].map(lambda d: periods.index_of(d, period)).to_numpy()
    values = frame[metric].to_numpy(dtype="float64")
    ok = ~np.isnan(values)
    index, values = index[ok], values[ok]
    out: dict[str, Any] = {
        "current_period": None,
        "current_value": None,
        "progress": None,
        "trend_per_period": None,
        "projected_value": None,
        "projection_bounded": False,
        "status": "not enough data",
    }
    if len(values):
        current = float(values[-1])
        out["current_period"] = periods.label(int(index[-1]), period)
        out["current_value"] = current
        out["progress"] = (current - base) / (target - base) * 100.0
    recent_x, recent_y = index[-TREND_PERIODS:], values[-TREND_PERIODS:]
    deadline_index = periods.index_of(deadline, period)
    if len(recent_y) >= 3:
        slope, intercept = np.polyfit(recent_x.astype("float64"), recent_y, 1)
        out["trend_per_period"] = float(slope)
        line = float(slope * deadline_index + intercept)
        out["projected_value"] = bounded(metric, line)
        out["projection_bounded"] = out["projected_value"] != line
    if out["current_value"] is not None and reached(metric, out["current_value"], target, base):
        out["status"] = "achieved"
    elif as_of >= deadline:
        out["status"] = "missed"
    elif out["projected_value"] is not None:
        on = reached(metric, out["projected_value"], target, base)
        out["status"] = "on track" if on else "off track"
    return out


def bounded(metric: str, value: float) -> float:
    """``value`` held within the range ``metric`` can take."""
    info = metric_info(metric)
    if info.low is not None and value < info.low:
        return info.low
    if info.high is not None and value > info.high:
        return info.high
    return value
