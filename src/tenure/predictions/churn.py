"""Who is slipping away: fit, test and apply the churn classifier on a
customer base, with time-based windows.

With as-of date T and horizon h (days):

* **train**: features as of T - 2h, labels from what happened in
  (T - 2h, T - h];
* **test**: features as of T - h, labels in (T - h, T]. The model fitted on
  the training window is scored here, with the recency baseline beside it:
  the test customers are later in time than the training ones, as the
  customers scored for real will be;
* **score**: the model is refitted on the latest labelled window (the test
  window) and scores every customer active at T, with features as of T.

Labels follow the context's active-customer definition; see
:func:`tenure.engine.features.churn_labels`. Only the feature tables leave
the engine, one row per customer.

Examples
--------
>>> from tenure.contexts import open_context
>>> with open_context(store="tenure-data") as ctx:           # doctest: +SKIP
...     result = fit_churn(ctx, horizon_days=90)
>>> result.evaluation                                         # doctest: +SKIP
>>> result.customers.head()                                   # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

import pandas as pd

from tenure.engine.context import PURCHASE_STATUSES, Context, Definitions, as_date
from tenure.engine.features import active_customers, churn_features, churn_labels
from tenure.engine.source import Source
from tenure.errors import ConfigError, InputError
from tenure.models.churn import ChurnClassifier


@dataclass
class ChurnResult:
    """What :func:`fit_churn` found.

    Attributes
    ----------
    model
        The classifier refitted on the latest labelled window; it scored
        ``customers``.
    evaluation
        AUC, Brier score and top-decile lift on the test window of the model
        fitted on the training window, and of the recency baseline (one row
        each).
    importances
        Mean absolute contribution of each feature (log-odds), largest first.
    customers
        One row per customer active at ``as_of``: ``customer_id``,
        ``churn_probability`` (within ``horizon_days``) and the top drivers
        (``driver_k``, ``driver_k_value``, ``driver_k_contribution``),
        highest risk first.
    windows
        The as-of dates of the training, test and scoring features.
    calibration
        The test window in ten groups by predicted probability: customers,
        mean predicted and observed churn share (see
        :meth:`ChurnClassifier.calibration_table`).
    kept
        For a fit read back from the store (``model`` is then None): its
        ``fit_id``, ``model_version`` and ``fitted_at``.
    """

    model: ChurnClassifier | None
    evaluation: pd.DataFrame
    importances: pd.Series
    customers: pd.DataFrame
    as_of: date
    horizon_days: int
    windows: dict[str, date]
    sizes: dict[str, int]
    definitions: dict[str, Any] = field(default_factory=dict)
    calibration: pd.DataFrame | None = None
    kept: dict[str, Any] | None = None


def fit_churn(
    source_or_ctx: Source | Context,
    *,
    horizon_days: int = 90,
    as_of: date | None = None,
    definitions: Definitions | None = None,
    classifier: ChurnClassifier | None = None,
    top: int = 3,
    explain: int | None = None,
) -> ChurnResult:
    """Fit, test and apply a churn classifier; see the module docstring.

    Parameters
    ----------
    source_or_ctx
        A :class:`Context` (its definitions and as-of date are used) or a
        :class:`Source` (read under ``definitions``).
    horizon_days
        Churn within this many days: no purchase in them (purchase
        definition), no subscription at their end (subscription definition).
    as_of
        Score the customers active at this date; default: the context's
        as-of date, or the last day of data.
    definitions
        How to read a Source (time zone, active-customer definition);
        default: ``Definitions()``.
    classifier
        An unfitted :class:`ChurnClassifier` to copy the hyper-parameters
        from; default ``ChurnClassifier()``.
    top
        Drivers listed per customer.
    explain
        Give drivers to this many of the riskiest customers only (the rest
        have empty driver columns); default: every customer. Explaining is
        most of the work on a large base.
    """
    from sklearn.base import clone

    if isinstance(horizon_days, bool) or not isinstance(horizon_days, int) or horizon_days < 1:
        raise ConfigError(
            f"the churn horizon is {horizon_days!r} days.",
            hint="Use a whole number of days, 1 or more (90 is common).",
        )
    given = None
    if isinstance(source_or_ctx, Context):
        if definitions is not None:
            raise ConfigError(
                "definitions were given with a Context, which has its own.",
                hint="Pass the Source with definitions=, or the Context alone.",
            )
        source, defs = source_or_ctx.source, source_or_ctx.defs
        if as_of is None or as_of == source_or_ctx.as_of:
            given = source_or_ctx
    elif isinstance(source_or_ctx, Source):
        source, defs = source_or_ctx, definitions or Definitions()
    else:
        raise ConfigError(
            f"fit_churn reads a Context or a Source, not {type(source_or_ctx).__name__}.",
            hint="Open one with tenure.contexts.open_context(store=...), or over data: "
            "open_context(orders_df).",
        )
    if as_of is not None:
        defs = replace(defs, as_of=as_of)
    template = classifier if classifier is not None else ChurnClassifier()

    opened: list[Context] = []  # closed on the way out; a context given is the caller's

    def context(day: date | None) -> Context:
        ctx = Context(source, replace(defs, as_of=day))
        opened.append(ctx)
        return ctx

    try:
        latest = given if given is not None and defs.as_of is None else context(None)
        scoring = given or (latest if defs.as_of is None else context(defs.as_of))
        t = scoring.as_of
        _check_history(scoring, latest.as_of, horizon_days)
        h = timedelta(days=horizon_days)
        windows = {"train": t - 2 * h, "test": t - h, "score": t}
        train = _labelled(context(windows["train"]), horizon_days, "training")
        test = _labelled(context(windows["test"]), horizon_days, "test")

        def xy(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
            return frame.drop(columns=["customer_id", "churned"]), frame["churned"]

        checked = clone(template).fit(*xy(train))
        evaluation = checked.evaluate(*xy(test))
        calibration = checked.calibration_table(*xy(test))
        model = clone(template).fit(*xy(test))

        ids = active_customers(scoring)
        features = churn_features(scoring)
        features = features.semi_join(ids, "customer_id").order_by("customer_id").to_pandas()
        X = features.drop(columns=["customer_id"]).set_index(features["customer_id"])
        customers = pd.DataFrame(
            {"customer_id": X.index, "churn_probability": model.predict_proba(X)}
        )
        customers = customers.sort_values(
            ["churn_probability", "customer_id"], ascending=[False, True]
        )
        if explain is not None:
            if isinstance(explain, bool) or not isinstance(explain, int) or explain < 0:
                raise ConfigError(
                    f"explain is {explain!r}.", hint="Give a number of customers, 0 or more."
                )
        chosen = customers.index if explain is None else customers.index[:explain]
        if len(chosen):
            drivers = model.explain(X.iloc[chosen], top=top).reset_index(drop=True)
            drivers.index = chosen
            customers = customers.join(drivers)
        customers = customers.reset_index(drop=True)
        importances = model.feature_importances_.sort_values(ascending=False)
        return ChurnResult(
            model=model,
            evaluation=evaluation,
            importances=importances,
            customers=customers,
            as_of=t,
            horizon_days=horizon_days,
            windows=windows,
            sizes={"train": len(train), "test": len(test), "score": len(customers)},
            definitions=scoring.describe(),
            calibration=calibration,
        )
    finally:
        for ctx in opened:
            ctx.close()


def _check_history(ctx: Context, data_end: date, horizon_days: int) -> None:
    """The windows fit between the first and the last day of data."""
    t = ctx.as_of
    if t > data_end:
        raise InputError(
            f"as_of {t} is after the last day of data, {data_end}: the labels of the "
            f"last {horizon_days} days would take the missing days for churn.",
            hint="Leave as_of out (it defaults to the last day of data), or ingest newer data.",
        )
    start = _data_start(ctx)
    need = t - timedelta(days=2 * horizon_days)
    if need < start:
        longest = (t - start).days // 2
        raise InputError(
            f"a {horizon_days}-day churn model fitted at {t} trains on features as of {need} "
            f"(as_of - 2 x horizon), but the data begin on {start}.",
            hint=(
                f"Use a horizon of {longest} days or fewer, or a later as_of."
                if longest >= 1
                else "Ingest more history: the model needs customers seen before and after a date."
            ),
        )


def _data_start(ctx: Context) -> date:
    starts = []
    if ctx.source.get("orders") is not None:
        o = ctx.all_orders
        starts.append(o.filter(o.status.isin(PURCHASE_STATUSES)).local_date.min().execute())
    if ctx.active_by != "purchase":
        s = ctx.subscription_spans
        starts.append(s.start_date.min().execute())
    starts = [as_date(s) for s in starts if s is not None and not pd.isna(s)]
    return min(starts) if starts else ctx.as_of


def _labelled(ctx: Context, horizon_days: int, name: str) -> pd.DataFrame:
    """Features and labels of the customers active at the context's as-of date."""
    features = churn_features(ctx)
    t = features.join(churn_labels(ctx, horizon_days), "customer_id")
    frame = t.order_by("customer_id").to_pandas()
    frame["churned"] = frame["churned"].astype(bool)
    n = len(frame)
    if n == 0:
        raise InputError(
            f"no customer was active on {ctx.as_of}, where the {name} window begins.",
            hint="Use a shorter horizon or a later as_of, so the window falls where there are customers.",
        )
    churned = int(frame["churned"].sum())
    if churned in (0, n):
        what = "churned" if churned == n else "stayed"
        raise InputError(
            f"all {n} customers active on {ctx.as_of} {what} in the {horizon_days} days "
            f"after it (the {name} window), so there is nothing to tell apart.",
            hint="Use a different horizon (horizon_days=...), or more customers and history.",
        )
    return frame


def churn_record(result: ChurnResult, top: int = 10) -> dict[str, Any]:
    """The JSON of ``tenure fit churn`` and its row of ``model_fits``: the
    classifier's settings, the test-window scores of the model and of the
    recency baseline, the overall drivers and the riskiest customers."""
    from tenure.jsondoc import records
    from tenure.predictions.scoring import fitted_at

    model = result.model
    evaluation = {
        scorer: {k: (int(v) if k == "customers" else float(v)) for k, v in row.items()}
        for scorer, row in result.evaluation.to_dict("index").items()
    }
    return {
        "model": "churn",
        "params": {**model.get_params(), "backend": model.backend_},
        "std_errors": {},
        "log_likelihood": None,
        "aic": None,
        "n_customers": result.sizes["score"],
        "converged": True,
        "time_unit": None,
        "as_of": result.as_of.isoformat(),
        "calibration_end": result.windows["test"].isoformat(),
        "fitted_at": fitted_at().isoformat(),
        "definitions": result.definitions,
        "horizon_days": result.horizon_days,
        "windows": {k: v.isoformat() for k, v in result.windows.items()},
        "sizes": result.sizes,
        "validation": evaluation,
        "calibration": records(result.calibration) if result.calibration is not None else None,
        "drivers": {str(k): float(v) for k, v in result.importances.items()},
        "predicted_churners": float(result.customers["churn_probability"].sum()),
        "top_customers": records(result.customers.head(top)),
    }
