"""sBG: the published estimates of Fader and Hardie (2007)."""

from __future__ import annotations

import numpy as np
import pytest

from tenure.errors import InputError
from tenure.models.contractual import ShiftedBetaGeometric

# Fader and Hardie (2007), Table 1: customers still active at the start of
# years 1..8, of 1,000 acquired
REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491]


@pytest.mark.parametrize(
    ("survivors", "alpha", "beta", "ll"),
    [(REGULAR, 0.704, 1.182, -1680.3), (HIGH_END, 0.668, 3.806, -1611.2)],
)
def test_reproduces_the_published_estimates(survivors, alpha, beta, ll):
    data, w = ShiftedBetaGeometric.from_survivors(survivors)
    m = ShiftedBetaGeometric().fit(data, weights=w)
    assert m.params_["alpha"] == pytest.approx(alpha, abs=6e-4)
    assert m.params_["beta"] == pytest.approx(beta, abs=6e-4)
    assert m.log_likelihood_ == pytest.approx(ll, abs=0.06)
    assert m.n_customers_ == 1000
    # the fitted survival curve follows the data it came from
    np.testing.assert_allclose(m.predict_survival(np.arange(8)) * 1000, survivors, rtol=0.05)


def test_retention_is_the_ratio_of_survivals():
    data, w = ShiftedBetaGeometric.from_survivors(REGULAR)
    m = ShiftedBetaGeometric().fit(data, weights=w)
    t = np.arange(1, 10)
    np.testing.assert_allclose(
        m.predict_retention(t), m.predict_survival(t) / m.predict_survival(t - 1)
    )
    assert (np.diff(m.predict_retention(t)) > 0).all()  # retention rises with tenure


def test_edges():
    with pytest.raises(InputError, match="never rise"):
        ShiftedBetaGeometric.from_survivors([100, 120])
    data, w = ShiftedBetaGeometric.from_survivors([100, 100, 100])
    with pytest.raises(InputError, match="no subscriber has cancelled"):
        ShiftedBetaGeometric().fit(data, weights=w)
