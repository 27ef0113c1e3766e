"""The uplift learners and their Qini/AUUC: a hand-worked example, the
reference library scikit-uplift when it is installed, and simulations with
a planted truth (a persuadable fifth of customers, or no effect at all)."""

from __future__ import annotations

import numpy as np
import pytest

from tenure.errors import InputError, NotFittedError
from tenure.models.uplift import ClassTransformationLearner, TLearner
from tenure.models.uplift_metrics import (
    auuc,
    evaluate,
    qini_coefficient,
    qini_curve,
    random_band,
    uplift_at_top,
    uplift_curve,
)
from tests.conftest import skip_or_fail

# six customers, ranked by score; worked by hand:
#   n      1   2   3   4    5    6
#   N_t    1   1   2   2    3    3
#   N_c    0   1   1   2    2    3
#   Y_t    1   1   2   2    2    2
#   Y_c    0   0   0   1    1    1
#   Q(n)   1   1   2   1   1/2   1       Q = Y_t - Y_c N_t / N_c
#   U(n)   1   2   3   2   5/6   2       U = (Y_t/N_t - Y_c/N_c) n
# Qini: area 6, random line 6 * 1 / 2 = 3. Perfect ranking (score Y_t - Y_c:
# the two treated responders, then the three zeros, then the control
# responder): points (0,0) (2,2) (5,2) (6,1), area 9.5. q = (6-3)/(9.5-3) = 6/13.
# Uplift: area 59/6, random 6 * 2 / 2 = 6. Perfect uplift ranking (control
# responders 1, not more than treated non-responders 1, so 2[Y=T] + T):
# {0,2} {1,5} {4} {3}: points (0,0) (2,2) (4,4) (5,10/3) (6,2), area 43/3.
# AUUC = (59/6 - 6) / (43/3 - 6) = 23/50.
SCORE = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
T = [1, 0, 1, 0, 1, 0]
Y = [1, 0, 1, 1, 0, 0]


def test_hand_worked_curves_and_areas():
    n, q = qini_curve(Y, T, SCORE)
    assert n.tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert q.tolist() == pytest.approx([0, 1, 1, 2, 1, 0.5, 1])
    _, u = uplift_curve(Y, T, SCORE)
    assert u.tolist() == pytest.approx([0, 1, 2, 3, 2, 5 / 6, 2])
    assert qini_coefficient(Y, T, SCORE) == pytest.approx(6 / 13)
    assert auuc(Y, T, SCORE) == pytest.approx(23 / 50)
    # top half: customers 0, 1, 2 -> treated mean 1, control mean 0
    assert uplift_at_top(Y, T, SCORE, 0.5) == pytest.approx(1.0)
    # the whole sample: 2/3 - 1/3
    assert uplift_at_top(Y, T, SCORE, 1.0) == pytest.approx(1 / 3)


def test_ties_are_taken_together():
    """Equal scores form one step: the order inside a tie does not matter."""
    tied = [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    a = qini_coefficient(Y, T, tied)
    n, q = qini_curve(Y, T, tied)
    # top 3 together: N_t 2, N_c 1, Y_t 2, Y_c 0 -> Q = 2
    assert n.tolist() == [0, 3, 6] and q.tolist() == pytest.approx([0, 2, 1])
    # the same customers with the tie listed in another order
    order = [2, 0, 1, 5, 3, 4]
    assert qini_coefficient([Y[i] for i in order], [T[i] for i in order],
                            [tied[i] for i in order]) == pytest.approx(a)  # fmt: skip


def test_perfect_and_reversed_rankings():
    perfect = np.where(np.array(T) == 1, Y, -np.array(Y))
    assert qini_coefficient(Y, T, perfect) == pytest.approx(1.0)
    assert qini_coefficient(Y, T, -np.array(SCORE)) < 0 < qini_coefficient(Y, T, SCORE)


# scikit-uplift 0.5.1 calls sklearn's stable_cumsum, deprecated in scikit-learn 1.8
@pytest.mark.filterwarnings("ignore:Function stable_cumsum is deprecated:FutureWarning")
def test_against_scikit_uplift():
    try:
        import sklift.metrics as sklift
    except ImportError:
        skip_or_fail("scikit-uplift is not installed (pip install 'tenure[test]')")
    rng = np.random.default_rng(7)
    for n in (50, 777, 3000):
        t = rng.random(n) < 0.4
        y = (rng.random(n) < 0.2 + 0.1 * t).astype(int)
        s = np.round(rng.normal(size=n), 1)  # with ties
        assert qini_coefficient(y, t, s) == pytest.approx(sklift.qini_auc_score(y, s, t), abs=1e-12)
        assert auuc(y, t, s) == pytest.approx(sklift.uplift_auc_score(y, s, t), abs=1e-12)
        for k in (0.1, 0.3):
            assert uplift_at_top(y, t, s, k) == pytest.approx(
                sklift.uplift_at_k(y, s, t, strategy="overall", k=k), abs=1e-12)  # fmt: skip
        x_ref, q_ref = sklift.qini_curve(y, s, t)
        x, q = qini_curve(y, t, s)
        assert x.tolist() == x_ref.tolist() and q == pytest.approx(q_ref)


# -- simulations ---------------------------------------------------------------

N = 16_000


def _simulate(seed: int, effect: float, treated_share: float = 0.5):
    """Five features; the customers with x0 in its top fifth are persuadable:
    a message raises their chance of ordering from 10 % by ``effect``; it
    changes nothing for the rest. x1 moves the base rate (so the outcome has
    structure that is not uplift)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, 5))
    persuadable = X[:, 0] > 0.8416  # the top 20 % of a standard normal
    t = rng.random(N) < treated_share
    base = 0.1 + 0.05 * (X[:, 1] > 0)
    tau = np.where(persuadable, effect, 0.0)
    y = (rng.random(N) < base + tau * t).astype(int)
    return X, t, y, tau, persuadable


@pytest.mark.parametrize("learner", [TLearner, ClassTransformationLearner])
def test_planted_persuadables_are_ranked_first(learner):
    X, t, y, tau, persuadable = _simulate(1, 0.15)
    train = np.arange(N) < int(0.7 * N)
    model = learner().fit(X[train], t[train], y[train])
    assert model.fit(X[train], t[train], y[train]) is model
    score = model.predict_uplift(X[~train])
    yt, tt = y[~train], t[~train]
    q = qini_coefficient(yt, tt, score)
    oracle = qini_coefficient(yt, tt, tau[~train])  # the truth's own ranking
    band = random_band(yt, tt)
    assert q > band["qini_high"]
    assert q > 0.5 * oracle, (q, oracle)
    assert auuc(yt, tt, score) > band["auuc_high"]
    # of the fifth ranked first, most are persuadable (a random fifth: 20 %)
    top = np.argsort(-score)[: int(0.2 * len(score))]
    assert persuadable[~train][top].mean() > 0.6
    # and the uplift there is well above the +3 points overall (its truth:
    # +15 times the share of persuadables among them)
    doc = evaluate(yt, tt, score)
    assert 0.05 < doc["uplift_at_top"]["20%"] < 0.25
    assert abs(doc["overall_uplift"] - 0.03) < 0.02


@pytest.mark.parametrize("learner", [TLearner, ClassTransformationLearner])
def test_no_effect_gives_a_qini_within_the_random_band(learner):
    X, t, y, _, _ = _simulate(2, 0.0)
    train = np.arange(N) < int(0.7 * N)
    score = learner().fit(X[train], t[train], y[train]).predict_uplift(X[~train])
    band = random_band(y[~train], t[~train])
    q = qini_coefficient(y[~train], t[~train], score)
    assert band["qini_low"] < q < band["qini_high"]
    assert band["qini_low"] < 0 < band["qini_high"]


def test_class_transformation_reweights_unequal_arms():
    """With 20 % treated, Z without weights would mix the arms' sizes into
    P(Z = 1); reweighted, the mean predicted uplift of the persuadables is
    still near +15 points and of the rest near 0."""
    X, t, y, _, persuadable = _simulate(3, 0.15, treated_share=0.2)
    model = ClassTransformationLearner().fit(X, t, y)
    assert model.weights_ == pytest.approx({"treated": 2.5, "control": 0.625}, rel=0.05)
    tau = model.predict_uplift(X)
    assert abs(tau[persuadable].mean() - 0.15) < 0.05
    assert abs(tau[~persuadable].mean()) < 0.03


def test_t_learner_on_a_continuous_outcome():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(6000, 2))
    t = rng.random(6000) < 0.5
    y = 50 + 10 * X[:, 1] + 20 * (X[:, 0] > 0) * t + rng.normal(0, 5, 6000)
    model = TLearner().fit(X, t, y)
    assert not model.binary_
    tau = model.predict_uplift(X)
    assert abs(tau[X[:, 0] > 0].mean() - 20) < 2 and abs(tau[X[:, 0] <= 0].mean()) < 2


def test_contract_and_errors():
    with pytest.raises(NotFittedError, match="fit"):
        TLearner().predict_uplift([[1.0]])
    with pytest.raises(InputError, match="binary outcome"):
        ClassTransformationLearner().fit([[0.0]] * 4, [1, 1, 0, 0], [2.0, 0.0, 1.0, 3.0])
    with pytest.raises(InputError, match="'max_iter' parameter of TLearner"):
        TLearner(max_iter=0).fit([[0.0]] * 4, [1, 1, 0, 0], [1, 0, 1, 0])
    with pytest.raises(InputError, match="fewer than 2 control"):
        TLearner().fit([[0.0]] * 4, [1, 1, 1, 0], [1, 0, 1, 0])
    with pytest.raises(InputError, match="0/1"):
        TLearner().fit([[0.0]] * 4, [1, 2, 0, 0], [1, 0, 1, 0])
    # every treated customer converted: that arm's model is the constant 1
    m = TLearner().fit([[0.0], [1.0], [0.0], [1.0]], [1, 1, 0, 0], [1, 1, 0, 1])
    assert m.predict_uplift([[0.0]]).shape == (1,)
    X, t, y = (a[:3000] for a in _simulate(5, 0.15)[:3])
    a = TLearner().fit(X, t, y)
    b = TLearner().fit(X, t, y)
    assert np.array_equal(a.predict_uplift(X), b.predict_uplift(X))  # refit equals a fresh fit
    import pickle

    c = pickle.loads(pickle.dumps(ClassTransformationLearner().fit(X, t, y)))
    assert np.array_equal(c.predict_uplift(X[:50]),
                          ClassTransformationLearner().fit(X, t, y).predict_uplift(X[:50]))  # fmt: skip
    with pytest.raises(InputError, match="2 features; the model was fitted on 5"):
        a.predict_uplift(X[:, :2])
