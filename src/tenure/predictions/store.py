"""Fits and scores kept in the analytics store.

``model_fits`` keeps every fit: the model, its version (the n-th fit of
that model in this store), when it was fitted, the data's as-of date, the
parameters with their standard errors, the log-likelihood and the
definitions. ``customer_predictions`` holds the latest scores, one row per
customer, naming the fits they came from. Both are written in one
transaction: an interrupted ``tenure predict`` leaves the previous scores.

These tables are derived: ``tenure predict`` makes them again at any time,
so they are created when first written rather than by a schema migration.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

import duckdb

from tenure._version import __version__
from tenure.config import Settings
from tenure.models import LikelihoodModel
from tenure.predictions.scoring import Scores, fitted_at

if TYPE_CHECKING:  # pandas is imported where it is used: a fit needs none
    import pandas as pd

FITS_DDL = """
CREATE TABLE IF NOT EXISTS model_fits (
    fit_id BIGINT PRIMARY KEY,
    model VARCHAR NOT NULL,
    model_version INTEGER NOT NULL,
    tenure_version VARCHAR,
    fitted_at TIMESTAMP NOT NULL,
    as_of DATE NOT NULL,
    calibration_end DATE,
    time_unit VARCHAR,
    n_customers BIGINT,
    params VARCHAR NOT NULL,
    std_errors VARCHAR NOT NULL,
    log_likelihood DOUBLE,
    aic DOUBLE,
    converged BOOLEAN,
    definitions VARCHAR,
    validation VARCHAR,
    details VARCHAR
)"""

# what else of a fit's record is kept (in ``details``), for those who show
# the fit without fitting again: the churn model's windows, sizes,
# calibration table and drivers
DETAILS = ("horizon_days", "windows", "sizes", "calibration", "drivers", "predicted_churners")
COLUMNS = (
    "fit_id",
    "model",
    "model_version",
    "tenure_version",
    "fitted_at",
    "as_of",
    "calibration_end",
    "time_unit",
    "n_customers",
    "params",
    "std_errors",
    "log_likelihood",
    "aic",
    "converged",
    "definitions",
    "validation",
    "details",
)

# one row per customer, kept so by its writers (a full write from the
# summary's customers; a rescore deletes the rows it replaces). No key index:
# a rescore after a small ingest replaces a few thousand rows spread over
# every row group, and with an index DuckDB's checkpoint at its commit
# rewrote each of them and the index (0.3 to 0.5 s at a million customers);
# without one, deleted rows are marked and the new ones appended (measured
# at 272k customers: 0.18 s to write 9,733 rows with the index, 0.05 s
# without). Its writers keep the rows in customer_id order (the rescore's
# appended rows among themselves): a customer's row is then found in the
# one or few row groups whose range of ids holds it (at 272k customers,
# 2.2 ms against 1.6 ms through the index, 7.4 ms unordered).
PREDICTIONS_DDL = """
CREATE TABLE customer_predictions (
    customer_id VARCHAR,
    x BIGINT, t_x DOUBLE, "T" DOUBLE, orders BIGINT, recency_days BIGINT,
    monetary_total DOUBLE,
    p_alive DOUBLE, expected_purchases DOUBLE, expected_spend DOUBLE, clv DOUBLE,
    next_purchase_date DATE,
    horizon_days INTEGER, discount_rate DOUBLE, margin DOUBLE, currency VARCHAR,
    model VARCHAR, model_version INTEGER, purchase_fit_id BIGINT, spend_fit_id BIGINT,
    fitted_at TIMESTAMP, as_of DATE
)"""


# the columns of customer_predictions after the per-customer ones, but as_of
_STAMP_COLUMNS = (
    "horizon_days", "discount_rate", "margin", "currency", "model", "model_version",
    "purchase_fit_id", "spend_fit_id", "fitted_at",
)  # fmt: skip


def fit_record(
    model_name: str,
    model: LikelihoodModel,
    *,
    as_of: Any,
    calibration_end: Any = None,
    time_unit: str | None = None,
    definitions: dict[str, Any] | None = None,
    validation: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A fit as the JSON of ``tenure fit --json`` and a row of ``model_fits``."""
    return {
        "model": model_name,
        "params": model.params_,
        "std_errors": model.std_errors_,
        "log_likelihood": model.log_likelihood_,
        "aic": model.aic_,
        "n_customers": model.n_customers_,
        "converged": model.converged_,
        "time_unit": time_unit,
        "as_of": str(as_of),
        "calibration_end": None if calibration_end is None else str(calibration_end),
        "fitted_at": fitted_at().isoformat(),
        "definitions": definitions or {},
        "validation": validation,
        # as new as the data it was fitted on (see fit_age for a kept one)
        "staleness": {"age_days": 0.0, "rows_ingested": 0, "stale": False},
    }


def _insert_fit(con: duckdb.DuckDBPyConnection, record: dict[str, Any]) -> tuple[int, int]:
    con.execute(FITS_DDL)
    # stores whose model_fits came before the details column
    con.execute("ALTER TABLE model_fits ADD COLUMN IF NOT EXISTS details VARCHAR")
    details = {k: record[k] for k in DETAILS if k in record}
    # the last ingest the fit saw: what came after it makes it older than the data
    last = con.execute("SELECT max(ingest_id) FROM _ingest_batches").fetchall()[0][0]
    details["last_ingest_id"] = last
    fit_id, version = con.execute(
        "SELECT coalesce(max(fit_id), 0) + 1, "
        "coalesce(max(model_version) FILTER (WHERE model = ?), 0) + 1 FROM model_fits",
        [record["model"]],
    ).fetchall()[0]
    con.execute(
        f"INSERT INTO model_fits ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
        [
            fit_id,
            record["model"],
            version,
            __version__,
            datetime.fromisoformat(record["fitted_at"]).replace(tzinfo=None),
            record["as_of"],
            record["calibration_end"],
            record["time_unit"],
            record["n_customers"],
            json.dumps(record["params"]),
            json.dumps(record["std_errors"]),
            record["log_likelihood"],
            record["aic"],
            record["converged"],
            json.dumps(record["definitions"], default=str),
            json.dumps(record["validation"], default=str) if record["validation"] else None,
            json.dumps(details, default=str) if details else None,
        ],
    )
    record["fit_id"], record["model_version"] = int(fit_id), int(version)
    return int(fit_id), int(version)


def _workspace(settings: Settings) -> Any:
    """The store, opened to write. Imported here: the workspace brings the
    operational store's SQLAlchemy, which a fit from a file, writing
    nothing, does without."""
    from tenure.store.workspace import Workspace

    return Workspace.open(settings, create=False)


def save_fit(settings: Settings, record: dict[str, Any]) -> dict[str, Any]:
    """Keep one fit; adds ``fit_id`` and ``model_version`` to the record."""
    with _workspace(settings) as ws, ws.analytics(what="tenure fit") as con:
        con.execute("BEGIN")
        try:
            _insert_fit(con, record)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return record


def _score_rows(scores: Scores) -> pd.DataFrame:
    """The per-customer columns of ``customer_predictions``."""
    import pandas as pd

    c = scores.customers
    return pd.DataFrame(
        {
            "customer_id": c.customer_id.astype(str),
            "x": c["x"],
            "t_x": c["t_x"],
            "T": c["T"],
            "orders": c["orders"],
            "recency_days": c["recency_days"],
            "monetary_total": c["monetary_total"],
            "p_alive": c["p_alive"],
            "expected_purchases": c["expected_purchases"],
            "expected_spend": c.get("expected_spend"),
            "clv": c.get("clv"),
            "next_purchase_date": c["next_purchase_date"].dt.date,
        }
    )


def save_scores(
    settings: Settings, scores: Scores, purchase_fit: dict[str, Any], spend_fit: dict | None
) -> None:
    """Keep both fits and replace the scores, all in one transaction."""
    frame = _score_rows(scores)
    with (
        _workspace(settings) as ws,
        ws.analytics(what="tenure predict", rows=len(frame)) as con,
    ):
        con.execute("BEGIN")
        try:
            purchase_id, version = _insert_fit(con, purchase_fit)
            spend_id = _insert_fit(con, spend_fit)[0] if spend_fit else None
            con.register("_scores", frame)
            con.execute("DROP TABLE IF EXISTS customer_predictions")
            con.execute(PREDICTIONS_DDL)
            con.execute(
                "INSERT INTO customer_predictions SELECT *, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? "
                "FROM _scores ORDER BY customer_id",
                [
                    scores.horizon_days,
                    scores.discount_rate,
                    scores.margin,
                    scores.currency,
                    purchase_fit["model"],
                    version,
                    purchase_id,
                    spend_id,
                    datetime.fromisoformat(purchase_fit["fitted_at"]).replace(tzinfo=None),
                    scores.as_of,
                ],
            )
            con.unregister("_scores")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise


def fit_age(con: duckdb.DuckDBPyConnection, fit: dict[str, Any]) -> dict[str, Any]:
    """How much older a kept fit (a row of :func:`load_fits`) is than the
    data: ``age_days`` since it was fitted (to now), ``rows_ingested`` after
    it (rows of the facts written by later ingests, still in the store) and
    ``stale`` when there are any."""
    import pandas as pd

    from tenure.datamodel import KINDS

    at = pd.Timestamp(fit["fitted_at"])
    if at.tzinfo is not None:
        at = at.tz_convert("UTC").tz_localize(None)
    age = (pd.Timestamp.now(tz="UTC").tz_localize(None) - at).total_seconds() / 86400.0
    details = fit.get("details") or {}
    if "last_ingest_id" in details:
        later, params = "ingest_id > ?", [details["last_ingest_id"] or 0]
    else:  # a fit kept before it recorded its last ingest; fitted_at is to the second
        later, params = "committed_at > ? + INTERVAL 1 SECOND", [at.to_pydatetime()]
    count = " + ".join(
        f'(SELECT count(*) FROM "{k}" WHERE _ingest_id IN '
        f"(SELECT ingest_id FROM _ingest_batches WHERE {later}))"
        for k in KINDS
    )
    rows = int(con.execute(f"SELECT {count}", params * len(KINDS)).fetchall()[0][0])
    return {"age_days": round(max(age, 0.0), 2), "rows_ingested": rows, "stale": rows > 0}


def save_fit_and_table(
    settings: Settings, record: dict[str, Any], table: str, frame: pd.DataFrame
) -> dict[str, Any]:
    """Keep a fit and replace ``table`` with ``frame`` (one row per scored
    customer or subscription, stamped with the fit's id, version, date and
    as-of date), in one transaction: an interrupted run leaves the previous
    table."""
    import pandas as pd

    with (
        _workspace(settings) as ws,
        ws.analytics(what="tenure fit", rows=len(frame)) as con,
    ):
        con.execute("BEGIN")
        try:
            fit_id, version = _insert_fit(con, record)
            stamped = frame.assign(
                model=record["model"],
                model_version=version,
                fit_id=fit_id,
                fitted_at=datetime.fromisoformat(record["fitted_at"]).replace(tzinfo=None),
                as_of=pd.Timestamp(record["as_of"]).date(),
            )
            con.register("_scores", stamped)
            con.execute(f'DROP TABLE IF EXISTS "{table}"')
            con.execute(f'CREATE TABLE "{table}" AS SELECT * FROM _scores')
            con.unregister("_scores")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return record


def load_table(con: duckdb.DuckDBPyConnection, table: str) -> pd.DataFrame | None:
    """A scored table, or None when it has not been written yet."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table]
    ).fetchall()[0][0]
    return con.execute(f'SELECT * FROM "{table}"').df() if exists else None


def load_scores(con: duckdb.DuckDBPyConnection) -> pd.DataFrame | None:
    """The latest scores, or None when ``tenure predict`` has not run."""
    return load_table(con, "customer_predictions")


def load_fits(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'model_fits'"
    ).fetchall()[0][0]
    if not exists:
        return []
    rows = con.execute("SELECT * FROM model_fits ORDER BY fit_id").df().to_dict("records")
    for row in rows:
        for key in ("params", "std_errors", "definitions", "validation", "details"):
            # a NULL comes back as None or, beside strings, as NaN
            value = row.get(key)
            row[key] = json.loads(value) if isinstance(value, str) and value else None
    return rows


def load_churn(con: duckdb.DuckDBPyConnection):
    """The churn model kept by ``tenure fit churn`` as a
    :class:`~tenure.predictions.churn.ChurnResult` (without the classifier):
    its test-window scores, drivers, calibration, windows and every active
    customer's score, as they were when it was fitted. None when no churn
    fit is kept, or it was kept before its details were."""
    from datetime import date

    import pandas as pd

    from tenure.predictions.churn import ChurnResult

    customers = load_table(con, "churn_predictions")
    if customers is None or customers.empty:
        return None
    fit_id = int(customers["fit_id"].iloc[0])
    fit = next((f for f in load_fits(con) if int(f["fit_id"]) == fit_id), None)
    details = (fit or {}).get("details")
    if not details or not fit.get("validation"):
        return None
    customers = customers.sort_values(
        ["churn_probability", "customer_id"], ascending=[False, True], ignore_index=True
    )
    stamps = ["model", "model_version", "fit_id", "fitted_at", "as_of"]
    calibration = details.get("calibration")
    return ChurnResult(
        model=None,
        evaluation=pd.DataFrame.from_dict(fit["validation"], orient="index"),
        importances=pd.Series(details["drivers"], dtype="float64"),
        customers=customers.drop(columns=[c for c in stamps if c in customers]),
        as_of=pd.Timestamp(fit["as_of"]).date(),
        horizon_days=int(details["horizon_days"]),
        windows={k: date.fromisoformat(v) for k, v in details["windows"].items()},
        sizes={k: int(v) for k, v in details["sizes"].items()},
        definitions=fit.get("definitions") or {},
        calibration=pd.DataFrame(calibration) if calibration else None,
        kept={
            "fit_id": fit_id,
            "model_version": int(fit["model_version"]),
            "fitted_at": pd.Timestamp(fit["fitted_at"]).to_pydatetime(),
            "staleness": fit_age(con, fit),
        },
    )


def kept_scores(settings: Settings, *tables: str) -> dict[str, pd.DataFrame | None]:
    """The scored tables named (``customer_predictions``, ``churn_predictions``,
    ``subscription_predictions``), each None until written, read in one
    opening of the store. They stay in the workspace's analytics store
    whichever engine computed the numbers."""
    from tenure.store import analytics

    con = analytics.connect(settings.analytics_path, read_only=True)
    try:
        return {table: load_table(con, table) for table in tables}
    finally:
        con.close()


def kept_rows(settings: Settings, customer_id: str, *tables: str) -> dict[str, pd.DataFrame | None]:
    """The customer's rows of the scored tables named, each None until written."""
    from tenure.store import analytics

    con = analytics.connect(settings.analytics_path, read_only=True)
    try:
        out: dict[str, pd.DataFrame | None] = {}
        for table in tables:
            exists = con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table]
            ).fetchall()[0][0]
            out[table] = (
                con.execute(f'SELECT * FROM "{table}" WHERE customer_id = ?', [customer_id]).df()
                if exists
                else None
            )
        return out
    finally:
        con.close()
