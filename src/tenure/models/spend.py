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

    def _prepare(self, d: dict[str, np.ndarray], w: np.ndarray | None = None) -> dict[str, Any]:
        x = Unique(d["x"])
        prepared = {"x": x, "x_rows": d["x"], "log_m": np.log(d["m"]), "mx": d["m"] * d["x"]}
        return prepared if w is None else prepared | self._weighted(prepared, w)

    @staticmethod
    def _weighted(d: dict[str, Any], w: np.ndarray) -> dict[str, Any]:
        """What is the same at every step of a fit: the weights per distinct
        x, the weights times x, and the weighted sums of log m and x log m."""
        wx = w * d["x_rows"]
        return {
            "w": w,
            "w_x": np.bincount(d["x"].index, weights=w, minlength=len(d["x"].values)),
            "wx": wx,
            "sum_log_m": np.dot(w, d["log_m"]),
            "sum_x_log_m": np.dot(wx, d["log_m"]),
        }

    def _value_and_gradient(
        self, params: np.ndarray, d: dict[str, Any], w: np.ndarray, *, rows: bool = False
    ) -> Any:
        # imported here: scoring (predict_spend) needs no gamma functions, and
        # importing scipy.special costs more than refreshing a day's scores
        from scipy.special import digamma, gammaln

        p, q, gamma = params
        if not isinstance(d["x"], Unique):  # plain arrays, outside a fit
            d = self._prepare(d)
        x = d["x"]
        ux = x.values
        px = p * ux
        per_x = gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(gamma) + px * np.log(ux)
        g_mx = gamma + d["mx"]
        log_g_mx = np.log(g_mx)
        if rows:
            pxr = p * d["x_rows"]
            return x.take(per_x) + (pxr - 1) * d["log_m"] - (pxr + q) * log_g_mx
        if d.get("w") is not w:
            d = d | self._weighted(d, w)
        w_x, wx = d["w_x"], d["wx"]
        # log L = per_x + (p x - 1) log m - (p x + q) log(γ + m x), summed with
        # the weights: the terms in log m are the same at every step
        x_log, log = np.dot(wx, log_g_mx), np.dot(w, log_g_mx)
        inv = 1.0 / g_mx
        value = np.dot(w_x, per_x) + p * d["sum_x_log_m"] - d["sum_log_m"] - p * x_log - q * log
        d_p = np.dot(w_x, ux * (digamma(px + q) - digamma(px) + np.log(ux))) + (
            d["sum_x_log_m"] - x_log
        )
        d_q = np.dot(w_x, digamma(px + q) - digamma(q) + np.log(gamma)) - log
        d_gamma = w_x.sum() * q / gamma - p * np.dot(wx, inv) - q * np.dot(w, inv)
        return float(value), np.array([d_p, d_q, d_gamma])

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
