"""Subscription metrics per period: MRR, logo churn, revenue churn, NRR.

A subscription counts at a period boundary when it is active at the end of
that boundary's last day (see :mod:`tenure.engine.activity`). Per customer,
the MRR at the start of a period is their MRR at the end of the period
before. Then, over the customers with MRR at the start:

* logo churn = customers with no MRR left at the end / customers at the start;
* revenue churn = (MRR of the churned + contraction) / MRR at the start;
* net revenue retention = their MRR at the end / MRR at the start
  (expansion included, new customers not).
"""

from __future__ import annotations

import ibis
import pandas as pd

from tenure.engine import periods
from tenure.engine.context import Context


def subscription_flows(ctx: Context, period: str, first: int, last: int) -> pd.DataFrame | None:
    """Per period index: subscribers and MRR at start and end, churned, contraction, expansion."""
    if ctx.source.get("subscriptions") is None:
        return None
    idx = list(range(first - 1, last + 1))
    bounds = ibis.memtable(
        {
            "p": idx,
            "bday": [periods.day_number(periods.end_of(i, period)) for i in idx],
        }
    )
    s = ctx.subscription_spans
    j = s.join(bounds, (s.start_day <= bounds.bday) & (s.end_day >= bounds.bday))
    cm = j.group_by(["customer_id", "p"]).agg(mrr=j.mrr.fill_null(0).sum())
    cur = cm.select("customer_id", "p", end=cm.mrr)
    prev = cm.select(customer_id=cm.customer_id, p=cm.p + 1, start=cm.mrr)
    pair = cur.join(prev, ["customer_id", "p"], how="outer")
    pair = pair.select(
        p=pair.p.fill_null(pair.p_right),
        start=pair.start,
        end=pair.end,
    )
    pair = pair.filter((pair.p >= first) & (pair.p <= last))
    has_start = pair.start.notnull()
    has_end = pair.end.notnull()
    zero = ibis.literal(0).cast(pair.start.type())
    agg = pair.group_by("p").agg(
        subscribers_start=has_start.cast("int64").sum(),
        subscribers_end=has_end.cast("int64").sum(),
        churned=(has_start & ~has_end).cast("int64").sum(),
        mrr_start=pair.start.fill_null(zero).sum(),
        mrr_end=pair.end.fill_null(zero).sum(),
        churned_mrr=ibis.ifelse(has_start & ~has_end, pair.start, zero).sum(),
        contraction=ibis.ifelse(
            has_start & has_end & (pair.end < pair.start), pair.start - pair.end, zero
        ).sum(),
        expansion=ibis.ifelse(
            has_start & has_end & (pair.end > pair.start), pair.end - pair.start, zero
        ).sum(),
    )
    out = agg.to_pandas()
    for col in ("mrr_start", "mrr_end", "churned_mrr", "contraction", "expansion"):
        out[col] = out[col].astype("float64")
    return out
