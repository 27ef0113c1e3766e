"""NPS, CSAT and CES per period, each with its sample size and a 95 % interval.

* NPS = % promoters (9-10) - % detractors (0-6). Interval: normal
  approximation with the variance of a difference of two shares of one
  multinomial sample, (p + d - (p - d)^2) / n.
* CSAT = % of answers 4 or 5 on the 1-5 scale. Interval: Wilson score.
* CES = mean effort score (1-7, 7 = very easy). Interval: Student's t.

Counts are aggregated in the engine; only the intervals are computed here.
"""

from __future__ import annotations

import math

import ibis
import numpy as np
import pandas as pd

from tenure.engine import periods
from tenure.engine.context import Context
from tenure.messages import Message

Z95 = 1.959963984540054


def survey_counts(ctx: Context, period: str) -> pd.DataFrame | None:
    """Per (period index, kind): n, promoters, detractors, satisfied, sum, sum of squares."""
    s = ctx.source.get("survey_responses")
    if s is None:
        return None
    lt = ctx.local(s.answered_at)
    s = s.mutate(d=lt.date())
    s = s.filter(s.d <= ibis.literal(ctx.as_of))
    s = s.mutate(p=periods.index_expr(s.d, period), score=s.score.cast("float64"))
    agg = s.group_by(["p", "kind"]).agg(
        n=s.count(),
        promoters=(s.score >= 9).cast("int64").sum(),
        detractors=(s.score <= 6).cast("int64").sum(),
        satisfied=(s.score >= 4).cast("int64").sum(),
        total=s.score.sum(),
        squares=(s.score * s.score).sum(),
    )
    return agg.to_pandas()


def responders(ctx: Context, period: str) -> pd.DataFrame | None:
    s = ctx.source.get("survey_responses")
    if s is None:
        return None
    s = s.mutate(d=ctx.local(s.answered_at).date())
    s = s.filter(s.d <= ibis.literal(ctx.as_of))
    s = s.mutate(p=periods.index_expr(s.d, period))
    return s.group_by("p").agg(responders=s.customer_id.nunique()).to_pandas()


def nps(n: int, promoters: int, detractors: int) -> tuple[float, float, float]:
    p, d = promoters / n, detractors / n
    score = 100.0 * (p - d)
    se = 100.0 * math.sqrt(max(p + d - (p - d) ** 2, 0.0) / n)
    return score, max(-100.0, score - Z95 * se), min(100.0, score + Z95 * se)


def csat(n: int, satisfied: int) -> tuple[float, float, float]:
    p = satisfied / n
    denom = 1 + Z95**2 / n
    centre = (p + Z95**2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / denom
    return 100.0 * p, 100.0 * max(0.0, centre - half), 100.0 * min(1.0, centre + half)


def ces(n: int, total: float, squares: float) -> tuple[float, float, float]:
    mean = total / n
    if n < 2:
        return mean, float("nan"), float("nan")
    var = max(squares - n * mean * mean, 0.0) / (n - 1)
    # scipy.stats takes a second to import: only the CES of survey answers needs it
    from scipy import stats

    half = float(stats.t.ppf(0.975, n - 1)) * math.sqrt(var / n)
    return mean, mean - half, mean + half


def add_scores(frame: pd.DataFrame, counts: pd.DataFrame | None, missing: list[dict]) -> None:
    """Add score, sample size and interval columns per survey kind to ``frame``
    (one row per period, column ``index``); reasons for gaps go to ``missing``."""
    for kind in ("nps", "csat", "ces"):
        score = np.full(len(frame), np.nan)
        low = np.full(len(frame), np.nan)
        high = np.full(len(frame), np.nan)
        size = np.zeros(len(frame), dtype="int64")
        sub = None if counts is None else counts[counts["kind"] == kind].set_index("p")
        for i, index in enumerate(frame["index"]):
            if sub is None or index not in sub.index:
                missing[i][kind] = (
                    "no survey answers in the data"
                    if counts is None
                    else Message("no {kind} answers in this period", kind=kind)
                )
                continue
            row = sub.loc[index]
            n = int(row["n"])
            if kind == "nps":
                v = nps(n, int(row["promoters"]), int(row["detractors"]))
            elif kind == "csat":
                v = csat(n, int(row["satisfied"]))
            else:
                v = ces(n, float(row["total"]), float(row["squares"]))
            score[i], low[i], high[i] = v
            size[i] = n
        frame[kind] = score
        frame[f"{kind}_n"] = size
        frame[f"{kind}_ci_low"] = low
        frame[f"{kind}_ci_high"] = high
