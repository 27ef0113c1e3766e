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

from typing import Any

import numpy as np
from scipy.special import digamma, expit, gammaln, hyp2f1, log_expit

from tenure.errors import InputError
from tenure.models._base import Unique
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

    def _prepare(self, d: dict[str, np.ndarray]) -> dict[str, Any]:
        # x, t_x and T take few distinct values (whole days or weeks), so the
        # special functions are computed once per value and gathered
        return {c: Unique(d[c]) for c in self.columns} | {"has_repeat": d["x"] > 0}

    def _value_and_gradient(
        self, params: np.ndarray, d: dict[str, Any], w: np.ndarray, *, rows: bool = False
    ) -> Any:
        r, alpha, a, b = params
        if not isinstance(d["x"], Unique):  # plain arrays, outside a fit
            d = self._prepare(d)
        x, t_x, T = d["x"], d["t_x"], d["T"]
        ux, repeat = x.values, x.values > 0
        log_bx1 = np.where(repeat, np.log(np.where(repeat, b + ux - 1, 1.0)), np.inf)
        # the terms that depend on x alone, once per distinct x
        per_x = (
            gammaln(r + ux) - gammaln(r) + r * np.log(alpha)
            + gammaln(a + b) + gammaln(b + ux) - gammaln(b) - gammaln(a + b + ux)
        )  # fmt: skip
        log_T, log_tx = T.take(np.log(alpha + T.values)), t_x.take(np.log(alpha + t_x.values))
        rx = x.take(r + ux)
        a3 = -rx * log_T
        a4 = x.take(np.log(a) - log_bx1) - rx * log_tx
        # log(e^a3 + e^a4) = a3 - log_expit(a3 - a4), stable for any sizes
        z = a3 - a4
        ll = x.take(per_x) + a3 - log_expit(z)
        if rows:
            return ll
        w3 = expit(z)  # the share of the first term; the second's is 1 - w3
        w4 = 1.0 - w3
        ww4 = w * w4
        wx = np.bincount(x.index, weights=w, minlength=len(ux))  # weight per distinct x
        ww4_x = np.bincount(x.index, weights=ww4, minlength=len(ux))
        d_r = wx @ (digamma(r + ux) - digamma(r) + np.log(alpha)) - (w * w3) @ log_T - ww4 @ log_tx
        inv_T = T.take(1.0 / (alpha + T.values))
        inv_tx = t_x.take(1.0 / (alpha + t_x.values))
        d_alpha = wx.sum() * r / alpha - (w * rx) @ (w3 * inv_T + w4 * inv_tx)
        shared = digamma(a + b) - digamma(a + b + ux)
        d_a = wx @ shared + ww4_x.sum() / a
        inv_bx1 = np.where(repeat, np.exp(-np.where(repeat, log_bx1, 0.0)), 0.0)
        d_b = wx @ (shared + digamma(b + ux) - digamma(b)) - ww4_x @ inv_bx1
        return float(w @ ll), np.array([d_r, d_alpha, d_a, d_b])

    def _loglik(self, params: np.ndarray, d: dict[str, Any]) -> np.ndarray:
        return self._value_and_gradient(params, d, np.empty(0), rows=True)

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

    def expected_repeat_purchases(self, t) -> np.ndarray:
        """E[X(t)]: expected repeat purchases of a new customer in the ``t``
        time units after their first purchase (Fader et al. 2005, eq. 9)."""
        self._check_fitted("expected_repeat_purchases()")
        r, alpha, a, b = (self.params_[k] for k in self.param_names)
        t = np.asarray(t, dtype="float64")
        z = t / (alpha + t)
        hyp = hyp2f1(r, b, a + b - 1, z)
        return (a + b - 1) / (a - 1) * (1 - np.exp(r * np.log(alpha / (alpha + t))) * hyp)

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
