"""Uplift models: who a message changes.

A campaign's lift is an average over everyone assigned. Some customers buy
because of the message (the *persuadables*), most would have bought anyway
or not at all, and a few are put off. An uplift model estimates, per
customer, the conditional average treatment effect

    τ(x) = E[Y | T = 1, X = x] − E[Y | T = 0, X = x]

from a randomised campaign (T = 1 messaged, T = 0 held out), so that the
next campaign can go to those with the largest τ(x) first.

Two learners, with the same contract:
``Learner(**hyper).fit(X, treatment, y)`` returns ``self``,
``predict_uplift(X)`` returns τ̂(x).

* :class:`TLearner` ("two models"): one outcome model on the treated, one
  on the controls; τ̂(x) = μ̂₁(x) − μ̂₀(x). Works for any outcome (a
  conversion, orders, revenue). Each model sees only half the data and
  their errors do not cancel, so it is noisy when the effect is small
  beside the outcome's own variation.
* :class:`ClassTransformationLearner` (Jaśkowski and Jaroszewicz 2012,
  "Uplift modeling for clinical trial data", ICML Workshop on Clinical
  Data Analysis): for a binary outcome, Z = Y·T + (1 − Y)(1 − T) is 1 for
  a treated customer who converted or a control who did not. With equal
  arms, P(Z = 1 | x) = ½ + ½·τ(x), so τ̂(x) = 2·P̂(Z = 1 | x) − 1: one
  classifier on all the data. Unequal arms are reweighted to equal total
  weight (treated rows by ½ / p, controls by ½ / (1 − p), p the treated
  share), which keeps the identity exact.

Both use scikit-learn's HistGradientBoosting (no extra install), with
cautious settings because the signal, a difference between two noisy
groups, is weak: 100 trees of 15 leaves, at least 100 customers per leaf,
learning rate 0.05. Missing feature values stay missing (the trees learn
where to send them).

Assumptions, in plain words: the arms were assigned at random (or at least
independently of the outcome given x), every kind of customer had a chance
of each arm, and one customer's message does not change another's outcome.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(4000, 2)); t = rng.random(4000) < 0.5
>>> y = rng.random(4000) < 0.1 + 0.2 * (X[:, 0] > 0) * t
>>> model = TLearner().fit(X, t, y)
>>> tau = model.predict_uplift(X)
>>> bool(tau[X[:, 0] > 0].mean() > tau[X[:, 0] <= 0].mean() + 0.1)
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tenure.errors import InputError, NotFittedError

TREES = {"max_iter": 100, "learning_rate": 0.05, "max_leaf_nodes": 15, "min_samples_leaf": 100}


def _check_hyper(name: str, value: Any, owner: str, low: float, integer: bool) -> None:
    kind = "an int" if integer else "a float"
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= low
    if integer:
        ok = ok and float(value).is_integer()
    if not ok:
        raise InputError(
            f"The {name!r} parameter of {owner} must be {kind} in [{low:g}, inf). "
            f"Got {value!r} instead.",
            value=value,
            code="bad_hyperparameter",
        )


def _arrays(X: Any, treatment: Any, y: Any | None, owner: str) -> tuple[np.ndarray, ...]:
    X = np.asarray(X, dtype="float64")
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    t = np.asarray(treatment)
    if t.dtype.kind not in "biuf" or not np.isin(t, (0, 1)).all():
        raise InputError(
            f"{owner}: treatment must be 0/1 or True/False for each customer.",
            hint="Pass 1 for the customers messaged and 0 for the holdout.",
            column="treatment",
            code="bad_treatment",
        )
    t = t.astype(bool)
    if len(t) != len(X):
        raise InputError(f"{owner}: {len(X)} rows of X but {len(t)} treatments.",
                         code="length_mismatch")  # fmt: skip
    out = [X, t]
    if y is not None:
        y = np.asarray(y, dtype="float64")
        if len(y) != len(X):
            raise InputError(f"{owner}: {len(X)} rows of X but {len(y)} outcomes.",
                             code="length_mismatch")  # fmt: skip
        out.append(y)
    for arm, name in ((True, "treated"), (False, "control")):
        if (t == arm).sum() < 2:
            raise InputError(
                f"{owner}: fewer than 2 {name} customers; an uplift compares both groups.",
                hint="Fit on a campaign with a holdout: customers messaged and customers not.",
                column="treatment",
                code="one_arm_only",
            )
    return tuple(out)


class _UpliftBase:
    """The constructor stores hyper-parameters; fitted state ends in ``_``."""

    def __init__(self, *, max_iter: int = TREES["max_iter"],
                 learning_rate: float = TREES["learning_rate"],
                 max_leaf_nodes: int = TREES["max_leaf_nodes"],
                 min_samples_leaf: int = TREES["min_samples_leaf"],
                 random_state: int | None = 0) -> None:  # fmt: skip
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.random_state = random_state

    def get_params(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in
                ("max_iter", "learning_rate", "max_leaf_nodes", "min_samples_leaf",
                 "random_state")}  # fmt: skip

    def _validate(self) -> None:
        owner = type(self).__name__
        _check_hyper("max_iter", self.max_iter, owner, 1, True)
        _check_hyper("max_leaf_nodes", self.max_leaf_nodes, owner, 2, True)
        _check_hyper("min_samples_leaf", self.min_samples_leaf, owner, 1, True)
        _check_hyper("learning_rate", self.learning_rate, owner, 1e-12, False)

    def _trees(self, classifier: bool, n: int) -> Any:
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        cls = HistGradientBoostingClassifier if classifier else HistGradientBoostingRegressor
        # a leaf of min_samples_leaf cannot be made from fewer customers: on a
        # small sample the trees take what there is rather than fit a constant
        leaf = int(max(1, min(self.min_samples_leaf, n // 20)))
        return cls(max_iter=int(self.max_iter), learning_rate=float(self.learning_rate),
                   max_leaf_nodes=int(self.max_leaf_nodes), min_samples_leaf=leaf,
                   early_stopping=False, random_state=self.random_state)  # fmt: skip

    def _check_fitted(self) -> None:
        if not hasattr(self, "n_features_in_"):
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet.",
                hint="Call .fit(X, treatment, y) first.",
            )

    def _X(self, X: Any) -> np.ndarray:
        self._check_fitted()
        X = np.asarray(X, dtype="float64")
        if X.ndim == 1:
            X = X.reshape(-1, 1)
        if X.shape[1] != self.n_features_in_:
            raise InputError(
                f"X has {X.shape[1]} features; the model was fitted on {self.n_features_in_}.",
                hint="Score with the same feature columns as the fit.",
                code="feature_mismatch",
            )
        return X

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


class TLearner(_UpliftBase):
    """Two outcome models, τ̂(x) = μ̂₁(x) − μ̂₀(x); see the module docstring.

    A binary outcome (only 0 and 1) gets classifiers and τ̂ is a difference
    of probabilities; any other outcome gets regressors (least squares).
    After ``fit``: ``model_treated_``, ``model_control_``, ``binary_``,
    ``n_customers_``, ``treated_share_``, ``n_features_in_``.
    """

    def fit(self, X: Any, treatment: Any, y: Any) -> TLearner:
        self._validate()
        X, t, y = _arrays(X, treatment, y, "TLearner")
        self.binary_ = bool(np.isin(y, (0.0, 1.0)).all())
        models = []
        for arm in (True, False):
            rows = t == arm
            model = self._trees(self.binary_, int(rows.sum()))
            target = y[rows].astype(int) if self.binary_ else y[rows]
            if self.binary_ and len(np.unique(target)) < 2:
                # every customer of this arm had the same outcome: the
                # model is that constant
                model = _Constant(float(target[0]))
            models.append(model.fit(X[rows], target))
        self.model_treated_, self.model_control_ = models
        self.n_customers_ = len(y)
        self.treated_share_ = float(t.mean())
        self.n_features_in_ = X.shape[1]
        return self

    def _mean(self, model: Any, X: np.ndarray) -> np.ndarray:
        if self.binary_:
            return model.predict_proba(X)[:, 1]
        return model.predict(X)

    def predict_uplift(self, X: Any) -> np.ndarray:
        X = self._X(X)
        return self._mean(self.model_treated_, X) - self._mean(self.model_control_, X)


class ClassTransformationLearner(_UpliftBase):
    """One classifier on Z = Y·T + (1 − Y)(1 − T), τ̂(x) = 2·P̂(Z = 1 | x) − 1,
    with the arms reweighted to equal total weight; see the module
    docstring. Binary outcomes only. After ``fit``: ``model_``,
    ``n_customers_``, ``treated_share_``, ``weights_`` (the treated and
    control row weights), ``n_features_in_``."""

    def fit(self, X: Any, treatment: Any, y: Any) -> ClassTransformationLearner:
        self._validate()
        X, t, y = _arrays(X, treatment, y, "ClassTransformationLearner")
        if not np.isin(y, (0.0, 1.0)).all():
            raise InputError(
                "the class-transformation learner needs a binary outcome (0 or 1 per "
                "customer), such as a conversion.",
                hint="Use the T-learner for orders or revenue (--learner t), or model "
                "the conversion (--metric conversion).",
                code="not_binary",
            )
        p = float(t.mean())
        z = np.where(t, y, 1.0 - y).astype(int)
        weight = np.where(t, 0.5 / p, 0.5 / (1.0 - p))
        if len(np.unique(z)) < 2:
            self.model_ = _Constant(float(z[0]))
        else:
            self.model_ = self._trees(True, len(z)).fit(X, z, sample_weight=weight)
        self.n_customers_ = len(y)
        self.treated_share_ = p
        self.weights_ = {"treated": 0.5 / p, "control": 0.5 / (1.0 - p)}
        self.n_features_in_ = X.shape[1]
        return self

    def predict_uplift(self, X: Any) -> np.ndarray:
        X = self._X(X)
        return 2.0 * self.model_.predict_proba(X)[:, 1] - 1.0


class _Constant:
    """A classifier that always gives probability ``p`` of the class 1."""

    def __init__(self, p: float) -> None:
        self.p = p

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> _Constant:
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.column_stack([np.full(len(X), 1.0 - self.p), np.full(len(X), self.p)])

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.full(len(X), self.p)


LEARNERS = {"t": TLearner, "ct": ClassTransformationLearner}
