"""The churn classifier on simulations with a known truth, its explanations
against LightGBM's own TreeSHAP, and the scikit-learn contract."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from tenure.errors import ConfigError, InputError, MissingExtraError, NotFittedError
from tenure.models import _treeshap, churn
from tenure.models.churn import ChurnClassifier, lightgbm_installed, top_decile_lift
from tests.conftest import skip_or_fail

FEATURES = ["recency_days", "tickets_90", "frequency", "monetary_total", "events_30"]


def simulate(
    n: int, seed: int, tickets: float = 1.0
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Customers whose log-odds of churn are -2.5 + 4 recency / 365 + tickets x
    tickets_90; frequency, monetary_total and events_30 are noise. Returns the
    features, the labels and the true probabilities."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "recency_days": rng.integers(0, 366, n),
            "tickets_90": rng.poisson(0.6, n),
            "frequency": rng.poisson(3, n) + 1,
            "monetary_total": rng.gamma(2.0, 40.0, n).round(2),
            "events_30": rng.poisson(2, n),
        }
    )
    p = 1 / (1 + np.exp(-(-2.5 + 4.0 * X["recency_days"] / 365 + tickets * X["tickets_90"])))
    return X, rng.random(n) < p, p.to_numpy()


@pytest.fixture(scope="module")
def lightgbm():
    if not lightgbm_installed():
        skip_or_fail("lightgbm is not installed (pip install 'tenure[ml]')")
    import lightgbm

    return lightgbm


@pytest.fixture(scope="module")
def fitted(lightgbm):
    """A model fitted on 6,000 simulated customers, and 20,000 held out."""
    X, y, _ = simulate(6000, seed=1)
    X_test, y_test, p_test = simulate(20000, seed=2)
    return ChurnClassifier(n_jobs=1).fit(X, y), X_test, y_test, p_test


def test_the_model_beats_recency_where_tickets_drive_churn(fitted):
    model, X, y, p = fitted
    assert model.backend_ == "lightgbm"
    report = model.evaluate(X, y)
    assert list(report.index) == ["model", "recency_baseline"]
    best = roc_auc_score(y, p)  # what knowing the truth would give, about 0.807
    auc = report.loc["model", "auc"]
    assert auc > report.loc["recency_baseline", "auc"] + 0.02
    assert best - 0.015 < auc <= best + 0.005
    assert report.loc["model", "brier"] < report.loc["recency_baseline", "brier"]
    assert (
        report.loc["model", "lift_top_decile"] > report.loc["recency_baseline", "lift_top_decile"]
    )
    assert report.loc["model", "customers"] == 20000
    assert report.loc["model", "churn_rate"] == pytest.approx(y.mean())


def test_where_only_recency_matters_the_baseline_is_as_good():
    # the baseline is not a straw man: when the truth is recency alone, it
    # ranks as well as the truth, and the model comes close to it
    X, y, _ = simulate(4000, seed=3, tickets=0.0)
    X_test, y_test, p_test = simulate(10000, seed=4, tickets=0.0)
    report = ChurnClassifier(n_estimators=100, cv=3, n_jobs=1).fit(X, y).evaluate(X_test, y_test)
    assert report.loc["recency_baseline", "auc"] == pytest.approx(roc_auc_score(y_test, p_test))
    assert report.loc["model", "auc"] > report.loc["recency_baseline", "auc"] - 0.02


def test_probabilities_are_calibrated_on_held_out_customers(fitted):
    model, X, y, p = fitted
    prob = model.predict_proba(X)
    assert prob.shape == (len(X),) and ((prob >= 0) & (prob <= 1)).all()
    assert abs(prob.mean() - y.mean()) < 0.015  # calibration in the large
    # by decile of the predicted probability, predicted and observed churn agree
    bins = pd.qcut(prob, 10, labels=False, duplicates="drop")
    table = pd.DataFrame({"predicted": prob, "observed": y}).groupby(bins).mean()
    # (2,000 customers a decile: sampling alone moves a rate by about 0.011)
    assert (table["predicted"] - table["observed"]).abs().max() < 0.05
    # and the probabilities are close to the true ones
    assert np.abs(prob - p).mean() < 0.06


def test_drivers_name_the_feature_that_drives_a_customer(fitted):
    model = fitted[0]
    two = pd.DataFrame(
        {
            "recency_days": [5, 360],
            "tickets_90": [6, 0],
            "frequency": [3, 3],
            "monetary_total": [80.0, 80.0],
            "events_30": [2, 2],
        },
        index=pd.Index(["recent_but_unhappy", "long_gone"], name="customer_id"),
    )
    drivers = model.explain(two, top=2)
    assert list(drivers.columns) == [
        "driver_1", "driver_1_value", "driver_1_contribution",
        "driver_2", "driver_2_value", "driver_2_contribution",
    ]  # fmt: skip
    assert list(drivers.index) == ["recent_but_unhappy", "long_gone"]
    unhappy, gone = drivers.loc["recent_but_unhappy"], drivers.loc["long_gone"]
    assert unhappy.driver_1 == "tickets_90" and unhappy.driver_1_value == 6
    assert unhappy.driver_1_contribution > 1.0  # raises the risk
    assert unhappy.driver_2 == "recency_days" and unhappy.driver_2_contribution < 0
    assert gone.driver_1 == "recency_days" and gone.driver_1_contribution > 1.0
    # the overall importances rank the two true causes first
    top = model.feature_importances_.sort_values(ascending=False)
    assert list(top.index[:2]) == ["recency_days", "tickets_90"]
    assert top.iloc[2] < 0.25 * top.iloc[1]


def test_contributions_add_up_to_the_score(fitted):
    model, X, _, _ = fitted
    head = X.head(500)
    contrib = model.contributions(head)
    assert list(contrib.columns) == FEATURES
    np.testing.assert_allclose(
        contrib.sum(axis=1) + model.base_value_, model.decision_function(head), atol=1e-9
    )


# -- the scikit-learn fallback and its TreeSHAP ------------------------------------


def _flatten(root: dict) -> list[dict]:
    """A LightGBM tree from its JSON dump as a list of nodes, the root first."""
    nodes: list[dict] = []

    def walk(node: dict) -> int:
        i = len(nodes)
        nodes.append({})
        if "split_feature" not in node:
            nodes[i] = {"leaf": True, "value": node["leaf_value"], "cover": node["leaf_count"],
                        "left": -1, "right": -1, "feature": 0, "threshold": 0.0,
                        "missing_left": False}  # fmt: skip
            return i
        assert node["decision_type"] == "<="
        left, right = walk(node["left_child"]), walk(node["right_child"])
        nodes[i] = {"leaf": False, "value": 0.0, "cover": node["internal_count"], "left": left,
                    "right": right, "feature": node["split_feature"],
                    "threshold": node["threshold"], "missing_left": node["default_left"]}  # fmt: skip
        return i

    walk(root)
    return nodes


def _lightgbm_trees(booster, n_features):
    """LightGBM's trees prepared for _treeshap._tree_shap, and their base value."""
    trees, base = [], 0.0
    for info in booster.dump_model()["tree_info"]:
        nodes = _flatten(info["tree_structure"])
        column = {key: np.array([n[key] for n in nodes]) for key in nodes[0]}
        tree = _treeshap._prepare_tree(
            column["left"], column["right"], column["feature"], column["threshold"],
            column["missing_left"].astype(bool), column["leaf"].astype(bool),
            column["value"], column["cover"], n_features,
        )  # fmt: skip
        if tree is None:
            base += nodes[0]["value"]
        else:
            trees.append(tree)
            base += tree.expected_value
    return trees, base


def test_the_numpy_treeshap_equals_lightgbm_pred_contrib(lightgbm):
    rng = np.random.default_rng(7)
    X = rng.normal(size=(800, 6))
    X[:, 3] = np.round(X[:, 3])  # ties and repeated thresholds
    logit = X[:, 0] + X[:, 1] * X[:, 2] + 0.5 * X[:, 3]  # an interaction
    y = rng.random(800) < 1 / (1 + np.exp(-logit))
    X[::7, 0] = np.nan  # missing values follow each split's default side
    booster = lightgbm.LGBMClassifier(
        n_estimators=30, num_leaves=24, min_child_samples=5, n_jobs=1, verbose=-1
    ).fit(X, y)
    expected = booster.booster_.predict(X, pred_contrib=True)
    trees, base = _lightgbm_trees(booster.booster_, 6)
    assert max(t.depth for t in trees) >= 5  # features repeat along paths
    np.testing.assert_allclose(_treeshap._tree_shap(trees, X, 6), expected[:, :-1], atol=1e-10)
    assert base == pytest.approx(expected[0, -1])


def test_the_sklearn_fallback_explains_exactly_and_beats_the_baseline():
    X, y, _ = simulate(2000, seed=5)
    X_test, y_test, _ = simulate(5000, seed=6)
    model = ChurnClassifier(backend="sklearn", n_estimators=60, learning_rate=0.1, cv=3, n_jobs=1)
    model.fit(X, y)
    assert model.backend_ == "sklearn"
    report = model.evaluate(X_test, y_test)
    assert report.loc["model", "auc"] > report.loc["recency_baseline", "auc"] + 0.02
    head = X_test.head(300).astype("float64")
    head.iloc[::3, 0] = np.nan  # unseen in training: the trees send it one way
    contrib = model.contributions(head)
    np.testing.assert_allclose(
        contrib.sum(axis=1) + model.base_value_, model.decision_function(head), atol=1e-9
    )
    unhappy = pd.DataFrame([[5, 6, 3, 80.0, 2]], columns=FEATURES)
    assert model.explain(unhappy).loc[0, "driver_1"] == "tickets_90"
    # a refit explains with its own trees
    model.fit(X_test.head(1000), y_test[:1000])
    contrib = model.contributions(head)
    np.testing.assert_allclose(
        contrib.sum(axis=1) + model.base_value_, model.decision_function(head), atol=1e-9
    )
    assert list(model.feature_importances_.sort_values().index[-2:]) == [
        "tickets_90",
        "recency_days",
    ]


def test_auto_falls_back_without_lightgbm_and_lightgbm_asks_for_the_extra(monkeypatch):
    monkeypatch.setattr(churn, "lightgbm_installed", lambda: False)
    X, y, _ = simulate(400, seed=8)
    assert ChurnClassifier(n_estimators=5, n_jobs=1).fit(X, y).backend_ == "sklearn"
    with pytest.raises(MissingExtraError, match=r"pip install 'tenure\[ml\]'"):
        ChurnClassifier(backend="lightgbm").fit(X, y)


# -- the contract ---------------------------------------------------------------------


def test_the_scikit_learn_contract():
    X, y, _ = simulate(800, seed=9)
    model = ChurnClassifier(n_estimators=30, n_jobs=1)
    assert model.fit(X, y) is model
    again = clone(model).fit(X, y)
    np.testing.assert_array_equal(model.predict_proba(X), again.predict_proba(X))
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict_proba(X), model.predict_proba(X))
    assert list(model.feature_names_in_) == FEATURES and model.n_features_in_ == 5
    assert model.get_params()["n_estimators"] == 30
    np.testing.assert_array_equal(model.predict(X), model.predict_proba(X) >= 0.5)


def test_predicting_before_fit_names_the_call():
    X, _, _ = simulate(10, seed=10)
    with pytest.raises(NotFittedError, match=r"call fit\(X, y\) before predict_proba\(X\)"):
        ChurnClassifier().predict_proba(X)
    with pytest.raises(NotFittedError, match=r"before explain\(X\)"):
        ChurnClassifier().explain(X)


@pytest.mark.parametrize(
    ("param", "value", "message"),
    [
        ("backend", "xgboost", "must be one of 'auto', 'lightgbm' or 'sklearn'. Got 'xgboost'"),
        ("calibration", "beta", "must be one of 'isotonic' or 'sigmoid'. Got 'beta'"),
        ("n_estimators", 0, r"must be an int in \[1, inf\). Got 0 instead"),
        ("learning_rate", -0.1, r"must be a float in \(0, inf\). Got -0.1 instead"),
        ("cv", 1, r"must be an int in \[2, inf\). Got 1 instead"),
        ("max_leaves", True, r"must be an int in \[2, inf\). Got True instead"),
        ("n_jobs", 0, r"must be an int in \[1, inf\) or None. Got 0 instead"),
    ],
)
def test_bad_hyper_parameters_fail_at_fit(param, value, message):
    X, y, _ = simulate(200, seed=11)
    model = ChurnClassifier(**{param: value})  # the constructor only stores them
    with pytest.raises(ConfigError, match=f"The '{param}' parameter of ChurnClassifier {message}"):
        model.fit(X, y)


def test_bad_data_says_what_to_change():
    X, y, _ = simulate(200, seed=12)
    with pytest.raises(InputError, match="'customer_id' are not numeric"):
        ChurnClassifier().fit(X.assign(customer_id="c"), y)
    with pytest.raises(InputError, match="0 churned"):
        ChurnClassifier().fit(X, np.zeros(len(X), dtype=bool))
    with pytest.raises(InputError, match="one label per row"):
        ChurnClassifier().fit(X, y[:10])
    model = ChurnClassifier(n_estimators=5, cv=2).fit(X, y)  # n_jobs=None: all cores
    with pytest.raises(InputError, match="no column 'events_30'"):
        model.predict_proba(X.drop(columns="events_30"))
    with pytest.raises(InputError, match="one class"):
        model.evaluate(X, np.ones(len(X), dtype=bool))


def test_top_decile_lift_by_hand():
    # 20 customers, 5 churned (25 %). The top 2 by score: one churned -> 50 % -> lift 2.
    score = np.arange(20, 0, -1, dtype=float)
    churned = np.zeros(20)
    churned[[0, 5, 6, 7, 8]] = 1
    assert top_decile_lift(churned, score) == pytest.approx(2.0)
    # ties at the cut count in proportion: the top 4 tie, of whom 2 churned; the
    # top decile (2 customers) holds half of them -> 1 churned expected -> lift 2
    tied = np.array([20, 20, 20, 20, *range(16, 0, -1)], dtype=float)
    churned = np.zeros(20)
    churned[[0, 3, 10, 11, 12]] = 1
    assert top_decile_lift(churned, tied) == pytest.approx(2.0)
