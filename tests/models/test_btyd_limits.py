"""BG/NBD predictions where the estimates run away: fitted to one customer,
or to identical ones, a and b grow without bound (and r and α with them)
while p = a / (a + b) and λ = r / α stay finite. Checked against the closed
form of that limit, values from mpmath, a simulation of the process, and
lifetimes (a test-only reference) at ordinary parameters."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from tenure.models.btyd import BetaGeo

# x = 2 repeat purchases, the last at t_x = 5, observed to T = 10
CUSTOMER = pd.DataFrame({"x": [2.0], "t_x": [5.0], "T": [10.0]})


def _with_params(**params: float) -> BetaGeo:
    model = BetaGeo()
    model.params_ = dict(params)
    return model


def test_huge_a_and_b_give_one_dropout_probability_to_all():
    """As a, b → ∞ with a / (a + b) = p, everyone drops out after a purchase
    with probability p. Given λ, the purchases in the next t are min(N, J),
    N ~ Poisson(λ t) and P(J > j) = (1 - p)^j, so their mean is
    Σ_j (1 - p)^j P(N > j) = (1 - E(1 - p)^N) / p = (1 - e^(-λ p t)) / p,
    and over λ ~ Gamma(r, α) it is (1 - (α / (α + p t))^r) / p.

    Worked example: r = 2, α = 10, p = 1/4 (a = 10^12, b = 3 · 10^12), t = 10.
    A new customer: (1 - (10 / 12.5)^2) / (1/4) = 4 · 0.36 = 1.44.
    The customer above, if alive, has λ ~ Gamma(2 + 2, 10 + 10), so expects
    4 (1 - (20 / 22.5)^4) = 4 · 2465 / 6561 = 9860 / 6561; P(alive) =
    1 / (1 + p / (1 - p) · (20 / 15)^4) = 1 / (1 + 256 / 243) = 243 / 499;
    together 9860 / 6561 · 243 / 499 = 9860 / 13473. What the limit leaves
    out is of order 1 / (a + b).
    """
    m = _with_params(r=2.0, alpha=10.0, a=1e12, b=3e12)
    assert m.expected_repeat_purchases(10.0) == pytest.approx(1.44, rel=1e-11)
    assert m.predict_alive(CUSTOMER)[0] == pytest.approx(243 / 499, rel=1e-11)
    assert m.predict_purchases(10.0, CUSTOMER)[0] == pytest.approx(9860 / 13473, rel=1e-11)


def test_huge_r_and_alpha_too_give_one_purchase_rate_to_all():
    """As r, α → ∞ too with r / α = λ, every customer buys at rate λ: a new
    one expects (1 - e^(-λ p t)) / p, and the customer above is alive with
    probability 1 / (1 + p / (1 - p) · e^(λ (T - t_x))).

    With λ = 0.2, p = 1/4 and t = 10: λ p t = 1/2 and λ (T - t_x) = 1, so
    4 (1 - e^(-1/2)) per alive customer and P(alive) = 3 / (3 + e).
    """
    m = _with_params(r=2e12, alpha=1e13, a=1e12, b=3e12)
    per_alive = 4 * (1 - math.exp(-0.5))
    assert m.expected_repeat_purchases(10.0) == pytest.approx(per_alive, rel=1e-10)
    assert m.predict_alive(CUSTOMER)[0] == pytest.approx(3 / (3 + math.e), rel=1e-10)
    expected = per_alive * 3 / (3 + math.e)
    assert m.predict_purchases(10.0, CUSTOMER)[0] == pytest.approx(expected, rel=1e-10)


# Computed with mpmath 1.4 at 50 digits, each two ways that agree to 20:
# (a + b - 1) / (a - 1) · (1 - (α / (α + t))^r 2F1(r, b; a + b - 1; t / (α + t)))
# with mpmath's hyp2f1 (conditional: r + x, α + T, b + x, times P(alive)),
# and the series of positive terms summed term by term, or (z near 1) the
# integral over p with mpmath.quad. At a = 1 the closed form is taken at
# a = 1 + 10^-30.
HIGH_PRECISION = [
    pytest.param(
        {"r": 0.5, "alpha": 3.0, "a": 1.0, "b": 2.0},
        "new",
        5.0,
        0.61907999988651025356,
        id="a=1, where the closed form is 0/0",
    ),
    pytest.param(
        {"r": 3.6e9, "alpha": 2.8e10, "a": 9000.0, "b": 24000.0},
        (3.0, 20.0, 40.0),
        30.0,
        0.40400724329748038591,
        id="estimates of fifty identical customers",
    ),
    pytest.param(
        {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
        "new",
        1e6,
        53.540478253014568577,
        id="t a million weeks, z near 1",
    ),
    pytest.param(
        {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
        "new",
        1e-9,
        5.5052106930577978131e-11,
        id="t a billionth of a week",
    ),
    pytest.param(
        {"r": 0.243, "alpha": 30.9, "a": 0.793, "b": 2.426},
        (1000.0, 1099.0, 1100.0),
        30.0,
        26.209498091997401037,
        id="a thousand purchases",
    ),
    pytest.param(
        {"r": 0.243, "alpha": 4.414, "a": 1e6, "b": 3e6},
        "new",
        5000.0,
        2.9864801045710471721,
        id="a and b in the millions, z near 1",
    ),
]


@pytest.mark.parametrize(("params", "customer", "t", "expected"), HIGH_PRECISION)
def test_matches_high_precision_values(params, customer, t, expected):
    m = _with_params(**params)
    if customer == "new":
        value = m.expected_repeat_purchases(t)
    else:
        x, t_x, T = customer
        value = m.predict_purchases(t, pd.DataFrame({"x": [x], "t_x": [t_x], "T": [T]}))[0]
    assert value == pytest.approx(expected, rel=1e-13)


def test_continuous_through_a_equal_to_one():
    values = [
        _with_params(r=0.5, alpha=3.0, a=a, b=2.0).expected_repeat_purchases(5.0)
        for a in (1 - 1e-9, 1.0, 1 + 1e-9)
    ]
    assert values == pytest.approx([values[1]] * 3, rel=1e-8)


def _simulate(params: dict, history: tuple, t: float, n: int, seed: int) -> tuple[float, float]:
    """The mean and standard error of the purchases in (T, T + t] of customers
    with the given history, simulated from the BG/NBD process: λ and p drawn
    from their Gamma and Beta, each draw weighted by the chance of the
    history given (λ, p), alive at T in proportion, then min(N, J) more
    purchases, N ~ Poisson(λ t) and J geometric with parameter p."""
    rng = np.random.default_rng(seed)
    x, t_x, T = history
    lam = rng.gamma(params["r"], 1 / params["alpha"], n)
    p = rng.beta(params["a"], params["b"], n)
    stay = lam**x * np.exp(-lam * T) * (1 - p) ** x  # alive at T
    gone = lam**x * np.exp(-lam * t_x) * p * (1 - p) ** (x - 1)  # left after the x-th
    weight = stay + gone
    alive = rng.random(n) < stay / weight
    later = np.where(alive, np.minimum(rng.poisson(lam * t), rng.geometric(p)), 0)
    mean = weight @ later / weight.sum()
    return mean, math.sqrt((weight**2) @ (later - mean) ** 2) / weight.sum()


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"r": 2.0, "alpha": 10.0, "a": 2e4, "b": 6e4}, id="a, b large"),
        pytest.param({"r": 2e9, "alpha": 1e10, "a": 1e12, "b": 3e12}, id="all four large"),
    ],
)
def test_matches_a_simulation_of_the_process(params):
    m = _with_params(**params)
    mean, se = _simulate(params, (2, 5.0, 10.0), 10.0, 400_000, seed=5)
    assert abs(m.predict_purchases(10.0, CUSTOMER)[0] - mean) < 4 * se
    rng = np.random.default_rng(6)
    lam = rng.gamma(params["r"], 1 / params["alpha"], 400_000)
    bought = np.minimum(
        rng.poisson(lam * 10.0), rng.geometric(rng.beta(params["a"], params["b"], 400_000))
    )
    se = bought.std() / math.sqrt(bought.size)
    assert abs(m.expected_repeat_purchases(10.0) - bought.mean()) < 4 * se


@pytest.mark.parametrize(
    "params",
    [
        {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},  # CDNOW, weeks
        {"r": 0.243, "alpha": 30.9, "a": 0.793, "b": 2.426},  # the same in days
        {"r": 0.5, "alpha": 2.0, "a": 2.5, "b": 6.0},
        {"r": 1.5, "alpha": 30.0, "a": 0.3, "b": 0.9},
    ],
)
def test_agrees_with_lifetimes_at_ordinary_parameters(cdnow, lifetimes, params):
    x, t_x, T = (cdnow[c].to_numpy(dtype="float64") for c in ("x", "t_x", "T"))
    ref = lifetimes.BetaGeoFitter()
    ref.params_ = pd.Series(params)
    ours = _with_params(**params)
    weeks = np.array([0.5, 1.0, 39.0, 78.0, 520.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        alive = ref.conditional_probability_alive(x, t_x, T)
        new = ref.expected_number_of_purchases_up_to_time(weeks)
        for t in (1.0, 39.0, 200.0):
            expected = ref.conditional_expected_number_of_purchases_up_to_time(t, x, t_x, T)
            np.testing.assert_allclose(ours.predict_purchases(t, cdnow), expected, rtol=1e-10)
    np.testing.assert_allclose(ours.predict_alive(cdnow), alive, rtol=1e-10)
    np.testing.assert_allclose(ours.expected_repeat_purchases(weeks), new, rtol=1e-10)


def test_no_time_no_purchases_and_shapes_kept(cdnow):
    m = _with_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
    assert (m.predict_purchases(0.0, cdnow) == 0).all()
    ages = np.array([[0.0, 1.0, 2.0], [3.0, 0.0, 52.0]])
    expected = m.expected_repeat_purchases(ages)
    assert expected.shape == ages.shape and (expected[ages == 0] == 0).all()
    assert np.all(np.diff(m.expected_repeat_purchases(np.arange(0.0, 100.0))) > 0)
    with pytest.raises(ValueError, match="t must be 0 or more"):
        m.expected_repeat_purchases(-1.0)
