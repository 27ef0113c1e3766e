"""The three segments a business speaks of, with thresholds in settings.

* **new**: first purchase less than ``new_days`` (30) days before the as-of day;
* **at risk**: still active, but no purchase for ``at_risk_days`` (90) days or more;
* **high value**: among the top ``high_value_top_percent`` (20 %) of
  customers by revenue (percent rank of revenue at or above 1 - 20 %).

Every purchaser gets one label, the first that applies of: lapsed (not
active), new, at risk, high value, active. The flags ``is_new``,
``is_at_risk`` and ``is_high_value`` keep the overlaps: a high-value
customer at risk is labelled "at risk" and flagged high value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the engine is imported where its expressions are built
    import ibis.expr.types as ir

LABELS = ("new", "at risk", "high value", "active", "lapsed")


@dataclass(frozen=True)
class Thresholds:
    high_value_top_percent: int = 20
    at_risk_days: int = 90
    new_days: int = 30

    @classmethod
    def from_settings(cls, settings) -> Thresholds:
        return cls(settings.high_value_top_percent, settings.at_risk_days, settings.new_days)

    def describe(self) -> dict[str, str]:
        return {
            "new": f"first purchase less than {self.new_days} days before the as-of day",
            "at risk": f"active, but no purchase for {self.at_risk_days} days or more",
            "high value": f"top {self.high_value_top_percent} % of customers by revenue",
            "active": "active, and none of the above",
            "lapsed": "no longer active",
        }


def business_segments(summary: ir.Table, thresholds: Thresholds) -> ir.Table:
    """The summary's purchasers with is_new, is_at_risk, is_high_value and value_segment."""
    import ibis

    s = summary.filter(summary.orders > 0)
    rank = ibis.percent_rank().over(ibis.window(order_by=s.monetary_total))
    cut = 1.0 - thresholds.high_value_top_percent / 100.0
    s = s.mutate(
        is_new=s.tenure_days < thresholds.new_days,
        is_at_risk=s.active & (s.recency_days >= thresholds.at_risk_days),
        is_high_value=rank >= cut - 1e-12,
    )
    label = ibis.cases(
        (~s.active, "lapsed"),
        (s.is_new, "new"),
        (s.is_at_risk, "at risk"),
        (s.is_high_value, "high value"),
        else_="active",
    )
    return s.mutate(value_segment=label)
