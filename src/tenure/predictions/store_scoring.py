"""Scores made where they are kept: ``tenure predict`` on a store writes
``customer_predictions`` with one ``INSERT ... SELECT`` inside the store.

A customer's purchase predictions depend only on (x, t_x, T), and the
expected spend only on (x, m): they are computed in Python once per
distinct tuple (:func:`tenure.predictions.scoring.triple_predictions`,
:func:`~tenure.predictions.scoring.spend_predictions`, the functions
:func:`~tenure.predictions.scoring.score` uses), and joined back to the
customers in DuckDB. The customers' rows never cross into Python: at 13.6M
customers that round trip through pandas, and its two sorts, took minutes.
The numbers are those of :func:`~tenure.predictions.scoring.score` to the
bit: the same functions on the same tuples, and CLV multiplied in the same
order.

This path needs the store's persisted customer summary to answer the
context (:attr:`tenure.engine.context.Context.stored_activity`) on DuckDB;
:func:`scored_query` says whether it does.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from tenure.config import Settings
from tenure.engine.context import Context
from tenure.models import PurchaseModel
from tenure.models.spend import GammaGamma
from tenure.predictions import scoring
from tenure.predictions.store import _STAMP_COLUMNS, PREDICTIONS_DDL, _insert_fit, _workspace

# the per-customer columns of customer_predictions, as the join writes them:
# NULL where a prediction is undefined (NaN), as a pandas frame wrote them
_CUSTOMER = (
    'b.customer_id, b.x, b.t_x, b."T", b.orders, b.recency_days, b.monetary_total, '
    "p.p_alive, p.expected_purchases, s.expected_spend, "
    # (discounted purchases x spend) x margin: score()'s order of operations
    "p.discounted * s.expected_spend * $margin, p.next_purchase_date"
)
_STAMPS = (
    "$horizon_days, $discount_rate, $margin, $currency, $model, $model_version, "
    "$purchase_fit_id, $spend_fit_id, $fitted_at, $as_of"
)
# how the scores were made, set aside from what they are
_STAMPED = (*_STAMP_COLUMNS, "as_of")


def scored_query(ctx: Context, time_unit: str) -> str | None:
    """The SQL of :func:`~tenure.predictions.scoring.scored_customers` over
    the store's own tables, or None where the context reads anything else
    (tables kept in its connection, another engine): then the scores are
    made in Python and written as a frame."""
    if ctx.engine != "duckdb" or ctx.stored_activity is None:
        return None
    import ibis

    return ibis.to_sql(scoring.scored_customers(ctx, time_unit), dialect="duckdb")


class StoredScores(scoring.Scores):
    """Scores written to the store by :func:`score_into_store`: the totals
    and the top customers are read from it; ``customers`` (every row)
    only when asked for."""

    def __init__(self, settings: Settings, totals: dict[str, Any], **fields: Any) -> None:
        self._settings = settings
        self._frame: pd.DataFrame | None = None
        self._totals = totals
        super().__init__(customers=None, **fields)

    @property  # type: ignore[override]
    def customers(self) -> pd.DataFrame:
        if self._frame is None:
            self._frame = _frame(self._read("SELECT * FROM customer_predictions"))
        return self._frame

    @customers.setter
    def customers(self, value: pd.DataFrame | None) -> None:
        self._frame = value

    def summary(self) -> dict[str, Any]:
        return dict(self._totals)

    def top(self, n: int) -> pd.DataFrame:
        if self._frame is not None:
            return super().top(n)
        return _frame(
            self._read(
                "SELECT * FROM customer_predictions "
                f"ORDER BY clv DESC NULLS LAST, customer_id LIMIT {max(int(n), 0)}"
            )
        )

    def _read(self, sql: str) -> pd.DataFrame:
        from tenure.store import analytics

        con = analytics.connect(self._settings.analytics_path, read_only=True)
        try:
            return con.execute(sql).df()
        finally:
            con.close()


def _frame(rows: pd.DataFrame) -> pd.DataFrame:
    """Kept rows as :func:`~tenure.predictions.scoring.score` makes them."""
    out = rows.drop(columns=[c for c in _STAMPED if c in rows]).reset_index(drop=True)
    out["next_purchase_date"] = pd.to_datetime(out["next_purchase_date"])
    return out


def _column(values: np.ndarray) -> pa.Array:
    """A float column with NaN as null, as DuckDB reads NaN of a pandas frame."""
    return pa.array(values, from_pandas=True)


def score_into_store(
    settings: Settings,
    query: str,
    purchase_model: PurchaseModel,
    spend_model: GammaGamma,
    *,
    purchase_fit: dict[str, Any],
    spend_fit: dict[str, Any],
    horizon_days: int,
    discount_rate: float,
    margin: float,
    model: str,
    as_of: date,
    currency: str,
    rows: int,
) -> StoredScores:
    """Keep both fits and replace the scores by those of every customer of
    ``query`` (:func:`scored_query`), in one transaction; ``rows`` is about
    how many customers it scores (how the store is written depends on it)."""
    time_unit = getattr(purchase_model, "time_unit_", "day")
    with _workspace(settings) as ws, ws.analytics(what="tenure predict", rows=rows) as con:
        con.execute("BEGIN")
        try:
            purchase_id, version = _insert_fit(con, purchase_fit)
            spend_id = _insert_fit(con, spend_fit)[0]
            con.execute(f"CREATE OR REPLACE TEMP VIEW _scored AS {query}")
            triples = con.execute('SELECT DISTINCT x, t_x, "T" FROM _scored').df()
            per = scoring.triple_predictions(
                purchase_model, triples, horizon_days=horizon_days, discount_rate=discount_rate,
                as_of=as_of,
            )  # fmt: skip
            per_triple = pa.table(
                {
                    "x": triples["x"].to_numpy(),
                    "t_x": triples["t_x"].to_numpy(),
                    "T": triples["T"].to_numpy(),
                    **{k: _column(per[k]) for k in ("p_alive", "expected_purchases", "discounted")},
                    "next_purchase_date": pa.array(
                        per["next_purchase_date"].astype("datetime64[D]"), type=pa.date32()
                    ),
                }
            )
            pairs = con.execute("SELECT DISTINCT x, m FROM _scored").df()
            spend = scoring.spend_predictions(
                spend_model, pairs["x"].to_numpy(), pairs["m"].to_numpy(dtype="float64")
            )
            per_pair = pa.table(
                {
                    "x": pairs["x"].to_numpy(),
                    "m": pa.array(pairs["m"].to_numpy(dtype="float64"), from_pandas=True),
                    "expected_spend": _column(spend),
                }
            )
            con.register("_per_triple", per_triple)
            con.register("_per_pair", per_pair)
            con.execute("DROP TABLE IF EXISTS customer_predictions")
            con.execute(PREDICTIONS_DDL)
            con.execute(
                f"INSERT INTO customer_predictions SELECT {_CUSTOMER}, {_STAMPS} "
                "FROM _scored b "
                'JOIN _per_triple p ON p.x = b.x AND p.t_x = b.t_x AND p."T" = b."T" '
                "JOIN _per_pair s ON s.x = b.x AND s.m IS NOT DISTINCT FROM b.m "
                # in key order: with no key index, a customer's row is found
                # by the row groups' ranges of ids (see PREDICTIONS_DDL)
                "ORDER BY b.customer_id",
                {
                    "margin": margin,
                    "horizon_days": horizon_days,
                    "discount_rate": discount_rate,
                    "currency": currency,
                    "model": purchase_fit["model"],
                    "model_version": version,
                    "purchase_fit_id": purchase_id,
                    "spend_fit_id": spend_id,
                    "fitted_at": datetime.fromisoformat(purchase_fit["fitted_at"]).replace(
                        tzinfo=None
                    ),
                    "as_of": as_of,
                },
            )
            con.unregister("_per_triple")
            con.unregister("_per_pair")
            con.execute("DROP VIEW _scored")
            # the totals from the rows as kept, in their order: the same sums
            # as every surface that reads them back (the API, the report)
            kept = con.execute(
                "SELECT x, p_alive, expected_purchases, clv FROM customer_predictions"
            ).df()
            totals = scoring.totals(kept, purchase_model)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return StoredScores(
        settings,
        totals,
        purchase_model=purchase_model,
        spend_model=spend_model,
        as_of=as_of,
        time_unit=time_unit,
        horizon_days=horizon_days,
        discount_rate=discount_rate,
        margin=margin,
        currency=currency,
        model=model,
    )
