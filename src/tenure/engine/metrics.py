"""Period metrics: retention and churn, orders and revenue, CLV, referrals,
surveys and subscriptions, per month, quarter or year.

Definitions (``docs/metrics.md``), for a period with S customers active at
its start, E active at its end, L of S no longer active at its end, N new
during it and R back after a lapse (S - L + N + R = E, see
:mod:`tenure.engine.activity`):

* retention rate = (E - N) / S x 100; churn rate = L / S x 100;
  reactivation rate = R / S x 100, so retention = 100 - churn + reactivation;
* none of the three in a period that starts less than one activity window
  after the first purchase: nobody who bought could have lapsed yet;
* AOV = revenue / orders; purchase frequency = orders / customers who ordered;
* repeat purchase rate = share of the customers who ordered in the period
  who have two or more orders by its end;
* repeat revenue share = share of revenue from purchases after a customer's
  first purchase day;
* historic CLV = V x L: V = revenue per average active customer,
  (S + E) / 2, and L = 1 / churn rate, the average lifespan in periods;
* referral rate = share of customers acquired in the period who were referred;
* survey response rate = customers who answered a survey / E.

A metric whose data is missing is NaN with the reason in ``missing``,
never 0.
"""

from __future__ import annotations

from datetime import timedelta

import ibis
import numpy as np
import pandas as pd

from tenure.engine import activity, periods, subscriptions, surveys
from tenure.engine.context import PURCHASE_STATUSES, Context
from tenure.errors import InputError
from tenure.messages import Message

COLUMNS = [
    "period", "period_start", "period_end",
    "customers_start", "new_customers", "customers_end", "lost_customers",
    "reactivated_customers", "retention_rate", "churn_rate", "reactivation_rate",
    "customers_ordering", "orders", "revenue", "aov", "purchase_frequency",
    "repeat_purchase_rate", "repeat_revenue_share", "historic_clv",
    "referral_rate", "survey_response_rate",
    "nps", "nps_n", "nps_ci_low", "nps_ci_high",
    "csat", "csat_n", "csat_ci_low", "csat_ci_high",
    "ces", "ces_n", "ces_ci_low", "ces_ci_high",
    "mrr", "subscribers_start", "subscribers_end",
    "logo_churn_rate", "revenue_churn_rate", "net_revenue_retention",
    "missing",
]  # fmt: skip


# the mean length of a calendar month, to set a monthly rate against one over days
DAYS_PER_MONTH = 365.25 / 12


def rate_over(rate: float, per_days: float, days: float) -> float:
    """A rate in percent per ``per_days`` as the rate over ``days``, when the
    same share of those still there leaves in each stretch of time:
    1 - (1 - rate)^(days / per_days). 5.5 % a month is 15.4 % over 90 days."""
    if rate is None or np.isnan(rate):
        return float("nan")
    kept = max(0.0, 1.0 - float(rate) / 100.0)
    return (1.0 - kept ** (days / per_days)) * 100.0


def period_range(ctx: Context, period: str) -> tuple[int, int]:
    """First period with activity, and the last complete one up to as-of."""
    starts = []
    if ctx.source.get("orders") is not None:
        starts.append(ctx.purchases.local_date.min().execute())
    if ctx.active_by != "purchase":
        starts.append(ctx.subscription_spans.start_date.min().execute())
    starts = [pd.Timestamp(s).date() for s in starts if s is not None and not pd.isna(s)]
    if not starts or min(starts) > ctx.as_of:
        begins = min(starts) if starts else None
        if ctx.source.get("orders") is not None:
            o = ctx.all_orders
            first_purchase = o.filter(o.status.isin(PURCHASE_STATUSES)).local_date.min().execute()
            if first_purchase is not None and not pd.isna(first_purchase):
                first_purchase = pd.Timestamp(first_purchase).date()
                begins = first_purchase if begins is None else min(begins, first_purchase)
        if begins is None:
            raise InputError(
                f"there are no purchases in {ctx.source.description}.",
                hint="Ingest orders first: tenure ingest orders FILE.",
            )
        raise InputError(
            f"the as-of date {ctx.as_of} is before the data begins ({begins}).",
            hint=f"Use an --as-of date on or after {begins}, or leave it out.",
        )
    first = periods.index_of(min(starts), period)
    last = periods.last_complete(ctx.as_of, period)
    if last < first:
        raise InputError(
            f"no {period} is complete yet: the data runs from {min(starts)} to {ctx.as_of}.",
            hint="Use a shorter --period, or a later --as-of date.",
        )
    return first, last


def order_flows(ctx: Context, period: str) -> pd.DataFrame:
    """Per period index: orders, customers who ordered, revenue, repeat
    revenue, repeat customers, acquired and referred customers.

    All from the purchase days, without ranking orders: a customer who
    ordered in period p has two or more orders by its end when they were
    acquired before p or ordered twice in p; repeat revenue is revenue less
    the first purchase day's revenue of the customers acquired in p.
    """
    d = ctx.purchase_days
    d = d.mutate(p=periods.index_expr(d.local_date, period))
    cp = d.group_by(["customer_id", "p"]).agg(orders=d.orders.sum(), amount=d.amount.sum())
    c = ctx.purchasers
    c = c.mutate(first_p=periods.index_expr(c.first_date, period))
    # one pass over the customers' periods for the flows and the repeat
    # customers (every customer who ordered has a first purchase; one who
    # had none would count among those ordering, not among the repeaters)
    j = cp.left_join(c.select("customer_id", "first_p"), "customer_id")
    repeat = j.first_p.notnull() & ((j.first_p < j.p) | (j.orders >= 2))
    flows = j.group_by("p").agg(
        orders=j.orders.sum(),
        customers_ordering=j.count(),
        revenue=j.amount.sum(),
        repeat_customers=ibis.ifelse(repeat, 1, 0).cast("int64").sum(),
    )
    customers = ctx.source.get("customers")
    if customers is not None and "referred_by" in customers.columns:
        c = c.left_join(customers.select("customer_id", "referred_by"), "customer_id")
        referred = c.referred_by.notnull().cast("int64").sum()
    else:
        referred = ibis.literal(None).cast("int64")
    acq = c.group_by(p=c.first_p).agg(
        acquired=c.count(), referred=referred, first_day_revenue=c.first_day_amount.sum()
    )
    out = flows.to_pyarrow().to_pandas()
    out = out.merge(acq.to_pyarrow().to_pandas(), on="p", how="outer")
    for col in ("revenue", "first_day_revenue"):
        out[col] = out[col].astype("float64").fillna(0.0)
    out["repeat_revenue"] = out["revenue"] - out["first_day_revenue"]
    return out


def period_metrics(ctx: Context, period: str = "month") -> pd.DataFrame:
    """One row per complete period; see the module docstring for definitions."""
    periods.check(period)
    first, last = period_range(ctx, period)
    frame = activity.counts(ctx, period, first, last)
    n = len(frame)
    missing: list[dict[str, str]] = [{} for _ in range(n)]
    frame.insert(0, "period", [periods.label(i, period) for i in frame["index"]])
    frame.insert(1, "period_start", [periods.start_of(i, period) for i in frame["index"]])
    frame.insert(2, "period_end", [periods.end_of(i, period) for i in frame["index"]])

    s = frame["customers_start"].to_numpy(dtype="float64")
    e = frame["customers_end"].to_numpy(dtype="float64")
    new = frame["new_customers"].to_numpy(dtype="float64")
    lost = frame["lost_customers"].to_numpy(dtype="float64")
    back = frame["reactivated_customers"].to_numpy(dtype="float64")
    flow_rates = ("retention_rate", "churn_rate", "reactivation_rate")
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["retention_rate"] = np.where(s > 0, (e - new) / s * 100.0, np.nan)
        frame["churn_rate"] = np.where(s > 0, lost / s * 100.0, np.nan)
        frame["reactivation_rate"] = np.where(s > 0, back / s * 100.0, np.nan)
    too_early = _before_first_lapse(ctx, frame["period_start"])
    for i in range(n):
        if s[i] == 0:
            why = "no customers were active at the start of this period"
        elif too_early[i]:
            why = too_early[i]
        else:
            continue
        for col in flow_rates:
            frame.loc[frame.index[i], col] = np.nan
            missing[i][col] = why

    has_orders = ctx.source.get("orders") is not None
    if has_orders:
        flows = order_flows(ctx, period).set_index("p").reindex(frame["index"])
    else:
        flows = pd.DataFrame(index=frame["index"], columns=["orders"])
    get = lambda col: flows[col].to_numpy(dtype="float64") if col in flows else np.full(n, np.nan)  # noqa: E731
    orders = np.nan_to_num(get("orders"))
    revenue = np.nan_to_num(get("revenue"))
    buyers = np.nan_to_num(get("customers_ordering"))
    frame["customers_ordering"] = buyers.astype("int64")
    frame["orders"] = orders.astype("int64")
    frame["revenue"] = revenue
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["aov"] = np.where(orders > 0, revenue / orders, np.nan)
        frame["purchase_frequency"] = np.where(buyers > 0, orders / buyers, np.nan)
        frame["repeat_purchase_rate"] = np.where(
            buyers > 0, np.nan_to_num(get("repeat_customers")) / buyers * 100.0, np.nan
        )
        frame["repeat_revenue_share"] = np.where(
            revenue > 0, np.nan_to_num(get("repeat_revenue")) / revenue * 100.0, np.nan
        )
        avg_active = (s + e) / 2.0
        churn = frame["churn_rate"].to_numpy() / 100.0
        frame["historic_clv"] = np.where(
            (avg_active > 0) & (churn > 0), revenue / avg_active / churn, np.nan
        )
        acquired = np.nan_to_num(get("acquired"))
        referred = get("referred")
        frame["referral_rate"] = np.where(acquired > 0, referred / acquired * 100.0, np.nan)
    has_referrals = ctx.source.has_column_values("customers", "referred_by")
    for i in range(n):
        if orders[i] == 0:
            missing[i]["aov"] = missing[i]["purchase_frequency"] = "no orders in this period"
            missing[i]["repeat_purchase_rate"] = "no orders in this period"
        if revenue[i] == 0:
            missing[i]["repeat_revenue_share"] = "no revenue in this period"
        if not has_orders:
            frame.loc[frame.index[i], "historic_clv"] = np.nan
            missing[i]["historic_clv"] = "no orders in the data"
        elif np.isnan(frame["historic_clv"].iat[i]):
            missing[i]["historic_clv"] = missing[i].get(
                "churn_rate",
                "no customers lost in this period, so the lifespan 1 / churn is unbounded",
            )
        if not has_referrals:
            frame.loc[frame.index[i], "referral_rate"] = np.nan
            missing[i]["referral_rate"] = "no customer has referred_by in the data"
        elif acquired[i] == 0:
            missing[i]["referral_rate"] = "no customers were acquired in this period"

    resp = surveys.responders(ctx, period)
    if resp is None:
        frame["survey_response_rate"] = np.nan
        for m in missing:
            m["survey_response_rate"] = "no survey answers in the data"
    else:
        answered = resp.set_index("p")["responders"].reindex(frame["index"]).fillna(0).to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            frame["survey_response_rate"] = np.where(e > 0, answered / e * 100.0, np.nan)
        for i in np.flatnonzero(e == 0):
            missing[i]["survey_response_rate"] = "no customers were active at the end"
    surveys.add_scores(frame, surveys.survey_counts(ctx, period), missing)

    _add_subscriptions(ctx, frame, period, first, last, missing)
    frame["missing"] = missing
    return frame[COLUMNS].reset_index(drop=True)


def _before_first_lapse(ctx: Context, starts: pd.Series) -> list[str]:
    """Per period start, why its flow rates are missing when it begins less
    than one activity window after the first purchase, else "".

    A purchase keeps its customer active for the whole window, so until one
    window has passed since the first purchase no buyer can be lost: churn
    would read 0 and retention 100 whatever the business does. With
    subscriptions too (``either``) only subscribers could be lost, which
    understates churn as much, so those periods are held back as well."""
    if ctx.active_by == "subscription" or ctx.source.get("orders") is None:
        return [""] * len(starts)
    first = ctx.purchases.local_date.min().execute()
    if first is None or pd.isna(first):
        return [""] * len(starts)
    first = pd.Timestamp(first).date()
    window = int(ctx.defs.activity_window)
    lapse = first + timedelta(days=window)
    who = Message("no buyer" if ctx.active_by == "purchase" else "no customer active by a purchase")
    why = Message(
        "the period starts less than the {window}-day activity window after the first purchase "
        "({first}), so {who} could have lapsed yet; the first period that can show churn starts "
        "on or after {lapse}",
        window=window,
        first=first.isoformat(),
        who=who,
        lapse=lapse.isoformat(),
    )
    return [why if start < lapse else "" for start in starts]


def _add_subscriptions(
    ctx: Context, frame: pd.DataFrame, period: str, first: int, last: int, missing: list[dict]
) -> None:
    flows = subscriptions.subscription_flows(ctx, period, first, last)
    cols = ("mrr", "subscribers_start", "subscribers_end", "logo_churn_rate",
            "revenue_churn_rate", "net_revenue_retention")  # fmt: skip
    if flows is None:
        for col in cols:
            frame[col] = np.nan
        for m in missing:
            for col in cols:
                m[col] = "no subscriptions in the data"
        return
    f = flows.set_index("p").reindex(frame["index"]).fillna(0)
    has_mrr = ctx.source.has_column_values("subscriptions", "mrr_reporting")
    subs_start = f["subscribers_start"].to_numpy(dtype="float64")
    mrr_start = f["mrr_start"].to_numpy(dtype="float64")
    frame["subscribers_start"] = subs_start.astype("int64")
    frame["subscribers_end"] = f["subscribers_end"].to_numpy(dtype="int64")
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["logo_churn_rate"] = np.where(
            subs_start > 0, f["churned"].to_numpy() / subs_start * 100.0, np.nan
        )
        lost = f["churned_mrr"].to_numpy() + f["contraction"].to_numpy()
        frame["revenue_churn_rate"] = np.where(mrr_start > 0, lost / mrr_start * 100.0, np.nan)
        frame["net_revenue_retention"] = np.where(
            mrr_start > 0,
            (mrr_start - lost + f["expansion"].to_numpy()) / mrr_start * 100.0,
            np.nan,
        )
    frame["mrr"] = f["mrr_end"].to_numpy(dtype="float64") if has_mrr else np.nan
    for i in range(len(frame)):
        if subs_start[i] == 0:
            missing[i]["logo_churn_rate"] = "no subscriptions were active at the start"
        if not has_mrr:
            for col in ("mrr", "revenue_churn_rate", "net_revenue_retention"):
                frame.loc[frame.index[i], col] = np.nan
                missing[i][col] = "the subscriptions have no mrr"
        elif mrr_start[i] == 0:
            for col in ("revenue_churn_rate", "net_revenue_retention"):
                missing[i][col] = "no recurring revenue at the start of this period"
