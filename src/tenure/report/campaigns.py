"""The campaigns' report: per campaign, its arms and what became of every
assigned customer, and its lift on each metric against its own holdout,
per assigned customer (the holdout and the treatment are of unequal sizes,
so counts of events are never compared, only means per assigned customer),
with the 95 % interval, the anytime-valid interval, the sample-ratio check
and the verdict, "inconclusive" included; and a chart of the intervals.

Every number is :func:`tenure.campaigns.reports.campaign_report`'s; this
module only formats. The dashboard's Campaigns pages show the same
sections (:mod:`tenure.web.routes.campaign_pages`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tenure.config import Settings
from tenure.messages import Message
from tenure.report.formatting import Formatter

# the metrics in the order shown, and their names on the page
METRICS = {
    "conversion": "ordered again (share of assigned customers)",
    "orders": "orders per assigned customer",
    "revenue": "revenue per assigned customer",
    "time_to_order": "days to the next order (lower is better)",
    "visits": "visit days per assigned customer",
}
ARMS = {"treatment": "treatment", "holdout": "holdout", "global_control": "global control"}
FATES = {
    "held_out": "held out (holdout, global control)", "not_queued": "not queued yet",
    "pending": "queued", "sending": "being sent", "sent": "sent", "blocked": "blocked",
    "failed": "failed", "expired": "expired",
}  # fmt: skip
LIFT_HEADER = ["metric", "holdout", "treatment", "lift", "95 % interval",
               "anytime-valid interval", "relative lift", "verdict"]  # fmt: skip


def mean(fmt: Formatter, metric: str, value: Any) -> str:
    """A per-assigned-customer mean in the metric's unit."""
    if metric == "conversion":
        return fmt.percent(None if value is None else 100 * value, 2)
    if metric == "revenue":
        return fmt.money(value)
    return fmt.number(value, 1 if metric == "time_to_order" else 3)


def difference(fmt: Formatter, metric: str, value: Any) -> str:
    """A lift in the metric's unit, signed: percentage points for a share."""
    if value is None:
        return fmt.MISSING
    if metric == "conversion":
        return fmt.points(100 * value, 2)
    sign = "+" if value > 0 else ""
    if metric == "revenue":
        return sign + fmt.money(value)
    return sign + fmt.number(value, 1 if metric == "time_to_order" else 3)


def interval(fmt: Formatter, metric: str, ci: list[Any]) -> str:
    return f"{difference(fmt, metric, ci[0])} … {difference(fmt, metric, ci[1])}"


def relative(fmt: Formatter, value: Any) -> str:
    if value is None:
        return fmt.MISSING
    return ("+" if value > 0 else "") + fmt.percent(100 * value, 1)


def lift_rows(measure: dict[str, Any], fmt: Formatter) -> list[dict[str, Any]]:
    """Per metric and arm: the formatted cells of the lift table, and the
    numbers the chart draws."""
    rows = []
    for metric in METRICS:
        entries = measure["metrics"].get(metric)
        if not isinstance(entries, list):  # not available (no events: no visits)
            continue
        for r in entries:
            ab, rel = r["absolute"], r["relative"]
            label = METRICS[metric] if len(entries) == 1 else f"{METRICS[metric]}: {r['arm']}"
            rows.append({
                "metric": metric, "label": label, "verdict": r["verdict"],
                "relative": rel, "anytime_relative": r["anytime_valid"]["relative"],
                "cells": [
                    label, mean(fmt, metric, r["control_mean"]), mean(fmt, metric, r["arm_mean"]),
                    difference(fmt, metric, ab["estimate"]), interval(fmt, metric, ab["ci"]),
                    interval(fmt, metric, r["anytime_valid"]["absolute"]["ci"]),
                    relative(fmt, rel["estimate"]), Message(r["verdict"]),
                ],
            })  # fmt: skip
    return rows


def chart(name: str, rows: list[dict[str, Any]], fmt: Formatter) -> Any | None:
    """The relative lift of each metric with its two intervals; None when
    no metric has a relative lift (a holdout without a single order)."""
    from tenure.report.charts import lift_intervals

    shown = [r for r in rows if r["relative"]["estimate"] is not None]
    if not shown:
        return None
    return lift_intervals(
        [r["label"] for r in shown],
        [r["relative"]["estimate"] for r in shown],
        [r["relative"]["ci"] for r in shown],
        [r["anytime_relative"]["ci"] for r in shown],
        f"{name}: lift over the holdout, per assigned customer", fmt.separators,
    )  # fmt: skip


def campaign_section(doc: dict[str, Any], fmt: Formatter,
                     charts: Callable[[list, str], list[dict[str, Any]]] | None = None,
                     ) -> dict[str, Any]:  # fmt: skip
    """The section of one campaign's report (``doc``:
    :func:`tenure.campaigns.reports.campaign_report`); ``charts`` renders
    figures as the page's chart blocks (:func:`tenure.report.build.chart_blocks`)."""
    c, arms, fates = doc["campaign"], doc["arms"], doc["fates"]
    launched = fmt.date(c["launched_at"]) if c.get("launched_at") else fmt.MISSING
    text = Message(
        "State: {state}. {assigned} customers assigned (launched {launched}); the audience: "
        "{audience}; {holdout} held out.", state=Message(c["state"]),
        assigned=fmt.number(doc["assigned"]), launched=launched,
        audience=" & ".join(c["audience"]), holdout=fmt.percent(100 * c["holdout"], 1),
    )  # fmt: skip
    fate_rows = [[Message(ARMS[a]), fmt.number(n)] for a, n in arms.items() if a in ARMS]
    fate_rows += [[Message(FATES[f]), fmt.number(fates[f])] for f in FATES if fates.get(f)]
    fate_rows += [[Message("no message: {why}", why=why), fmt.number(n)]
                  for why, n in fates["no_message"].items()]  # fmt: skip
    for state, reasons in doc["not_sent"].items():
        fate_rows += [[Message("{state}: {why}", state=Message(state), why=why), fmt.number(n)]
                      for why, n in reasons.items()]  # fmt: skip
    tables = [{"title": "Arms, and what became of every assigned customer",
               "header": ["arm or fate", "customers"], "rows": fate_rows, "numeric": [1]}]  # fmt: skip
    notes = [Message("every assigned customer is accounted for") if doc["accounted"] else
             Message("not every assigned customer is accounted for yet: a launch may be "
                     "running")]  # fmt: skip
    section: dict[str, Any] = {"id": f"campaign-{c['name']}", "title": c["name"], "text": text,
                               "tables": tables, "notes": notes}  # fmt: skip
    m = doc.get("measure")
    if m is None:
        notes.append(Message("not measured: {why}", why=Message(doc.get("unmeasured") or "")))
        return section
    rows = lift_rows(m, fmt)
    sizes = {a["name"]: a["n"] for a in m["arms"]}
    tables.append({
        "title": Message("Lift over the holdout in the {days} days after assignment, per "
                         "assigned customer (holdout n = {control}, treatment n = {treated})",
                         days=m["window_days"], control=fmt.number(sizes.get(m["control"])),
                         treated=fmt.number(sum(n for a, n in sizes.items()
                                                if a != m["control"]))),
        "header": LIFT_HEADER, "rows": [r["cells"] for r in rows], "numeric": [1, 2, 3, 4, 5, 6],
    })  # fmt: skip
    srm = m["srm"]
    notes.append(Message(
        "sample ratio: p = {p} against the intended split ({verdict})",
        p=fmt.number(srm["p_value"], 3),
        verdict=Message("flagged: the lift cannot be trusted") if srm["flagged"] else Message("ok"),
    ))  # fmt: skip
    for metric in METRICS:
        for r in m["metrics"].get(metric) if isinstance(m["metrics"].get(metric), list) else []:
            if r["verdict"] == "inconclusive" and r["mde_absolute"] is not None:
                notes.append(Message(
                    "{metric}: inconclusive; with these customers a lift of {mde} or more would "
                    "be found 80 % of the time", metric=Message(METRICS[metric]),
                    mde=difference(fmt, metric, r["mde_absolute"]).lstrip("+"),
                ))  # fmt: skip
    notes.append(Message("the 95 % interval: {how}; anytime-valid: {seq}; CUPED on the same "
                         "days before assignment", how=m["method"]["interval"],
                         seq=m["method"]["anytime_valid"]))  # fmt: skip
    # the notes are joined into one sentence list: without their own full stops
    notes += [note.rstrip(".") for note in m["notes"]]
    fig = chart(c["name"], rows, fmt)
    if fig is not None and charts is not None:
        section["charts"] = charts([(fig, True)], f"campaign-{c['name']}")
    return section


def reports(settings: Settings, ops: Any) -> list[dict[str, Any]]:
    """Every campaign's report, in the order they were created."""
    from tenure.campaigns.reports import campaign_report, names

    return [campaign_report(settings, ops, name) for name in names(ops)]


def section(settings: Settings, fmt: Formatter) -> dict[str, Any] | None:
    """The report's Campaigns section, a part per campaign; None when the
    store has no campaign."""
    from tenure.report.build import chart_blocks
    from tenure.store.ops import OpsStore

    url = settings.ops_database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return None
    ops = OpsStore.open(url, create=False)
    try:
        import sqlalchemy as sa

        if not sa.inspect(ops.engine).has_table("campaigns"):
            return None
        docs = reports(settings, ops)
    finally:
        ops.close()
    if not docs:
        return None
    parts = [campaign_section(d, fmt, chart_blocks) for d in docs]
    return {"id": "campaigns", "title": "Campaigns", "parts": parts,
            "text": Message("Each campaign's treatment against its own holdout, assigned at "
                            "random before any filter (intent to treat). Outcomes are per "
                            "assigned customer, never counts of events of groups of unequal "
                            "size.")}  # fmt: skip
