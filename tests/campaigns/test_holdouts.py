"""Holdout assignment: shares within binomial bounds, stable, independent of
the audience's order, and nested (global control first)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from scipy import stats

from tenure.campaigns import holdouts
from tenure.campaigns.holdouts import GlobalControl, assign, checked_share, draw
from tenure.errors import InputError

N = 100_000
IDS = [f"C{i:07d}" for i in range(N)]


def _bounds(n: int, p: float) -> tuple[int, int]:
    """The 99.99 % binomial interval of the count of a share p of n."""
    return int(stats.binom.ppf(0.00005, n, p)), int(stats.binom.ppf(0.99995, n, p))


def test_draw_is_the_documented_hash():
    # worked independently from the docstring's formula
    digest = hashlib.blake2b(b"s1\x00C42", digest_size=8).digest()
    assert draw("s1", "C42") == int.from_bytes(digest, "big") / 2**64
    assert holdouts.draws("s1", ["C42", "C43"])[0] == draw("s1", "C42")


def test_shares_within_binomial_bounds():
    arms = assign(IDS, salt="campaign-salt", holdout=0.1, control=GlobalControl("g", 0.05))
    n_global = int(np.sum(arms == "global_control"))
    n_hold = int(np.sum(arms == "holdout"))
    lo, hi = _bounds(N, 0.05)
    assert lo <= n_global <= hi
    # the holdout is a share of those outside the global control: 0.95 × 0.1
    lo, hi = _bounds(N, 0.095)
    assert lo <= n_hold <= hi
    assert n_global + n_hold + int(np.sum(arms == "treatment")) == N


def test_stable_across_runs_and_independent_of_order():
    first = dict(zip(IDS, assign(IDS, salt="s", holdout=0.2, control=None), strict=True))
    shuffled = list(np.random.default_rng(7).permutation(IDS))
    second = dict(zip(shuffled, assign(shuffled, salt="s", holdout=0.2, control=None),
                      strict=True))  # fmt: skip
    assert first == second
    # a customer's arm does not depend on who else is in the audience
    few = IDS[5000:5100]
    alone = assign(few, salt="s", holdout=0.2, control=None)
    assert [first[c] for c in few] == list(alone)


def test_nested_global_control():
    control = GlobalControl("global", 0.05)
    a = assign(IDS, salt="campaign-a", holdout=0.1, control=control)
    b = assign(IDS, salt="campaign-b", holdout=0.5, control=control)
    # the same customers are in the global control of every campaign
    assert np.array_equal(a == "global_control", b == "global_control")
    expected = np.array([draw("global", c) < 0.05 for c in IDS])
    assert np.array_equal(a == "global_control", expected)
    # the campaigns' holdouts are drawn independently among the rest
    rest = a != "global_control"
    both = np.sum((a == "holdout") & (b == "holdout"))
    n_rest = int(rest.sum())
    lo, hi = _bounds(n_rest, 0.1 * 0.5)
    assert lo <= both <= hi


@pytest.mark.parametrize("value, share", [("0.1", 0.1), ("10%", 0.1), ("5%", 0.05), (0, 0.0)])
def test_checked_share(value, share):
    assert checked_share(value, "holdout") == pytest.approx(share)


@pytest.mark.parametrize("value", ["-1", "abc", "10", "100%", "1"])
def test_checked_share_refuses(value):
    with pytest.raises(InputError, match="holdout"):
        checked_share(value, "holdout")
