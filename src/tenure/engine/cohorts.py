"""Cohort matrices: acquisition period x periods since acquisition.

A customer's cohort is the period of their first purchase; period k of a
cohort is the k-th period after it (k = 0 is the acquisition period). Three
values per cell:

* ``customers``: % of the cohort with a purchase in period k (100 at k = 0);
* ``revenue``: the cohort's revenue in period k as % of its revenue at k = 0;
* ``cumulative_revenue``: revenue in periods 0..k per customer of the cohort.

``by`` groups customers by an attribute instead (``country``,
``acquisition_channel``, ``first_category`` or any customers column): cell k
of a group then pools the cohorts that have reached period k. Cells past the
last complete period are empty (NaN), never 0.
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from tenure.engine import periods, summaries
from tenure.engine.context import Context
from tenure.engine.metrics import period_range
from tenure.errors import ConfigError

VALUES = ("customers", "revenue", "cumulative_revenue")
# customers columns that are identifiers, free text or dates, not groups
NOT_GROUPS = {
    "customer_id",
    "email",
    "name",
    "birthday",
    "created_at",
    "attributes",
    "is_stub",
    "referred_by",
}


def cohort_cells(ctx: Context, period: str, by: str | None = None) -> pd.DataFrame:
    """Per (group, cohort index, k): customers with a purchase and revenue,
    plus the cohort sizes (k = -1 rows hold the size in ``customers``)."""
    d = ctx.purchase_days
    d = d.mutate(pi=periods.index_expr(d.local_date, period))
    p = d.group_by(["customer_id", "pi"]).agg(amount=d.amount.sum())
    c = ctx.purchasers
    firsts = c.select("customer_id", c=periods.index_expr(c.first_date, period))
    if by is None:
        firsts = firsts.mutate(g=firsts.c.cast("string"))
    elif by == "first_category":
        cats = summaries.first_categories(ctx)
        if cats is None:
            raise ConfigError(
                "cohorts by first_category need order items with a category.",
                hint="Ingest order_items with a category column.",
            )
        firsts = firsts.left_join(cats, "customer_id")
        firsts = firsts.select("customer_id", "c", g=firsts.first_category)
    else:
        customers = ctx.source.get("customers")
        usable = [
            c
            for c in (customers.columns if customers is not None else [])
            if not c.startswith("_") and c not in NOT_GROUPS
        ]
        if by not in usable:
            raise ConfigError(
                f"cannot group cohorts by {by!r}: it is not a customer attribute to group by.",
                hint=f"Use one of: {', '.join(['first_category', *usable])}.",
            )
        firsts = firsts.left_join(customers.select("customer_id", g=customers[by]), "customer_id")
        firsts = firsts.select("customer_id", "c", g=firsts.g.cast("string"))
    firsts = firsts.mutate(g=firsts.g.fill_null("(none)"))
    j = p.join(firsts, "customer_id")
    j = j.mutate(k=j.pi - j.c)
    cells = j.group_by(["g", "c", "k"]).agg(customers=j.count(), revenue=j.amount.sum())
    sizes = firsts.group_by(["g", "c"]).agg(customers=firsts.count())
    sizes = sizes.mutate(k=ibis.literal(-1).cast("int64"), revenue=ibis.literal(0.0))
    cells = cells.mutate(revenue=cells.revenue.cast("float64"), k=cells.k.cast("int64"))
    out = pd.concat([cells.to_pandas(), sizes.select(cells.columns).to_pandas()])
    out["c"] = out["c"].astype("int64")
    out["customers"] = out["customers"].astype("int64")
    return out


def cohort_matrix(
    ctx: Context, period: str = "month", value: str = "customers", by: str | None = None
) -> pd.DataFrame:
    """Rows: cohorts (or groups); columns: ``size`` then 0, 1, 2... periods since
    acquisition. See the module docstring."""
    periods.check(period)
    if value not in VALUES:
        raise ConfigError(
            f"the cohort value {value!r} is not known.", hint=f"Use {', '.join(VALUES)}."
        )
    _, last = period_range(ctx, period)
    return matrix(cohort_cells(ctx, period, by), period, value, by, last)


def matrix(cells: pd.DataFrame, period: str, value: str, by: str | None, last: int) -> pd.DataFrame:
    """The matrix of one value from the cells of :func:`cohort_cells`, up to
    the last complete period ``last`` (so one query serves every value)."""
    cells = cells[cells["c"] <= last]
    cells = cells[cells["c"] + cells["k"] <= last]
    if cells.empty:
        raise ConfigError("no cohort has a complete period yet.", hint="Use a shorter --period.")
    first_c = int(cells["c"].min())
    width = last - first_c + 1
    size = cells[cells["k"] == -1].set_index(["g", "c"])["customers"]
    active = cells[cells["k"] >= 0].pivot_table(
        index=["g", "c"], columns="k", values="customers", aggfunc="sum", fill_value=0
    )
    revenue = cells[cells["k"] >= 0].pivot_table(
        index=["g", "c"], columns="k", values="revenue", aggfunc="sum", fill_value=0.0
    )
    keys = size.index
    cols = list(range(width))
    active = active.reindex(index=keys, columns=cols, fill_value=0).to_numpy(dtype="float64")
    revenue = revenue.reindex(index=keys, columns=cols, fill_value=0.0).to_numpy(dtype="float64")
    c_of = np.array([c for _, c in keys])
    reached = (c_of[:, None] + np.arange(width)[None, :]) <= last
    n = size.to_numpy(dtype="float64")
    groups = np.array([g for g, _ in keys], dtype=object)
    order = sorted(set(groups), key=lambda g: int(g) if by is None else str(g))
    rows, labels, sizes = [], [], []
    for g in order:
        m = groups == g
        reach = reached[m]
        n_g = (n[m][:, None] * reach).sum(axis=0)
        act = (active[m] * reach).sum(axis=0)
        rev = (revenue[m] * reach).sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            if value == "customers":
                row = act / n_g * 100.0
            elif value == "revenue":
                base = (revenue[m][:, 0][:, None] * reach).sum(axis=0)
                row = rev / base * 100.0
            else:
                cum = (np.cumsum(revenue[m], axis=1) * reach).sum(axis=0)
                row = cum / n_g
        row = np.where(n_g > 0, row, np.nan)
        rows.append(row)
        labels.append(periods.label(int(g), period) if by is None else str(g))
        sizes.append(int(n[m].sum()))
    frame = pd.DataFrame(rows, columns=cols)
    frame.insert(0, "size", sizes)
    frame.insert(0, "cohort", labels)
    # drop trailing columns no group has reached
    filled = [c for c in cols if frame[c].notna().any()]
    return frame[["cohort", "size", *filled]]
