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

Predictions for a subscriber still active after t periods use what their
tenure says about them: their θ is Beta(α, β + t) now, so long-standing
subscribers are predicted to stay longer.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import betaln, hyp2f1

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

    def predict_conditional_survival(self, t, ahead) -> np.ndarray:
        """P(still active after t + ahead periods | active after t):
        S(t + ahead) / S(t) = B(α, β + t + ahead) / B(α, β + t)."""
        self._check_fitted("predict_conditional_survival()")
        a, b = self.params_["alpha"], self.params_["beta"]
        t, ahead = np.broadcast_arrays(np.asarray(t, float), np.asarray(ahead, float))
        return np.exp(betaln(a, b + t + ahead) - betaln(a, b + t))

    def predict_renewal_probability(self, t) -> np.ndarray:
        """P(renews at the next period end | active after t periods):
        (β + t) / (α + β + t), the retention rate r(t + 1)."""
        self._check_fitted("predict_renewal_probability()")
        return self.predict_retention(np.asarray(t, dtype="float64") + 1)

    def expected_remaining_lifetime(
        self, t, *, discount_rate: float = 0.0, horizon: int | None = None
    ) -> np.ndarray:
        """Expected number of further renewals of a subscriber active after
        t periods, the j-th discounted by (1 + discount_rate)^-j (the rate
        is per period):

            Σ_{j=1..horizon} S(t + j) / S(t) · (1 + d)^-j

        Unbounded (``horizon=None``) this is the discounted expected residual
        lifetime of Fader and Hardie (2010), divided by 1 + d because their
        sum counts the next renewal undiscounted:
        z (β + t) / (α + β + t) · 2F1(1, β + t + 1; α + β + t + 1; z) with
        z = 1 / (1 + d). Undiscounted and unbounded it is (β + t) / (α - 1),
        infinite when α ≤ 1: then the heaviest-staying subscribers never
        leave on average, and only a horizon or a discount rate makes the
        figure finite.

        >>> m = ShiftedBetaGeometric().fit(*ShiftedBetaGeometric.from_survivors(
        ...     [1000, 631, 468, 382, 326, 289, 262, 241]))        # doctest: +SKIP
        >>> m.expected_remaining_lifetime([0, 5], discount_rate=0.1)  # doctest: +SKIP
        """
        self._check_fitted("expected_remaining_lifetime()")
        if not np.isfinite(discount_rate) or discount_rate < 0:
            raise InputError(
                f"the discount rate is {discount_rate!r}.",
                hint="Give a rate per period of 0 or more, e.g. 0.1 for 10 %.",
            )
        a, b = self.params_["alpha"], self.params_["beta"]
        t = np.asarray(t, dtype="float64")
        z = 1.0 / (1.0 + discount_rate)
        if horizon is not None:
            if horizon < 0:
                raise InputError(f"the horizon is {horizon!r} periods.", hint="Use 0 or more.")
            j = np.arange(1, int(horizon) + 1, dtype="float64")
            terms = self.predict_conditional_survival(t[..., None], j) * z**j
            return terms.sum(axis=-1)
        if discount_rate == 0:
            return (b + t) / (a - 1) if a > 1 else np.full_like(t, np.inf)
        first = z * (b + t) / (a + b + t)
        return first * hyp2f1(1.0, b + t + 1, a + b + t + 1, z)

    def predict_median_remaining_lifetime(self, t, *, limit: int = 1200) -> np.ndarray:
        """The number of further periods after which a subscriber active
        after t periods is as likely gone as not: the smallest j with
        S(t + j) / S(t) ≤ 0.5. Past ``limit`` periods it is reported as
        infinite."""
        self._check_fitted("predict_median_remaining_lifetime()")
        t = np.asarray(t, dtype="float64")
        flat = t.reshape(-1)
        out = np.full(flat.shape, np.inf)
        j = np.arange(1, limit + 1, dtype="float64")
        for start in range(0, len(flat), 4096):  # bounded memory for many subscribers
            chunk = flat[start : start + 4096]
            s = self.predict_conditional_survival(chunk[:, None], j)
            below = s <= 0.5
            hit = below.any(axis=1)
            out[start : start + 4096] = np.where(hit, below.argmax(axis=1) + 1.0, np.inf)
        return out.reshape(t.shape)
