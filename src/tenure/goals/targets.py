"""SMART goals: a metric, a change from its baseline, and a deadline.

A change is written as:

* ``-10%`` or ``+5%``: relative to the baseline (churn 20 % -> 18 %);
* ``-2pp`` or ``+3pp``: percentage points, for rates (churn 20 % -> 18 %);
* ``=75`` or ``75``: the target value itself.

The baseline is the metric in the last complete period that has a value for
it when the goal is set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tenure.errors import ConfigError


@dataclass(frozen=True)
class MetricInfo:
    """A metric a goal can track: which way is better, its unit, and the
    range it can take (``low``/``high``, None for no bound). Targets outside
    the range are refused and projections are held within it."""

    name: str
    higher_is_better: bool
    unit: str  # percent, money, count, score, ratio
    low: float | None = None
    high: float | None = None


_P = dict(unit="percent", low=0.0, high=100.0)
METRICS = {
    m.name: m
    for m in (
        MetricInfo("retention_rate", True, **_P),
        MetricInfo("churn_rate", False, **_P),
        # R / S: more customers can come back than were active at the start
        MetricInfo("reactivation_rate", True, unit="percent", low=0.0),
        MetricInfo("repeat_purchase_rate", True, **_P),
        MetricInfo("repeat_revenue_share", True, **_P),
        MetricInfo("referral_rate", True, **_P),
        MetricInfo("survey_response_rate", True, **_P),
        MetricInfo("logo_churn_rate", False, **_P),
        MetricInfo("revenue_churn_rate", False, unit="percent", low=0.0),
        MetricInfo("net_revenue_retention", True, unit="percent", low=0.0),
        MetricInfo("csat", True, **_P),
        MetricInfo("nps", True, unit="score", low=-100.0, high=100.0),
        MetricInfo("ces", True, unit="score", low=1.0, high=7.0),
        MetricInfo("aov", True, unit="money", low=0.0),
        MetricInfo("revenue", True, unit="money", low=0.0),
        MetricInfo("historic_clv", True, unit="money", low=0.0),
        MetricInfo("mrr", True, unit="money", low=0.0),
        MetricInfo("purchase_frequency", True, unit="ratio", low=0.0),
        MetricInfo("orders", True, unit="count", low=0.0),
        MetricInfo("new_customers", True, unit="count", low=0.0),
        MetricInfo("customers_end", True, unit="count", low=0.0),
        MetricInfo("lost_customers", False, unit="count", low=0.0),
        MetricInfo("reactivated_customers", True, unit="count", low=0.0),
    )
}

_CHANGE = re.compile(r"^\s*(?P<eq>=)?\s*(?P<num>[+-]?\d+(?:\.\d+)?)\s*(?P<unit>%|pp)?\s*$")


def metric_info(name: str) -> MetricInfo:
    if name not in METRICS:
        import difflib

        close = difflib.get_close_matches(name, METRICS, n=1)
        raise ConfigError(
            f"{name!r} is not a metric a goal can track.",
            hint=(f"Did you mean {close[0]}? " if close else "")
            + f"Metrics: {', '.join(sorted(METRICS))}.",
        )
    return METRICS[name]


def target_value(metric: str, change: str, baseline: float) -> float:
    """The target a change reaches from the baseline (see the module docstring)."""
    info = metric_info(metric)
    m = _CHANGE.match(change)
    if not m:
        raise ConfigError(
            f"the change {change!r} is not one tenure reads.",
            hint="Write -10% (relative), -2pp (percentage points) or =75 (the target itself).",
        )
    number = float(m["num"])
    unit = m["unit"]
    if m["eq"] or unit is None:
        if unit:
            raise ConfigError(f"the change {change!r} mixes = with {unit}.", hint="Write =75.")
        target = number
    elif unit == "%":
        if baseline == 0:
            raise ConfigError(
                f"{metric} is 0 in the baseline period, so a relative change has no target.",
                hint="Give the target itself, e.g. =5.",
            )
        target = baseline * (1 + number / 100.0)
    else:
        if info.unit != "percent":
            raise ConfigError(
                f"{metric} is not a rate, so percentage points do not apply.",
                hint="Use a relative change (+10%) or the target itself (=75).",
            )
        target = baseline + number
    if (info.low is not None and target < info.low) or (
        info.high is not None and target > info.high
    ):
        lo = "" if info.low is None else f"{info.low:g}"
        hi = "" if info.high is None else f"{info.high:g}"
        raise ConfigError(
            f"the target {target:.4g} for {metric} is outside its possible range [{lo}, {hi}].",
            hint="Choose a smaller change.",
        )
    if target == baseline:
        raise ConfigError(
            f"the target equals the baseline ({baseline:.4g}): the goal asks for no change.",
            hint="Give a change such as -10%.",
        )
    return target


def reached(metric: str, value: float, target: float, baseline: float) -> bool:
    """Whether ``value`` meets the target, in the goal's own direction."""
    if target < baseline:
        return value <= target
    return value >= target
