"""The campaign statistics on simulated campaigns whose truth is known.

Each test draws thousands of campaigns at once (arrays of per-arm sums, or
a matrix of customers × campaigns) from a fixed seed, so it is fast and
gives the same answer on every run.
"""

from __future__ import annotations

import numpy as np

from tenure.campaigns.cuped import cuped_lift, variance_reduction
from tenure.campaigns.lift import lift
from tenure.campaigns.power import audience_power, mde, power_of
from tenure.campaigns.sequential import confidence_sequence
from tenure.campaigns.srm import srm_check
from tenure.campaigns.stats import Paired, Sums

CAMPAIGNS = 2000


def _conversions(rng, n, p_control, p_arm):
    control = Sums.proportion(n, rng.binomial(n, p_control, CAMPAIGNS))
    arm = Sums.proportion(n, rng.binomial(n, p_arm, CAMPAIGNS))
    return control, arm


def _excludes(interval, value):
    return (interval.lower > value) | (interval.upper < value)


def test_false_positive_rate_of_no_effect_campaigns():
    """2,000 campaigns without effect: 5 % ± 1 % of their 95 % intervals
    exclude zero, for a conversion rate and for revenue per customer.

    At 2,000 campaigns the rate's standard error is 0.49 points, so ± 1 point
    is two of them: a correct test misses it for about one seed in twenty
    (seed 16 gave 6.3 % for revenue; over 20,000 campaigns the rates were
    5.1 % absolute and 5.3 % relative)."""
    rng = np.random.default_rng(1)
    control, arm = _conversions(rng, 3000, 0.12, 0.12)
    fpr = _excludes(lift(control, arm).absolute, 0).mean()
    assert 0.04 <= fpr <= 0.06, fpr
    # revenue: most customers spend nothing, the others a skewed amount
    bought = rng.random((2, CAMPAIGNS, 1000)) < 0.3
    spend = rng.gamma(2.0, 40.0, size=(2, CAMPAIGNS, 1000)) * bought
    rev = lift(Sums.of(spend[0]), Sums.of(spend[1]))
    assert 0.04 <= _excludes(rev.absolute, 0).mean() <= 0.06
    assert 0.04 <= _excludes(rev.relative, 0).mean() <= 0.06


def test_intervals_cover_a_planted_effect():
    """A planted lift from 10 % to 12 % conversion: the 95 % intervals of
    the absolute (+2 points) and relative (+20 %) lift cover it 94-96 % of
    the time."""
    rng = np.random.default_rng(7)
    control, arm = _conversions(rng, 4000, 0.10, 0.12)
    result = lift(control, arm)
    assert 0.94 <= (~_excludes(result.absolute, 0.02)).mean() <= 0.96
    assert 0.94 <= (~_excludes(result.relative, 0.20)).mean() <= 0.96


def test_srm_flags_a_48_52_split_and_rarely_a_fair_one():
    """48,000 / 52,000 of 100k customers meant 50/50 is flagged (χ² = 160);
    fair 50/50 splits are flagged about 0.1 % of the time, as p < 0.001 means."""
    check = srm_check([48_000, 52_000], [0.5, 0.5])
    assert bool(check.flagged)
    assert float(check.statistic) == 160.0
    assert not bool(srm_check([49_900, 50_100], [0.5, 0.5]).flagged)
    rng = np.random.default_rng(3)
    control = rng.binomial(100_000, 0.5, 20_000)
    fair = srm_check(np.stack([control, 100_000 - control], axis=-1), [0.5, 0.5])
    assert fair.flagged.mean() <= 0.003
    # a 90/10 holdout split is checked against its own shares
    assert not bool(srm_check([9_010, 990], [0.9, 0.1]).flagged)
    assert bool(srm_check([9_010, 990], None).flagged)


def _correlated(rng, rho, n, effect=0.0):
    """Per-customer (pre, post) pairs with correlation ``rho``: arrays
    (arm, campaign, customer)."""
    pre = rng.normal(10.0, 3.0, size=(2, CAMPAIGNS, n))
    noise = rng.normal(0.0, 3.0, size=(2, CAMPAIGNS, n))
    post = 10.0 + rho * (pre - 10.0) + np.sqrt(1 - rho**2) * noise
    post[1] += effect
    return pre, post


def test_cuped_cuts_variance_by_rho_squared():
    """At a pre-period correlation ρ, CUPED leaves (1 − ρ²) of the lift's
    variance: 25 % less at ρ = 0.5 (as theory says, to ± 1 point), more
    above. The variance it reports (mean se² over 2,000 campaigns) and the
    spread of its estimates across them (± 6 points: a variance estimated
    from 2,000 draws) both show it, and its intervals still cover the
    planted effect 94-96 % of the time."""
    rng = np.random.default_rng(11)
    for rho in (0.5, 0.6, 0.8):
        pre, post = _correlated(rng, rho, 400, effect=0.5)
        control, arm = Paired.of(post[0], pre[0]), Paired.of(post[1], pre[1])
        plain = lift(control.post, arm.post).absolute
        adjusted, _ = cuped_lift(control, arm)
        reported = 1 - np.mean(adjusted.absolute.se**2) / np.mean(plain.se**2)
        assert abs(reported - rho**2) <= 0.01, (rho, reported)
        assert reported >= 0.25 - 0.01 * (rho == 0.5)
        assert abs(np.mean(variance_reduction(control, arm)) - reported) <= 0.01
        spread = 1 - adjusted.absolute.estimate.var() / plain.estimate.var()
        assert abs(spread - rho**2) <= 0.06, (rho, spread)
        covered = ~_excludes(adjusted.absolute, 0.5)
        assert 0.94 <= covered.mean() <= 0.96, (rho, covered.mean())
        assert 0.94 <= (~_excludes(adjusted.relative, 0.05)).mean() <= 0.96


def test_confidence_sequences_hold_under_peeking():
    """No effect, looked at after each of 20 batches, stopped at the first
    look whose interval excludes zero: the fixed 95 % interval is then wrong
    far more often than 5 %; the confidence sequence at most 5 % of the time."""
    rng = np.random.default_rng(5)
    looks, batch = 20, 250
    a = rng.binomial(batch, 0.1, (CAMPAIGNS, looks)).cumsum(axis=1)
    b = rng.binomial(batch, 0.1, (CAMPAIGNS, looks)).cumsum(axis=1)
    n = batch * np.arange(1, looks + 1)
    fixed = lift(Sums.proportion(n, a), Sums.proportion(n, b)).absolute
    seq = confidence_sequence(fixed, 2 * n, tuning=2 * n[-1])
    peeking_fixed = _excludes(fixed, 0).any(axis=1).mean()
    peeking_seq = _excludes(seq, 0).any(axis=1).mean()
    assert peeking_fixed > 0.15
    assert peeking_seq <= 0.05
    # and it still finds a real effect: 10 % -> 13 %
    b = rng.binomial(batch, 0.13, (CAMPAIGNS, looks)).cumsum(axis=1)
    fixed = lift(Sums.proportion(n, a), Sums.proportion(n, b)).absolute
    seq = confidence_sequence(fixed, 2 * n, tuning=2 * n[-1])
    assert (seq.lower[:, -1] > 0).mean() > 0.8


def test_power_and_mde():
    """Worked by hand: p = 10 %, 10,000 per arm, α = 5 %, power 80 %:
    se = sqrt(0.09 · 2/10,000) = 0.0042426, MDE = (1.95996 + 0.84162) · se
    = 0.011886; at that effect the simulated power is 80 % ± 2 points."""
    sd = np.sqrt(0.1 * 0.9)
    m = float(mde(sd, 10_000, 10_000))
    assert round(m, 6) == 0.011886
    # 0.8 and the wrong-sign tail, Φ(−2.80159 − 1.95996) ≈ 1e-6
    assert abs(float(power_of(m, sd, 10_000, 10_000)) - 0.8) < 2e-6
    rng = np.random.default_rng(2)
    control, arm = _conversions(rng, 10_000, 0.1, 0.1 + m)
    found = (lift(control, arm).absolute.lower > 0).mean()
    assert abs(found - 0.8) <= 0.02, found
    plan = audience_power(20_000, 0.5, baseline=0.1)
    assert (plan.n_arm, plan.n_holdout) == (10_000, 10_000)
    assert round(plan.mde_absolute, 6) == 0.011886
    assert round(plan.mde_relative, 5) == 0.11886
