"""tenure.models._special against SciPy's functions of the same names."""

import numpy as np
import pytest
from scipy import special

from tenure.models._special import expit, exprel


def _grid() -> np.ndarray:
    # both signs, from below machine epsilon to past overflow, with the
    # values where the formulas switch (0, epsilon, 709, 745)
    mags = np.concatenate([np.geomspace(1e-300, 1e3, 4000), [0.0, 2.2e-16, 709.7, 745.2, 1e300]])
    rng = np.random.default_rng(7)
    return np.concatenate([mags, -mags, rng.normal(0, 30, 20_000), [np.inf, -np.inf]])


@pytest.mark.parametrize(("ours", "theirs"), [(expit, special.expit), (exprel, special.exprel)])
def test_equals_scipy_to_1e_10(ours, theirs):
    x = _grid()
    want, got = theirs(x), ours(x)
    assert got.shape == want.shape
    finite = np.isfinite(want)
    assert np.array_equal(np.isfinite(got), finite)
    np.testing.assert_array_equal(got[~finite], want[~finite])
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-10, atol=0)


def test_known_values():
    assert expit(0.0) == 0.5
    assert expit(np.log(3.0)) == pytest.approx(0.75, rel=1e-15)
    assert expit(-800.0) == 0.0 and expit(800.0) == 1.0
    assert exprel(0.0) == 1.0
    assert exprel(1.0) == pytest.approx(np.e - 1, rel=1e-15)
    assert exprel(-1e-20) == 1.0
    assert exprel(800.0) == np.inf
