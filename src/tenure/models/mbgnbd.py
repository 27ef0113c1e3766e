"""The modified BG/NBD model (MBG/NBD) of repeat purchasing.

Batislam, Denizel and Filiztekin (2007), "Empirical validation and
comparison of models for customer base analysis", International Journal
of Research in Marketing 24(3); the same model as Hoppe and Wagner's
(2007) central variant of BG/NBD.

Assumptions, in plain words: as in BG/NBD (:class:`tenure.models.btyd.BetaGeo`),
while alive a customer buys at a steady random rate (Poisson, rate λ) and
may drop out for good with probability p after a purchase; λ varies across
customers as Gamma(r, α) and p as Beta(a, b). The one change: the first
purchase counts too, so a customer may drop out right after it. Under
BG/NBD a customer who never came back (x = 0) is certainly alive, however
long ago they bought; under MBG/NBD their P(alive) falls with the time
since that purchase, which is what a business sees in its one-time buyers.

Data: as for BG/NBD: ``x`` the number of repeat purchase days (a whole
number ≥ 0), ``t_x`` the time of the last purchase and ``T`` the time of
observation, both from the first purchase, T ≥ t_x ≥ 0, t_x = 0 when x = 0.

Likelihood. A customer with rates λ and p bought x more times, the last
at t_x, and either is still there at T (chance (1 - p)^(x + 1), having
survived x + 1 coin flips) or dropped out right after the purchase at t_x
(chance p (1 - p)^x). Over the Gamma and Beta mixing,

    L = B(a, b + x + 1) / B(a, b) · Γ(r + x) α^r / Γ(r) / (α + T)^(r + x)
      + B(a + 1, b + x) / B(a, b) · Γ(r + x) α^r / Γ(r) / (α + t_x)^(r + x),

for every x (BG/NBD has no second term at x = 0). The second term over the
first is a / (b + x) · ((α + T) / (α + t_x))^(r + x), so log L is a
log-sum-exp with no cancellation, finite for any x and T; the gradient is
analytic.

>>> from tenure.models.mbgnbd import ModifiedBetaGeo
>>> import tenure
>>> s = tenure.customer_summary(store="tenure-data", time_unit="week")   # doctest: +SKIP
>>> model = ModifiedBetaGeo().fit(s[s.orders > 0])                      # doctest: +SKIP
>>> model.predict_alive(s)                                              # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tenure.models._base import Unique
from tenure.models._bgnbd_purchases import expected_purchases
from tenure.models._special import expit
from tenure.models.btyd import BetaGeo, bgnbd_value_and_gradient


class ModifiedBetaGeo(BetaGeo):
    """The MBG/NBD model; parameters r, alpha, a, b. See the module docstring.

    It shares BG/NBD's data, its preparation of distinct values and its
    time to the next purchase; the likelihood and the predictions differ.
    """

    param_names = ("r", "alpha", "a", "b")
    start = (1.0, 1.0, 1.0, 1.0)
    tells_one_time_buyers = True

    def _value_and_gradient(
        self, params: np.ndarray, d: dict[str, Any], w: np.ndarray, *, rows: bool = False
    ) -> Any:
        # BG/NBD's likelihood with one more drop-out chance survived: x + 1
        return bgnbd_value_and_gradient(self, params, d, w, shift=1, rows=rows)

    # -- predictions ---------------------------------------------------------

    def predict_alive(self, data) -> np.ndarray:
        """P(alive): the probability each customer has not dropped out,

            1 / (1 + a / (b + x) · ((α + T) / (α + t_x))^(r + x)),

        for every x: a one-time buyer (x = 0) is less likely alive the
        longer ago they bought.
        """
        self._check_fitted("predict_alive()")
        r, alpha, a, b = (self.params_[k] for k in self.param_names)
        x, t_x, T = self._get(data)
        silence = (r + x) * np.log1p((T - t_x) / (alpha + t_x))
        return expit(-(np.log(a) - np.log(b + x) + silence))

    def expected_repeat_purchases(self, t) -> np.ndarray:
        """E[X(t)]: expected repeat purchases of a new customer in the ``t``
        time units after their first purchase.

        Right after the first purchase the customer stays with chance
        E(1 - p) = b / (a + b), and then p is Beta(a, b + 1); from there
        they buy as a BG/NBD customer would. So E[X(t)] is b / (a + b) times
        BG/NBD's with b + 1 for b (``tenure.models._bgnbd_purchases``):

            b / (a - 1) · (1 - (α / (α + t))^r 2F1(r, b + 1; a + b; t / (α + t))).
        """
        self._check_fitted("expected_repeat_purchases()")
        r, alpha, a, b = (self.params_[k] for k in self.param_names)
        t = np.asarray(t, dtype="float64")
        times = Unique(t.ravel())
        expected = times.take(expected_purchases(r, alpha, a, b + 1.0, times.values))
        return (b / (a + b) * expected).reshape(t.shape)[()]

    def predict_purchases(self, t: float, data) -> np.ndarray:
        """Expected purchases in the next ``t`` time units: P(alive) times the
        purchases of a customer alive at T, whose rate is then
        Gamma(r + x, α + T) and drop-out probability Beta(a, b + x + 1)
        (x + 1 coin flips survived)."""
        return super().predict_purchases(t, data)

    @staticmethod
    def _dropout_b(b: float, x: np.ndarray) -> np.ndarray:
        # x + 1 coin flips survived: the first purchase counts too
        return b + x + 1.0
