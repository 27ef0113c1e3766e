"""What the purchase and spend models predict of each distinct tuple: a
customer's purchase predictions depend only on (x, t_x, T), the expected
spend only on (x, m). :func:`tenure.predictions.scoring.score`, the scores
made inside the store and the rescoring after an ingest all call these
functions, so that each customer's numbers are the same by every path.

Only NumPy and the models are imported here (no pandas, no engine): an
ingest that rescores a few customers starts in a fraction of the time.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np

from tenure.errors import ConfigError
from tenure.models import DAYS_PER_YEAR, TIME_UNITS

if TYPE_CHECKING:
    from tenure.models import PurchaseModel
    from tenure.models.spend import GammaGamma


def purchase_models() -> dict[str, type[PurchaseModel]]:
    """The purchase models by the names the commands take."""
    return {name: purchase_model(name) for name in PURCHASE_MODELS}


# where each purchase model lives: importing one needs not import the others
PURCHASE_MODELS = {
    "bgnbd": ("tenure.models.btyd", "BetaGeo"),
    "mbgnbd": ("tenure.models.mbgnbd", "ModifiedBetaGeo"),
    "paretonbd": ("tenure.models.btyd", "ParetoNBD"),
}


def purchase_model(name: str) -> type[PurchaseModel]:
    """The purchase model ``name`` (a key of :data:`PURCHASE_MODELS`)."""
    import importlib

    module, cls = PURCHASE_MODELS[name]
    return getattr(importlib.import_module(module), cls)


def check_time_unit(time_unit: str) -> float:
    if time_unit not in TIME_UNITS:
        raise ConfigError(
            f"the time unit {time_unit!r} is not known.", hint="Use --time-unit day or week."
        )
    return TIME_UNITS[time_unit]


def triple_predictions(
    purchase_model: PurchaseModel,
    u: Any,
    *,
    horizon_days: int,
    discount_rate: float,
    as_of: date,
) -> dict[str, np.ndarray]:
    """The purchase predictions of distinct (x, t_x, T) ``u``, one per row:
    P(alive), expected purchases over the horizon, the same discounted
    (CLV's, at ``discount_rate`` a year) and the next purchase date (NaT
    when unknown). Every customer sharing a triple shares them."""
    unit = check_time_unit(getattr(purchase_model, "time_unit_", "day"))
    horizon = horizon_days / unit
    per_year = DAYS_PER_YEAR / unit
    wait = purchase_model.predict_next_purchase(u)
    # the median wait to the next purchase, if still alive, from the as-of day
    days = np.round(wait * unit)
    known = np.isfinite(days) & (days < 36500)
    dates = np.datetime64(as_of, "D") + np.where(known, days, 0).astype("timedelta64[D]")
    # predict_alive, predict_purchases and predict_discounted_purchases, from
    # one preparation of the rows instead of one per step of the horizon
    alive, purchases, discounted = purchase_model._over_horizon(
        u, horizon, discount_rate=discount_rate, periods_per_year=per_year
    )
    return {
        "p_alive": alive,
        "expected_purchases": purchases,
        "discounted": discounted,
        "next_purchase_date": np.where(known, dates, np.datetime64("NaT")),
    }


def spend_predictions(spend_model: GammaGamma, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Expected spend per purchase for each (x, m); m is null (NaN) without
    a repeat purchase, and a repeat-day average below 0 counts as 0."""
    m = np.where(np.isnan(m), 0.0, m)
    return spend_model.predict_spend({"x": x, "m": np.maximum(m, 0.0)})
