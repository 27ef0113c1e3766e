"""Every model finds the parameters it was simulated with (in days, as the
demo data), within three standard errors; and distinct rows with weights
give the same fit as one row per customer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tenure.models.btyd import BetaGeo, ParetoNBD
from tenure.models.contractual import ShiftedBetaGeometric
from tenure.models.spend import GammaGamma
from tests.models import simulate

# the demo generator's parameters, in days; Pareto/NBD's are Fader, Hardie
# and Lee's CDNOW estimates with the time scales in days
BG_NBD = {"r": 0.243, "alpha": 30.9, "a": 0.793, "b": 2.426}
PARETO_NBD = {"r": 0.553, "alpha": 74.0, "s": 0.606, "beta": 81.7}
GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "gamma": 15.44}
SBG = {"alpha": 0.704, "beta": 1.182}


def _customers(model: str, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    T = rng.uniform(0, 730, n)  # acquired over two years
    if model == "bg_nbd":
        return simulate.bg_nbd(n, *BG_NBD.values(), T, rng)
    if model == "pareto_nbd":
        return simulate.pareto_nbd(n, *PARETO_NBD.values(), T, rng)
    if model == "gamma_gamma":
        x = simulate.bg_nbd(n, *BG_NBD.values(), T, rng)["x"]
        x = x[x > 0].to_numpy()
        return pd.DataFrame({"x": x, "m": simulate.gamma_gamma(x, *GAMMA_GAMMA.values(), rng)})
    # monthly subscriptions, cohorts from one to twelve months old
    return simulate.sbg(n, *SBG.values(), rng.integers(1, 13, n), rng)


CASES = [
    pytest.param(BetaGeo, "bg_nbd", 8000, BG_NBD, id="BetaGeo"),
    pytest.param(ParetoNBD, "pareto_nbd", 8000, PARETO_NBD, id="ParetoNBD"),
    pytest.param(GammaGamma, "gamma_gamma", 8000, GAMMA_GAMMA, id="GammaGamma"),
    pytest.param(ShiftedBetaGeometric, "sbg", 3000, SBG, id="ShiftedBetaGeometric"),
]


@pytest.mark.parametrize(("model", "story", "n", "truth"), CASES)
def test_recovers_known_parameters_within_three_standard_errors(model, story, n, truth):
    data = _customers(story, n, seed=2024)
    m = model().fit(data)
    assert m.converged_
    for name, value in truth.items():
        se = m.std_errors_[name]
        assert np.isfinite(se) and se > 0, name
        assert abs(m.params_[name] - value) < 3 * se, (name, m.params_[name], se)


@pytest.mark.parametrize(("model", "story", "n", "truth"), CASES)
def test_distinct_rows_with_weights_fit_as_one_row_per_customer(model, story, n, truth):
    data = _customers(story, n, seed=7)
    if story in ("bg_nbd", "pareto_nbd"):
        data = simulate.whole_units(data)  # whole days, so customers repeat
    elif story == "gamma_gamma":
        data = data.assign(m=data["m"].round(0).clip(lower=1))  # whole euros
    rows, weights = simulate.distinct(data, list(model.columns))
    assert len(rows) < 0.75 * len(data)
    by_weight = model().fit(rows, weights=weights)
    by_row = model().fit(data)
    assert by_weight.n_customers_ == by_row.n_customers_ == len(data)
    # sBG has no analytic gradient: differentiating numerically, two sums of
    # one likelihood that differ in the last bit stop the optimiser a few
    # millionths apart
    rel = 1e-4 if model is ShiftedBetaGeometric else 1e-6
    for name in truth:
        assert by_weight.params_[name] == pytest.approx(by_row.params_[name], rel=rel), name
        assert by_weight.std_errors_[name] == pytest.approx(by_row.std_errors_[name], rel=1e-4)
    assert by_weight.log_likelihood_ == pytest.approx(by_row.log_likelihood_, rel=1e-9)
