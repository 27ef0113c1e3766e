"""Scores kept up to date between fits: after an ingest, the customers it
touched are scored again with the parameters of the fits that made the
kept scores, without fitting again.

The touched customers are those whose row of the persisted summary the
ingest recomputed (its ``_ingest_id``, see :mod:`tenure.store.summary`);
their rows of ``customer_predictions`` are replaced, stamped with the same
fits and the new as-of date, the others kept. The churn classifier is not
kept in the store, so ``churn_predictions`` waits for the next
``tenure fit churn``; :func:`tenure.predictions.store.fit_age` says how much
data came after each fit.

A few thousand customers after a small ingest: their (x, t_x, T, m) are
read from the summary with one query of the store, and scored by the
functions every scoring path uses
(:mod:`tenure.predictions.closed_form`), without pandas or the engine,
whose imports cost more than the rest of the refresh. The query is
:func:`tenure.engine.summaries.purchase_summary` over the summary, as of
the last purchase day, written in DuckDB SQL; the tests hold the rows to
those of a full scoring with the same fits, column by column.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb

from tenure.config import Settings
from tenure.store import analytics, summary

# the kept scores' per-customer columns, as every scoring path writes them
_CUSTOMER = (
    "customer_id", "x", "t_x", "T", "orders", "recency_days", "monetary_total", "p_alive",
    "expected_purchases", "expected_spend", "clv", "next_purchase_date",
)  # fmt: skip

# purchase_summary's columns of the touched customers with a purchase, as of
# the day $as_of_day, in $unit days; a summary day is a local day number
# (days since 1970-01-01)
_TOUCHED = f"""
SELECT customer_id,
    CAST(purchase_days - 1 AS BIGINT) AS x,
    CAST(last_day - first_day AS DOUBLE) / $unit AS t_x,
    CAST($as_of_day - first_day AS DOUBLE) / $unit AS "T",
    CAST(orders AS BIGINT) AS orders,
    CAST($as_of_day - last_day AS BIGINT) AS recency_days,
    CAST(total AS DOUBLE) AS monetary_total,
    CASE WHEN purchase_days > 1 THEN
        CAST(total - first_day_amount AS DOUBLE) / CAST(purchase_days - 1 AS DOUBLE)
    END AS m
FROM "{summary.TABLE}"
WHERE _ingest_id = $ingest_id AND purchase_days IS NOT NULL
"""


def _kept(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """How the kept scores were made (their first row's stamps), or None."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'customer_predictions'"
    ).fetchall()[0][0]
    if not exists:
        return None
    rows = con.execute(
        "SELECT model, purchase_fit_id, spend_fit_id, horizon_days, discount_rate, margin "
        "FROM customer_predictions LIMIT 1"
    ).fetchall()
    if not rows:
        return None
    keys = ("model", "purchase_fit_id", "spend_fit_id", "horizon_days", "discount_rate", "margin")
    return dict(zip(keys, rows[0], strict=True))


def _fits(con: duckdb.DuckDBPyConnection, *ids: Any) -> dict[int, dict[str, Any]]:
    """The kept fits ``ids`` (those of them still kept): parameters and time unit."""
    wanted = [int(i) for i in ids if i is not None]
    rows = con.execute(
        "SELECT fit_id, params, time_unit FROM model_fits WHERE list_contains($ids, fit_id)",
        {"ids": wanted},
    ).fetchall()
    return {int(i): {"params": json.loads(p), "time_unit": unit} for i, p, unit in rows}


def _model(fit: dict[str, Any], cls: type) -> Any:
    """A model with a kept fit's parameters, as fitted."""
    model = cls()
    model.params_ = dict(fit["params"])
    model.time_unit_ = fit.get("time_unit") or "day"
    return model


def rescore_ingest(settings: Settings, ingest_id: int, *, moved: bool = True) -> int | None:
    """Score the customers the ingest ``ingest_id`` touched again with the
    kept fits; the number of customers scored, or None when there was
    nothing to refresh (no scores kept, their fit gone, or no summary in
    the time zone of the settings, which :func:`tenure.refresh.after_ingest`
    rebuilds first).

    ``moved``: whether the ingest may have moved an order to another
    customer (it updated rows), so that a customer it left without any
    order lost their row of the summary; their kept scores go too. An
    ingest that only inserted cannot, and the search for such customers
    among all the kept scores is skipped."""
    con = analytics.connect(settings.analytics_path, read_only=True)
    try:
        touched = read_touched(con, settings, ingest_id)
    finally:
        con.close()
    return None if touched is None else write_touched(settings, touched, moved=moved)


def read_touched(
    con: duckdb.DuckDBPyConnection, settings: Settings, ingest_id: int
) -> dict[str, Any] | None:
    """What :func:`write_touched` scores and writes, read with ``con`` (a
    read-only connection to the store, which the caller closes before the
    write): the kept scores' stamps, the fits' models, and the touched
    customers' columns of :data:`_TOUCHED`; None when there is nothing to
    refresh (see :func:`rescore_ingest`)."""
    kept = _kept(con)
    if kept is None or summary.current(con) != settings.timezone:
        return None
    fits = _fits(con, kept["purchase_fit_id"], kept["spend_fit_id"])
    if int(kept["purchase_fit_id"]) not in fits:
        return None
    # the models are imported only for an ingest that has scores to refresh,
    # and only the kept one
    from tenure.predictions import closed_form

    purchase_fit = fits[int(kept["purchase_fit_id"])]
    purchase = _model(purchase_fit, closed_form.purchase_model(kept["model"]))
    unit = closed_form.check_time_unit(purchase.time_unit_)
    # the whole data's as-of day: the last purchase day of any customer
    as_of_day, as_of = con.execute(
        f"SELECT max(last_day), DATE '1970-01-01' + CAST(max(last_day) AS INTEGER) "
        f'FROM "{summary.TABLE}"'
    ).fetchall()[0]
    if as_of_day is None:  # no purchase at all: nothing to score
        return None
    params = {"unit": unit, "as_of_day": int(as_of_day), "ingest_id": int(ingest_id)}
    spend_id = kept["spend_fit_id"]
    spend = None
    if spend_id is not None and int(spend_id) in fits:
        from tenure.models.spend import GammaGamma

        spend = _model(fits[int(spend_id)], GammaGamma)
    return {
        "ingest_id": int(ingest_id),
        "kept": kept,
        "purchase": purchase,
        "spend": spend,
        "as_of": as_of,
        # as NumPy arrays: Arrow's conversions to and from NumPy import pandas
        "customers": con.execute(_TOUCHED, params).fetchnumpy(),
    }


def write_touched(settings: Settings, touched: dict[str, Any], *, moved: bool) -> int:
    """Score the customers of ``touched`` (:func:`read_touched`) and write
    their kept scores; the number of customers scored."""
    kept = touched["kept"]
    rows = _scored(
        touched["customers"],
        touched["purchase"],
        touched["spend"],
        horizon_days=int(kept["horizon_days"]),
        discount_rate=float(kept["discount_rate"]),
        margin=float(kept["margin"]),
        as_of=touched["as_of"],
    )
    replace_rows(settings, rows, touched["ingest_id"], touched["as_of"], moved=moved)
    return len(rows["customer_id"])


def _scored(
    c: dict[str, Any],
    purchase: Any,
    spend: Any,
    *,
    horizon_days: int,
    discount_rate: float,
    margin: float,
    as_of: Any,
) -> dict[str, Any]:
    """The kept scores' per-customer columns of the customers ``c`` (the
    columns of :data:`_TOUCHED` as NumPy arrays, masked where null), as
    NumPy arrays: what :func:`tenure.predictions.scoring.score` computes,
    by the same functions on the same tuples, CLV multiplied in the same
    order."""
    import numpy as np

    from tenure.predictions import closed_form

    col = {n: np.ma.filled(v, np.nan) if np.ma.isMaskedArray(v) else v for n, v in c.items()}
    n = len(col["customer_id"])
    if n == 0:  # the ingest left none of its customers with a purchase
        empty = np.empty(0)
        return {
            **{k: col[k] for k in _CUSTOMER[:7]},
            **{k: empty for k in _CUSTOMER[7:11]},
            "next_purchase_date": empty.astype("datetime64[D]"),
        }
    # each distinct (x, t_x, T) scored once, as score() does
    xtT = np.column_stack([col["x"].astype("float64"), col["t_x"], col["T"]])
    triples, triple = np.unique(xtT.reshape(n, 3), axis=0, return_inverse=True)
    triple = triple.reshape(-1)
    u = {"x": triples[:, 0], "t_x": triples[:, 1], "T": triples[:, 2]}
    per = closed_form.triple_predictions(
        purchase, u, horizon_days=horizon_days, discount_rate=discount_rate, as_of=as_of
    )
    if spend is not None:
        expected_spend = closed_form.spend_predictions(spend, col["x"], col["m"])
        clv = per["discounted"][triple] * expected_spend * margin
    else:
        expected_spend = clv = np.full(n, np.nan)
    return {
        **{k: col[k] for k in _CUSTOMER[:7]},
        "p_alive": per["p_alive"][triple],
        "expected_purchases": per["expected_purchases"][triple],
        "expected_spend": expected_spend,
        "clv": clv,
        "next_purchase_date": per["next_purchase_date"][triple].astype("datetime64[D]"),
    }


# each per-customer column of customer_predictions, from the NumPy arrays of
# _scored registered as a table: NaN (a missing float) and NaT as NULL, as
# a frame written to DuckDB has them
_TYPES = ("VARCHAR", "BIGINT", "DOUBLE", "DOUBLE", "BIGINT", "BIGINT", "DOUBLE", "DOUBLE",
          "DOUBLE", "DOUBLE", "DOUBLE", "DATE")  # fmt: skip
_STAGED = ", ".join(
    f'CASE WHEN isnan("{n}") THEN NULL ELSE CAST("{n}" AS DOUBLE) END AS "{n}"'
    if t == "DOUBLE"
    else f'CAST("{n}" AS {t}) AS "{n}"'
    for n, t in zip(_CUSTOMER, _TYPES, strict=True)
)


def _staged(rows: dict[str, Any]) -> dict[str, Any]:
    """The columns of ``rows`` as DuckDB scans NumPy arrays: dates in
    seconds (it does not read days), floats as floats."""
    import numpy as np

    out = {}
    for name, kind in zip(_CUSTOMER, _TYPES, strict=True):
        values = np.asarray(rows[name])
        if kind == "DATE":
            values = values.astype("datetime64[s]")
        elif kind == "DOUBLE":
            values = values.astype("float64")
        out[name] = values
    return out


def replace_rows(
    settings: Settings, rows: dict[str, Any], ingest_id: int, as_of: Any, *, moved: bool
) -> None:
    """Replace the kept scores of the customers the ingest ``ingest_id``
    touched by ``rows`` (their per-customer columns, made with the kept
    fits), in one transaction under the writers' lock: their rows keep the
    fits' stamps and take the as-of date ``as_of``; a touched customer
    without a purchase now loses their row, and when ``moved``, so does
    one without a row of the summary (whose every order went to another
    customer).

    The rows replaced are deleted and the new ones appended: the table has
    no key index (see :data:`tenure.predictions.store.PREDICTIONS_DDL`), so
    the commit marks deleted rows and writes one small row group. A table
    kept with the key index of earlier versions (until the next ``tenure
    predict`` writes it again) has its rows updated where they are instead,
    found by the index: deleting and inserting through the index took three
    times as long to commit.

    ``rows`` were read before the writers' lock was taken: a later ingest
    may have committed since and touched some of the same customers. Only
    the customers whose summary row this ingest was the last to write are
    written; the later ingest's own rescoring, which read after its commit,
    writes the others, whichever of the two writes first."""
    copy = len(rows["customer_id"]) > analytics.swap_rows()
    with analytics.writing(settings.analytics_path, "tenure ingest (scores)", copy=copy) as con:
        con.execute("BEGIN")
        try:
            # scanned where they are: a list parameter per column cost more
            con.register("_staged", _staged(rows))
            con.execute(f"CREATE TEMP TABLE _rows AS SELECT {_STAGED} FROM _staged")
            con.unregister("_staged")
            names = ", ".join(f'"{n}"' for n in _CUSTOMER)
            con.execute(
                "CREATE OR REPLACE TEMP TABLE _stamps AS "
                f"SELECT * EXCLUDE ({names}, as_of) FROM customer_predictions LIMIT 1"
            )
            # the customers whose summary row this ingest was the last to write,
            # found in one pass over the summary
            con.execute(
                "CREATE OR REPLACE TEMP TABLE _mine AS SELECT customer_id "
                f'FROM "{summary.TABLE}" WHERE _ingest_id = $ingest_id',
                {"ingest_id": int(ingest_id)},
            )
            if moved:
                con.execute(
                    "DELETE FROM customer_predictions WHERE customer_id NOT IN "
                    f'(SELECT customer_id FROM "{summary.TABLE}")'
                )
            mine = "WHERE _rows.customer_id IN (SELECT customer_id FROM _mine)"
            if _keyed(con):
                _upsert(con, mine, as_of)
            else:
                # the touched customers' rows go, those left without a
                # purchase (no row in _rows) included; the new ones come in
                con.execute(
                    "DELETE FROM customer_predictions "
                    "WHERE customer_id IN (SELECT customer_id FROM _mine)"
                )
                con.execute(
                    "INSERT INTO customer_predictions BY NAME "
                    "SELECT _rows.*, _stamps.*, $as_of AS as_of FROM _rows, _stamps "
                    f"{mine} ORDER BY _rows.customer_id",
                    {"as_of": as_of},
                )
            con.execute("DROP TABLE _rows")
            con.execute("DROP TABLE _mine")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise


def _keyed(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether customer_predictions has the key index of earlier versions."""
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'customer_predictions' "
            "AND constraint_type = 'PRIMARY KEY'"
        ).fetchall()[0][0]
    )


def _upsert(con: duckdb.DuckDBPyConnection, mine: str, as_of: Any) -> None:
    """The touched customers' rows of a keyed customer_predictions written
    where they are (found by the index), new customers inserted; a touched
    customer left without a purchase loses their row."""
    gone = "SELECT customer_id FROM _mine EXCEPT SELECT customer_id FROM _rows"
    # seldom any: the search through every kept score only runs when there are
    if con.execute(f"SELECT count(*) FROM ({gone})").fetchall()[0][0]:
        con.execute(f"DELETE FROM customer_predictions WHERE customer_id IN ({gone})")
    changed = ", ".join(f'"{n}" = excluded."{n}"' for n in (*_CUSTOMER[1:], "as_of"))
    con.execute(
        "INSERT INTO customer_predictions BY NAME "
        f"SELECT _rows.*, _stamps.*, $as_of AS as_of FROM _rows, _stamps {mine} "
        f"ON CONFLICT (customer_id) DO UPDATE SET {changed}",
        {"as_of": as_of},
    )
