"""The Gamma-Gamma model of spend per transaction (Fader, Hardie and Lee
2005, "RFM and CLV: Using Iso-Value Curves for Customer Base Analysis",
Journal of Marketing Research 42(4); Fader and Hardie 2013, "The
Gamma-Gamma Model of Monetary Value").

Assumptions, in plain words: a customer's transaction values vary around
their own mean; that mean varies across customers; and how much a customer
spends does not depend on how often they buy (check that the correlation
between x and m is small before trusting CLV built on it).

Data: customers with at least one repeat purchase: ``x`` the number of
repeat purchase days (≥ 1) and ``m`` the average value of those repeat
days (> 0) — ``monetary_avg_repeat`` of the customer summary.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import digamma, gammaln

from tenure.errors import InputError
from tenure.models._base import LikelihoodModel, Unique


class GammaGamma(LikelihoodModel):
    """Gamma-Gamma spend model; parameters p, q, gamma.

    The likelihood of a customer's average m over x transactions is

        Γ(px + q) / (Γ(px) Γ(q)) · γ^q m^(px - 1) x^(px) / (γ + m x)^(px + q)
    """

    param_names = ("p", "q", "gamma")
    columns = ("x", "m")
    start = (1.0, 1.0, 1.0)

    def _check_data(self, d: dict[str, np.ndarray]) -> None:
        if (d["x"] < 1).any():
            raise InputError(
                "the Gamma-Gamma model needs customers with at least one repeat purchase (x ≥ 1).",
                column="x",
                hint="Keep the rows with x > 0: data[data.x > 0].",
            )
        if (d["m"] <= 0).any():
            raise InputError("every average spend m must be more than 0.", column="m")

    def _prepare(self, d: dict[str, np.ndarray]) -> dict[str, Any]:
        x = Unique(d["x"])
        return {"x": x, "m": d["m"], "log_m": np.log(d["m"]), "mx": d["m"] * d["x"]}

    def _value_and_gradient(
        self, params: np.ndarray, d: dict[str, Any], w: np.ndarray, *, rows: bool = False
    ) -> Any:
        p, q, gamma = params
        if not isinstance(d["x"], Unique):  # plain arrays, outside a fit
            d = self._prepare(d)
        x = d["x"]
        ux = x.values
        px = p * ux
        log_g_mx = np.log(gamma + d["mx"])
        per_x = gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(gamma) + px * np.log(ux)
        pxr = x.take(px)
        ll = x.take(per_x) + (pxr - 1) * d["log_m"] - (pxr + q) * log_g_mx
        if rows:
            return ll
        wx = np.bincount(x.index, weights=w, minlength=len(ux))
        inv = 1.0 / (gamma + d["mx"])
        d_p = wx @ (ux * (digamma(px + q) - digamma(px) + np.log(ux))) + (w * x.take(ux)) @ (
            d["log_m"] - log_g_mx
        )
        d_q = wx @ (digamma(px + q) - digamma(q) + np.log(gamma)) - w @ log_g_mx
        d_gamma = wx.sum() * q / gamma - (w * (pxr + q)) @ inv
        return float(w @ ll), np.array([d_p, d_q, d_gamma])

    def _loglik(self, params: np.ndarray, d: dict[str, Any]) -> np.ndarray:
        return self._value_and_gradient(params, d, np.empty(0), rows=True)

    def predict_spend(self, data) -> np.ndarray:
        """Expected value of a customer's next transaction, E[M | m, x].

        With q ≤ 1 the population mean spend is infinite and so is this
        expectation for a customer without repeat purchases: it is NaN then,
        never negative.
        """
        self._check_fitted("predict_spend()")
        p, q, gamma = (self.params_[k] for k in self.param_names)
        x = np.asarray(data["x"], dtype="float64")
        m = np.asarray(data["m"], dtype="float64")
        m = np.where(x > 0, m, 0.0)
        denom = p * x + q - 1
        with np.errstate(divide="ignore", invalid="ignore"):
            value = p * (gamma + x * m) / denom
        return np.where(denom > 0, value, np.nan)
