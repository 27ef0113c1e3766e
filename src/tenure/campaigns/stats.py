"""Sufficient statistics of a metric per arm: n, Σy and Σy² (and, for CUPED,
the pre-period's sums and Σxy).

Every function of the campaign statistics works on these sums, never on
customers one by one: the store aggregates each arm in one query, and a
simulation hands in arrays of sums (one entry per simulated campaign), so
the same code measures one campaign or two thousand at once. This is also
how GrowthBook's gbstats represents a metric (``SampleMeanStatistic``,
``ProportionStatistic``, ``RegressionAdjustedStatistic``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

Array = NDArray[np.float64]


def _arr(x: ArrayLike) -> Array:
    return np.asarray(x, dtype=np.float64)


@dataclass(frozen=True)
class Sums:
    """A metric in one arm: ``n`` customers, ``total`` = Σy, ``total_sq`` = Σy².

    ``binary`` marks a 0/1 metric (a conversion): its variance is p(1 − p),
    the Bernoulli variance, as gbstats' ``ProportionStatistic`` takes it.
    Fields may be arrays (one entry per arm or per simulated campaign).
    """

    n: ArrayLike
    total: ArrayLike
    total_sq: ArrayLike
    binary: bool = False

    @classmethod
    def of(cls, values: ArrayLike, *, axis: int = -1, binary: bool = False) -> Sums:
        """The sums of per-customer ``values`` along ``axis``."""
        v = _arr(values)
        return cls(v.shape[axis] + np.zeros(np.sum(v, axis=axis).shape), np.sum(v, axis=axis),
                   np.sum(v * v, axis=axis), binary)  # fmt: skip

    @classmethod
    def proportion(cls, n: ArrayLike, successes: ArrayLike) -> Sums:
        """A conversion: ``successes`` of ``n`` customers (Σy² = Σy for 0/1)."""
        return cls(n, successes, successes, True)

    @property
    def mean(self) -> Array:
        n = _arr(self.n)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(n > 0, _arr(self.total) / np.where(n > 0, n, 1), 0.0)

    @property
    def variance(self) -> Array:
        """The sample variance (n − 1 in the denominator); p(1 − p) for a
        conversion; 0 for fewer than two customers."""
        n = _arr(self.n)
        if self.binary:
            p = self.mean
            return p * (1 - p)
        with np.errstate(divide="ignore", invalid="ignore"):
            var = (_arr(self.total_sq) - _arr(self.total) ** 2 / np.where(n > 0, n, 1)) / (n - 1)
        return np.where(n > 1, np.maximum(var, 0.0), 0.0)

    def __add__(self, other: Sums) -> Sums:
        return Sums(_arr(self.n) + _arr(other.n), _arr(self.total) + _arr(other.total),
                    _arr(self.total_sq) + _arr(other.total_sq), self.binary and other.binary)  # fmt: skip


@dataclass(frozen=True)
class Paired:
    """A metric in one arm after assignment (``post``) and over the same
    length of time before it (``pre``), with ``cross`` = Σxy: what CUPED
    needs."""

    post: Sums
    pre: Sums
    cross: ArrayLike

    @property
    def n(self) -> Array:
        return _arr(self.post.n)

    @property
    def covariance(self) -> Array:
        """cov(post, pre): Σxy/n − ΣxΣy/n² for two conversions (matching
        their Bernoulli variances), else the sample covariance."""
        n = self.n
        sx, sy, sxy = _arr(self.post.total), _arr(self.pre.total), _arr(self.cross)
        safe = np.where(n > 1, n, 2)
        if self.post.binary and self.pre.binary:
            cov = sxy / safe - sx * sy / safe**2
        else:
            cov = (sxy - sx * sy / safe) / (safe - 1)
        return np.where(n > 1, cov, 0.0)

    def __add__(self, other: Paired) -> Paired:
        return Paired(self.post + other.post, self.pre + other.pre,
                      _arr(self.cross) + _arr(other.cross))  # fmt: skip

    @classmethod
    def of(cls, post: ArrayLike, pre: ArrayLike, *, axis: int = -1, binary: bool = False) -> Paired:
        """The sums of per-customer ``post`` and ``pre`` values along ``axis``."""
        y, x = _arr(post), _arr(pre)
        return cls(Sums.of(y, axis=axis, binary=binary), Sums.of(x, axis=axis, binary=binary),
                   np.sum(x * y, axis=axis))  # fmt: skip
