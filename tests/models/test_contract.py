"""The contract every model keeps (scikit-learn's, on lifelines' ladder):
fit returns the model, a refit equals a fresh fit, predicting before fitting
names the call to make, pickles predict alike, weights count duplicated rows,
bad hyper-parameters fail with one message shape; and the edges of the
repeat-purchase data."""

from __future__ import annotations

import functools
import pickle

import numpy as np
import pandas as pd
import pytest

from tenure.errors import ConfigError, InputError, NotFittedError
from tenure.models.btyd import BetaGeo, ParetoNBD
from tenure.models.contractual import ShiftedBetaGeometric
from tenure.models.mbgnbd import ModifiedBetaGeo
from tenure.models.spend import GammaGamma
from tests.models import simulate

MODELS = [BetaGeo, ModifiedBetaGeo, ParetoNBD, GammaGamma, ShiftedBetaGeometric]
PURCHASE_MODELS = [BetaGeo, ModifiedBetaGeo, ParetoNBD]


@functools.cache
def _data(model: type) -> pd.DataFrame:
    """A few hundred customers from the model's own story, in days."""
    rng = np.random.default_rng(11)
    n = 600
    T = rng.uniform(0, 730, n)
    if model is ShiftedBetaGeometric:
        return simulate.sbg(n, 0.704, 1.182, rng.integers(1, 13, n), rng)
    if model is ParetoNBD:
        return simulate.pareto_nbd(n, 0.553, 74.0, 0.606, 81.7, T, rng)
    if model is ModifiedBetaGeo:
        return simulate.mbg_nbd(n, 0.525, 43.3, 0.891, 1.614, T, rng)
    customers = simulate.bg_nbd(n, 0.243, 30.9, 0.793, 2.426, T, rng)
    if model is BetaGeo:
        return customers
    x = customers["x"][customers["x"] > 0].to_numpy()
    return pd.DataFrame({"x": x, "m": simulate.gamma_gamma(x, 6.25, 3.74, 15.44, rng)})


# every prediction a model offers, called on its data
CALLS = {
    "predict_alive": lambda m, d: m.predict_alive(d),
    "predict_purchases": lambda m, d: m.predict_purchases(30, d),
    "predict_next_purchase": lambda m, d: m.predict_next_purchase(d),
    "predict_discounted_purchases": lambda m, d: m.predict_discounted_purchases(
        d, 365, discount_rate=0.1
    ),
    "predict_clv": lambda m, d: m.predict_clv(d, np.full(len(d), 20.0), 365, discount_rate=0.1),
    "predict_spend": lambda m, d: m.predict_spend(d),
    "predict_survival": lambda m, d: m.predict_survival(np.arange(10)),
    "predict_retention": lambda m, d: m.predict_retention(np.arange(1, 10)),
    "expected_repeat_purchases": lambda m, d: m.expected_repeat_purchases(np.arange(0, 400, 30)),
    "predict_conditional_survival": lambda m, d: m.predict_conditional_survival(np.arange(10), 3),
    "predict_renewal_probability": lambda m, d: m.predict_renewal_probability(np.arange(10)),
    "predict_median_remaining_lifetime": lambda m, d: m.predict_median_remaining_lifetime(
        np.arange(10)
    ),
    "expected_remaining_lifetime": lambda m, d: m.expected_remaining_lifetime(
        np.arange(10), discount_rate=0.01
    ),
}


def _predictions(model: type) -> list[str]:
    return sorted(name for name in dir(model) if name.startswith(("predict", "expected")))


def _predict_all(m, data) -> dict[str, np.ndarray]:
    return {name: CALLS[name](m, data) for name in _predictions(type(m))}


@functools.cache
def _fitted(model: type):
    """A fitted model the tests only read."""
    return model().fit(_data(model))


@pytest.mark.parametrize("model", MODELS)
def test_every_prediction_is_in_this_suite(model):
    assert set(_predictions(model)) <= set(CALLS), "add the new prediction to CALLS"


@pytest.mark.parametrize("model", MODELS)
def test_fit_returns_the_model_and_a_refit_equals_a_fresh_fit(model):
    data = _data(model)
    m = model()
    assert m.fit(data) is m
    other = data.iloc[: len(data) // 3]
    refit = model().fit(other).fit(data)
    assert refit.params_ == pytest.approx(m.params_, rel=1e-12)
    assert refit.std_errors_ == pytest.approx(m.std_errors_, rel=1e-12)
    assert refit.n_customers_ == m.n_customers_ == len(data)
    for name, value in _predict_all(m, data).items():
        np.testing.assert_array_equal(CALLS[name](refit, data), value)


UNFITTED = [
    pytest.param(model, name, id=f"{model.__name__}.{name}")
    for model in MODELS
    for name in [*_predictions(model), "summary"]
]


@pytest.mark.parametrize(("model", "name"), UNFITTED)
def test_unfitted_models_name_the_call_to_make(model, name):
    call = CALLS.get(name, lambda m, d: m.summary())
    with pytest.raises(NotFittedError) as error:
        call(model(), _data(model))
    assert "call fit(data) before" in str(error.value)
    assert f"{name}()" in str(error.value)


@pytest.mark.parametrize("model", MODELS)
def test_a_pickled_model_predicts_alike(model):
    m = _fitted(model)
    again = pickle.loads(pickle.dumps(m))
    assert again.params_ == m.params_ and repr(again) == repr(m)
    data = _data(model)
    before, after = _predict_all(m, data), _predict_all(again, data)
    for name in before:
        np.testing.assert_array_equal(after[name], before[name])


@pytest.mark.parametrize("model", MODELS)
def test_weights_count_duplicated_rows(model):
    data = _data(model).reset_index(drop=True)
    weights = np.random.default_rng(3).integers(1, 4, len(data))
    duplicated = data.loc[data.index.repeat(weights)]
    by_weight = model().fit(data, weights=weights)
    by_rows = model().fit(duplicated)
    assert by_weight.n_customers_ == by_rows.n_customers_ == weights.sum()
    for name in model.param_names:
        assert by_weight.params_[name] == pytest.approx(by_rows.params_[name], rel=1e-6), name
    assert by_weight.log_likelihood_ == pytest.approx(by_rows.log_likelihood_, rel=1e-9)


@pytest.mark.parametrize("model", MODELS)
def test_a_bad_penalizer_fails_at_fit_with_one_message_shape(model):
    with pytest.raises(ConfigError) as error:
        model(penalizer=-1).fit(_data(model))
    assert str(error.value) == (
        f"The 'penalizer' parameter of {model.__name__} must be a float in [0, inf). "
        "Got -1 instead."
    )
    model(penalizer=-1)  # the constructor only stores it


@pytest.mark.parametrize("model", MODELS)
def test_a_penalizer_shrinks_the_parameters(model):
    free = _fitted(model)
    penalised = model(penalizer=0.01).fit(_data(model))
    norm = lambda m: sum(v * v for v in m.params_.values())  # noqa: E731
    assert norm(penalised) < norm(free)


@pytest.mark.parametrize("model", MODELS)
def test_a_penalizer_means_the_same_on_any_number_of_customers(model):
    """The penalty applies to the mean log-likelihood per customer: ten
    times the customers with the same penalizer give the same estimates,
    and the log-likelihood reported is the data's, without the penalty."""
    data = _data(model)
    once = model(penalizer=0.01).fit(data)
    tenfold = model(penalizer=0.01).fit(data, weights=np.full(len(data), 10.0))
    for name in model.param_names:
        assert tenfold.params_[name] == pytest.approx(once.params_[name], rel=1e-4), name
    assert tenfold.log_likelihood_ == pytest.approx(10 * once.log_likelihood_, rel=1e-6)
    arrays = {c: data[c].to_numpy(dtype="float64") for c in model.columns}
    params = np.array([once.params_[k] for k in model.param_names])
    assert once.log_likelihood_ == pytest.approx(once._loglik(params, arrays).sum(), rel=1e-9)


@pytest.mark.parametrize("model", MODELS)
def test_a_missing_column_lists_the_columns_found(model):
    data = _data(model).rename(columns={model.columns[0]: "frequency"})
    with pytest.raises(InputError) as error:
        model().fit(data)
    message = str(error.value)
    assert f"no column {model.columns[0]}" in message
    for found in data.columns:
        assert found in message


@pytest.mark.parametrize("model", MODELS)
def test_repr_before_and_after_fit(model):
    assert repr(model()) == f"{model.__name__}(penalizer=0.0)"
    m = _fitted(model)
    text = repr(m)
    assert text.startswith(f"<{model.__name__} fitted on {len(_data(model)):,} customers: ")
    for name in model.param_names:
        assert f"{name}=" in text


# -- the edges of repeat-purchase data ----------------------------------------


def _sane(m, data) -> None:
    """Finite parameters and log-likelihood, P(alive) a probability, expected
    purchases finite and not negative."""
    assert all(np.isfinite(v) and v > 0 for v in m.params_.values())
    assert np.isfinite(m.log_likelihood_)
    alive = m.predict_alive(data)
    assert ((alive >= 0) & (alive <= 1)).all()
    purchases = m.predict_purchases(30, data)
    assert np.isfinite(purchases).all() and (purchases >= 0).all()


@pytest.mark.parametrize("model", PURCHASE_MODELS)
def test_everyone_without_a_repeat_purchase_is_refused(model):
    data = pd.DataFrame({"x": [0.0, 0.0, 0.0], "t_x": [0.0, 0.0, 0.0], "T": [5.0, 40.0, 90.0]})
    with pytest.raises(InputError, match="repeat purchase"):
        model().fit(data)


@pytest.mark.parametrize("model", PURCHASE_MODELS)
def test_one_customer(model):
    data = pd.DataFrame({"x": [2.0], "t_x": [5.0], "T": [10.0]})
    _sane(model().fit(data), data)


@pytest.mark.parametrize("model", PURCHASE_MODELS)
def test_identical_customers(model):
    data = pd.DataFrame({"x": [3.0] * 50, "t_x": [20.0] * 50, "T": [40.0] * 50})
    _sane(model().fit(data), data)


@pytest.mark.parametrize("model", PURCHASE_MODELS)
def test_customers_seen_for_a_moment(model):
    moment = pd.DataFrame({"x": [0.0, 1.0, 2.0], "t_x": [0.0, 0.004, 0.009], "T": [0.01] * 3})
    data = pd.concat([_data(model), moment], ignore_index=True)
    m = model().fit(data)
    _sane(m, data)
    # no time to drop out in after the first purchase: BG/NBD drops out only
    # after a repeat purchase; MBG/NBD right after the first with chance
    # E[p] = a / (a + b)
    stayed = 1.0
    if model is ModifiedBetaGeo:
        stayed = m.params_["b"] / (m.params_["a"] + m.params_["b"])
    assert m.predict_alive(moment)[0] == pytest.approx(stayed, abs=0.01)


@pytest.mark.parametrize("model", PURCHASE_MODELS)
def test_a_customer_with_a_thousand_purchases(model):
    huge = pd.DataFrame({"x": [1000.0, 1000.0], "t_x": [1099.0, 150.0], "T": [1100.0, 1100.0]})
    data = pd.concat([_data(model), huge], ignore_index=True)
    m = model().fit(data)
    _sane(m, data)
    params = np.array(list(m.params_.values()))
    assert np.isfinite(m._loglik(params, huge)).all()
    alive = m.predict_alive(huge)
    # bought yesterday after a thousand purchases: alive; silent for 950
    # days after buying every day: gone
    assert alive[0] > 0.99 and alive[1] < 1e-6
    assert m.predict_purchases(30, huge)[0] > 30 * 1000 / 1099 * 0.9
