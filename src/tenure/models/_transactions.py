"""What every buy-till-you-die model of repeat purchasing predicts alike.

BG/NBD and Pareto/NBD share the purchase process: while alive a customer
buys as a Poisson process with rate λ, and λ ~ Gamma(r, α) across
customers. Given the data (x, t_x, T) and that the customer is still
alive, λ is Gamma(r + x, α + T), so the time to the next purchase has a
closed form. Customer lifetime value needs only the expected purchases over
time, which each model supplies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from tenure.errors import InputError
from tenure.models._base import LikelihoodModel

DAYS_PER_YEAR = 365.25
# the time units the models can count in, in days
TIME_UNITS = {"day": 1.0, "week": 7.0}


class PurchaseModel(LikelihoodModel):
    """A model of repeat purchases on (x, t_x, T); see the module docstring.

    A concrete model adds ``predict_alive(data)``, ``predict_purchases(t,
    data)`` and ``_purchases_if_alive(data)``, the purchases of each row
    were it alive at T as a function of a single t: what does not depend
    on t (the rows' distinct values, say) is worked out once, however many
    times are asked.
    """

    columns = ("x", "t_x", "T")
    # whether P(alive) tells one-time buyers (x = 0) apart; BG/NBD's does not
    tells_one_time_buyers: ClassVar[bool] = True

    def _check_data(self, d: dict[str, np.ndarray]) -> None:
        """The rules every repeat-purchase model puts on (x, t_x, T)."""
        x, t_x, T = d["x"], d["t_x"], d["T"]
        if (x < 0).any() or (np.floor(x) != x).any():
            raise InputError("x must be a whole number of repeat purchases, 0 or more.", column="x")
        if (t_x < 0).any() or (T < t_x).any():
            raise InputError("every row needs T ≥ t_x ≥ 0.", column="T")
        if (t_x[x == 0] != 0).any():
            raise InputError("a customer with x = 0 must have t_x = 0.", column="t_x")
        if not (x > 0).any():
            raise InputError(
                "no customer has a repeat purchase (x is 0 everywhere).",
                hint=f"{type(self).__name__} learns from repeat purchases: wait for more data, "
                "or check that x counts repeat purchase days.",
            )

    def _get(self, data: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return tuple(np.asarray(data[c], dtype="float64") for c in self.columns)  # type: ignore[return-value]

    def predict_alive(self, data: Any) -> np.ndarray:
        raise NotImplementedError

    def predict_purchases(self, t: float, data: Any) -> np.ndarray:
        raise NotImplementedError

    def _purchases_if_alive(self, data: Any) -> Callable[[float], np.ndarray]:
        raise NotImplementedError

    def predict_next_purchase(self, data: Any, *, quantile: float = 0.5) -> np.ndarray:
        """Time from T until the next purchase, at the given quantile (the
        median by default), for a customer who is still alive.

        Alive, the customer's rate is Gamma(r + x, α + T), so
        P(no purchase in t) = ((α + T) / (α + T + t))^(r + x) and the
        quantile q is (α + T) · ((1 - q)^(-1 / (r + x)) - 1). Weigh it with
        :meth:`predict_alive`: a customer who has likely left has no next
        purchase.
        """
        self._check_fitted("predict_next_purchase()")
        if not 0 < quantile < 1:
            raise ValueError(f"quantile must be in (0, 1); got {quantile!r}.")
        r, alpha = self.params_["r"], self.params_["alpha"]
        x, _, T = self._get(data)
        return (alpha + T) * np.expm1(-np.log1p(-quantile) / (r + x))

    def predict_discounted_purchases(
        self,
        data: Any,
        horizon: float,
        *,
        discount_rate: float = 0.0,
        periods_per_year: float = DAYS_PER_YEAR,
        steps: int | None = None,
    ) -> np.ndarray:
        """Expected purchases over ``horizon`` time units, each discounted to
        today at ``discount_rate`` a year.

        The horizon is cut into ``steps`` equal parts (about one a month by
        default); purchases expected in part k are discounted by
        (1 + discount_rate)^(-t_k / periods_per_year), t_k its end, as
        lifetimes' ``customer_lifetime_value`` does month by month.
        ``periods_per_year`` is 365.25 for a model fitted in days and
        365.25 / 7 in weeks.
        """
        return self._over_horizon(
            data, horizon, discount_rate=discount_rate, periods_per_year=periods_per_year,
            steps=steps,
        )[2]  # fmt: skip

    def _over_horizon(
        self,
        data: Any,
        horizon: float,
        *,
        discount_rate: float,
        periods_per_year: float,
        steps: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """P(alive), the expected purchases over ``horizon`` and the same
        discounted (:meth:`predict_discounted_purchases`), each row's equal
        to what the public methods give, from one preparation of the rows.

        Each step of the horizon is :meth:`predict_purchases` at its end,
        P(alive) times the purchases if alive: P(alive) and the preparation
        of the rows (BG/NBD's distinct (x, T)) are the same at every step,
        and worked out once here rather than at each of the 13 steps of a
        year in days. The last step ends at the horizon itself, so its
        purchases are the undiscounted total.
        """
        self._check_fitted("predict_discounted_purchases()")
        if horizon <= 0:
            raise ValueError(f"the horizon must be more than 0; got {horizon!r}.")
        if discount_rate < 0:
            raise ValueError(f"the discount rate must be 0 or more; got {discount_rate!r}.")
        if steps is None:
            steps = max(1, int(round(horizon / (periods_per_year / 12))))
        alive = self.predict_alive(data)
        if_alive = self._purchases_if_alive(data)
        if discount_rate == 0:
            purchases = if_alive(horizon) * alive
            return alive, purchases, purchases
        # linspace ends exactly at the horizon
        ends = np.linspace(0.0, horizon, steps + 1)[1:]
        total = np.zeros(len(np.atleast_1d(self._get(data)[0])))
        previous = 0.0
        for t_k in ends:
            cumulative = if_alive(t_k) * alive
            total += (cumulative - previous) / (1 + discount_rate) ** (t_k / periods_per_year)
            previous = cumulative
        return alive, cumulative, total

    def predict_clv(
        self,
        data: Any,
        spend: Any,
        horizon: float,
        *,
        discount_rate: float = 0.0,
        margin: float = 1.0,
        periods_per_year: float = DAYS_PER_YEAR,
        steps: int | None = None,
    ) -> np.ndarray:
        """Predicted customer lifetime value over ``horizon`` time units:
        discounted expected purchases × expected spend per purchase × margin.

        ``spend`` is one value per customer, usually
        ``GammaGamma.predict_spend``; where it is NaN (no estimate) so is
        the value.
        """
        self._check_fitted("predict_clv()")
        if not 0 < margin <= 1:
            raise ValueError(f"the margin must be in (0, 1]; got {margin!r}.")
        purchases = self.predict_discounted_purchases(
            data,
            horizon,
            discount_rate=discount_rate,
            periods_per_year=periods_per_year,
            steps=steps,
        )
        return purchases * np.asarray(spend, dtype="float64") * margin
