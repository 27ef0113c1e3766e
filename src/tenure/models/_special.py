"""The two elementary functions that the purchase models' scores need,
in NumPy.

Importing ``scipy.special`` takes about 0.15 s (its array-API layer loads
NumPy's f2py, testing and masked-array modules), more than refreshing the
kept scores of ten thousand customers after an ingest. BG/NBD and
MBG/NBD score with :func:`expit` and :func:`exprel` alone, so those two
are written here the way SciPy writes them (``tests/models/test_special.py``
checks them against SciPy); the gamma-family functions that fitting and
rarer predictions need are imported from SciPy where they are used.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_EPS = np.finfo(float).eps


def expit(x: Any) -> np.ndarray:
    """The logistic function 1 / (1 + e^-x): 0 for x → -inf, 1 for x → inf."""
    x = np.asarray(x, dtype="float64")
    with np.errstate(over="ignore"):  # e^-x = inf gives 0, as it should
        return 1.0 / (1.0 + np.exp(-x))


def exprel(x: Any) -> np.ndarray:
    """(e^x - 1) / x, 1 at x = 0 (and below machine epsilon), inf past overflow."""
    x = np.asarray(x, dtype="float64")
    small = np.abs(x) < _EPS
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        value = np.expm1(x) / np.where(small, 1.0, x)
    # e^x overflows past x = 709.78 (inf); at x = inf that is inf, not inf / inf
    return np.where(small, 1.0, np.where(x > 717.0, np.inf, value))
