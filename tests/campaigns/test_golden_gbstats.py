"""The campaign statistics against the published numbers of an open
experimentation engine's own test suite: GrowthBook's gbstats (MIT),
https://github.com/growthbook/growthbook, packages/stats/tests.

Inputs and expected outputs are copied from the file and test named in each
test's docstring; gbstats rounds its results to 5 decimals (DECIMALS = 5)
before comparing, so we compare to 5 decimals too.
"""

from __future__ import annotations

import numpy as np
import pytest

from tenure.campaigns.cuped import cuped_lift
from tenure.campaigns.lift import lift
from tenure.campaigns.sequential import confidence_sequence
from tenure.campaigns.srm import srm_check
from tenure.campaigns.stats import Paired, Sums


def r5(x) -> float:
    return float(np.round(x, 5))


# SampleMeanStatistic(sum=1396.87, sum_squares=52377.9767, n=3407) and
# (sum=2422.7, sum_squares=134698.29, n=3461): TestTwoSidedTTest.setUp
A = Sums(3407, 1396.87, 52377.9767)
B = Sums(3461, 2422.7, 134698.29)


def test_two_sided_relative():
    """packages/stats/tests/frequentist/test_tests.py,
    TestTwoSidedTTest.test_two_sided_ttest: expected 0.70732,
    ci (-0.03526, 1.44989), stddev 0.37879, pValue 0.06191."""
    rel = lift(A, B).relative
    assert r5(rel.estimate) == 0.70732
    assert (r5(rel.lower), r5(rel.upper)) == (-0.03526, 1.44989)
    assert r5(rel.se) == 0.37879
    assert r5(rel.p_value) == 0.06191


def test_two_sided_absolute():
    """test_tests.py, TestTwoSidedTTest.test_two_sided_ttest_absolute:
    expected 0.7 - 0.41, ci (0.04538, 0.53462), stddev 0.12478, pValue 0.02016."""
    ab = lift(A, B).absolute
    assert r5(ab.estimate) == r5(0.7 - 0.41)
    assert (r5(ab.lower), r5(ab.upper)) == (0.04538, 0.53462)
    assert r5(ab.se) == 0.12478
    assert r5(ab.p_value) == 0.02016


def test_two_sided_proportion():
    """test_tests.py, TestTwoSidedTTest.test_two_sided_ttest_binom:
    ProportionStatistic(sum=14, n=28) vs (sum=16, n=30): expected
    (16/30 - 0.5)/0.5, ci (-0.47767, 0.61101), stddev 0.2717, pValue 0.80707."""
    rel = lift(Sums.proportion(28, 14), Sums.proportion(30, 16)).relative
    assert r5(rel.estimate) == r5((16 / 30 - 0.5) / 0.5)
    assert (r5(rel.lower), r5(rel.upper)) == (-0.47767, 0.61101)
    assert r5(rel.se) == 0.2717
    assert r5(rel.p_value) == 0.80707


def _sequential(control, arm, tuning=5000):
    rel = lift(control, arm).relative
    n = np.asarray(control.n) + np.asarray(arm.n)
    return confidence_sequence(rel, n, tuning=tuning)


def test_sequential_mean():
    """test_tests.py, TestSequentialTTest.test_sequential_test_runs:
    n=3000 vs 3461, sequential_tuning_parameter=1000: expected 0.50336,
    ci (-0.55844, 1.56516), stddev 0.33341, pValue 1."""
    seq = _sequential(Sums(3000, 1396.87, 52377.9767), B, tuning=1000)
    assert r5(seq.estimate) == 0.50336
    assert (r5(seq.lower), r5(seq.upper)) == (-0.55844, 1.56516)
    assert r5(seq.se) == 0.33341
    assert r5(seq.p_value) == 1


def test_sequential_proportion():
    """test_tests.py, TestSequentialTTest.test_sequential_test_runs_prop:
    ProportionStatistic(sum=1396, n=3000) vs (sum=2422, n=3461), default
    tuning 5000: expected 0.50386, ci (0.40098, 0.60675), stddev 0.03386,
    pValue 0.0."""
    seq = _sequential(Sums.proportion(3000, 1396), Sums.proportion(3461, 2422))
    assert r5(seq.estimate) == 0.50386
    assert (r5(seq.lower), r5(seq.upper)) == (0.40098, 0.60675)
    assert r5(seq.se) == 0.03386
    assert r5(seq.p_value) == 0.0


def test_sequential_cuped():
    """test_tests.py, TestSequentialTTest.test_sequential_test_runs_ra:
    RegressionAdjustedStatistic with pre SampleMeanStatistic(sum=16.87,
    sum_squares=527.9767, n=3000) / (22.7, 1348.29, 3461), post as in
    test_sequential_test_runs, post_pre_sum_of_products=1, theta computed:
    expected 0.50338, ci (-0.50969, 1.51646), stddev 0.33341, pValue 1."""
    control = Paired(Sums(3000, 1396.87, 52377.9767), Sums(3000, 16.87, 527.9767), 1)
    arm = Paired(Sums(3461, 2422.7, 134698.29), Sums(3461, 22.7, 1348.29), 1)
    fixed, theta = cuped_lift(control, arm)
    assert theta != 0  # the adjustment is applied, not skipped
    seq = confidence_sequence(fixed.relative, 3000 + 3461)
    assert r5(seq.estimate) == 0.50338
    assert (r5(seq.lower), r5(seq.upper)) == (-0.50969, 1.51646)
    assert r5(seq.se) == 0.33341
    assert r5(seq.p_value) == 1


def test_srm():
    """packages/stats/tests/test_gbstats.py at commit 01387ac8d6^ (Feb 2023),
    TestHelpers.test_srm: check_srm([1000, 1200], [0.5, 0.5]) rounded to 9
    decimals is 0.000020079."""
    check = srm_check([1000, 1200], [0.5, 0.5])
    assert float(np.round(check.p_value, 9)) == 0.000020079
    assert bool(check.flagged)


@pytest.mark.parametrize("shape", [(3,), (2, 3)])
def test_vectorised_equals_one_at_a_time(shape):
    """Arrays of sums give, entry by entry, the scalar results above."""
    n = np.full(shape, 3407.0)
    arr = lift(Sums(n, np.full(shape, 1396.87), np.full(shape, 52377.9767)), B).relative
    assert np.all(np.round(arr.lower, 5) == -0.03526)
