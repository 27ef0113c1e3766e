"""Uplift targeting: fit a model of who a message changes from a past
campaign's randomised groups, judge it on customers it did not see, keep
it with every customer's predicted uplift, and list the persuadable top
k % as an audience.

``fit_uplift`` is what ``tenure campaign uplift fit --json`` prints;
``persuadables`` what ``tenure campaign uplift score --json`` prints. The
learners are in :mod:`tenure.models.uplift`, the Qini and AUUC in
:mod:`tenure.models.uplift_metrics`, the training table in
:mod:`.uplift_data`.

The held-out split is random and stratified by arm (``test_share`` of each
arm, 30 % by default): both parts are randomised comparisons, so the
test part judges the ranking without bias. The model kept is then fitted
again on every assigned customer, and scores every customer the store
knows as of its last day of data (features as of that day), in
``uplift_predictions``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tenure.campaigns import uplift_data
from tenure.errors import InputError

TABLE = "uplift_predictions"
LEARNER_NAMES = {"t": "T-learner (two outcome models)",
                 "ct": "class transformation (Jaśkowski and Jaroszewicz 2012)"}  # fmt: skip
TEST_SHARE = 0.3
# the fewest customers of each arm in each part of the split
MIN_PER_ARM = 20
METHOD = {
    "split": "random, stratified by arm; the model is judged on customers it did not see",
    "qini": "Radcliffe (2007): Q(n) = Y_t(n) - Y_c(n) N_t(n) / N_c(n) over the top n by "
    "predicted uplift; coefficient = (area - random area) / (perfect area - random area)",
    "auuc": "Gutierrez and Gerardy (2017): U(n) = (Y_t(n)/N_t(n) - Y_c(n)/N_c(n)) n, "
    "normalised as the Qini coefficient",
    "random_band": "2.5 % and 97.5 % quantiles over 200 random rankings of the test customers",
    "features": "the churn features as of the day before each customer's assignment",
}


def _learner(name: str, random_state: int) -> Any:
    from tenure.models.uplift import LEARNERS

    if name not in LEARNERS:
        raise InputError(f"unknown learner {name!r}.",
                         hint="Use t (two outcome models) or ct (class transformation).",
                         value=name, code="unknown_learner")  # fmt: skip
    return LEARNERS[name](random_state=random_state)


def _split(treated: np.ndarray, test_share: float, seed: int, source: str) -> np.ndarray:
    """A boolean mask of the test rows, ``test_share`` of each arm."""
    if not 0 < test_share < 1:
        raise InputError(f"test_share must be between 0 and 1; got {test_share!r}.",
                         value=test_share, code="bad_test_share")  # fmt: skip
    rng = np.random.default_rng(seed)
    test = np.zeros(len(treated), dtype=bool)
    for arm, name in ((True, "treated"), (False, "control")):
        rows = np.flatnonzero(treated == arm)
        k = int(round(test_share * len(rows)))
        if min(k, len(rows) - k) < MIN_PER_ARM:
            raise InputError(
                f"{len(rows):,} {name} customers: too few to fit on some and test on the "
                f"others (at least {MIN_PER_ARM} in each part).",
                hint="Fit on a larger campaign; an uplift model needs thousands of customers "
                "per group to find who responds.",
                source=source, column="group", code="too_few_customers",
            )  # fmt: skip
        test[rng.choice(rows, size=k, replace=False)] = True
    return test


def fit_uplift(settings: Any, assignments: Path | str, *, window: int = 30,
               metric: str = "conversion", learner: str = "t", control: str | None = None,
               arm: str | None = None, test_share: float = TEST_SHARE, seed: int = 0,
               save: bool = True) -> dict[str, Any]:  # fmt: skip
    """Fit from an assignments file; see the module docstring. Returns the
    record kept in ``model_fits`` (model ``uplift``), with the file's
    counts under ``assignments``."""
    _learner(learner, seed)  # an unknown learner fails before reading anything
    if learner == "ct" and metric != "conversion":
        raise InputError(
            f"the class-transformation learner needs a binary outcome; {metric} is not one.",
            hint="Use the T-learner for orders or revenue (--learner t), or model the "
            "conversion (--metric conversion).",
            value=metric, code="not_binary",
        )  # fmt: skip
    read, frame = uplift_data.outcomes_from_file(settings, assignments, window=window,
                                                 metric=metric, control=control, arm=arm)  # fmt: skip
    record = fit_uplift_outcomes(settings, frame, window=window, metric=metric, learner=learner,
                                 test_share=test_share, seed=seed, save=save,
                                 source=read.source)  # fmt: skip
    record["assignments"] = read.as_dict()
    return record


def fit_uplift_outcomes(settings: Any, frame: pd.DataFrame, *, window: int, metric: str,
                        learner: str = "t", test_share: float = TEST_SHARE, seed: int = 0,
                        save: bool = True, source: str = "assignments") -> dict[str, Any]:  # fmt: skip
    """Fit from outcomes already computed (:func:`.uplift_data.outcomes_from_file`
    or :func:`.uplift_data.outcomes_from_table`)."""
    from tenure.models.uplift_metrics import evaluate
    from tenure.predictions.scoring import fitted_at

    model = _learner(learner, seed)
    table = uplift_data.training_table(settings, frame)
    t = table["treated"].to_numpy(bool)
    y = table["y"].to_numpy(float)
    features = [c for c in table.columns if c not in ("customer_id", "treated", "assigned_at", "y")]
    X = table[features].to_numpy(float)
    test = _split(t, test_share, seed, source)
    checked = _learner(learner, seed).fit(X[~test], t[~test], y[~test])
    evaluation = evaluate(y[test], t[test], checked.predict_uplift(X[test]))
    model.fit(X, t, y)
    scores, as_of, definitions = _score_everyone(settings, model, features)
    record = {
        "model": "uplift",
        "params": {"learner": learner, "metric": metric, "window_days": window,
                   "features": features, "test_share": test_share, "seed": seed,
                   **model.get_params()},  # fmt: skip
        "std_errors": {},
        "log_likelihood": None,
        "aic": None,
        "n_customers": len(scores),
        "converged": True,
        "time_unit": None,
        "as_of": as_of.isoformat(),
        "calibration_end": None,
        "fitted_at": fitted_at().isoformat(),
        "definitions": definitions,
        "learner": LEARNER_NAMES[learner],
        "metric": metric,
        "window_days": window,
        "sizes": {"assigned": len(table), "treated": int(t.sum()), "control": int((~t).sum()),
                  "train": int((~test).sum()), "test": int(test.sum()),
                  "scored": len(scores)},  # fmt: skip
        "validation": evaluation,
        "method": METHOD,
        "mean_predicted_uplift": float(scores["predicted_uplift"].mean()) if len(scores) else None,
    }
    if save:
        from tenure.predictions.store import save_fit_and_table

        save_fit_and_table(settings, record, TABLE, scores)
    return record


def _score_everyone(settings: Any, model: Any, features: list[str]) -> tuple[pd.DataFrame, Any, Any]:
    """Every customer's predicted uplift, features as of the last day of data."""
    from tenure.contexts import open_context
    from tenure.engine.features import churn_features

    with open_context(settings=settings) as ctx:
        current = churn_features(ctx).order_by("customer_id").to_pandas()
        as_of, definitions = ctx.as_of, ctx.describe()
    for name in features:  # a group of features the store no longer has
        if name not in current:
            current[name] = np.nan
    uplift = model.predict_uplift(current[features].to_numpy(float)) if len(current) else []
    scores = pd.DataFrame({"customer_id": current["customer_id"].astype(str),
                           "predicted_uplift": np.asarray(uplift, dtype=float)})  # fmt: skip
    scores = scores.sort_values(["predicted_uplift", "customer_id"], ascending=[False, True],
                                ignore_index=True)  # fmt: skip
    return scores, as_of, definitions


def parse_top(value: str | float) -> float:
    """'10%', '10' or 0.1 -> 0.1: the share of customers to list."""
    text = str(value).strip()
    try:
        share = float(text.rstrip("%")) / 100 if text.endswith("%") or float(text) > 1 else float(text)
    except ValueError:
        share = float("nan")
    if not 0 < share <= 1:
        raise InputError(f"--top {value!r} is not a share of customers.",
                         hint="Give a percentage, e.g. --top 10%.", value=str(value),
                         code="bad_top")  # fmt: skip
    return share


def _kept(settings: Any) -> tuple[pd.DataFrame, dict[str, Any], pd.DataFrame | None, str]:
    """(the kept scores, highest first; their fit; the kept CLV or None; the currency)."""
    from tenure.predictions.store import load_fits, load_table
    from tenure.store import analytics

    con, currency = analytics.open_read_only(settings.analytics_path, settings.store)
    try:
        scores = load_table(con, TABLE)
        if scores is None or scores.empty:
            raise InputError(
                "no uplift model is kept in this store.",
                hint="Fit one first: tenure campaign uplift fit --assignments FILE.",
                source=str(settings.store), code="no_uplift_model",
            )  # fmt: skip
        fit_id = int(scores["fit_id"].iloc[0])
        fit = next(f for f in load_fits(con) if int(f["fit_id"]) == fit_id)
        clv = load_table(con, "customer_predictions")
    finally:
        con.close()
    scores = scores.sort_values(["predicted_uplift", "customer_id"], ascending=[False, True],
                                ignore_index=True)  # fmt: skip
    has_clv = clv is not None and "clv" in clv
    return scores, fit, clv[["customer_id", "clv"]] if has_clv else None, currency


def persuadable_audience(settings: Any, top: str | float = "10%") -> pd.DataFrame:
    """The persuadable top share as an audience: ``customer_id``,
    ``predicted_uplift`` (largest first) and ``clv`` (empty when no CLV is
    kept)."""
    scores, _, clv, _ = _kept(settings)
    return _top(scores, clv, parse_top(top))


def _top(scores: pd.DataFrame, clv: pd.DataFrame | None, share: float) -> pd.DataFrame:
    k = max(1, int(share * len(scores)))
    chosen = scores.head(k)[["customer_id", "predicted_uplift"]]
    if clv is None:
        return chosen.assign(clv=np.nan)
    return chosen.merge(clv, on="customer_id", how="left")


def persuadables(settings: Any, top: str | float = "10%") -> dict[str, Any]:
    """The document of ``tenure campaign uplift score``: the kept model and
    its persuadable top share (:func:`persuadable_audience`), with their CLV
    when ``tenure predict`` has kept one."""
    share = parse_top(top)
    scores, fit, clv, currency = _kept(settings)
    chosen = _top(scores, clv, share)
    params = fit["params"] or {}
    return {
        "model": "uplift",
        "model_version": int(fit["model_version"]),
        "fit_id": int(fit["fit_id"]),
        "fitted_at": pd.Timestamp(fit["fitted_at"]).isoformat(),
        "as_of": pd.Timestamp(fit["as_of"]).date().isoformat(),
        "learner": params.get("learner"),
        "metric": params.get("metric"),
        "window_days": params.get("window_days"),
        "validation": {k: v for k, v in (fit.get("validation") or {}).items() if k != "curve"},
        "top_share": share,
        "customers_scored": len(scores),
        "clv_available": clv is not None,
        "currency": currency,
        "customers": [
            {"customer_id": str(r.customer_id), "predicted_uplift": float(r.predicted_uplift),
             "clv": None if pd.isna(r.clv) else float(r.clv)}
            for r in chosen.itertuples(index=False)
        ],  # fmt: skip
    }
