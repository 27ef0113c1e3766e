"""From the engine to the models and back: fit the purchase and spend
models on sufficient statistics, then score every customer.

Only compact tables cross from the engine: the distinct (x, t_x, T) with
their counts to fit the purchase model, the distinct (x, m) of the repeat
buyers to fit the spend model, and one row per customer to score. Each
customer's purchase predictions depend only on (x, t_x, T), so they are
computed once per distinct triple and spread to the customers sharing it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from tenure.engine.context import Context
from tenure.engine.summaries import btyd_statistics, purchase_summary
from tenure.errors import ConfigError, InputError
from tenure.messages import Message
from tenure.models import PurchaseModel
from tenure.models.spend import GammaGamma

# what scores each distinct tuple, without pandas or the engine (an ingest
# rescores its customers with them)
from tenure.predictions.closed_form import (  # noqa: F401 (part of this module's API)
    check_time_unit,
    purchase_models,
    spend_predictions,
    triple_predictions,
)

if TYPE_CHECKING:  # pandas is imported where it is used: a fit needs none
    import pandas as pd

# the purchase models by the names the commands take, with the names people know
MODEL_NAMES = {"bgnbd": "BG/NBD", "mbgnbd": "MBG/NBD", "paretonbd": "Pareto/NBD"}


def _arrow(expr: Any) -> Any:
    """The rows of an Ibis expression as an Arrow table. Read this way, and
    to NumPy or pandas from there, a million rows take a fraction of a
    second; Ibis' own conversion to pandas took over a second."""
    return expr.to_pyarrow()


def _columns(expr: Any) -> dict[str, np.ndarray]:
    """The columns of a small result as NumPy arrays. On DuckDB they are
    fetched by its own client: through Arrow and pandas, their imports
    alone cost more than a fit's statistics."""
    import ibis

    relation = getattr(ibis.get_backend(expr), "_to_duckdb_relation", None)
    if relation is not None:
        return {k: np.asarray(v) for k, v in relation(expr).fetchnumpy().items()}
    table = _arrow(expr)
    return {name: table[name].to_numpy() for name in table.column_names}


def purchase_statistics(ctx: Context, time_unit: str = "day") -> pd.DataFrame:
    """Distinct (x, t_x, T) with ``weight``, as pandas."""
    check_time_unit(time_unit)
    return _arrow(btyd_statistics(ctx, time_unit=time_unit)).to_pandas()


def spend_statistics(ctx: Context) -> pd.DataFrame:
    """Distinct (x, m) of the customers with a repeat purchase, with ``weight``:
    m is the average value of their repeat purchase days."""
    s = purchase_summary(ctx)
    s = s.filter(s.x > 0)
    t = s.select("x", m=s.monetary_avg_repeat)
    return _arrow(t.group_by(["x", "m"]).agg(weight=t.count().cast("int64"))).to_pandas()


def _no_repeat_buyers(ctx: Context, n: int) -> InputError:
    return InputError(
        (
            f"the one customer up to {ctx.as_of} has not bought on a second day."
            if n == 1
            else f"none of the {n:,} customers up to {ctx.as_of} has bought on a second day."
        ),
        hint="Buy-till-you-die models learn from repeat purchases: use a later "
        "--calibration-end or more history, or check that the orders have the right customer ids.",
    )


def fit_purchase_model(
    ctx: Context, model: str = "bgnbd", *, time_unit: str = "day", penalizer: float = 0.0
) -> PurchaseModel:
    """Fit BG/NBD (``bgnbd``), MBG/NBD (``mbgnbd``) or Pareto/NBD
    (``paretonbd``) on the context."""
    models = purchase_models()
    if model not in models:
        raise ConfigError(
            f"{model!r} is not a purchase model.", hint=f"Use one of: {', '.join(models)}."
        )
    check_time_unit(time_unit)
    stats = _columns(btyd_statistics(ctx, time_unit=time_unit))
    if not len(stats["x"]):
        raise InputError(
            f"there are no purchases up to {ctx.as_of}.",
            hint="Use a later --calibration-end, or ingest orders first.",
        )
    if not (stats["x"] > 0).any():
        raise _no_repeat_buyers(ctx, int(stats["weight"].sum()))
    fitted = models[model](penalizer=penalizer).fit(stats, weights=stats["weight"])
    fitted.time_unit_ = time_unit
    return fitted


def fit_spend_model(ctx: Context, *, penalizer: float = 0.0) -> GammaGamma:
    """Fit the Gamma-Gamma spend model on the repeat buyers' average spend."""
    stats = spend_statistics(ctx)
    if stats.empty:
        raise _no_repeat_buyers(ctx, 0)
    if (stats.m <= 0).any():
        # refunds can leave a repeat day worth nothing; such customers say
        # nothing about spend and are left out of this fit (and counted)
        stats = stats[stats.m > 0]
    return GammaGamma(penalizer=penalizer).fit(stats, weights=stats.weight)


@dataclass
class Scores:
    """Per-customer predictions and what they were made with."""

    customers: pd.DataFrame
    purchase_model: PurchaseModel | None  # None when read back from the store
    spend_model: GammaGamma | None
    as_of: date
    time_unit: str
    horizon_days: int
    discount_rate: float
    margin: float
    currency: str
    model: str = "bgnbd"
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        # scores read back from the store carry the model's name only
        return totals(self.customers, self.purchase_model or purchase_models()[self.model])

    def top(self, n: int) -> pd.DataFrame:
        """The ``n`` customers of highest predicted CLV (ties by id)."""
        return self.customers.sort_values(["clv", "customer_id"], ascending=[False, True]).head(n)


def totals(c: pd.DataFrame, model: PurchaseModel | type[PurchaseModel]) -> dict[str, Any]:
    """The scores' totals (:meth:`Scores.summary`), from a frame with at
    least x, p_alive, expected_purchases and clv, one row per customer."""
    return {
        "customers": int(len(c)),
        "expected_purchases": float(c.expected_purchases.sum()),
        "predicted_clv": float(np.nansum(c.clv)) if "clv" in c else None,
        "mean_p_alive": float(c.p_alive.mean()) if len(c) else None,
        **likely_alive(c, model),
    }


def likely_alive(
    customers: pd.DataFrame, model: PurchaseModel | type[PurchaseModel]
) -> dict[str, Any]:
    """Who is likely still a customer (P(alive) ≥ 0.5), with the one-time
    buyers apart.

    Under BG/NBD a customer drops out only after a repeat purchase, so
    every one-time buyer has P(alive) = 1 however long ago they bought:
    counting them as "likely still customers" would put a headline on
    something the model cannot tell. ``likely_alive`` counts them only
    where the model tells them apart (MBG/NBD, Pareto/NBD); otherwise
    ``likely_alive_one_time`` is None and they are counted on their own.
    """
    c = customers
    alive = c.p_alive.to_numpy() >= 0.5
    once = c.x.to_numpy() == 0
    tells = model.tells_one_time_buyers
    repeat_alive = int((alive & ~once).sum())
    once_alive = int((alive & once).sum()) if tells else None
    return {
        "likely_alive": repeat_alive + (once_alive or 0),
        "repeat_customers": int((~once).sum()),
        "likely_alive_repeat": repeat_alive,
        "one_time_buyers": int(once.sum()),
        "likely_alive_one_time": once_alive,
        "one_time_status_known": tells,
    }


def alive_headline(summary: dict[str, Any], number: Any = "{:,}".format) -> str:
    """The sentence every surface shows for :func:`likely_alive`'s counts;
    ``number`` formats a count (the report's locale, say)."""
    s = summary
    counts = {
        "alive": number(s["likely_alive_repeat"]), "repeat": number(s["repeat_customers"]),
        "once": number(s["one_time_buyers"]),
    }  # fmt: skip
    # a Message: the sentence in English, and its template for the surfaces
    # that say it in the reader's language
    if s["one_time_buyers"] == 0:
        return Message(
            "{alive} of {repeat} repeat customers are likely still customers (P(alive) ≥ 50 %)",
            **counts,
        )
    if not s["one_time_status_known"]:
        return Message(
            "{alive} of {repeat} repeat customers are likely still customers (P(alive) ≥ 50 %); "
            "{once} one-time buyers, whose status the model cannot tell (BG/NBD holds every "
            "customer without a repeat purchase alive)",
            **counts,
        )
    return Message(
        "{alive} of {repeat} repeat customers are likely still customers (P(alive) ≥ 50 %), "
        "and {alive_once} of {once} one-time buyers",
        alive_once=number(s["likely_alive_one_time"]),
        **counts,
    )


def score(
    ctx: Context,
    purchase_model: PurchaseModel,
    spend_model: GammaGamma | None = None,
    *,
    horizon_days: int = 365,
    discount_rate: float = 0.10,
    margin: float = 1.0,
    model: str = "bgnbd",
    only: Any = None,
) -> Scores:
    """P(alive), expected purchases and spend, CLV and the next purchase
    date for every customer with a purchase up to the context's as-of date
    (or those of them in ``only``, an Ibis table with a ``customer_id``).

    The horizon is in days whatever the model's time unit; CLV is
    discounted at ``discount_rate`` a year, month by month.
    """
    import pandas as pd

    if horizon_days <= 0:
        raise ConfigError(
            f"the horizon must be 1 day or more; got {horizon_days}.", hint="Pass --horizon 365."
        )
    if not 0 < margin <= 1:
        raise ConfigError(
            f"the margin must be more than 0 and at most 1; got {margin}.",
            hint="Pass the share of revenue that is profit, e.g. --margin 0.3 (1 = revenue).",
        )
    time_unit = getattr(purchase_model, "time_unit_", "day")
    check_time_unit(time_unit)
    c = _arrow(scored_customers(ctx, time_unit, only=only))
    col = {name: c[name].to_numpy() for name in c.column_names if name != "customer_id"}
    # each customer's distinct (x, t_x, T): the purchase predictions are
    # computed once per triple and spread to the customers sharing it
    xtT = pd.DataFrame({k: col[k] for k in ("x", "t_x", "T")})
    triple = xtT.groupby(["x", "t_x", "T"], sort=False).ngroup().to_numpy()
    first = np.unique(triple, return_index=True)[1]
    per = triple_predictions(
        purchase_model, xtT.iloc[first].reset_index(drop=True), horizon_days=horizon_days,
        discount_rate=discount_rate, as_of=ctx.as_of,
    )  # fmt: skip
    # the ids are unique: looking for repeated strings to share would take
    # five times as long as making them
    out = pd.DataFrame({"customer_id": c["customer_id"].to_pandas(deduplicate_objects=False)})
    for name in ("x", "t_x", "T", "orders", "recency_days", "monetary_total"):
        out[name] = col[name]
    out["p_alive"] = per["p_alive"][triple]
    out["expected_purchases"] = per["expected_purchases"][triple]
    if spend_model is not None:
        spend = spend_predictions(spend_model, col["x"], col["m"])
        out["expected_spend"] = spend
        out["clv"] = per["discounted"][triple] * spend * margin
    out["next_purchase_date"] = per["next_purchase_date"][triple].astype("datetime64[ns]")
    return Scores(
        out,
        purchase_model,
        spend_model,
        ctx.as_of,
        time_unit,
        horizon_days,
        discount_rate,
        margin,
        ctx.source.currency,
        model,
    )


def scored_customers(ctx: Context, time_unit: str, *, only: Any = None) -> Any:
    """What :func:`score` reads of each customer with a purchase (of those
    in ``only``): customer_id, x, t_x, T, orders, recency_days,
    monetary_total and m, the average value of the repeat purchase days."""
    s = purchase_summary(ctx, time_unit=time_unit)
    if only is not None:
        s = s.filter(s.customer_id.isin(only.customer_id))
    return s.select(
        "customer_id", "x", "t_x", "T", "orders", "recency_days", "monetary_total",
        m="monetary_avg_repeat",
    )  # fmt: skip


def fitted_at() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def days_to_date(as_of: date, days: float) -> date | None:
    return None if not np.isfinite(days) else as_of + timedelta(days=int(days))
