"""The base of every likelihood model: maximum likelihood on weighted
sufficient statistics, standard errors from the Hessian, AIC and a summary.

A concrete model declares its parameter names, a start point and its
per-row log-likelihood; everything else is here. Parameters are positive and
optimised on the log scale (L-BFGS-B, then Newton steps with the Hessian
when the model has a gradient); the Hessian is taken on the natural scale,
so the standard errors are those of the published estimates.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from tenure.errors import ConfigError, ConvergenceError, InputError, NotFittedError

if TYPE_CHECKING:
    import pandas as pd

Z95 = 1.959963984540054


def _one_blas_thread() -> AbstractContextManager[Any]:
    """BLAS on one thread while fitting. The likelihoods sum with dot
    products of a few hundred thousand values, which OpenBLAS splits over
    every core: waking the other threads costs more than the product (a
    product of 40,000 values took 10 to 70 µs on one thread and 4 to 16 ms
    on two busy cores)."""
    try:  # a dependency of scikit-learn, so installed with tenure
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


class Unique:
    """A column as its distinct values and the index of each row's value:
    a function of the column is computed once per distinct value."""

    __slots__ = ("values", "index")

    def __init__(self, column: np.ndarray) -> None:
        self.values, self.index = np.unique(column, return_inverse=True)

    def take(self, per_value: np.ndarray) -> np.ndarray:
        return per_value[self.index]


class LikelihoodModel:
    """Base class; see the module docstring.

    Parameters
    ----------
    penalizer
        L2 penalty: ``penalizer`` × Σ params² is added to the mean negative
        log-likelihood per customer (lifetimes' ``penalizer_coef``), so it
        weighs the same on any number of customers. 0, the default, is the
        plain maximum-likelihood fit. ``log_likelihood_`` leaves the penalty
        out; the standard errors include it.
    """

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

    def _prepare(self, data: dict[str, np.ndarray], w: np.ndarray | None = None) -> dict[str, Any]:
        """The data as the log-likelihood reads them while fitting; a model
        may add what is the same at every step (unique values, sums of the
        weights ``w``, say)."""
        return data

    # A model may also declare ``_value_and_gradient(params, data, w)``: the
    # weighted log-likelihood sum and its gradient on the natural scale. With
    # it the fit and the Hessian need far fewer evaluations.
    _value_and_gradient: Any = None

    def _gradient(self, params: np.ndarray, data: dict[str, Any], w: np.ndarray) -> np.ndarray:
        return self._value_and_gradient(params, data, w)[1]

    # -- fitting -------------------------------------------------------------

    def _validate_hyper(self) -> None:
        p = self.penalizer
        if not isinstance(p, (int, float)) or isinstance(p, bool) or not np.isfinite(p) or p < 0:
            raise ConfigError(
                f"The 'penalizer' parameter of {type(self).__name__} must be a float in "
                f"[0, inf). Got {p!r} instead."
            )

    def _arrays(self, data: Any, weights: Any) -> tuple[dict[str, np.ndarray], np.ndarray]:
        # pandas is not imported for this test: data cannot be a frame unless
        # it was (rescoring a few customers does without it)
        pd = sys.modules.get("pandas")
        if pd is not None and isinstance(data, pd.DataFrame):
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

    def _penalty(self, params: np.ndarray, total: float) -> float:
        """The L2 penalty on the scale of the summed log-likelihood: the
        penalizer applies to the mean negative log-likelihood per customer (as
        in lifetimes), so the same value means the same on any number of
        customers."""
        return self.penalizer * total * float(np.dot(params, params))

    def _nll(self, params: np.ndarray, data: dict[str, Any], w: np.ndarray) -> float:
        """Negative log-likelihood summed with the weights, penalty included."""
        ll = self._loglik(params, data)
        value = -float(np.dot(w, ll)) + self._penalty(params, float(w.sum()))
        return value if np.isfinite(value) else 1e300

    def fit(self, data: Any, *, weights: Sequence[float] | None = None) -> LikelihoodModel:
        """Fit by maximum likelihood; ``weights`` counts identical rows."""
        self._validate_hyper()
        arrays, w = self._arrays(data, weights)
        total = float(w.sum())
        if total == 0:
            raise InputError("there are no customers to fit.", hint="Pass at least one row.")
        self._check_data(arrays)
        with _one_blas_thread(), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            prepared = self._prepare(arrays, w)
            best, last = self._optimise(prepared, w, total)
            params = np.exp(best.x)
            if not np.isfinite(best.fun) or best.fun >= 1e299 / total:
                raise ConvergenceError(
                    f"{type(self).__name__} did not converge: the likelihood is not finite "
                    f"anywhere the optimiser looked ({best.message}).",
                    hint="1. Check that customers have repeat purchases and that T ≥ t_x. "
                    "2. Try penalizer=0.001. "
                    "3. Fit in weeks (time_unit='week') when T is in the thousands of days.",
                )
            if self._value_and_gradient is not None:
                at = last if last is not None and np.array_equal(last[0], params) else None
                params, ll, hess = self._newton(params, prepared, w, total, at)
            else:
                ll = float(np.dot(w, self._loglik(params, prepared)))
                hess = self._hessian(params, prepared, w)
            hess = hess + 2 * self.penalizer * total * np.eye(len(params))
        self.params_ = dict(zip(self.param_names, params.tolist(), strict=True))
        self.log_likelihood_ = ll  # without the penalty
        self.n_customers_ = int(round(total))
        self.aic_ = 2 * len(params) - 2 * self.log_likelihood_
        self.std_errors_ = self._std_errors(hess)
        self.converged_ = bool(best.success)
        self.iterations_ = int(best.nit)
        return self

    def _optimise(self, data: dict[str, Any], w: np.ndarray, total: float) -> tuple[Any, Any]:
        """L-BFGS-B on the log of the parameters, minimising the penalised
        mean negative log-likelihood; the result and the last evaluation
        (parameters, log-likelihood, gradient) when the model has a gradient."""
        # the optimiser may step far out; past e^700 a parameter is infinite
        natural = lambda lp: np.exp(np.clip(lp, -700.0, 700.0))  # noqa: E731
        last: list[Any] = [None]

        def objective(log_params: np.ndarray) -> float:
            return self._nll(natural(log_params), data, w) / total

        def objective_and_gradient(log_params: np.ndarray) -> tuple[float, np.ndarray]:
            params = natural(log_params)
            ll, g = self._value_and_gradient(params, data, w)
            value = -ll + self._penalty(params, total)
            if not np.isfinite(value):
                return 1e300 / total, np.zeros_like(params)
            last[0] = (params, ll, g)
            g = (-g + 2 * self.penalizer * total * params) * params / total
            return value / total, np.nan_to_num(g, nan=0.0, posinf=1e10, neginf=-1e10)

        # imported to fit only: scoring with a kept fit (after every ingest) needs none of it
        from scipy import optimize

        with_gradient = self._value_and_gradient is not None
        fun = objective_and_gradient if with_gradient else objective
        best = None
        # the second start is tried only when the first does not converge
        for start in (np.log(self.start), np.zeros(len(self.start))):
            result = optimize.minimize(fun, start, jac=with_gradient, method="L-BFGS-B")
            if best is None or result.fun < best.fun:
                best = result
            if best.success and np.isfinite(best.fun) and best.fun < 1e299:
                break
        return best, last[0]

    def _newton(
        self, params: np.ndarray, data: dict[str, Any], w: np.ndarray, total: float, at: Any
    ) -> tuple[np.ndarray, float, np.ndarray]:
        """Newton steps from the optimiser's estimates with the Hessian that
        the standard errors need anyway; the estimates, their log-likelihood
        and the Hessian of the negative log-likelihood there (to a relative
        1e-4 in the parameters).

        L-BFGS-B stops once the likelihood barely moves, which leaves a flat
        parameter short of the maximum (Pareto/NBD's β on CDNOW: 11.660, for
        the published 11.669, a change of 1e-6 in the log-likelihood); from
        there a Newton step reaches the maximum to the precision of the
        gradient, at the cost of one evaluation."""
        k = len(params)
        pen = 2 * self.penalizer * total
        ll, g = at[1:] if at is not None else self._value_and_gradient(params, data, w)
        value, grad = -ll + self._penalty(params, total), -g + pen * params
        hess = self._hessian(params, data, w)
        for _ in range(4):
            h = hess + pen * np.eye(k)
            if not np.isfinite(h).all() or not np.isfinite(grad).all():
                break
            try:
                np.linalg.cholesky(h)  # a maximum: the Hessian is positive definite
                step = np.linalg.solve(h, grad)
            except np.linalg.LinAlgError:
                break
            new = params - step
            if not (np.isfinite(new).all() and (new > 0).all()):
                break
            ll_new, g_new = self._value_and_gradient(new, data, w)
            value_new = -ll_new + self._penalty(new, total)
            # near the maximum both values are equal to their rounding
            if not value_new <= value + 1e-12 * abs(value):
                break
            params, ll, value, grad = new, ll_new, value_new, -g_new + pen * new
            if np.max(np.abs(step) / params) < 1e-4:
                break
            hess = self._hessian(params, data, w)
        return params, float(ll), hess

    def _hessian(self, params: np.ndarray, data: dict[str, Any], w: np.ndarray) -> np.ndarray:
        """Of the negative log-likelihood, by central differences on the
        natural scale: of the gradient when the model has one."""
        k = len(params)
        h = 1e-4 * np.maximum(np.abs(params), 1e-3)
        hess = np.empty((k, k))
        if self._value_and_gradient is not None:
            for i in range(k):
                e = np.eye(k)[i] * h[i]
                up, down = self._gradient(params + e, data, w), self._gradient(params - e, data, w)
                hess[i] = -(up - down) / (2 * h[i])
            return (hess + hess.T) / 2
        f = lambda p: -float(np.dot(w, self._loglik(p, data)))  # noqa: E731
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
        return hess

    def _std_errors(self, hess: np.ndarray) -> dict:
        """From the inverse of the Hessian of the negative log-likelihood
        (penalty included) on the natural scale. NaN only when the Hessian
        is singular or not positive definite: the likelihood is flat there."""
        k = len(hess)
        try:
            cov = np.linalg.inv(hess)
            diag = np.diag(cov)
            se = np.where(diag > 0, np.sqrt(np.abs(diag)), np.nan)
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
        import pandas as pd

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
