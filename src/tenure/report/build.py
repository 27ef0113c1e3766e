"""Collect the report's numbers from the library and render one HTML file.

The file is self-contained: CSS, data and the plotly.js library are inline,
so it opens offline and can be sent by e-mail. Every number comes from the
same functions as ``tenure metrics``, ``cohorts``, ``segments`` and
``goal list``; the predictions are those kept by ``tenure predict`` and
``tenure fit``, read from the store.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tenure._version import __version__
from tenure.analysis.cohorts import cohort_matrices
from tenure.analysis.context import Context, open_context
from tenure.analysis.metrics import frames as period_frames
from tenure.analysis.predictions import stored_predictions
from tenure.analysis.segments import segment_tables
from tenure.config import Settings
from tenure.errors import InputError
from tenure.messages import Message
from tenure.report import charts, churn, predictions
from tenure.report.formatting import Formatter

# cohorts beyond this many rows are dropped from the monthly heatmap (the oldest)
MAX_MONTHLY_COHORTS = 24
AT_RISK_LIST = 25


@dataclass
class ReportResult:
    path: Path
    bytes: int
    seconds: float
    as_of: str
    sections: list[str]


def write_report(
    settings: Settings,
    out: Path | str,
    *,
    locale: str | None = None,
    engine: str | None = None,
    master: str | None = None,
    as_of: date | None = None,
    progress: Callable[[str], None] = lambda _s: None,
) -> ReportResult:
    """Compute every section and write the HTML report to ``out`` (atomically)."""
    started = time.perf_counter()
    out = Path(out)
    with open_context(settings=settings, engine=engine, master=master, as_of=as_of) as ctx:
        fmt = Formatter(locale or settings.locale, ctx.source.currency)
        data = collect(ctx, settings, fmt, progress)
    progress("rendering the report")
    html = render(data, fmt)
    tmp = out.with_name(out.name + ".part")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    return ReportResult(
        out, out.stat().st_size, time.perf_counter() - started, ctx.as_of.isoformat(),
        [s["id"] for s in data["sections"]],
    )  # fmt: skip


def collect(
    ctx: Context, settings: Settings, fmt: Formatter, progress: Callable[[str], None]
) -> dict[str, Any]:
    """Every section of the report, in its order; the dashboard's pages show
    the same sections (see :mod:`tenure.web.dashboard`)."""
    definitions = ctx.describe()
    progress("monthly and quarterly metrics")
    frames = metric_frames(ctx)
    progress("industry benchmark")
    top = overview(ctx, settings, fmt, frames)
    sections = trend_sections(frames, fmt)
    progress("cohorts")
    sections.append(guarded("cohorts", "Cohorts", cohort_section, ctx, settings, fmt))
    progress("segments")
    sections.append(guarded("segments", "Segments", segment_section, ctx, settings, fmt))
    progress("predictions")
    # the fits and scores the user keeps (tenure predict, tenure fit churn):
    # the report shows them as they are, and fits no model of its own
    kept = stored_predictions(settings)
    build = predictions.section
    sections.append(
        guarded("predictions", "Predictions", build, ctx, settings, fmt, chart_blocks, kept)
    )
    progress("churn")
    churn_section = guarded(
        "churn", "Churn and survival", churn.section, ctx, settings, fmt, chart_blocks, kept,
        frames["month"],
    )  # fmt: skip
    sections.append(churn_section)
    _churn_tile(top["tiles"], frames["month"], churn_section.get("summary"), fmt)
    progress("loyalty program")
    from tenure.report import loyalty

    program = loyalty.section(settings, fmt)
    if program is not None:
        sections.append(program)
    progress("campaigns")
    from tenure.report import campaigns

    measured = campaigns.section(settings, fmt)
    if measured is not None:
        sections.append(measured)
    progress("goals")
    sections += top["sections"]
    sections.append(definitions_section(frames["month"], definitions, settings))
    return {
        "title": "Customer retention report",
        "generated": fmt.datetime(datetime.now(UTC)),
        "definitions": definitions,
        "as_of": fmt.date(definitions["as_of"]),
        "version": __version__,
        "tiles": top["tiles"],
        "sections": sections,
        "locale": fmt.tag,
    }


def metric_frames(ctx: Context) -> dict[str, pd.DataFrame]:
    """The monthly and quarterly metrics that tiles, trends and goals share
    (:func:`tenure.analysis.metrics.frames`)."""
    return period_frames(ctx, ("month", "quarter"))


def guarded(
    section_id: str, title: str, build: Callable[..., dict], *args: Any, **kwargs: Any
) -> dict[str, Any]:
    """``build(*args, **kwargs)``, or the section saying why it is empty when
    the data cannot give it (no orders yet, no repeat buyers)."""
    try:
        return build(*args, **kwargs)
    except InputError as exc:
        return {"id": section_id, "title": title, "text": exc.what}


def overview(
    ctx: Context, settings: Settings, fmt: Formatter, frames: dict[str, pd.DataFrame]
) -> dict[str, Any]:
    """The KPI tiles, and the goals and industry benchmark sections."""
    from tenure.goals import industry

    sep = fmt.separators
    bench = industry.compare(ctx, settings.industry, settings.benchmarks_file)
    tiles = _tiles(frames["month"], frames["quarter"], bench, fmt)
    rows = [
        (b.industry, b.retention_rate, False)
        for b in industry.load(settings.benchmarks_file).values()
    ]
    if bench["retention_rate"] is not None:
        rows.append(("this business", bench["retention_rate"], True))
    rows.sort(key=lambda r: -r[1])
    benchmark = {
        "id": "benchmark",
        "title": "Against the industry",
        "text": _benchmark_text(bench, fmt),
        "charts": chart_blocks([charts.benchmark(rows, "Customer retention over twelve months", sep)], "bench"),
    }  # fmt: skip
    return {"tiles": tiles, "sections": [_goals(ctx, settings, frames, fmt), benchmark]}


def trend_sections(frames: dict[str, pd.DataFrame], fmt: Formatter) -> list[dict[str, Any]]:
    """The monthly trends and, with survey answers, the feedback scores."""
    sep = fmt.separators
    monthly, quarterly = frames["month"], frames["quarter"]
    trend = monthly.tail(36)
    figs = [
        charts.lines(trend, [("retention_rate", "retention rate"), ("churn_rate", "churn rate"),
                             ("reactivation_rate", "reactivation rate")],
                     "Retention, churn and reactivation rate per month", sep, percent=True),
        charts.flows(trend, "Customers: new, back, lost and active", sep),
        charts.lines(trend, [("revenue", f"revenue ({fmt.currency})")], "Revenue and orders per month",
                     sep, secondary=[("orders", "orders")], secondary_title="orders"),
        charts.lines(trend, [("aov", f"AOV ({fmt.currency})")], "Average order value and purchase frequency",
                     sep, secondary=[("purchase_frequency", "orders per ordering customer")],
                     secondary_title="orders per customer"),
        charts.lines(trend, [("repeat_purchase_rate", "repeat purchase rate"),
                             ("repeat_revenue_share", "revenue after the first purchase day")],
                     "Repeat purchases", sep, percent=True),
    ]  # fmt: skip
    if quarterly["mrr"].notna().any():
        figs.append(
            charts.lines(
                trend,
                [("mrr", f"MRR ({fmt.currency})")],
                "Subscriptions: MRR and retention",
                sep,
                secondary=[
                    ("net_revenue_retention", "net revenue retention %"),
                    ("logo_churn_rate", "logo churn %"),
                ],
                secondary_title="%",
            )  # fmt: skip
        )
    sections = [{"id": "trends", "title": "Trends", "charts": chart_blocks(figs, "trend")}]
    survey_figs = [
        charts.scores(quarterly, kind, f"{kind.upper()} per quarter (95 % interval)", sep)
        for kind in ("nps", "csat", "ces")
        if (quarterly[f"{kind}_n"] > 0).any()
    ]
    if survey_figs:
        sections.append(
            {
                "id": "surveys",
                "title": "Customer feedback",
                "charts": chart_blocks(survey_figs, "survey"),
            }
        )
    return sections


def chart_blocks(figs: list, prefix: str) -> list[dict[str, Any]]:
    """Charts for the template; an item ``(figure, True)`` spans the whole row."""
    out = []
    for i, item in enumerate(figs):
        fig, wide = item if isinstance(item, tuple) else (item, False)
        out.append({"html": charts.to_html(fig, f"{prefix}-{i}"), "wide": wide})
    return out


def _wide(fig) -> tuple:
    return fig, True


def _change(now: float, before: float, fmt: Formatter, *, points: bool) -> str:
    if any(v is None or (isinstance(v, float) and np.isnan(v)) for v in (now, before)):
        return ""
    if points:
        return Message("{change} on the period before", change=fmt.points(now - before))
    if before == 0:
        return ""
    change = f"{'+' if now >= before else ''}{fmt.percent((now - before) / before * 100)}"
    return Message("{change} on the period before", change=change)


def _tiles(
    monthly: pd.DataFrame, quarterly: pd.DataFrame, bench: dict, fmt: Formatter
) -> list[dict]:
    m = monthly.iloc[-1]
    p = monthly.iloc[-2] if len(monthly) > 1 else m
    q = quarterly.iloc[-1]
    tiles = [
        {"label": "Active customers", "value": fmt.number(m.customers_end), "period": m.period,
         "note": _change(m.customers_end, p.customers_end, fmt, points=False)},
        {"label": "Retention, last 12 months", "value": fmt.percent(bench["retention_rate"]),
         "period": f"{bench['window']['start']} → {bench['window']['end']}",
         "note": Message("{industry} benchmark {rate}", industry=Message(bench["industry"]),
                         rate=fmt.percent(bench["benchmark_retention_rate"], 0))},
        {"label": "Churn rate", "value": fmt.percent(m.churn_rate), "period": m.period,
         "note": _churn_note(m, p, churn.HORIZON_DAYS, None, fmt)},
        {"label": "Revenue", "value": fmt.money(m.revenue, 0), "period": m.period,
         "note": _change(m.revenue, p.revenue, fmt, points=False)},
        {"label": "Average order value", "value": fmt.money(m.aov), "period": m.period,
         "note": _change(m.aov, p.aov, fmt, points=False)},
        {"label": "Repeat purchase rate", "value": fmt.percent(m.repeat_purchase_rate), "period": m.period,
         "note": _change(m.repeat_purchase_rate, p.repeat_purchase_rate, fmt, points=True)},
        {"label": "Historic CLV (V × L)", "value": fmt.money(m.historic_clv, 0), "period": m.period,
         "note": Message.of(m.missing.get("historic_clv", "revenue per active customer ÷ churn"))},
        {"label": "NPS", "value": fmt.number(q.nps, 0), "period": q.period,
         "note": Message("95 % interval {low} to {high}, n = {n}", low=fmt.number(q.nps_ci_low, 0),
                         high=fmt.number(q.nps_ci_high, 0), n=fmt.number(q.nps_n))
                 if q.nps_n else Message.of(q.missing.get("nps", ""))},
    ]  # fmt: skip
    if not np.isnan(m.mrr):
        tiles.append({"label": "MRR", "value": fmt.money(m.mrr, 0), "period": m.period,
                      "note": Message("net revenue retention {rate}", rate=fmt.percent(m.net_revenue_retention))})  # fmt: skip
    return tiles


def _churn_note(
    m: pd.Series, p: pd.Series, horizon: int, share: float | None, fmt: Formatter
) -> str:
    """The churn tile's second line: the change on the month before, the
    rate over the churn model's horizon and the model's own; or why the
    month has no churn rate."""
    if np.isnan(m.churn_rate):
        return Message.of(m.missing.get("churn_rate", ""))
    parts = [
        _change(m.churn_rate, p.churn_rate, fmt, points=True),
        churn.tile_note(m.churn_rate, horizon, share, fmt),
    ]
    return Message.join("; ", parts)


def _churn_tile(
    tiles: list[dict], monthly: pd.DataFrame, summary: dict | None, fmt: Formatter
) -> None:
    """Set the churn model's horizon and share, once fitted, beside the tile's
    monthly churn rate."""
    if not summary:
        return
    m = monthly.iloc[-1]
    p = monthly.iloc[-2] if len(monthly) > 1 else m
    for tile in tiles:
        if tile["label"] == "Churn rate":
            tile["note"] = _churn_note(
                m, p, summary["horizon_days"], summary["expected_share"], fmt
            )


def cohort_section(ctx: Context, settings: Settings, fmt: Formatter) -> dict[str, Any]:
    sep = fmt.separators
    found = cohort_matrices(ctx, MAX_MONTHLY_COHORTS)
    figs = [
        _wide(charts.heatmap(found["retention"], "Monthly cohorts: % of the cohort purchasing, by months since acquisition",
                       sep, value="customers", row_title="cohort")),
        charts.heatmap(found["revenue"],
                       "Quarterly cohorts: revenue as % of the first quarter's, by quarters since",
                       sep, value="revenue", row_title="cohort"),
        charts.heatmap(found["cumulative_revenue"],
                       f"Quarterly cohorts: cumulative revenue per customer ({fmt.currency}), by quarters since",
                       sep, value="cumulative_revenue", row_title="cohort"),
    ]  # fmt: skip
    for name, m in found["by"].items():
        figs.append(charts.heatmap(m, f"By {name}: % purchasing, by quarters since acquisition",
                                   sep, value="customers", row_title=name))  # fmt: skip
    return {"id": "cohorts", "title": "Cohorts", "charts": chart_blocks(figs, "cohort")}


def segment_section(ctx: Context, settings: Settings, fmt: Formatter) -> dict[str, Any]:
    sep = fmt.separators
    found = segment_tables(ctx, settings, 6, AT_RISK_LIST)
    rfm, biz, start = found["rfm"], found["business"], found["start"]
    figs = [
        charts.shares(rfm, "RFM segments: share of customers and of revenue", sep),
        charts.shares(biz, "Business segments: share of customers and of revenue", sep),
    ]
    tables = [_size_table("RFM segments", rfm, fmt), _size_table("Business segments", biz, fmt)]
    if found["moved"] is not None:
        title = f"How customers moved between RFM segments, {start} → {ctx.as_of}"
        figs.append(_wide(charts.transitions(found["moved"], title, sep)))
    top, n_risky = found["at_risk"], found["at_risk_count"]
    rows = [
        [r.customer_id, r.country or "", fmt.money(r.monetary_total), fmt.number(r.orders),
         fmt.date(r.last_order_at.date() if r.last_order_at is not None else None), fmt.number(r.recency_days), Message(r.segment)]
        for r in top.itertuples()
    ]  # fmt: skip
    tables.append({
        "title": Message("High-value customers at risk: {n} (the top {top} by revenue)",
                         n=fmt.number(n_risky), top=len(rows)),
        "header": ["customer", "country", "revenue", "orders", "last order", "days since", "RFM segment"],
        "rows": rows,
        "numeric": [2, 3, 5],
        "ids": 0,
    })  # fmt: skip
    notes = [f"{k}: {v}" for k, v in found["thresholds"].items()]
    return {
        "id": "segments",
        "title": "Segments",
        "charts": chart_blocks(figs, "segment"),
        "tables": tables,
        "notes": notes,
        "notes_title": "Thresholds",
    }


def _size_table(title: str, sizes: pd.DataFrame, fmt: Formatter) -> dict[str, Any]:
    rows = [
        [Message(r.segment), fmt.number(r.customers), fmt.percent(r.share), fmt.money(r.revenue, 0),
         fmt.percent(r.revenue_share), fmt.number(r.avg_recency_days), fmt.number(r.avg_orders, 1),
         fmt.money(r.avg_revenue)]
        for r in sizes.itertuples()
    ]  # fmt: skip
    return {
        "title": title,
        "header": ["segment", "customers", "share", "revenue", "revenue share", "avg days since last order",
                   "avg orders", "avg revenue"],
        "rows": rows,
        "numeric": [1, 2, 3, 4, 5, 6, 7],
    }  # fmt: skip


def _goals(ctx: Context, settings: Settings, frames: dict, fmt: Formatter) -> dict[str, Any]:
    from tenure.goals.tracking import definitions_key, list_goals

    key = definitions_key(
        {"activity_window": ctx.defs.activity_window, "active_by": ctx.defs.active_by,
         "timezone": ctx.defs.timezone}
    )  # fmt: skip
    computed = {(period, key): frame for period, frame in frames.items()}
    rows = []
    for g in list_goals(settings, as_of=ctx.as_of, frames=computed):
        pct = g["progress"]
        rows.append({
            "metric": Message("{metric} ({period})", metric=g["metric"], period=Message(g["period"])),
            "baseline": f"{fmt.number(g['baseline_value'], 2)} ({g['baseline_period']})",
            "target": fmt.number(g["target_value"], 2),
            "deadline": fmt.date(g["deadline"]),
            "current": f"{fmt.number(g['current_value'], 2)} ({g['current_period'] or '—'})",
            "progress": None if pct is None else max(0.0, min(100.0, pct)),
            "progress_text": fmt.percent(pct, 0) if pct is not None else "—",
            "projected": Message("{value} (the bound)", value=fmt.number(g["projected_value"], 2))
            if g.get("projection_bounded") else fmt.number(g["projected_value"], 2),
            "status": Message(g["status"]),
            "status_class": g["status"].replace(" ", "-"),
        })  # fmt: skip
    return {"id": "goals", "title": "Goals", "goals": rows}


def _benchmark_text(bench: dict, fmt: Formatter) -> str:
    if bench["retention_rate"] is None:
        return Message(
            "There were no active customers twelve months ago, so the retention over twelve months is not known yet."
        )
    diff = bench["difference_pp"]
    c = bench["counts"]
    template = (
        "Over the twelve months from {start} to {end}, {kept} of the {customers} customers active at "
        "the start were active at the end (new customers left out): a retention rate of {rate}, "
        "{points} points above the {industry} benchmark of {benchmark} ({source})."
        if diff >= 0 else
        "Over the twelve months from {start} to {end}, {kept} of the {customers} customers active at "
        "the start were active at the end (new customers left out): a retention rate of {rate}, "
        "{points} points below the {industry} benchmark of {benchmark} ({source})."
    )  # fmt: skip
    return Message(
        template, start=fmt.date(bench["window"]["start"]), end=fmt.date(bench["window"]["end"]),
        kept=fmt.number(c["customers_end"] - c["new_customers"]),
        customers=fmt.number(c["customers_start"]), rate=fmt.percent(bench["retention_rate"]),
        points=fmt.number(abs(diff), 1), industry=Message(bench["industry"]),
        benchmark=fmt.percent(bench["benchmark_retention_rate"], 0), source=bench["source"],
    )  # fmt: skip


FORMULAS = [
    (Message("Customers S, E, L, N, R"), Message("S active at the start, E active at the end, L of S lost by the end; of E, N new in the period and R back after a lapse (inactive at the start, active before the period). Every period: S − L + N + R = E")),
    (Message("Retention rate"), Message("(E − N) / S × 100: E active at the end, N new during the period, S active at the start")),
    (Message("Churn rate"), Message("L / S × 100: L of the S customers active at the start who are not active at the end. Per month on the overview; none until one activity window has passed since the first purchase, when nobody who bought could have lapsed")),
    (Message("Reactivation rate"), Message("R / S × 100; retention rate = 100 − churn rate + reactivation rate")),
    (Message("Churn model's churn"), Message("the share of today's active customers expected to churn in the next N days (see the churn section for N and what churned means); a monthly rate m is 1 − (1 − m)^(N / 30.44) over N days")),
    (Message("AOV"), Message("revenue / orders")),
    (Message("Purchase frequency"), Message("orders / customers who ordered in the period")),
    (Message("Repeat purchase rate"), Message("share of the period's ordering customers with two or more orders by its end")),
    (Message("Revenue from repeat purchases"), Message("share of revenue from purchases after a customer's first purchase day")),
    (Message("Historic CLV"), Message("V × L: V = revenue per average active customer, (S + E) / 2; L = 1 / churn rate, in periods")),
    (Message("Referral rate"), Message("share of the customers acquired in the period who were referred")),
    (Message("NPS"), Message("% promoters (9–10) − % detractors (0–6), with a 95 % normal interval")),
    (Message("CSAT"), Message("% of answers 4–5 on a 1–5 scale, with a 95 % Wilson interval")),
    (Message("CES"), Message("mean effort score (1–7, 7 = very easy), with a 95 % t interval")),
    (Message("MRR"), Message("monthly recurring revenue of the subscriptions active at the period's end")),
    (Message("Logo churn"), Message("subscribers at the start with no active subscription at the end / subscribers at the start")),
    (Message("Net revenue retention"), Message("MRR at the end of the customers subscribed at the start / their MRR at the start")),
]  # fmt: skip


def definitions_section(
    monthly: pd.DataFrame, definitions: dict, settings: Settings
) -> dict[str, Any]:
    gaps: dict[str, dict[str, int]] = {}
    for m in monthly["missing"]:
        for metric, why in m.items():
            gaps.setdefault(metric, {}).setdefault(why, 0)
            gaps[metric][why] += 1
    missing = [
        [metric, Message.of(why), str(n)]
        for metric, whys in sorted(gaps.items())
        for why, n in sorted(whys.items())
    ]
    d = definitions
    used = [
        [Message("Active customer"), d["active_customer"]],
        [Message("Time zone"), Message("{zone} (days and months begin at midnight there)", zone=d["timezone"])],
        [Message("As of"), Message("{date} (the last day the numbers see; only complete periods are shown)", date=d["as_of"])],
        [Message("Currency"), d["currency"]],
        [Message("Purchases"), Message("orders with status {statuses}; refunded and cancelled orders are left out",
                                       statuses=", ".join(d["purchase_statuses"]))],
        [Message("Engine"), d["engine"]],
    ]  # fmt: skip
    return {
        "id": "definitions",
        "title": "Definitions used",
        "used": used,
        "formulas": FORMULAS,
        "missing": missing,
    }


def render(data: dict[str, Any], fmt: Formatter) -> str:
    import jinja2
    import plotly.offline

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("tenure.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["_"] = lambda text: text  # the report is in English; the dashboard translates
    template = env.get_template("report.html.j2")
    return template.render(plotly_js=plotly.offline.get_plotlyjs(), **data)
