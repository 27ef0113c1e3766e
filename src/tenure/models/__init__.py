"""Models that predict: buy-till-you-die models on sufficient statistics,
the sBG model of subscriptions, the churn classifier and survival curves.

Each follows the scikit-learn contract: the constructor stores
hyper-parameters, ``fit`` returns the model, learned state ends in ``_``.

>>> from tenure.models import BetaGeo
>>> BetaGeo().fit(summary, weights=counts).summary()         # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "BetaGeo",
    "ModifiedBetaGeo",
    "ParetoNBD",
    "GammaGamma",
    "ShiftedBetaGeometric",
    "ChurnClassifier",
    "kaplan_meier",
    "cox_hazards",
    # for the layers above, which build on every model alike
    "LikelihoodModel",
    "PurchaseModel",
    "Z95",
    "DAYS_PER_YEAR",
    "TIME_UNITS",
]

# imported on first use: the churn classifier and survival curves pull in
# scikit-learn and lifelines
_LAZY = {
    "BetaGeo": "tenure.models.btyd",
    "ModifiedBetaGeo": "tenure.models.mbgnbd",
    "ParetoNBD": "tenure.models.btyd",
    "GammaGamma": "tenure.models.spend",
    "ShiftedBetaGeometric": "tenure.models.contractual",
    "ChurnClassifier": "tenure.models.churn",
    "kaplan_meier": "tenure.models.survival",
    "cox_hazards": "tenure.models.survival",
    "LikelihoodModel": "tenure.models._base",
    "PurchaseModel": "tenure.models._transactions",
    "Z95": "tenure.models._base",
    "DAYS_PER_YEAR": "tenure.models._transactions",
    "TIME_UNITS": "tenure.models._transactions",
}

if TYPE_CHECKING:  # pragma: no cover
    from tenure.models._base import Z95, LikelihoodModel
    from tenure.models._transactions import DAYS_PER_YEAR, TIME_UNITS, PurchaseModel
    from tenure.models.btyd import BetaGeo, ParetoNBD
    from tenure.models.churn import ChurnClassifier
    from tenure.models.contractual import ShiftedBetaGeometric
    from tenure.models.mbgnbd import ModifiedBetaGeo
    from tenure.models.spend import GammaGamma
    from tenure.models.survival import cox_hazards, kaplan_meier


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tenure.models' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
