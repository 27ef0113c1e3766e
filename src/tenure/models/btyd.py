"""Buy-till-you-die models of repeat purchasing.

BG/NBD (Fader, Hardie and Lee 2005, "Counting Your Customers the Easy Way:
An Alternative to the Pareto/NBD Model", Marketing Science 24(2)).

Assumptions, in plain words: while alive, a customer buys at a steady
random rate (Poisson, rate λ); after each purchase they may drop out for
good with probability p; λ varies across customers as Gamma(r, α) and p as
Beta(a, b).

Data: one row per customer (or per distinct row, with weights): ``x`` the
number of repeat purchase days (an integer ≥ 0), ``t_x`` the time of the
last purchase and ``T`` the time of observation, both from the first
purchase, T ≥ t_x ≥ 0, in any one time unit (days or weeks).

>>> from tenure.models.btyd import BetaGeo
>>> import tenure
>>> s = tenure.customer_summary(store="tenure-data", time_unit="week")   # doctest: +SKIP
>>> model = BetaGeo().fit(s[s.orders > 0])                              # doctest: +SKIP
>>> model.summary()                                                     # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln, hyp2f1

from tenure.errors import InputError
from tenure.models._transactions import PurchaseModel


class BetaGeo(PurchaseModel):
    """The BG/NBD model; parameters r, alpha, a, b. See the module docstring.

    The likelihood of a customer (x, t_x, T) is

        L = B(a, b + x) / B(a, b) · Γ(r + x) α^r / Γ(r) / (α + T)^(r + x)
          + [x > 0] · B(a + 1, b + x - 1) / B(a, b) · Γ(r + x) α^r / Γ(r) / (α + t_x)^(r + x)

    computed in log space, so large x and T stay finite.
    """

    param_names = ("r", "alpha", "a", "b")
    start = (1.0, 1.0, 1.0, 1.0)

    def _check_data(self, d: dict[str, np.ndarray]) -> None:
        x, t_x, T = d["x"], d["t_x"], d["T"]
        if (x < 0).any() or (np.floor(x) != x).any():
            raise InputError("x must be a whole number of repeat purchases, 0 or more.", column="x")
        if (t_x < 0).any() or (T < t_x).any():
            raise InputError("every row needs T ≥ t_x ≥ 0.", column="T")
        if (t_x[x == 0] != 0).any():
            raise InputError("a customer with x = 0 must have t_x = 0.", column="t_x")
        if not (x > 0).any():
            raise InputError(
                "no customer has a repeat purchase (x > 0 everywhere is 0).",
                hint="BG/NBD learns from repeat purchases: wait for more data, or check "
                "that x counts repeat purchase days.",
            )

    def _loglik(self, params: np.ndarray, d: dict[str, np.ndarray]) -> np.ndarray:
        r, alpha, a, b = params
        x, t_x, T = d["x"], d["t_x"], d["T"]
        common = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
        a1 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
        a3 = -(r + x) * np.log(alpha + T)
        with np.errstate(divide="ignore", invalid="ignore"):
            a4 = np.where(
                x > 0,
                np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x),
                -np.inf,
            )
        return common + a1 + np.logaddexp(a3, a4)

    # -- predictions ---------------------------------------------------------

    def predict_alive(self, data) -> np.ndarray:
        """P(alive): the probability each customer has not dropped out."""
        self._check_fitted("predict_alive()")
        r, alpha, a, b = (self.params_[k] for k in self.param_names)
        x, t_x, T = self._get(data)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_ratio = (
                np.log(a) - np.log(np.maximum(b + x - 1, 1e-300))
                + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
            )  # fmt: skip
        return np.where(x > 0, 1.0 / (1.0 + np.exp(np.minimum(log_ratio, 700))), 1.0)

    def predict_purchases(self, t: float, data) -> np.ndarray:
        """Expected purchases in the next ``t`` time units (Fader et al. 2005, eq. 10)."""
        self._check_fitted("predict_purchases()")
        r, alpha, a, b = (self.params_[k] for k in self.param_names)
        x, t_x, T = self._get(data)
        z = t / (alpha + T + t)
        # Euler's transformation keeps the Gaussian hypergeometric term small
        # for any x: (1 - z)^(r + x) 2F1(r + x, b + x; c; z)
        #   = (1 - z)^(a - 1) 2F1(a + b - 1 - r, a - 1; c; z), c = a + b + x - 1
        log_1mz = np.log(alpha + T) - np.log(alpha + T + t)
        hyp = hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)
        part = 1 - np.exp((a - 1) * log_1mz) * hyp
        return (a + b + x - 1) / (a - 1) * part * self.predict_alive(data)
