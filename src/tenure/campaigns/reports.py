"""A campaign's report: where it stands and, once launched, its lift on
every metric, as one document that the dashboard, the API and the HTML
report format and never recompute.

The numbers are :func:`tenure.campaigns.launch_status.status`'s (the arms
and every assigned customer's fate) and
:func:`tenure.campaigns.launch_status.measure`'s (the treatment against
the campaign's own holdout, per assigned customer: means, the lift with its
95 % interval and its anytime-valid interval, the sample-ratio check and
the verdict), the same calls as ``tenure campaign status NAME --measure
--json``. A campaign that cannot be measured (a draft, no holdout) says
why instead of showing a number.
"""

from __future__ import annotations

from typing import Any

from tenure.campaigns import definitions, launch_status
from tenure.campaigns.measure import WINDOW
from tenure.errors import InputError
from tenure.store.ops import OpsStore

# why a campaign has no lift, by the code of the error its measurement raised
UNMEASURED = {
    "campaign_draft": "not launched yet: nobody is assigned.",
    "no_usable_rows": "nobody is assigned to the treatment or the holdout.",
    "no_control_arm": "no holdout: with nobody held out, the lift cannot be measured.",
    "one_arm_only": "only one arm has customers: a lift compares the treatment with the holdout.",
}


def names(ops: OpsStore) -> list[str]:
    """Every campaign's name, in the order they were created."""
    with ops.engine.connect() as conn:
        return [c.name for c in definitions.all_campaigns(conn)]


def measurement(settings: Any, ops: OpsStore, name: str, *, window: int = WINDOW,
                metric: str = "conversion") -> dict[str, Any]:  # fmt: skip
    """``{"measure": document}``, or ``{"measure": None, "unmeasured": why}``
    when the campaign cannot be measured (not launched, no holdout)."""
    try:
        return {"measure": launch_status.measure(settings, ops, name, window=window,
                                                 metric=metric)}  # fmt: skip
    except InputError as exc:
        why = UNMEASURED.get(getattr(exc, "code", None) or "")
        if why is None:
            raise
        return {"measure": None, "unmeasured": why}


def campaign_report(settings: Any, ops: OpsStore, name: str, *, window: int = WINDOW,
                    metric: str = "conversion") -> dict[str, Any]:  # fmt: skip
    """The status document with its measurement (``measure``, or None with
    ``unmeasured`` saying why)."""
    doc = launch_status.status(ops, name)
    doc.update(measurement(settings, ops, name, window=window, metric=metric))
    return doc


def cache_key(status: dict[str, Any]) -> tuple:
    """What a campaign's measurement depends on in the operational store:
    its launch and its assignments (the orders' side is the analytics
    store's version, which the dashboard's cache adds)."""
    c = status["campaign"]
    return (c["name"], c["launched_at"], status["assigned"], tuple(sorted(status["arms"].items())))
