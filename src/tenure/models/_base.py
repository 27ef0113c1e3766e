"""The base of every likelihood model: maximum likelihood on weighted
sufficient statistics, standard errors from the Hessian, AIC and a summary.

A concrete model declares its parameter names, a start point and its
per-row log-likelihood; everything else is here. Parameters are positive and
optimised on the log scale; the Hessian is taken on the natural scale, so
the standard errors are those of the published estimates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import optimize

from tenure.errors import ConfigError, ConvergenceError, InputError, NotFittedError

Z95 = 1.959963984540054


class LikelihoodModel:
    """Base class; see the module docstring."""

    param_names: ClassVar[tuple[str, ...]] = ()
    columns: ClassVar[tuple[str, ...]] = ()
    start: ClassVar[tuple[float, ...]] = ()

    def __init__(self, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    # -- what a model declares ----------------------------------------------

    def _loglik(self, params: np.ndarray, data: dict[str, np.ndarray]) -> np.ndarray:
        """Log-likelihood of each row at ``params`` (natural scale)."""
        raise NotImplementedError

    def _check_data(self, data: dict[str, np.ndarray]) -> None:
        """Raise InputError when the data break the model's rules."""

    # -- fitting -------------------------------------------------------------

    def _validate_hyper(self) -> None:
        p = self.penalizer
        if not isinstance(p, (int, float)) or isinstance(p, bool) or not np.isfinite(p) or p < 0:
            raise ConfigError(
                f"The 'penalizer' parameter of {type(self).__name__} must be a float in "
                f"[0, inf). Got {p!r} instead."
            )

    def _arrays(self, data: Any, weights: Any) -> tuple[dict[str, np.ndarray], np.ndarray]:
        if isinstance(data, pd.DataFrame):
            missing = [c for c in self.columns if c not in data.columns]
            if missing:
                raise InputError(
                    f"the data have no column {', '.join(missing)}; they have "
                    f"{', '.join(map(str, data.columns))}.",
                    hint=f"{type(self).__name__} needs the columns {', '.join(self.columns)}.",
                )
            arrays = {c: data[c].to_numpy(dtype="float64") for c in self.columns}
        else:
            arrays = {c: np.asarray(data[c], dtype="float64") for c in self.columns}
        n = len(next(iter(arrays.values())))
        w = np.ones(n) if weights is None else np.asarray(weights, dtype="float64")
        if w.shape != (n,) or (w < 0).any() or not np.isfinite(w).all():
            raise InputError("weights must be one finite number of 0 or more per row.")
        for c, v in arrays.items():
            if not np.isfinite(v).all():
                raise InputError(
                    f"column {c!r} has missing or infinite values.",
                    column=c,
                    hint="Drop customers without a purchase (x is empty for them).",
                )
        keep = w > 0
        return {c: v[keep] for c, v in arrays.items()}, w[keep]

    def _nll(self, params: np.ndarray, data: dict[str, np.ndarray], w: np.ndarray) -> float:
        ll = self._loglik(params, data)
        value = -float(np.dot(w, ll)) + self.penalizer * float(np.dot(params, params))
        return value if np.isfinite(value) else 1e300

    def fit(self, data: Any, *, weights: Sequence[float] | None = None) -> LikelihoodModel:
        """Fit by maximum likelihood; ``weights`` counts identical rows."""
        self._validate_hyper()
        arrays, w = self._arrays(data, weights)
        if w.sum() == 0:
            raise InputError("there are no customers to fit.", hint="Pass at least one row.")
        self._check_data(arrays)

        def objective(log_params: np.ndarray) -> float:
            return self._nll(np.exp(log_params), arrays, w) / w.sum()

        best = None
        for start in (np.log(self.start), np.zeros(len(self.start))):
            result = optimize.minimize(objective, start, method="L-BFGS-B")
            if best is None or result.fun < best.fun:
                best = result
        params = np.exp(best.x)
        if not best.success and not np.isfinite(best.fun):
            raise ConvergenceError(
                f"{type(self).__name__} did not converge: {best.message}",
                hint="1. Check that customers have repeat purchases. 2. Try penalizer=0.001. "
                "3. Fit in weeks (time_unit='week') when T is in the thousands of days.",
            )
        self.params_ = dict(zip(self.param_names, params.tolist(), strict=True))
        self.log_likelihood_ = -self._nll(params, arrays, w) + self.penalizer * float(
            np.dot(params, params)
        )
        self.n_customers_ = int(round(w.sum()))
        self.aic_ = 2 * len(params) - 2 * self.log_likelihood_
        self.std_errors_ = self._std_errors(params, arrays, w)
        self.converged_ = bool(best.success)
        return self

    def _std_errors(self, params: np.ndarray, data: dict[str, np.ndarray], w: np.ndarray) -> dict:
        """From the inverse of the Hessian of the negative log-likelihood, by
        central differences on the natural scale."""
        k = len(params)
        h = 1e-4 * np.maximum(np.abs(params), 1e-3)
        f = lambda p: self._nll(p, data, w)  # noqa: E731
        hess = np.empty((k, k))
        for i in range(k):
            for j in range(i, k):
                ei, ej = np.eye(k)[i] * h[i], np.eye(k)[j] * h[j]
                value = (
                    f(params + ei + ej)
                    - f(params + ei - ej)
                    - f(params - ei + ej)
                    + f(params - ei - ej)
                ) / (4 * h[i] * h[j])
                hess[i, j] = hess[j, i] = value
        try:
            cov = np.linalg.inv(hess)
            se = np.sqrt(np.diag(cov))
        except np.linalg.LinAlgError:
            se = np.full(k, np.nan)
        return dict(zip(self.param_names, se.tolist(), strict=True))

    # -- reading a fit -------------------------------------------------------

    def _check_fitted(self, call: str = "predict") -> None:
        if not hasattr(self, "params_"):
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet; call fit(data) before {call}."
            )

    def summary(self) -> pd.DataFrame:
        """Estimates with standard errors and 95 % intervals."""
        self._check_fitted("summary()")
        rows = []
        for name in self.param_names:
            est, se = self.params_[name], self.std_errors_[name]
            rows.append((name, est, se, est - Z95 * se, est + Z95 * se))
        frame = pd.DataFrame(
            rows, columns=["param", "estimate", "std_error", "lower_95", "upper_95"]
        )
        frame.attrs.update(
            log_likelihood=self.log_likelihood_, aic=self.aic_, n_customers=self.n_customers_
        )
        return frame.set_index("param")

    def __repr__(self) -> str:
        if not hasattr(self, "params_"):
            return f"{type(self).__name__}(penalizer={self.penalizer})"
        inner = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        return f"<{type(self).__name__} fitted on {self.n_customers_:,} customers: {inner}>"
