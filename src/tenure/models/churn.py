"""Churn risk: a calibrated gradient-boosted classifier, explained per customer.

:class:`ChurnClassifier` learns P(churn) from a table of numeric features
(one row per customer, such as :func:`tenure.engine.features.churn_features`
gives) and 0/1 labels. It follows the scikit-learn contract: the
constructor stores hyper-parameters, ``fit(X, y)`` returns the model,
learned state ends in ``_``.

The booster
    LightGBM when it is installed (``pip install 'tenure[ml]'``), else
    scikit-learn's HistGradientBoostingClassifier. Both minimise log-loss on
    the same hyper-parameters and take missing values (NaN) as they come.

Calibration
    Boosted trees rank customers well, but their raw probabilities are often
    over- or under-confident. The booster is cross-validated (``cv`` folds,
    stratified): each customer's score comes from a booster that did not see
    them, and a monotone map from score to probability (isotonic
    regression, or Platt's sigmoid) is fitted on those out-of-fold scores.
    The booster used for predictions and explanations is then refitted on
    every row. This is scikit-learn's ``CalibratedClassifierCV`` with
    ``ensemble=False``, written out: one booster, so that an explanation
    belongs to the model that scores, and no rows held back from it.

Explanations
    ``contributions(X)`` splits each customer's score (the booster's
    log-odds, before calibration) into one additive part per feature plus
    ``base_value_``, with TreeSHAP's path-dependent Shapley values (Lundberg
    et al. 2020): LightGBM's own ``pred_contrib=True``, and for the
    scikit-learn booster the same algorithm written here in NumPy. Both
    backends therefore explain with the same definition. A positive
    contribution raises the score, and as the calibration map is
    non-decreasing, it raises (or leaves) the churn risk. The NumPy version
    costs O(trees x leaves x depth^2) per customer, several times LightGBM's
    C++ time.

Evaluation
    ``evaluate(X, y)`` reports the AUC, the Brier score and the lift in the
    top decile for the model and for a baseline that knows only recency (a
    logistic regression on log(1 + recency_days) and a flag for customers
    without a purchase, fitted on the same training rows).

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"recency_days": rng.integers(0, 365, 2000),
...                   "tickets_90": rng.poisson(0.3, 2000)})
>>> p = 1 / (1 + np.exp(-(-2 + X.recency_days / 90 + X.tickets_90)))
>>> y = rng.random(2000) < p
>>> model = ChurnClassifier(n_estimators=50).fit(X, y)
>>> model.explain(X.head(2)).columns[:3].tolist()
['driver_1', 'driver_1_value', 'driver_1_contribution']
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from tenure.errors import ConfigError, InputError, MissingExtraError, NotFittedError
from tenure.models._treeshap import _hgb_trees, _tree_shap

BACKENDS = ("auto", "lightgbm", "sklearn")
CALIBRATIONS = ("isotonic", "sigmoid")
# rows the overall importances are averaged over (a seeded sample beyond this)
IMPORTANCE_ROWS = 2000


def lightgbm_installed() -> bool:
    try:
        import lightgbm  # noqa: F401
    except ImportError:
        return False
    return True


class ChurnClassifier(BaseEstimator):
    """A calibrated gradient-boosted churn classifier; see the module docstring.

    Parameters
    ----------
    backend
        ``auto`` (LightGBM when installed, else scikit-learn), ``lightgbm``
        or ``sklearn``.
    calibration
        ``sigmoid`` (Platt scaling: a logistic curve on the booster's score;
        steady on small data, and no ties) or ``isotonic`` (any
        non-decreasing map; wants many thousands of rows, and on fewer it
        gives probabilities of exactly 0 or 1 at the extremes).
    n_estimators, learning_rate, max_leaves, min_samples_leaf, l2_regularization
        The booster's trees: how many, their shrinkage, leaves per tree,
        training rows per leaf at least, L2 penalty on leaf values. The
        defaults are cautious (small trees, large leaves): churn labels are
        noisy, and deeper trees learned noise in simulations with a known
        truth.
    cv
        Folds of the out-of-fold scores the calibration is fitted on.
    baseline_feature
        The recency column of the baseline in :meth:`evaluate`; None for no
        baseline.
    n_jobs
        Threads for fitting and scoring; None: one thread below
        ``SMALL_DATA`` rows, where the boosters' threads mostly wait for each
        other at every tree (on a busy 2-core machine, a 5,000-customer fit
        took 103 s on all cores and 9 s on one), and all cores above.
    random_state
        Seed of the folds, the boosters and the importance sample.
    """

    def __init__(
        self,
        backend: str = "auto",
        calibration: str = "sigmoid",
        *,
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        max_leaves: int = 15,
        min_samples_leaf: int = 50,
        l2_regularization: float = 0.0,
        cv: int = 5,
        baseline_feature: str | None = "recency_days",
        n_jobs: int | None = None,
        random_state: int | None = 0,
    ) -> None:
        self.backend = backend
        self.calibration = calibration
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_leaves = max_leaves
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.cv = cv
        self.baseline_feature = baseline_feature
        self.n_jobs = n_jobs
        self.random_state = random_state

    # -- fitting -------------------------------------------------------------

    def fit(self, X: pd.DataFrame, y: Any) -> ChurnClassifier:
        """Fit the booster, its calibration and the recency baseline.

        ``X``: a DataFrame of numeric (or boolean) features, NaN for missing;
        ``y``: 1 / True for the customers who churned.
        """
        self._validate_hyper()
        backend = self._resolve_backend()
        names = _feature_names(X)
        data = _matrix(X, names)
        target = _labels(y, len(data))
        counts = np.bincount(target, minlength=2)
        if counts.min() < self.cv:
            raise InputError(
                f"the labels hold {counts[1]} churned and {counts[0]} retained customers; "
                f"calibration needs at least {self.cv} of each (cv={self.cv}).",
                hint="Use more customers or a longer horizon, or lower cv.",
            )
        from sklearn.model_selection import StratifiedKFold

        folds = StratifiedKFold(n_splits=self.cv, shuffle=True, random_state=self.random_state)
        scores = np.empty(len(data))
        jobs = _jobs(self.n_jobs, len(data))
        with _threads(jobs):
            for train, held in folds.split(data, target):
                booster = self._booster(backend, jobs).fit(data[train], target[train])
                scores[held] = _raw_score(booster, data[held])
            self.model_ = self._booster(backend, jobs).fit(data, target)
        self.__dict__.pop("_shap_trees", None)  # those of an earlier fit
        self.calibrator_ = _calibrator(self.calibration, scores, target)
        self.backend_ = backend
        self.feature_names_in_ = np.asarray(names, dtype=object)
        self.n_features_in_ = len(names)
        self.baseline_ = None
        if self.baseline_feature is not None and self.baseline_feature in names:
            recency = data[:, names.index(self.baseline_feature)]
            self.baseline_ = _fit_baseline(recency, target)
        rows = data
        if len(rows) > IMPORTANCE_ROWS:
            rng = np.random.default_rng(self.random_state)
            rows = rows[rng.choice(len(rows), IMPORTANCE_ROWS, replace=False)]
        contrib, base = self._contributions(rows)
        self.base_value_ = base
        self.feature_importances_ = pd.Series(
            np.abs(contrib).mean(axis=0), index=names, name="mean_abs_contribution"
        )
        return self

    def _validate_hyper(self) -> None:
        name = type(self).__name__

        def fail(param: str, expected: str) -> None:
            raise ConfigError(
                f"The '{param}' parameter of {name} must be {expected}. "
                f"Got {getattr(self, param)!r} instead."
            )

        def whole(value: Any, low: int) -> bool:
            return (
                isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= low
            )

        def real(value: Any) -> bool:
            return isinstance(value, int | float | np.number) and not isinstance(value, bool)

        if self.backend not in BACKENDS:
            fail("backend", "one of 'auto', 'lightgbm' or 'sklearn'")
        if self.calibration not in CALIBRATIONS:
            fail("calibration", "one of 'isotonic' or 'sigmoid'")
        if not whole(self.n_estimators, 1):
            fail("n_estimators", "an int in [1, inf)")
        if not real(self.learning_rate) or not 0 < self.learning_rate < math.inf:
            fail("learning_rate", "a float in (0, inf)")
        if not whole(self.max_leaves, 2):
            fail("max_leaves", "an int in [2, inf)")
        if not whole(self.min_samples_leaf, 1):
            fail("min_samples_leaf", "an int in [1, inf)")
        if not real(self.l2_regularization) or not 0 <= self.l2_regularization < math.inf:
            fail("l2_regularization", "a float in [0, inf)")
        if not whole(self.cv, 2):
            fail("cv", "an int in [2, inf)")
        if self.baseline_feature is not None and not isinstance(self.baseline_feature, str):
            fail("baseline_feature", "a column name or None")
        if self.n_jobs is not None and not whole(self.n_jobs, 1):
            fail("n_jobs", "an int in [1, inf) or None")
        if self.random_state is not None and not whole(self.random_state, 0):
            fail("random_state", "an int in [0, inf) or None")

    def _resolve_backend(self) -> str:
        if self.backend == "sklearn":
            return "sklearn"
        if lightgbm_installed():
            return "lightgbm"
        if self.backend == "lightgbm":
            raise MissingExtraError.for_extra("ml", "lightgbm")
        return "sklearn"

    def _booster(self, backend: str, jobs: int | None) -> Any:
        if backend == "lightgbm":
            import lightgbm

            return lightgbm.LGBMClassifier(
                n_estimators=self.n_estimators,
                learning_rate=self.learning_rate,
                num_leaves=self.max_leaves,
                min_child_samples=self.min_samples_leaf,
                reg_lambda=float(self.l2_regularization),
                random_state=self.random_state,
                n_jobs=jobs,
                deterministic=True,
                force_col_wise=True,
                verbose=-1,
            )
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(
            max_iter=self.n_estimators,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaves,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=float(self.l2_regularization),
            early_stopping=False,
            random_state=self.random_state,
        )

    # -- predicting ------------------------------------------------------------

    def _check_fitted(self, call: str) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet; call fit(X, y) before {call}."
            )

    def _data(self, X: pd.DataFrame, call: str) -> np.ndarray:
        self._check_fitted(call)
        names = list(self.feature_names_in_)
        if not isinstance(X, pd.DataFrame):
            raise InputError(
                f"{call} takes a DataFrame with the columns the model was fitted on.",
                hint=f"Pass a DataFrame with {', '.join(names)}.",
            )
        missing = [c for c in names if c not in X.columns]
        if missing:
            raise InputError(
                f"X has no column {', '.join(map(repr, missing))}, which the model was fitted on.",
                hint="Compute the features the same way as for fitting (churn_features).",
            )
        return _matrix(X, names)

    def _score(self, data: np.ndarray) -> np.ndarray:
        with _threads(_jobs(self.n_jobs, len(data))):
            return _raw_score(self.model_, data)

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """The booster's score (log-odds of churn, before calibration)."""
        data = self._data(X, "decision_function(X)")
        return self._score(data)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """P(churn) per row of ``X``, calibrated: one number per customer."""
        data = self._data(X, "predict_proba(X)")
        return _calibrate(self.calibrator_, self._score(data))

    def predict(self, X: pd.DataFrame, threshold: float = 0.5) -> np.ndarray:
        """True where P(churn) is at least ``threshold``."""
        return self.predict_proba(X) >= threshold

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Each feature's TreeSHAP contribution to each row's score (log-odds);
        a row's contributions plus ``base_value_`` equal its decision_function."""
        data = self._data(X, "contributions(X)")
        contrib, _ = self._contributions(data)
        return pd.DataFrame(contrib, index=X.index, columns=list(self.feature_names_in_))

    def _contributions(self, data: np.ndarray) -> tuple[np.ndarray, float]:
        if self.backend_ == "lightgbm":
            out = self.model_.booster_.predict(data, pred_contrib=True)
            return out[:, :-1], float(out[0, -1]) if len(out) else 0.0
        if not hasattr(self, "_shap_trees"):
            self._shap_trees = _hgb_trees(self.model_)
        base = float(np.ravel(self.model_._baseline_prediction)[0])
        base += sum(t.expected_value for t in self._shap_trees)
        return _tree_shap(self._shap_trees, data, data.shape[1]), base

    def explain(self, X: pd.DataFrame, top: int = 3) -> pd.DataFrame:
        """The ``top`` drivers of each customer's churn risk.

        Ranked by the size of their contribution; for driver k the columns
        ``driver_k`` (the feature), ``driver_k_value`` (the customer's value)
        and ``driver_k_contribution`` (log-odds; positive raises the risk).
        The index is ``X``'s.
        """
        if isinstance(top, bool) or not isinstance(top, int) or top < 1:
            raise ConfigError(f"The 'top' argument of explain must be an int >= 1. Got {top!r}.")
        data = self._data(X, "explain(X)")
        contrib, _ = self._contributions(data)
        names = np.asarray(self.feature_names_in_, dtype=object)
        top = min(top, len(names))
        # stable, so that equal contributions keep the column order
        order = np.argsort(-np.abs(contrib), axis=1, kind="stable")[:, :top]
        rows = np.arange(len(data))
        columns: dict[str, Any] = {}
        for k in range(top):
            pick = order[:, k]
            columns[f"driver_{k + 1}"] = names[pick]
            columns[f"driver_{k + 1}_value"] = data[rows, pick]
            columns[f"driver_{k + 1}_contribution"] = contrib[rows, pick]
        return pd.DataFrame(columns, index=X.index)

    # -- evaluating ------------------------------------------------------------

    def evaluate(self, X: pd.DataFrame, y: Any) -> pd.DataFrame:
        """AUC, Brier score and top-decile lift of the model and of the
        recency baseline on ``(X, y)``, one row each (``model``,
        ``recency_baseline``).

        AUC and lift rank customers by the booster's score, which orders
        them as the calibrated probability does but without the ties an
        isotonic map makes; the Brier score is that of the probabilities.
        """
        data = self._data(X, "evaluate(X, y)")
        target = _labels(y, len(data))
        if len(np.unique(target)) < 2:
            raise InputError(
                "the evaluation labels hold one class only, so the AUC is not defined.",
                hint="Evaluate on customers of whom some churned and some did not.",
            )
        scores = self._score(data)
        rows = {"model": _scores(target, scores, _calibrate(self.calibrator_, scores))}
        if self.baseline_ is not None:
            recency = data[:, list(self.feature_names_in_).index(self.baseline_feature)]
            p = self.baseline_.predict_proba(_baseline_inputs(recency))[:, 1]
            rows["recency_baseline"] = _scores(target, p, p)
        frame = pd.DataFrame.from_dict(rows, orient="index")
        frame.index.name = "scorer"
        return frame

    def calibration_table(self, X: pd.DataFrame, y: Any, bins: int = 10) -> pd.DataFrame:
        """How the probabilities hold up on ``(X, y)``: customers ranked by
        P(churn) and cut into ``bins`` groups of (nearly) equal size, each
        with its ``customers``, mean ``predicted`` probability and
        ``observed`` churn share. Calibrated probabilities lie near the
        diagonal predicted = observed."""
        if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
            raise ConfigError(f"bins must be an int >= 1. Got {bins!r}.")
        p = self.predict_proba(X)
        target = _labels(y, len(p))
        order = np.argsort(p, kind="stable")
        groups = np.array_split(order, min(bins, len(p)))
        return pd.DataFrame(
            {
                "bin": np.arange(1, len(groups) + 1),
                "customers": [len(g) for g in groups],
                "predicted": [float(p[g].mean()) for g in groups],
                "observed": [float(target[g].mean()) for g in groups],
            }
        )


# -- helpers ---------------------------------------------------------------------


def _feature_names(X: Any) -> list[str]:
    if not isinstance(X, pd.DataFrame):
        raise InputError(
            "X must be a pandas DataFrame of features, one row per customer.",
            hint="Pass the output of churn_features(ctx).to_pandas() without customer_id.",
        )
    names = [str(c) for c in X.columns]
    if len(set(names)) != len(names) or not names:
        raise InputError("X must have at least one column, each with its own name.")
    return names


def _matrix(X: pd.DataFrame, names: list[str]) -> np.ndarray:
    bad = [
        c
        for c in names
        if not (pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c]))
    ]
    if bad:
        raise InputError(
            f"the features {', '.join(map(repr, bad))} are not numeric.",
            hint="Drop identifiers such as customer_id, and encode categories as numbers.",
        )
    out = np.empty((len(X), len(names)))
    for i, c in enumerate(names):
        out[:, i] = X[c].to_numpy(dtype="float64", na_value=np.nan)
    return out


def _labels(y: Any, n: int) -> np.ndarray:
    arr = np.asarray(y)
    if arr.shape != (n,):
        raise InputError(f"y must hold one label per row of X ({n}); it has shape {arr.shape}.")
    if arr.dtype == bool:
        return arr.astype(np.int64)
    try:
        values = arr.astype("float64")
    except (TypeError, ValueError):
        values = np.array([np.nan])
    if not np.isin(values, (0.0, 1.0)).all():
        raise InputError("y must be 0 or 1 (or False / True) for every customer: 1 = churned.")
    return values.astype(np.int64)


SMALL_DATA = 50_000


def _jobs(n_jobs: int | None, rows: int) -> int | None:
    """The threads to use: as asked, else one for small data, else all (None)."""
    if n_jobs is not None:
        return n_jobs
    return 1 if rows < SMALL_DATA else None


def _threads(n_jobs: int | None) -> Any:
    """A cap on the OpenMP threads both boosters use, or no cap for None."""
    if n_jobs is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits  # a dependency of scikit-learn

    return threadpool_limits(limits=n_jobs, user_api="openmp")


def _raw_score(booster: Any, data: np.ndarray) -> np.ndarray:
    if hasattr(booster, "booster_"):  # LightGBM
        return np.asarray(booster.predict(data, raw_score=True), dtype="float64")
    return np.asarray(booster.decision_function(data), dtype="float64")


def _calibrator(method: str, scores: np.ndarray, target: np.ndarray) -> Any:
    if method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        return IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(scores, target)
    from sklearn.linear_model import LogisticRegression

    # Platt scaling: a logistic regression on the score, practically unpenalised
    return LogisticRegression(C=1e6).fit(scores[:, None], target)


def _calibrate(calibrator: Any, scores: np.ndarray) -> np.ndarray:
    if hasattr(calibrator, "predict_proba"):
        return calibrator.predict_proba(scores[:, None])[:, 1]
    return np.clip(calibrator.predict(scores), 0.0, 1.0)


def _baseline_inputs(recency: np.ndarray) -> np.ndarray:
    missing = np.isnan(recency)
    return np.column_stack([np.log1p(np.where(missing, 0.0, np.maximum(recency, 0.0))), missing])


def _fit_baseline(recency: np.ndarray, target: np.ndarray) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=1e4).fit(_baseline_inputs(recency), target)


def _scores(target: np.ndarray, ranking: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import roc_auc_score

    return {
        "auc": float(roc_auc_score(target, ranking)),
        "brier": float(np.mean((proba - target) ** 2)),
        "lift_top_decile": top_decile_lift(target, ranking),
        "customers": int(len(target)),
        "churn_rate": float(target.mean()),
    }


def top_decile_lift(target: np.ndarray, ranking: np.ndarray, share: float = 0.1) -> float:
    """Churn rate among the ``share`` of customers ranked highest, over the
    overall churn rate. Customers tied at the cut count in proportion, so the
    result does not depend on how ties happen to be ordered."""
    target = np.asarray(target, dtype="float64")
    ranking = np.asarray(ranking, dtype="float64")
    rate = target.mean()
    if rate == 0:
        return float("nan")
    values, inverse = np.unique(-ranking, return_inverse=True)  # highest score first
    sizes = np.bincount(inverse, minlength=len(values)).astype("float64")
    churned = np.bincount(inverse, weights=target, minlength=len(values))
    want = share * len(target)
    before = np.concatenate([[0.0], np.cumsum(sizes)[:-1]])
    taken = np.clip(want - before, 0.0, sizes)
    top_rate = float((churned * taken / sizes).sum()) / want
    return top_rate / rate
