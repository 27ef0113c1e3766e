"""Measure a campaign from its assignments and the store's orders and events.

``measure_campaign`` reads an assignments file (:mod:`.measure_input`),
computes in DuckDB each assigned customer's outcomes over ``window`` days
from their own ``assigned_at`` (and the same metrics over the same length of
time before it, CUPED's covariate), aggregates them per arm into sums (the
order log never leaves DuckDB; only a few numbers per arm do), and returns
the document ``tenure campaign measure --json`` prints: each arm's n, the
lift of each arm over the control with its 95 % interval and its
anytime-valid interval, the method, the sample-ratio check and the verdict.

Metrics, per assigned customer (intent to treat: every assigned customer
counts, whether they opened a message or not):

* ``conversion``: 1 if they placed an order in the window (retention of the
  customers already known), else 0;
* ``orders``: orders placed in the window;
* ``revenue``: their net amount (reporting currency, refunds deducted);
* ``time_to_order``: days to their next order, capped at the window (a
  customer who did not order counts as the window's length): the restricted
  mean time to the next order, which every assigned customer has, so arms
  of any conversion rate compare fairly; lower is better;
* ``visits``: days with at least one behaviour event (when the store has
  events).

Orders count as elsewhere in tenure: not refunded or cancelled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tenure.campaigns import measure_input
from tenure.campaigns.cuped import cuped_lift, variance_reduction
from tenure.campaigns.lift import ALPHA, Interval, lift, verdict
from tenure.campaigns.power import POWER
from tenure.campaigns.sequential import confidence_sequence, rho
from tenure.campaigns.srm import THRESHOLD, srm_check
from tenure.campaigns.stats import Paired, Sums
from tenure.errors import InputError

METRICS = ("conversion", "orders", "revenue", "time_to_order", "visits")
LOWER_IS_BETTER = {"time_to_order"}
BINARY = {"conversion"}
WINDOW = 30
COUNTED = "coalesce(o.status, 'completed') NOT IN ('refunded', 'cancelled')"
NO_EVENTS = (
    "the store holds no behaviour events, so visits cannot be measured. "
    "Ingest them (tenure ingest events FILE) or measure conversion, orders or revenue."
)

METHOD = {
    "interval": "95 % two-sided t-interval with Welch-Satterthwaite degrees of freedom "
    "(as GrowthBook's gbstats TwoSidedTTest)",
    "relative": "lift / |control mean|, variance by the delta method",
    "cuped": "regression on the same metric over the same number of days before "
    "assigned_at, theta pooled over both arms (Deng et al. 2013)",
    "anytime_valid": "asymptotic confidence sequence (Waudby-Smith et al. 2023, eq. 9), "
    "tuned to the assigned audience; valid however often it is looked at",
    "srm": f"Pearson chi-square of the arms' sizes against the intended split, "
    f"flagged at p < {THRESHOLD}",
    "verdict": "better or worse when the interval excludes zero, else inconclusive; "
    "sample ratio mismatch whatever the interval when the SRM check is flagged",
}


def measure_campaign(settings: Any, assignments: Path | str, *, window: int = WINDOW,
                     metric: str = "conversion", control: str | None = None,
                     split: dict[str, float] | None = None, sequential: bool = False,
                     alpha: float = ALPHA) -> dict[str, Any]:  # fmt: skip
    """The measurement document of the campaign in ``assignments``.

    ``split``: the intended share of each group (any positive weights;
    equal shares when None), for the sample-ratio check. ``sequential``:
    the verdict reads the anytime-valid interval rather than the fixed one
    (for a campaign looked at before its window ended).
    """
    from tenure.store import analytics

    if metric not in METRICS:
        raise InputError(f"unknown metric {metric!r}.", hint=f"Use one of {', '.join(METRICS)}.",
                         value=metric, code="unknown_metric")  # fmt: skip
    if window < 1:
        raise InputError(f"--window must be at least 1 day; got {window}.",
                         hint="Pass the days after assignment to measure, e.g. --window 30.",
                         value=window, code="bad_window")  # fmt: skip
    con, currency = analytics.open_read_only(settings.analytics_path, settings.store)
    try:
        con.execute("SET TimeZone = 'UTC'")
        read = measure_input.load(con, Path(assignments), control=control,
                                  quarantine_dir=settings.quarantine_dir)  # fmt: skip
        has_events = bool(con.execute("SELECT count(*) FROM (SELECT 1 FROM events LIMIT 1)")
                          .fetchall()[0][0])  # fmt: skip
        if metric == "visits" and not has_events:
            raise InputError(NO_EVENTS, code="no_events")
        sums = _sums(con, window, has_events)
        data_end, late = con.execute(
            f"SELECT (SELECT max(placed_at) FROM orders), count(*) FILTER (WHERE assigned_at + "
            f"INTERVAL {int(window)} DAY > (SELECT max(placed_at) FROM orders)) FROM _assigned"
        ).fetchall()[0]
    finally:
        con.close()
    return _document(read, sums, window=window, metric=metric, split=split,
                     sequential=sequential, alpha=alpha, has_events=has_events,
                     currency=currency, data_end=data_end, late=int(late or 0))  # fmt: skip


def _sums(con: Any, window: int, has_events: bool) -> dict[str, dict[str, Paired]]:
    """metric -> arm -> the arm's (post, pre) sums, from one aggregate query."""
    outcomes(con, window, has_events)
    aggregates = ", ".join(
        f"sum({m}_y), sum({m}_y * {m}_y), sum({m}_x), sum({m}_x * {m}_x), sum({m}_x * {m}_y)"
        for m in METRICS
    )
    rows = con.execute(
        f"SELECT arm, count(*), {aggregates} FROM _outcomes GROUP BY arm ORDER BY arm"
    ).fetchall()
    out: dict[str, dict[str, Paired]] = {m: {} for m in METRICS}
    for row in rows:
        arm, n = row[0], float(row[1])
        for i, m in enumerate(METRICS):
            sy, syy, sx, sxx, sxy = (float(v or 0) for v in row[2 + 5 * i : 7 + 5 * i])
            binary = m in BINARY
            out[m][arm] = Paired(Sums(n, sy, syy, binary), Sums(n, sx, sxx, binary), sxy)
    return out


def outcomes(con: Any, window: int, has_events: bool) -> None:
    """The temp table ``_outcomes`` of ``con``: per assigned customer of
    ``_assigned`` (:func:`.measure_input.load`), their ``customer_id``,
    ``arm``, ``assigned_at`` and each metric over the window after
    (``{metric}_y``) and the same days before (``{metric}_x``)."""
    w = f"INTERVAL {int(window)} DAY"
    days = float(window)
    visits = ""
    if has_events:
        visits = f""",
        v AS (
          SELECT a.customer_id,
                 count(DISTINCT CAST(e.occurred_at AS DATE)) FILTER (
                   WHERE e.occurred_at >= a.assigned_at) AS visits_y,
                 count(DISTINCT CAST(e.occurred_at AS DATE)) FILTER (
                   WHERE e.occurred_at < a.assigned_at) AS visits_x
          FROM _assigned a JOIN events e ON e.customer_id = a.customer_id
           AND e.occurred_at >= a.assigned_at - {w} AND e.occurred_at < a.assigned_at + {w}
          GROUP BY a.customer_id)"""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _outcomes AS
        WITH hits AS (
          SELECT a.customer_id, o.placed_at >= a.assigned_at AS post,
                 coalesce(CAST(o.amount_reporting AS DOUBLE), 0)
                   - coalesce(CAST(o.refunded_amount_reporting AS DOUBLE), 0) AS net,
                 date_diff('second', a.assigned_at, o.placed_at) / 86400.0 AS after_days,
                 date_diff('second', a.assigned_at - {w}, o.placed_at) / 86400.0 AS pre_days
          FROM _assigned a JOIN orders o ON o.customer_id = a.customer_id
           AND o.placed_at >= a.assigned_at - {w} AND o.placed_at < a.assigned_at + {w}
          WHERE {COUNTED}),
        per AS (
          SELECT customer_id,
                 count(*) FILTER (WHERE post) AS orders_y,
                 count(*) FILTER (WHERE NOT post) AS orders_x,
                 coalesce(sum(net) FILTER (WHERE post), 0) AS revenue_y,
                 coalesce(sum(net) FILTER (WHERE NOT post), 0) AS revenue_x,
                 min(after_days) FILTER (WHERE post) AS first_y,
                 min(pre_days) FILTER (WHERE NOT post) AS first_x
          FROM hits GROUP BY customer_id){visits}
        SELECT a.customer_id, a.arm, a.assigned_at,
               CAST(coalesce(p.orders_y, 0) > 0 AS DOUBLE) AS conversion_y,
               CAST(coalesce(p.orders_x, 0) > 0 AS DOUBLE) AS conversion_x,
               CAST(coalesce(p.orders_y, 0) AS DOUBLE) AS orders_y,
               CAST(coalesce(p.orders_x, 0) AS DOUBLE) AS orders_x,
               coalesce(p.revenue_y, 0) AS revenue_y, coalesce(p.revenue_x, 0) AS revenue_x,
               least(coalesce(p.first_y, {days}), {days}) AS time_to_order_y,
               least(coalesce(p.first_x, {days}), {days}) AS time_to_order_x,
               {"CAST(coalesce(v.visits_y, 0) AS DOUBLE)" if has_events else "0.0"} AS visits_y,
               {"CAST(coalesce(v.visits_x, 0) AS DOUBLE)" if has_events else "0.0"} AS visits_x
        FROM _assigned a LEFT JOIN per p USING (customer_id)
        {"LEFT JOIN v USING (customer_id)" if has_events else ""}""")


def _document(read: measure_input.Assignments, sums: dict[str, dict[str, Paired]], *,
              window: int, metric: str, split: dict[str, float] | None, sequential: bool,
              alpha: float, has_events: bool, currency: str, data_end: Any,
              late: int) -> dict[str, Any]:  # fmt: skip
    names = list(read.arms)
    shares = _shares(names, split, read.source)
    counts = [read.arms[a] for a in names]
    srm = srm_check(counts, [shares[a] for a in names])
    flagged = bool(srm.flagged)
    total = sum(counts)
    arms = [{"name": a, "n": read.arms[a], "share": read.arms[a] / total,
             "expected_share": shares[a], "control": a == read.control} for a in names]  # fmt: skip
    metrics: dict[str, Any] = {}
    for m in METRICS:
        if m == "visits" and not has_events:
            metrics[m] = {"available": False, "reason": NO_EVENTS}
            continue
        metrics[m] = [
            arm_lift(
                sums[m][read.control],
                sums[m][a],
                a,
                m,
                alpha=alpha,
                tuning=read.arms[a] + read.arms[read.control],
                sequential=sequential,
                srm_flagged=flagged,
            )  # fmt: skip
            for a in names
            if a != read.control
        ]
    notes = []
    if late:
        notes.append(
            f"{late:,} customer{' was' if late == 1 else 's were'} assigned less than {window} "
            f"days before the store's last order ({data_end}): "
            f"{'its' if late == 1 else 'their'} window is not over, so the outcomes so far count. "
            "Ingest newer orders, or pass a shorter --window."
        )
    if flagged:
        notes.append(
            "The arms' sizes do not match the intended split (p = "
            f"{float(srm.p_value):.2g}): customers were lost from or added to one arm, so "
            "the lift cannot be trusted. Check how the groups were assigned and exported, "
            "or pass --split with the shares intended."
        )
    return {
        "assignments": read.as_dict(),
        "window_days": window,
        "metric": metric,
        "control": read.control,
        "currency": currency,
        "data_end": str(data_end) if data_end is not None else None,
        "arms": arms,
        "srm": {
            "statistic": float(srm.statistic),
            "p_value": float(srm.p_value),
            "flagged": flagged,
            "threshold": THRESHOLD,
        },  # fmt: skip
        "method": {
            **METHOD,
            "alpha": alpha,
            "verdict_from": "anytime_valid" if sequential else "fixed",
        },  # fmt: skip
        "lifts": metrics[metric],
        "metrics": metrics,
        "notes": notes,
    }


def _shares(names: list[str], split: dict[str, float] | None, source: str) -> dict[str, float]:
    if not split:
        return {a: 1 / len(names) for a in names}
    unknown = sorted(set(split) - set(names))
    missing = [a for a in names if a not in split]
    if unknown or missing:
        what = (
            f"--split names {', '.join(map(repr, unknown))}, not a group in the file"
            if unknown
            else f"--split gives no share for {', '.join(map(repr, missing))}"
        )
        raise InputError(f"{what} (groups: {', '.join(names)}).",
                         hint="Give every group's intended share, e.g. --split control=10,"
                         "treatment=90.", source=source, code="bad_split")  # fmt: skip
    if any(v <= 0 for v in split.values()):
        raise InputError("--split shares must be positive.",
                         hint="e.g. --split control=10,treatment=90.", code="bad_split")  # fmt: skip
    weight = sum(split.values())
    return {a: split[a] / weight for a in names}


def arm_lift(control: Paired, arm: Paired, name: str, metric: str, *, alpha: float,
              tuning: int, sequential: bool, srm_flagged: bool) -> dict[str, Any]:  # fmt: skip
    """One arm against the control on one metric: the entry of ``lifts``.
    The CUPED estimate when the pre-period allows it (θ ≠ 0), else the plain
    one; both intervals, and the verdict from the fixed one (the
    anytime-valid one with ``sequential``). ``tuning`` is the audience the
    confidence sequence is tightest at: the two groups' planned size."""
    plain = lift(control.post, arm.post, alpha=alpha)
    adjusted, theta = cuped_lift(control, arm, alpha=alpha)
    used = adjusted if float(theta) != 0 else plain
    n = float(control.n + arm.n)
    tune = max(tuning, 1)
    any_abs = confidence_sequence(used.absolute, n, alpha=alpha, tuning=tune)
    any_rel = confidence_sequence(used.relative, n, alpha=alpha, tuning=tune)
    decide = any_abs if sequential else used.absolute
    low, high = decide.as_dict()["ci"]
    return {
        "arm": name,
        "metric": metric,
        "n_control": int(control.n),
        "n_arm": int(arm.n),
        "control_mean": float(control.post.mean),
        "arm_mean": float(arm.post.mean),
        "absolute": used.absolute.as_dict(),
        "relative": used.relative.as_dict(),
        "anytime_valid": {
            "absolute": any_abs.as_dict(),
            "relative": any_rel.as_dict(),
            "tuning": tune,
            "rho": rho(alpha, tune),
        },  # fmt: skip
        "unadjusted": {"absolute": plain.absolute.as_dict(), "relative": plain.relative.as_dict()},
        "cuped": {
            "applied": float(theta) != 0,
            "theta": float(theta),
            "variance_reduction": float(variance_reduction(control, arm)),
        },  # fmt: skip
        "higher_is_better": metric not in LOWER_IS_BETTER,
        # what this sample could find: an inconclusive result with a large
        # MDE says "too few customers", not "no effect"
        "mde_absolute": detectable(used.absolute, alpha=alpha),
        "verdict": verdict(
            low, high, higher_is_better=metric not in LOWER_IS_BETTER, srm_flagged=srm_flagged
        ),  # fmt: skip
    }


def detectable(result: Interval, *, alpha: float = ALPHA, power: float = POWER) -> float | None:
    """The smallest absolute lift this sample finds with probability
    ``power``: (z(1 − α/2) + z(power)) · se (see :mod:`.power`)."""
    from scipy import stats as st

    value = float((st.norm.ppf(1 - alpha / 2) + st.norm.ppf(power)) * result.se)
    return value if value == value and value != float("inf") else None
