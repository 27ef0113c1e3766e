"""The shifted-beta-geometric (sBG) model of contract renewals (Fader and
Hardie 2007, "How to Project Customer Retention", Journal of Interactive
Marketing 21(1)).

Assumptions, in plain words: at the end of each period a subscriber
cancels with their own probability θ, the same every period; θ varies
across subscribers as Beta(α, β). Retention then rises with tenure because
the subscribers likely to cancel leave first.

Data: one row per subscriber (or per distinct row, with weights): ``t`` the
number of periods observed (the period they cancelled in, or the periods
survived so far) and ``churned`` (1 if they cancelled in period t, 0 if
still active after t periods).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import betaln

from tenure.errors import InputError
from tenure.models._base import LikelihoodModel


class ShiftedBetaGeometric(LikelihoodModel):
    """sBG; parameters alpha, beta.

    P(T = t) = B(α + 1, β + t - 1) / B(α, β)     (cancel in period t)
    S(t)     = B(α, β + t) / B(α, β)             (still active after t)
    """

    param_names = ("alpha", "beta")
    columns = ("t", "churned")
    start = (1.0, 1.0)

    @staticmethod
    def from_survivors(survivors: Sequence[float]) -> tuple[pd.DataFrame, np.ndarray]:
        """(data, weights) from a cohort's survivor counts at t = 0, 1, 2...

        >>> data, w = ShiftedBetaGeometric.from_survivors([1000, 631, 468])
        >>> ShiftedBetaGeometric().fit(data, weights=w)        # doctest: +SKIP
        """
        s = np.asarray(survivors, dtype="float64")
        if len(s) < 2 or (np.diff(s) > 0).any() or (s < 0).any():
            raise InputError(
                "survivor counts must start at t = 0 and never rise.",
                hint="Give the number still active at the start and at the end of each period.",
            )
        t = np.arange(1, len(s))
        data = pd.DataFrame(
            {
                "t": np.concatenate([t, [len(s) - 1]]),
                "churned": np.concatenate([np.ones(len(t)), [0]]),
            }
        )
        return data, np.concatenate([s[:-1] - s[1:], [s[-1]]])

    def _check_data(self, d: dict[str, np.ndarray]) -> None:
        t, c = d["t"], d["churned"]
        if (t < 0).any() or (np.floor(t) != t).any():
            raise InputError("t must be a whole number of periods, 0 or more.", column="t")
        if ((c == 1) & (t < 1)).any():
            raise InputError("a subscriber who cancelled did so in period 1 or later.", column="t")
        if not np.isin(c, (0, 1)).all():
            raise InputError("churned must be 0 or 1.", column="churned")
        if not (c == 1).any():
            raise InputError(
                "no subscriber has cancelled yet.",
                hint="The sBG model learns from cancellations: wait for some, or use a longer period.",
            )

    def _loglik(self, params: np.ndarray, d: dict[str, np.ndarray]) -> np.ndarray:
        a, b = params
        t, c = d["t"], d["churned"]
        base = betaln(a, b)
        died = betaln(a + 1, b + np.maximum(t, 1) - 1) - base
        alive = betaln(a, b + t) - base
        return np.where(c == 1, died, alive)

    def predict_survival(self, t) -> np.ndarray:
        """S(t): the share of a new cohort still active after t periods."""
        self._check_fitted("predict_survival()")
        a, b = self.params_["alpha"], self.params_["beta"]
        t = np.asarray(t, dtype="float64")
        return np.exp(betaln(a, b + t) - betaln(a, b))

    def predict_retention(self, t) -> np.ndarray:
        """r(t) = S(t) / S(t - 1) = (β + t - 1) / (α + β + t - 1), for t ≥ 1."""
        self._check_fitted("predict_retention()")
        a, b = self.params_["alpha"], self.params_["beta"]
        t = np.asarray(t, dtype="float64")
        return (b + t - 1) / (a + b + t - 1)
