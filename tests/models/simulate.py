"""Customers drawn from the models' own stories, with known parameters.

Each simulator follows the model's assumptions step by step (not its
likelihood), vectorised over customers: the tests fit the engine to these
draws and check that it finds the truth again. Times are in any one unit;
``T`` is one number or one per customer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def bg_nbd(
    n: int, r: float, alpha: float, a: float, b: float, T, rng: np.random.Generator
) -> pd.DataFrame:
    """BG/NBD: repeat purchases are a Poisson process with rate
    λ ~ Gamma(r, rate α) from the first purchase at 0; after each repeat
    purchase the customer drops out for good with probability
    p ~ Beta(a, b).

    The dropout comes after purchase J ~ Geometric(p), so of the
    N ~ Poisson(λ T) arrivals in (0, T) the customer makes the first
    x = min(N, J); given N the arrival times are N uniform draws on (0, T),
    and the x-th smallest is T · Beta(x, N - x + 1).
    """
    T = np.broadcast_to(np.asarray(T, dtype="float64"), (n,))
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    arrivals = rng.poisson(lam * T)
    x = np.minimum(arrivals, rng.geometric(p))
    t_x = np.where(x > 0, T * rng.beta(np.maximum(x, 1), arrivals - x + 1), 0.0)
    return pd.DataFrame({"x": x.astype("float64"), "t_x": t_x, "T": T})


def mbg_nbd(
    n: int, r: float, alpha: float, a: float, b: float, T, rng: np.random.Generator
) -> pd.DataFrame:
    """MBG/NBD: as BG/NBD, but the customer may drop out right after the
    first purchase too: the dropout comes after repeat purchase
    J ~ Geometric(p) - 1 on {0, 1, ...}."""
    T = np.broadcast_to(np.asarray(T, dtype="float64"), (n,))
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    arrivals = rng.poisson(lam * T)
    x = np.minimum(arrivals, rng.geometric(p) - 1)
    t_x = np.where(x > 0, T * rng.beta(np.maximum(x, 1), arrivals - x + 1), 0.0)
    return pd.DataFrame({"x": x.astype("float64"), "t_x": t_x, "T": T})


def pareto_nbd(
    n: int, r: float, alpha: float, s: float, beta: float, T, rng: np.random.Generator
) -> pd.DataFrame:
    """Pareto/NBD: purchases are a Poisson process with rate
    λ ~ Gamma(r, rate α) while the customer is alive; the lifetime is
    exponential with rate μ ~ Gamma(s, rate β).

    Observed for L = min(lifetime, T), the customer makes x ~ Poisson(λ L)
    repeat purchases, uniform on (0, L), the last at L · Beta(x, 1).
    """
    T = np.broadcast_to(np.asarray(T, dtype="float64"), (n,))
    lam = rng.gamma(r, 1.0 / alpha, n)
    mu = rng.gamma(s, 1.0 / beta, n)
    observed = np.minimum(rng.exponential(1.0 / mu), T)
    x = rng.poisson(lam * observed)
    t_x = np.where(x > 0, observed * rng.beta(np.maximum(x, 1), 1.0), 0.0)
    return pd.DataFrame({"x": x.astype("float64"), "t_x": t_x, "T": T})


def gamma_gamma(
    x: np.ndarray, p: float, q: float, gamma: float, rng: np.random.Generator
) -> np.ndarray:
    """Gamma-Gamma: the average m of each customer's x transaction values,
    each value ~ Gamma(p, rate ν) with the customer's ν ~ Gamma(q, rate γ).

    The sum of x such values is Gamma(p x, rate ν), so m is drawn in one go.
    """
    x = np.asarray(x, dtype="float64")
    nu = rng.gamma(q, 1.0 / gamma, len(x))
    return rng.gamma(p * x, 1.0 / nu) / x


def sbg(n: int, alpha: float, beta: float, periods, rng: np.random.Generator) -> pd.DataFrame:
    """sBG: each subscriber cancels at the end of each period with their own
    probability θ ~ Beta(α, β), so they cancel in period t ~ Geometric(θ).

    Observed for ``periods`` (one number or one per subscriber): ``t`` the
    period they cancelled in, or the periods survived, and ``churned``.
    """
    periods = np.broadcast_to(np.asarray(periods, dtype="float64"), (n,))
    cancel = rng.geometric(rng.beta(alpha, beta, n)).astype("float64")
    churned = cancel <= periods
    return pd.DataFrame(
        {"t": np.where(churned, cancel, periods), "churned": churned.astype("float64")}
    )


def whole_units(data: pd.DataFrame) -> pd.DataFrame:
    """(x, t_x, T) with the times rounded up to whole units, as a summary in
    whole days reports them (t_x at most T), so customers repeat."""
    T = np.ceil(data["T"])
    t_x = np.minimum(np.ceil(data["t_x"]), T)
    return data.assign(T=T, t_x=np.where(data["x"] > 0, t_x, 0.0))


def distinct(data: pd.DataFrame, columns: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """The distinct rows of ``columns`` and how many customers each stands for."""
    counted = data.groupby(columns, as_index=False).size()
    return counted[columns], counted["size"].to_numpy(dtype="float64")
