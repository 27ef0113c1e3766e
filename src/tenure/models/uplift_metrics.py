"""How well an uplift model ranks customers: the Qini and uplift curves,
their areas against random targeting, and the uplift in the top k %.

An uplift cannot be seen for one customer (each is either messaged or not),
so a ranking is judged on a randomised held-out sample: the customers are
sorted by predicted uplift, largest first, and for the top n of them

* N_t(n), N_c(n): treated and control customers among them,
* Y_t(n), Y_c(n): the sums of the outcome of each.

**Qini curve** (Radcliffe 2007, "Using control groups to target on
predicted lift", *Direct Marketing Analytics Journal* 1): the extra
outcomes the top n brought, the control's rate scaled to the treated count,

    Q(n) = Y_t(n) − Y_c(n) · N_t(n) / N_c(n)      (0 while N_c(n) = 0).

**Uplift curve** (Rzepakowski and Jaroszewicz 2012; Gutierrez and Gérardy
2017, "Causal inference and uplift modelling: a review of the literature",
*PMLR* 67): the difference of the two arms' means, times the customers,

    U(n) = (Y_t(n) / N_t(n) − Y_c(n) / N_c(n)) · n   (a mean over nobody is 0).

Customers with the same predicted uplift are taken together (the curve
moves from one distinct score to the next), so a ranking with ties is not
judged by an arbitrary order.

**Random targeting** is the straight line from (0, 0) to (N, curve(N)):
targeting a random n of N brings n / N of the whole campaign's effect.

**Qini coefficient** and **AUUC**, normalised as Radcliffe does: the area
between the model's curve and the random line, divided by the same area
for the *perfect* curve,

    q = (A_model − A_random) / (A_perfect − A_random),

A the area under a curve by the trapezoid rule over n = 0 … N. The perfect
Qini ranking of a sample puts first the treated who responded, then
everyone else, and last the controls who responded (it ranks by
Y·T − Y·(1 − T)): no model can do better on that sample. The perfect
uplift ranking (for a binary outcome) puts the treated responders and the
control non-responders first: it ranks by 2·[Y = T] + Y when the control
responders outnumber the treated non-responders, else by 2·[Y = T] + T.
q = 0 is random targeting, 1 the perfect ranking, below 0 worse than
random. These are the definitions of
scikit-uplift's ``qini_auc_score`` and ``uplift_auc_score`` (with
``negative_effect=True``); tenure's tests check both against a hand-worked
example and against scikit-uplift when it is installed.

Because binary outcomes are noisy, even the true τ(x) reaches q well below
1: read q against its random band (the 2.5 % and 97.5 % quantiles of q
over random rankings of the same customers, :func:`random_band`), and
beside the uplift in the top k %.

**Uplift at the top k %**: among the ⌊k·N⌋ customers ranked first (at least one), the
treated's mean outcome minus the control's (scikit-uplift's
``uplift_at_k(strategy="overall")``). Against it, the uplift over everyone
(k = 100 %) is what random targeting gets per customer.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def _sorted(y: Any, treatment: Any, score: Any) -> tuple[np.ndarray, ...]:
    y = np.asarray(y, dtype="float64")
    t = np.asarray(treatment).astype(bool)
    s = np.asarray(score, dtype="float64")
    if not (len(y) == len(t) == len(s)):
        raise ValueError("y, treatment and score must have the same length")
    # stable, descending: mergesort of the reversed order
    order = np.argsort(s, kind="mergesort")[::-1]
    return y[order], t[order], s[order]


def _cumulative(y: Any, treatment: Any, score: Any) -> tuple[np.ndarray, ...]:
    """n, N_t, N_c, Y_t, Y_c at each distinct score, from (0, 0, 0, 0, 0)."""
    ys, ts, ss = _sorted(y, treatment, score)
    ends = np.r_[np.flatnonzero(np.diff(ss)), len(ss) - 1] if len(ss) else np.array([], int)
    n = ends + 1.0
    nt = np.cumsum(ts)[ends].astype("float64")
    yt = np.cumsum(np.where(ts, ys, 0.0))[ends]
    yc = np.cumsum(np.where(ts, 0.0, ys))[ends]
    zero = np.zeros(1)
    return (np.r_[zero, n], np.r_[zero, nt], np.r_[zero, n - nt], np.r_[zero, yt],
            np.r_[zero, yc])  # fmt: skip


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.divide(a, b, out=np.zeros_like(a), where=b != 0)


def qini_curve(y: Any, treatment: Any, score: Any) -> tuple[np.ndarray, np.ndarray]:
    """(n, Q(n)) at n = 0 and at each distinct score; see the module docstring."""
    n, nt, nc, yt, yc = _cumulative(y, treatment, score)
    return n, yt - yc * _ratio(nt, nc)


def uplift_curve(y: Any, treatment: Any, score: Any) -> tuple[np.ndarray, np.ndarray]:
    """(n, U(n)) at n = 0 and at each distinct score; see the module docstring."""
    n, nt, nc, yt, yc = _cumulative(y, treatment, score)
    return n, (_ratio(yt, nt) - _ratio(yc, nc)) * n


def _perfect_qini(y: Any, treatment: Any) -> np.ndarray:
    y = np.asarray(y, dtype="float64")
    t = np.asarray(treatment).astype(bool)
    return np.where(t, y, -y)


def _perfect_uplift(y: Any, treatment: Any) -> np.ndarray:
    y = np.asarray(y, dtype="float64")
    t = np.asarray(treatment).astype(bool)
    if not np.isin(y, (0.0, 1.0)).all():
        # outcomes that are not 0/1 (orders, revenue): the Qini's ordering
        return _perfect_qini(y, t)
    control_responders = np.sum((y == 1) & ~t)
    treated_non = np.sum((y == 0) & t)
    return 2.0 * (y == t) + (y if control_responders > treated_non else t)


def _area(x: np.ndarray, v: np.ndarray) -> float:
    return float(np.sum((x[1:] - x[:-1]) * (v[1:] + v[:-1]) / 2.0))


def _normalised(curve: Any, perfect: Any, y: Any, treatment: Any, score: Any) -> float:
    x, v = curve(y, treatment, score)
    xp, vp = curve(y, treatment, perfect(y, treatment))
    random = _area(np.array([0.0, xp[-1]]), np.array([0.0, vp[-1]]))
    best = _area(xp, vp) - random
    if best == 0:
        return math.nan
    return (_area(x, v) - random) / best


def qini_coefficient(y: Any, treatment: Any, score: Any) -> float:
    """Radcliffe's Qini coefficient: (A_model − A_random) / (A_perfect − A_random)
    on the Qini curve. NaN when the perfect curve is the random line."""
    return _normalised(qini_curve, _perfect_qini, y, treatment, score)


def auuc(y: Any, treatment: Any, score: Any) -> float:
    """The area under the uplift curve, normalised as the Qini coefficient."""
    return _normalised(uplift_curve, _perfect_uplift, y, treatment, score)


def uplift_at_top(y: Any, treatment: Any, score: Any, share: float) -> float:
    """Treated mean minus control mean among the top ``share`` (0 < share ≤ 1)
    of customers by score; NaN when either arm is absent there."""
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1]; got {share}")
    ys, ts, _ = _sorted(y, treatment, score)
    k = max(1, int(share * len(ys)))
    ys, ts = ys[:k], ts[:k]
    if ts.all() or not ts.any():
        return math.nan
    return float(ys[ts].mean() - ys[~ts].mean())


def random_band(y: Any, treatment: Any, *, draws: int = 200, seed: int = 0) -> dict[str, float]:
    """The 2.5 % and 97.5 % quantiles of the Qini coefficient and the AUUC
    over ``draws`` random rankings of the same customers: where a model
    that ranks no better than chance falls."""
    rng = np.random.default_rng(seed)
    q, u = [], []
    for _ in range(draws):
        s = rng.random(len(np.asarray(y)))
        q.append(qini_coefficient(y, treatment, s))
        u.append(auuc(y, treatment, s))
    return {"qini_low": float(np.nanquantile(q, 0.025)), "qini_high": float(np.nanquantile(q, 0.975)),
            "auuc_low": float(np.nanquantile(u, 0.025)), "auuc_high": float(np.nanquantile(u, 0.975))}  # fmt: skip


def evaluate(y: Any, treatment: Any, score: Any, *, tops: tuple[float, ...] = (0.1, 0.2, 0.3),
             draws: int = 200) -> dict[str, Any]:  # fmt: skip
    """Every figure above for one ranking, as a JSON-ready dict: ``qini``,
    ``auuc``, ``random_band``, ``uplift_at_top`` (per share), ``overall_uplift``
    (the treated mean minus the control mean over everyone: what random
    targeting gets per customer), ``customers``, ``treated``, and ``curve``
    (the Qini curve at 20 evenly spaced shares, with the random line)."""
    y = np.asarray(y, dtype="float64")
    t = np.asarray(treatment).astype(bool)
    n, q = qini_curve(y, t, score)
    marks = []
    for share in np.linspace(0.05, 1.0, 20):
        target = share * len(y)
        marks.append({"share": round(float(share), 2),
                      "qini": float(np.interp(target, n, q)),
                      "random": float(q[-1] * share)})  # fmt: skip
    return {
        "customers": len(y),
        "treated": int(t.sum()),
        "qini": qini_coefficient(y, t, score),
        "auuc": auuc(y, t, score),
        "random_band": random_band(y, t, draws=draws),
        "overall_uplift": float(y[t].mean() - y[~t].mean()),
        "uplift_at_top": {f"{round(s * 100)}%": uplift_at_top(y, t, score, s) for s in tops},
        "curve": marks,
    }
