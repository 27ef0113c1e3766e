"""Sample-ratio mismatch: are the arms the sizes the split promised?

A campaign assigned 50/50 that ends with 48/52 on 100,000 customers did not
randomise as it says (a filter applied to one arm only, a bug in bucketing,
customers lost from one side): its lift cannot be trusted whatever its
interval. Pearson's χ² goodness of fit of the observed counts against the
intended shares, k − 1 degrees of freedom, flagged at p < 0.001 as
GrowthBook (``gbstats.utils.check_srm``) and Kohavi, Tang and Xu,
*Trustworthy Online Controlled Experiments* (2020, ch. 21) advise: a
threshold that low keeps false alarms rare when every campaign is checked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as st

from tenure.campaigns.stats import Array, _arr

THRESHOLD = 0.001


@dataclass(frozen=True)
class SrmCheck:
    """χ², its p-value, and whether it is flagged (p < ``THRESHOLD``)."""

    statistic: Array
    p_value: Array
    flagged: Array


def srm_check(counts: ArrayLike, shares: ArrayLike | None = None, *,
              threshold: float = THRESHOLD) -> SrmCheck:  # fmt: skip
    """χ² of ``counts`` (last axis: one per arm) against the intended
    ``shares`` (any positive weights; equal when None). Arms with a share of
    0 are left out, as gbstats does."""
    counts = _arr(counts)
    k = counts.shape[-1]
    weights = np.ones(k) if shares is None else _arr(shares)
    keep = weights > 0
    counts, weights = counts[..., keep], weights[keep]
    total = counts.sum(axis=-1, keepdims=True)
    expected = weights / weights.sum() * total
    with np.errstate(divide="ignore", invalid="ignore"):
        chi2 = np.where(total > 0, (counts - expected) ** 2 / np.where(expected > 0, expected, 1),
                        0.0).sum(axis=-1)  # fmt: skip
    p = st.chi2.sf(chi2, int(keep.sum()) - 1)
    return SrmCheck(chi2, p, p < threshold)
