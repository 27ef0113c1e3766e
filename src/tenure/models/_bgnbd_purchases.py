"""Expected purchases under BG/NBD, finite and accurate for any parameters.

A customer alive now buys as a Poisson process with rate λ ~ Gamma(R, A)
and, after each purchase, drops out with probability p ~ Beta(a, B). Over
the next t they would buy N times if they stayed, N negative binomial with

    P(N = k) = (R)_k / k! · (1 - z)^R z^k,   z = t / (A + t),

and they make the (j + 1)-th of those purchases only if still there after
j, with chance q_j = E(1 - p)^j = (B)_j / (a + B)_j. So the expected
purchases are

    E[X] = E[Q_N],   Q_n = Σ_{j<n} q_j:

that is E[X(t)] of Fader, Hardie and Lee (2005, eq. 9) with (R, A, a, B) =
(r, α, a, b) and, per customer still alive at T after x purchases, their
eq. 10 with (r + x, α + T, a, b + x). Their closed form,

    (a + B - 1) / (a - 1) · (1 - (A / (A + t))^R 2F1(R, B; a + B - 1; z)),

is the same sum, but cancels to nothing as t → 0 or a → 1, and scipy's 2F1
is NaN or infinite for large parameters: a fit to one customer, or to
identical ones, sends a and b (and r and α) without bound.

The sum of positive terms needs no 2F1: log P(N = 0) = -R log1p(t / A), and
the ratios P(N = k + 1) / P(N = k) = (R + k) z / (k + 1) are finite for any
R and A. It takes about 35 / (1 - z) terms, so where t is more than about
30 A the same mean is integrated over p instead (``_by_dropout``).

The limit. As a, B → ∞ with a / (a + B) = p fixed, q_j → (1 - p)^j and,
given λ, E[X | λ] = Σ_j (1 - p)^j P(N > j) = (1 - E(1 - p)^N) / p =
(1 - e^(-λ p t)) / p, so

    E[X] → (1 - (A / (A + p t))^R) / p:

a BG/NBD in which every customer drops out after each purchase with the
same probability p. As R, A → ∞ too, with R / A = λ, E[X] → (1 - e^(-λ p t)) / p.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tenure.models._special import expit, exprel

_TOLERANCE = 4 * np.finfo(float).eps
# Terms of the series before a row is integrated over p instead: the
# integral costs about as much per row as a thousand terms.
_SERIES_TERMS = 1_000
# Below this log P(N = 0) (hundreds of purchases to expect) the probabilities
# underflow and the series is long: those rows are integrated over p.
_LOG_FIRST = -600.0


def expected_purchases(R: Any, A: Any, a: float, B: Any, t: Any) -> np.ndarray:
    """E[X] for each row of (R, A, B, t), broadcast and flattened; t ≥ 0.

    The series E[Q_N] stops once a bound on its rest is below the rounding.
    Past the mode of N the ratios of its probabilities stay below
    ρ = max(z, (R + k) z / (k + 1)) (they fall for R ≥ 1 and rise towards z
    for R < 1), and Q_{k+i} ≤ Q_k + i q_k, so the rest after term k is below
    P(N = k) (Q_k ρ / (1 - ρ) + q_k ρ / (1 - ρ)²). For a > 1 it is also
    Q_k P(N > k) plus at most P(N > k) Σ_{j≥k} q_j, and
    Σ_{j≥k} q_j = q_k (a + B - 1 + k) / (a - 1): where few customers have a
    small p the series stops long before N's distribution runs out.
    """
    R, A, B, t = (np.array(v, dtype="float64").ravel() for v in np.broadcast_arrays(R, A, B, t))
    if (t < 0).any():
        raise ValueError(f"t must be 0 or more; got {t.min()!r}.")
    out = np.zeros(R.size)
    v = t / A
    z = v / (1.0 + v)
    log_p0 = -R * np.log1p(v)  # log P(N = 0)
    rows = np.flatnonzero((z > 0) & (log_p0 >= _LOG_FIRST))  # z = 0: no time, no purchases
    later = [np.flatnonzero((z > 0) & (log_p0 < _LOG_FIRST))]
    pk, above = np.exp(log_p0[rows]), -np.expm1(log_p0[rows])  # P(N = k), P(N > k)
    Rz, zr, Br = R[rows] * z[rows], z[rows], B[rows]
    q, Q, total = np.ones(rows.size), np.zeros(rows.size), np.zeros(rows.size)
    k = 0
    while rows.size:
        if k >= _SERIES_TERMS:
            later.append(rows)
            break
        for _ in range(8):
            pk *= (Rz + k * zr) / (k + 1)
            Q += q
            q *= (Br + k) / (a + Br + k)
            k += 1
            total += pk * Q
            above -= pk
        np.maximum(above, 0.0, out=above)
        ratio = (Rz + k * zr) / (k + 1)
        rho = np.maximum(ratio, zr)
        with np.errstate(divide="ignore", invalid="ignore"):  # z rounded to 1
            rest = pk * (Q * rho / (1 - rho) + q * rho / (1 - rho) ** 2)
        done = (ratio < 1) & (rest <= _TOLERANCE * total)
        if a > 1:
            closed = total + Q * above
            by_q = ~done & (above * q * (a + Br - 1 + k) / (a - 1) <= _TOLERANCE * closed)
            total = np.where(by_q, closed, total)
            done |= by_q
        out[rows[done]] = total[done]
        keep = ~done
        rows, pk, above, q, Q, total, Rz, zr, Br = (
            w[keep] for w in (rows, pk, above, q, Q, total, Rz, zr, Br)
        )
    rows = np.concatenate(later)
    if rows.size:
        out[rows] = _by_dropout(R[rows], a, B[rows], v[rows])
    return out


def _given_dropout(R: np.ndarray, v: np.ndarray, p: np.ndarray) -> np.ndarray:
    """E[X | p] = (1 - (1 + p v)^-R) / p, v = t / A: R v where p v rounds to 0."""
    pv = p * v
    log_pv = np.log1p(pv)
    ratio = np.ones_like(pv)  # log1p(pv) / pv
    np.divide(log_pv, pv, out=ratio, where=pv > 0)
    return R * v * ratio * exprel(-R * log_pv)


def _by_dropout(R: np.ndarray, a: float, B: np.ndarray, v: np.ndarray) -> np.ndarray:
    """E[X] = E[E[X | p]] over p ~ Beta(a, B), by the trapezoid rule in u = logit p.

    In u the Beta density is e^(a u) (1 + e^u)^-(a + B) / B(a, B); it and
    E[X | p] are analytic and bounded for |Im u| < π/2 (there Re p > 0), so
    the trapezoid sum over the whole line with step h is off by about
    e^(-π² / h): h = 0.25, or 0.4 standard deviations of u where a + B is
    large. Nodes run to 40 standard deviations from the mean of u, or to
    where the terms are e^(a u) and e^(-B u) times constants to the
    rounding, and the sum beyond is geometric. Dividing by the same sum of
    the density leaves out B(a, B), whose logarithm scipy gives only to
    1e-9 for large B. About 400 nodes a row, whatever t / A.
    """
    # only rows far beyond the fitted time scales come here: SciPy, whose
    # import costs more than most scorings, is loaded for them alone
    from scipy.special import digamma, polygamma

    sd = np.sqrt(polygamma(1, a) + polygamma(1, B))  # of u
    mean = digamma(a) - digamma(B)
    log_tol = np.log(_TOLERANCE)
    lo = np.maximum(mean - 40 * sd, log_tol - np.log(a + B + (R + 1) * v))
    hi = np.minimum(mean + 40 * sd, np.log(a + B + R + 2) - log_tol)
    centre = np.clip(mean, lo, hi)
    n = int(np.ceil(((hi - lo) / np.minimum(0.25, 0.4 * sd)).max())) + 1
    out = np.empty(R.size)
    for rows in np.array_split(np.arange(R.size), max(1, R.size * n // 2**20)):
        h = (hi[rows] - lo[rows]) / (n - 1)
        c = centre[rows, None]
        d = (lo[rows] - centre[rows])[:, None] + h[:, None] * np.arange(n)  # u - c
        # log of the density at u over that at c, a d - (a + B) log((1 + e^u)
        # / (1 + e^c)), to the rounding of d however large a + B; that log is
        # log1p(expit(c) expm1(d)), or d + log1p(expit(-c) expm1(-d)) for
        # c > 0, so that log1p's argument stays above -1/2
        sign = np.where(c > 0, -1.0, 1.0)
        log_ratio = np.log1p(expit(sign * c) * np.expm1(np.minimum(sign * d, 700.0)))
        log_w = a * d - (a + B[rows, None]) * (log_ratio + (c > 0) * d)
        w = np.exp(log_w - log_w.max(axis=1, keepdims=True))
        given = _given_dropout(R[rows, None], v[rows, None], expit(c + d))
        # beyond each end the terms fall as e^(-a h i) and e^(-B h i), i ≥ 1
        left, right = (np.exp(-s * h) / -np.expm1(-s * h) for s in (a, B[rows]))
        ends = (w[:, 0] * left, w[:, -1] * right)
        mass = w.sum(axis=1) + ends[0] + ends[1]
        out[rows] = (
            (w * given).sum(axis=1) + ends[0] * given[:, 0] + ends[1] * given[:, -1]
        ) / mass
    return out
