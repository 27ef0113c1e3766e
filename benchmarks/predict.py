"""Benchmark: tenure's predictions (summary, BG/NBD and Gamma-Gamma fits, scores)
side by side with lifetimes.

Simulates the orders of N customers from BG/NBD with Gamma-Gamma spend
(NumPy, no Python loop per row) into a Parquet file, cached by its
parameters, then measures on that same file, each in a fresh subprocess:

* ``tenure``         ``predict(path, horizon_days=365, discount_rate=0.10)``
                     end to end: read, statistics, both fits, every score;
* ``tenure steps``   the same work step by step: ``read_orders``, the
                     statistics, the BG/NBD fit with standard errors, the
                     Gamma-Gamma fit, ``scoring.score``;
* ``lifetimes``      ``pandas.read_parquet``, ``summary_data_from_transaction_data``,
                     ``BetaGeoFitter``, ``GammaGammaFitter``, P(alive),
                     expected purchases and CLV;
* ``fits``           the BG/NBD fit with standard errors alone: tenure's on
                     the distinct (x, t_x, T) with weights, lifetimes' on one
                     row per customer and on the same weighted rows.

For each step it reports wall seconds (measured in the child), CPU seconds
and the peak resident memory of that process; it checks that the summaries
agree customer by customer, that the estimates agree to 3 significant
figures and that mean P(alive) and total CLV agree within 0.5 %.

    .venv/bin/python benchmarks/predict.py --customers 100000
    .venv/bin/python benchmarks/predict.py --customers 1000000 --orders-per-customer 10

Not part of the test run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from _common import (
    LIFETIMES_VENV,
    RESULT_TAG,
    Log,
    Steps,
    lifetimes_python,
    load,
    mem_total_gib,
    sql_path,
    versions,
)
from _common import (
    child_env as base_child_env,
)

STEP_TAG = "BENCH-STEP "
DEFAULT_SEED = 20240601
GENERATOR_VERSION = 1  # part of the cache key: bump when the simulation changes

# First purchases uniform over the two years 2023-01-01 .. 2024-12-31 (UTC),
# observed to the end of 2024-12-31.
START = date(2023, 1, 1)
END = date(2025, 1, 1)
SPAN_DAYS = (END - START).days
CHUNK = 1_000_000  # customers simulated at a time (bounds the generator's memory)

# The published BG/NBD and Gamma-Gamma estimates the orders are drawn from
# (alpha in days).
BGNBD = {"r": 0.243, "alpha": 30.9, "a": 0.793, "b": 2.426}
GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "gamma": 15.44}

HORIZON_DAYS = 365
DISCOUNT_RATE = 0.10  # a year
LIFETIMES_MONTHS = 12  # lifetimes' customer_lifetime_value(time=12, freq="D"): 12 x 30 days
LIFETIMES_MONTH_DAYS = 30
MONTHLY_RATE = (1 + DISCOUNT_RATE) ** (1 / 12) - 1

# Targets.
TARGET_ORDERS = 10_000_000
TARGET_E2E_S = 10.0  # fits + P(alive), purchases and CLV for everyone, 10M orders
TARGET_E2E_SPEEDUP = 4.0  # tenure end to end at least 4x faster than lifetimes
TARGET_FIT_CUSTOMERS = 1_000_000
TARGET_FIT_SPEEDUP = 10.0  # BG/NBD fit with SEs on 1M customers' summaries
SIG_FIGS = 3
TARGET_AGREE = 0.005  # mean P(alive) and total CLV within 0.5 %

TOOLS = ("tenure", "tenure steps", "lifetimes", "fits")
SOURCE_DIRS = ("predictions", "models", "engine")
SOURCE_FILES = ("config.py", "datamodel.py", "errors.py", "sqltext.py")
# --------------------------------------------------------------------------- helpers


def _loaded_tenure_digest() -> dict[str, str] | None:
    """The tenure source files this process imported, each with a digest of
    its content: the code that was measured (None when tenure was not
    imported)."""
    out = {}
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if (name == "tenure" or name.startswith("tenure.")) and path:
            out[name] = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]
    return dict(sorted(out.items())) or None


def _floats(mapping: Any) -> dict[str, float]:
    return {str(k): float(v) for k, v in dict(mapping).items()}


# --------------------------------------------------------------------------- the orders


def expected_orders(alpha: float, span_days: float = SPAN_DAYS) -> float:
    """Expected orders per customer: the first purchase plus BG/NBD's E[X(T)]
    (Fader, Hardie and Lee 2005, eq. 9), averaged over T uniform on
    (0, span_days), the time each customer is observed."""
    import numpy as np
    from scipy.special import hyp2f1

    r, a, b = BGNBD["r"], BGNBD["a"], BGNBD["b"]
    t = (np.arange(4000) + 0.5) / 4000 * span_days
    z = t / (alpha + t)
    ex = (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))
    return 1.0 + float(ex.mean())


def rate_scale(orders_per_customer: float | None) -> float:
    """k such that BG/NBD with alpha / k gives ``orders_per_customer`` orders a
    customer on average (1 for the published parameters)."""
    if orders_per_customer is None:
        return 1.0
    import numpy as np
    from scipy.optimize import brentq

    def gap(log_k: float) -> float:
        return expected_orders(BGNBD["alpha"] / math.exp(log_k)) - orders_per_customer

    return float(np.exp(brentq(gap, -20.0, 20.0, xtol=1e-10)))


def _simulate(rng: Any, n: int, alpha: float) -> tuple[Any, Any, Any]:
    """Orders of ``n`` customers: (customer index, seconds since START, amount).

    Per customer: the purchase rate λ ~ Gamma(r, rate alpha), the dropout
    probability p ~ Beta(a, b), the first purchase uniform over the span.
    While alive the customer buys as a Poisson process; after each repeat
    purchase they drop out with probability p, so the repeat purchases in
    (0, T] are min(N(T), M) with N(T) ~ Poisson(λT) and M ~ Geometric(p)
    on 1, 2, .... Given N(T) = n the purchase times are n uniform points in
    (0, T]; the first x of them come from the sequential order statistics
    log(1 - U_(j)) = Σ_{i ≤ j} log(V_i) / (n - i + 1). Spend per order:
    ν ~ Gamma(q, rate gamma) per customer, each amount ~ Gamma(p, rate ν).
    """
    import numpy as np

    lam = rng.gamma(BGNBD["r"], 1.0 / alpha, n)
    drop = np.clip(rng.beta(BGNBD["a"], BGNBD["b"], n), 1e-12, 1.0)
    first = rng.random(n) * SPAN_DAYS
    observed = SPAN_DAYS - first
    arrivals = rng.poisson(lam * observed)
    x = np.minimum(arrivals, rng.geometric(drop))
    total = int(x.sum())
    owner = np.repeat(np.arange(n), x)
    begin = np.repeat(np.cumsum(x) - x, x)
    position = np.arange(total) - begin  # 0-based within the customer
    terms = np.log1p(-rng.random(total)) / (arrivals[owner] - position)
    cumulative = np.cumsum(terms)
    before = np.concatenate([[0.0], cumulative])[begin]
    share = -np.expm1(cumulative - before)  # U_(j) in (0, 1)
    repeat_days = first[owner] + observed[owner] * share
    who = np.concatenate([np.arange(n), owner])
    days = np.concatenate([first, repeat_days])
    seconds = np.minimum(np.floor(days * 86_400), SPAN_DAYS * 86_400 - 1).astype(np.int64)
    nu = rng.gamma(GAMMA_GAMMA["q"], 1.0 / GAMMA_GAMMA["gamma"], n)
    amount = rng.gamma(GAMMA_GAMMA["p"], 1.0, len(who)) / nu[who]
    amount = np.maximum(np.round(amount, 2), 0.01)
    return who, seconds, amount


def child_generate(customers: int, seed: int, opc: float | None, path: Path) -> None:
    """Simulate the orders chunk by chunk into Parquet parts, then let DuckDB
    sort them by time, name the ids and write one file."""
    import duckdb
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    started = time.perf_counter()
    k = rate_scale(opc)
    alpha = BGNBD["alpha"] / k
    parts = path.with_suffix(".parts")
    shutil.rmtree(parts, ignore_errors=True)
    parts.mkdir()
    for chunk, begin in enumerate(range(0, customers, CHUNK)):
        n = min(CHUNK, customers - begin)
        rng = np.random.default_rng([seed, chunk])
        who, seconds, amount = _simulate(rng, n, alpha)
        table = pa.table({"c": who + begin, "s": seconds, "amount": amount})
        pq.write_table(table, parts / f"part-{chunk:05d}.parquet")
        del who, seconds, amount, table
    tmp = path.with_suffix(".tmp")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET temp_directory = {sql_path(path.parent / 'duckdb-tmp')}")
    rows = con.execute(f"SELECT count(*) FROM read_parquet({sql_path(parts / '*.parquet')})")
    rows = int(rows.fetchone()[0])
    con.execute(
        f"""
        COPY (
          SELECT 'O' || lpad(row_number() OVER (ORDER BY s, c)::VARCHAR, {len(str(rows))}, '0')
                   AS order_id,
                 'C' || lpad((c + 1)::VARCHAR, {len(str(customers))}, '0') AS customer_id,
                 TIMESTAMP '{START.isoformat()}' + to_seconds(s) AS placed_at,
                 amount
          FROM read_parquet({sql_path(parts / "*.parquet")})
          ORDER BY s, c
        ) TO {sql_path(tmp)} (FORMAT parquet)
        """
    )
    count, n_customers, last, total, same_day = con.execute(
        f"""
        WITH o AS (SELECT customer_id, placed_at, amount FROM read_parquet({sql_path(tmp)})),
        d AS (SELECT customer_id, placed_at::DATE AS d, count(*) AS n FROM o GROUP BY ALL)
        SELECT (SELECT count(*) FROM o), (SELECT count(DISTINCT customer_id) FROM o),
               (SELECT max(placed_at)::DATE FROM o), (SELECT sum(amount) FROM o),
               (SELECT sum(n - 1) FROM d)
        """
    ).fetchone()
    con.close()
    shutil.rmtree(parts, ignore_errors=True)
    tmp.replace(path)
    meta = {
        "rows": int(count),
        "customers": int(n_customers),
        "seed": seed,
        "orders_per_customer_asked": opc,
        "orders_per_customer": round(count / n_customers, 3),
        "expected_orders_per_customer": round(expected_orders(alpha), 3),
        "rate_scale_k": round(k, 6),
        "true_params": {**BGNBD, "alpha": alpha, **GAMMA_GAMMA},
        "same_day_orders": int(same_day or 0),
        "revenue": float(total),
        "first_day": START.isoformat(),
        "as_of": last.isoformat(),
        "parquet_mib": round(path.stat().st_size / 2**20, 1),
        "generate_s": round(time.perf_counter() - started, 2),
        "generator_version": GENERATOR_VERSION,
        "duckdb": duckdb.__version__,
        "numpy": np.__version__,
    }
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    print(RESULT_TAG + json.dumps(meta), flush=True)


# --------------------------------------------------------------------------- tenure children


def _model_record(model: Any) -> dict[str, Any]:
    return {
        "params": _floats(model.params_),
        "std_errors": _floats(model.std_errors_),
        "log_likelihood": float(model.log_likelihood_),
        "converged": bool(model.converged_),
        "iterations": int(model.iterations_),
    }


def _clv_like_lifetimes(purchase: Any, c: Any) -> Any:
    """CLV as lifetimes' customer_lifetime_value(time=12, freq="D") defines
    it: 12 months of 30 days, month k discounted by (1 + 10 %)^(k / 12),
    computed with tenure's fitted models (once per distinct (x, t_x, T))."""
    import numpy as np

    triple = c.groupby(["x", "t_x", "T"], sort=False).ngroup().to_numpy()
    first = np.unique(triple, return_index=True)[1]
    u = c.iloc[first][["x", "t_x", "T"]].reset_index(drop=True)
    days = LIFETIMES_MONTHS * LIFETIMES_MONTH_DAYS
    discounted = purchase.predict_discounted_purchases(
        u, days, discount_rate=DISCOUNT_RATE, periods_per_year=days, steps=LIFETIMES_MONTHS
    )
    return discounted[triple] * c["expected_spend"].to_numpy()


def child_tenure(path: Path, outdir: Path) -> None:
    st = Steps(STEP_TAG, lambda: {"tenure_code": _loaded_tenure_digest()})
    with st.step("import"):
        from tenure.analysis.fitting import predict
    with st.step("predict"):
        scores = predict(str(path), horizon_days=HORIZON_DAYS, discount_rate=DISCOUNT_RATE)
    # not timed: what the parent compares
    import pyarrow as pa
    import pyarrow.parquet as pq

    c = scores.customers
    out = c[["customer_id", "x", "t_x", "T", "p_alive", "expected_purchases", "expected_spend"]]
    out = out.assign(clv=c["clv"], clv_like_lifetimes=_clv_like_lifetimes(scores.purchase_model, c))
    pq.write_table(
        pa.Table.from_pandas(out, preserve_index=False), outdir / "customers-tenure.parquet"
    )
    st.emit(
        as_of=scores.as_of.isoformat(),
        customers=int(len(c)),
        bgnbd=_model_record(scores.purchase_model),
        gamma_gamma=_model_record(scores.spend_model),
        mean_p_alive=float(c["p_alive"].mean()),
        total_expected_purchases=float(c["expected_purchases"].sum()),
        total_clv=float(c["clv"].sum()),
        total_clv_like_lifetimes=float(out["clv_like_lifetimes"].sum()),
        versions=versions("tenure", "ibis-framework", "duckdb", "pyarrow", "pandas", "scipy"),
    )


def child_tenure_steps(path: Path, outdir: Path) -> None:
    st = Steps(STEP_TAG, lambda: {"tenure_code": _loaded_tenure_digest()})
    with st.step("import"):
        from tenure.engine.context import Context, Definitions
        from tenure.given import read_orders
        from tenure.models.btyd import BetaGeo
        from tenure.models.spend import GammaGamma
        from tenure.predictions import scoring
    with st.step("read"):
        data = read_orders(str(path))
        ctx = Context(data.source, Definitions(active_by="purchase"))
    with st.step("statistics"):
        # what fit_purchase_model and fit_spend_model fit on
        stats = scoring.purchase_statistics(ctx)
        spend_stats = scoring.spend_statistics(ctx)
    with st.step("bgnbd fit"):
        purchase = BetaGeo().fit(stats, weights=stats.weight)
        purchase.time_unit_ = "day"
        purchase.summary()
    with st.step("gg fit"):
        positive = spend_stats[spend_stats.m > 0]
        spend = GammaGamma().fit(positive, weights=positive.weight)
        spend.summary()
    with st.step("score"):
        scores = scoring.score(
            ctx, purchase, spend, horizon_days=HORIZON_DAYS, discount_rate=DISCOUNT_RATE
        )
    stats.to_parquet(outdir / "stats-tenure.parquet", index=False)
    st.emit(
        as_of=ctx.as_of.isoformat(),
        customers=int(len(scores.customers)),
        distinct_rows=int(len(stats)),
        spend_rows=int(len(positive)),
        bgnbd=_model_record(purchase),
        gamma_gamma=_model_record(spend),
        versions=versions("tenure", "ibis-framework", "duckdb", "pyarrow", "pandas", "scipy"),
    )
    data.source.close()


def _timed_repeats(st: Steps, name: str, repeat: int, budget_s: float, fit: Any) -> Any:
    """Run ``fit`` up to ``repeat`` times as steps ``name 1``, ``name 2``...;
    stop repeating once ``budget_s`` seconds are spent."""
    spent, result = 0.0, None
    for i in range(repeat):
        with st.step(f"{name} {i + 1}"):
            result = fit()
        spent += st.steps[-1]["seconds"]
        if spent > budget_s:
            break
    return result


def child_tenure_fit(path: Path, outdir: Path, repeat: int) -> None:
    """tenure's BG/NBD fit with standard errors on the distinct (x, t_x, T)
    with weights, as btyd_statistics gives them (read from the file the
    steps run wrote, or computed here, not timed)."""
    st = Steps(STEP_TAG, lambda: {"tenure_code": _loaded_tenure_digest()})
    with st.step("import"):
        import pandas as pd

        from tenure.models.btyd import BetaGeo
    stats_path = outdir / "stats-tenure.parquet"
    if not stats_path.exists():
        from tenure.engine.context import Context, Definitions
        from tenure.engine.summaries import btyd_statistics
        from tenure.given import read_orders

        data = read_orders(str(path))
        ctx = Context(data.source, Definitions(active_by="purchase"))
        btyd_statistics(ctx).to_pandas().to_parquet(stats_path, index=False)
        data.source.close()
    stats = pd.read_parquet(stats_path)

    def fit() -> Any:
        model = BetaGeo().fit(stats, weights=stats.weight)
        model.summary()
        return model

    model = _timed_repeats(st, "fit", repeat, 60.0, fit)
    st.emit(
        rows=int(len(stats)),
        customers=int(stats.weight.sum()),
        bgnbd=_model_record(model),
        versions=versions("tenure", "numpy", "scipy"),
    )


# --------------------------------------------------------------------------- lifetimes children


def _lifetimes_record(fitter: Any) -> dict[str, Any]:
    # lifetimes fits on times divided by the largest T, so its log-likelihood
    # is not on tenure's scale and is left out
    table = fitter.summary  # estimates, standard errors, intervals
    return {"params": _floats(table["coef"]), "std_errors": _floats(table["se(coef)"])}


def child_lifetimes(path: Path, outdir: Path, as_of: str) -> None:
    st = Steps(STEP_TAG, lambda: {"tenure_code": _loaded_tenure_digest()})
    with st.step("import"):
        import pandas as pd
        from lifetimes import BetaGeoFitter, GammaGammaFitter
        from lifetimes.utils import summary_data_from_transaction_data
    with st.step("read"):
        orders = pd.read_parquet(path, columns=["customer_id", "placed_at", "amount"])
    with st.step("summary"):
        s = summary_data_from_transaction_data(
            orders,
            "customer_id",
            "placed_at",
            monetary_value_col="amount",
            observation_period_end=as_of,
            freq="D",
        )
    with st.step("bgnbd fit"):
        bgf = BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
        bgnbd = _lifetimes_record(bgf)
    with st.step("gg fit"):
        repeat = s[s["frequency"] > 0]
        ggf = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
        gamma_gamma = _lifetimes_record(ggf)
    with st.step("p alive"):
        p_alive = bgf.conditional_probability_alive(s["frequency"], s["recency"], s["T"])
    with st.step("expected purchases"):
        purchases = bgf.conditional_expected_number_of_purchases_up_to_time(
            HORIZON_DAYS, s["frequency"], s["recency"], s["T"]
        )
    with st.step("clv"):
        clv = ggf.customer_lifetime_value(
            bgf,
            s["frequency"],
            s["recency"],
            s["T"],
            s["monetary_value"],
            time=LIFETIMES_MONTHS,
            discount_rate=MONTHLY_RATE,
            freq="D",
        )
    out = pd.DataFrame(
        {
            "customer_id": s.index.astype(str),
            "x": s["frequency"].to_numpy(),
            "t_x": s["recency"].to_numpy(),
            "T": s["T"].to_numpy(),
            "m": s["monetary_value"].to_numpy(),
            "p_alive": pd.Series(p_alive, index=s.index).to_numpy(),
            "expected_purchases": pd.Series(purchases, index=s.index).to_numpy(),
            "clv": pd.Series(clv, index=s.index).to_numpy(),
        }
    )
    out.to_parquet(outdir / "customers-lifetimes.parquet", index=False)
    st.emit(
        customers=int(len(s)),
        bgnbd=bgnbd,
        gamma_gamma=gamma_gamma,
        mean_p_alive=float(out["p_alive"].mean()),
        total_expected_purchases=float(out["expected_purchases"].sum()),
        total_clv=float(out["clv"].sum()),
        versions=versions("lifetimes", "pandas", "numpy", "scipy", "autograd", "pyarrow"),
    )


def child_lifetimes_fit(path: Path, outdir: Path, as_of: str, repeat: int) -> None:
    """lifetimes' BetaGeoFitter().fit (standard errors included) on one row
    per customer, then with weights= on the distinct rows tenure fits on."""
    st = Steps(STEP_TAG, lambda: {"tenure_code": _loaded_tenure_digest()})
    with st.step("import"):
        import pandas as pd
        from lifetimes import BetaGeoFitter
    per_customer = outdir / "customers-lifetimes.parquet"
    if per_customer.exists():
        s = pd.read_parquet(per_customer, columns=["x", "t_x", "T"])
    else:  # not timed: the summary as the end-to-end run computes it
        from lifetimes.utils import summary_data_from_transaction_data

        orders = pd.read_parquet(path, columns=["customer_id", "placed_at", "amount"])
        s = summary_data_from_transaction_data(
            orders, "customer_id", "placed_at", observation_period_end=as_of, freq="D"
        ).rename(columns={"frequency": "x", "recency": "t_x"})
        del orders
    stats_path = outdir / "stats-tenure.parquet"
    if stats_path.exists():
        stats = pd.read_parquet(stats_path)
    else:
        stats = (
            s.groupby(["x", "t_x", "T"], as_index=False).size().rename(columns={"size": "weight"})
        )

    def per_row() -> Any:
        bgf = BetaGeoFitter().fit(s["x"], s["t_x"], s["T"])
        return _lifetimes_record(bgf)

    def weighted() -> Any:
        bgf = BetaGeoFitter().fit(stats["x"], stats["t_x"], stats["T"], weights=stats["weight"])
        return _lifetimes_record(bgf)

    one = _timed_repeats(st, "fit", repeat, 120.0, per_row)
    many = _timed_repeats(st, "fit weights", repeat, 120.0, weighted)
    st.emit(
        customers=int(len(s)),
        rows=int(len(stats)),
        bgnbd=one,
        bgnbd_weights=many,
        versions=versions("lifetimes", "pandas", "numpy", "scipy", "autograd"),
    )


# --------------------------------------------------------------------------- parent


BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
BLAS_THREADS: int | None = None  # --blas-threads: set in the children's environment


def child_env() -> dict[str, str]:
    env = base_child_env()
    if BLAS_THREADS is not None:
        env.update({k: str(BLAS_THREADS) for k in BLAS_THREAD_VARS})
    return env


def _tagged(text: str | bytes | None, tag: str) -> list[dict[str, Any]]:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return [
        json.loads(line[len(tag) :]) for line in (text or "").splitlines() if line.startswith(tag)
    ]


def run_child(python: str, args: list[str], cwd: Path, timeout: float) -> dict[str, Any]:
    """Run this script in child mode with ``python``: its figures, plus the
    wall time of the whole process. A run stopped by ``timeout`` keeps the
    steps it finished."""
    command = [python, str(Path(__file__).resolve()), "--child", *args]
    load_before = load()
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            command,
            cwd=cwd,
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        return {
            "error": f"timed out after {timeout:.0f} s",
            "timed_out": True,
            "steps": _tagged(exc.stdout, STEP_TAG),
            "process_s": round(time.perf_counter() - started, 2),
            "load_before": load_before,
            "load_after": load(),
        }
    except OSError as exc:
        return {"error": f"could not start {python}: {exc}", "process_s": 0.0}
    process_s = round(time.perf_counter() - started, 2)
    found = _tagged(proc.stdout, RESULT_TAG)
    if proc.returncode != 0 or not found:
        tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-12:]
        why = f"exit code {proc.returncode}"
        if proc.returncode in (-9, 137):
            why += " (killed: out of memory?)"
        return {
            "error": why,
            "stderr_tail": tail,
            "steps": _tagged(proc.stdout, STEP_TAG),
            "process_s": process_s,
            "load_before": load_before,
            "load_after": load(),
        }
    out = found[-1]
    out["process_s"] = process_s
    out["load_before"], out["load_after"] = load_before, load()
    return out


def _opc_key(opc: float | None) -> str:
    return "bgnbd" if opc is None else f"opc{opc:g}"


def prepare_data(
    args: argparse.Namespace, customers: int, log: Log
) -> tuple[Path, dict[str, Any]] | None:
    workdir = Path(args.workdir or Path(tempfile.gettempdir()) / "tenure-bench-predict").resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    stem = f"orders-c{customers}-{_opc_key(args.orders_per_customer)}-seed{args.seed}"
    path = workdir / f"{stem}-v{GENERATOR_VERSION}.parquet"
    meta_path = path.with_suffix(".json")
    if path.exists() and meta_path.exists() and not args.regenerate:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        log(f"orders: reusing {path} ({meta['rows']:,} orders, {meta['customers']:,} customers)")
        meta["reused"] = True
        return path, meta
    log(f"orders: simulating {customers:,} customers into {path} ...")
    child = ["generate", "--gen-customers", str(customers), "--seed", str(args.seed)]
    if args.orders_per_customer is not None:
        child += ["--orders-per-customer", repr(args.orders_per_customer)]
    meta = run_child(sys.executable, [*child, "--path", str(path)], workdir, args.timeout)
    if "error" in meta:
        log("  generation failed:", meta["error"], *meta.get("stderr_tail", []), sep="\n  ")
        return None
    meta["reused"] = False
    log(
        f"  {meta['rows']:,} orders ({meta['orders_per_customer']:.2f} a customer, expected "
        f"{meta['expected_orders_per_customer']:.2f}; alpha {meta['true_params']['alpha']:.4g}), "
        f"as of {meta['as_of']}, Parquet {meta['parquet_mib']:.0f} MiB, in "
        f"{meta['generate_s']:.1f} s (not part of the measurement)"
    )
    return path, meta


def _best_run(outs: list[dict[str, Any]]) -> dict[str, Any]:
    """One result from repeated runs: for each step the fastest run, the
    highest peak memory; the figures of the first run."""
    if len(outs) == 1:
        return outs[0]
    out = dict(outs[0])
    steps = []
    for i, step in enumerate(outs[0]["steps"]):
        runs = [o["steps"][i] for o in outs]
        best = min(runs, key=lambda r: r["seconds"])
        steps.append(
            {
                "step": step["step"],
                "seconds": best["seconds"],
                "cpu_s": best["cpu_s"],
                "peak_rss_mib": max(r["peak_rss_mib"] for r in runs),
                "all_seconds": [r["seconds"] for r in runs],
            }
        )
    out["steps"] = steps
    out["peak_rss_mib"] = max(o["peak_rss_mib"] for o in outs)
    out["process_s"] = min(o["process_s"] for o in outs)
    out["load_before"] = max(o["load_before"] or 0 for o in outs)
    out["load_after"] = max(o["load_after"] or 0 for o in outs)
    return out


def measured(out: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Steps by name, with ``total``: every step after the imports (for the
    fit runs: the fastest repeat of each kind)."""
    steps = {s["step"]: s for s in out.get("steps", [])}
    work = [s for s in out.get("steps", []) if s["step"] != "import"]
    if len(work) > 1 and not any(s["step"].startswith("fit") for s in work):
        steps["total"] = {
            "step": "total",
            "seconds": round(sum(s["seconds"] for s in work), 3),
            "cpu_s": round(sum(s["cpu_s"] for s in work), 2),
            "peak_rss_mib": max(s["peak_rss_mib"] for s in work),
        }
    return steps


def fastest(out: dict[str, Any] | None, prefix: str) -> dict[str, Any] | None:
    """The fastest of the repeated steps ``prefix 1``, ``prefix 2``...."""
    if not out or "error" in out:
        return None
    runs = [
        s
        for s in out.get("steps", [])
        if s["step"].rsplit(" ", 1)[0] == prefix and s["step"].rsplit(" ", 1)[-1].isdigit()
    ]
    if not runs:
        return None
    best = dict(min(runs, key=lambda s: s["seconds"]))
    best["runs"] = [s["seconds"] for s in runs]
    return best


def _seconds(out: dict[str, Any] | None, step: str) -> float | None:
    if not out or "error" in out:
        return None
    got = measured(out).get(step)
    return got["seconds"] if got else None


def _sig_tolerance(value: float, figures: int = SIG_FIGS) -> float:
    """Half a unit in the last of ``figures`` significant figures of ``value``."""
    if value == 0:
        return 0.0
    return 0.5 * 10 ** (math.floor(math.log10(abs(value))) - figures + 1)


def same_figures(a: float, b: float, figures: int = SIG_FIGS) -> bool:
    """a and b differ by less than half a unit in the third significant figure."""
    return abs(a - b) <= _sig_tolerance(a, figures)


LIFETIMES_NAMES = {"gamma": "v"}  # tenure's name -> lifetimes' (Gamma-Gamma's scale)


def compare_params(
    ours: dict[str, Any], theirs: dict[str, Any], label: str
) -> tuple[dict[str, Any], list[str]]:
    """Estimates and standard errors side by side; the parameters that do
    not agree to 3 significant figures."""
    rows, bad = [], []
    for name, est in ours["params"].items():
        other = LIFETIMES_NAMES.get(name, name)
        if other not in theirs["params"]:
            bad.append(f"{name} missing")
            continue
        val = theirs["params"][other]
        rel = abs(est - val) / abs(val) if val else math.inf
        se, se_l = ours["std_errors"].get(name), theirs["std_errors"].get(other)
        agree = same_figures(val, est)
        rows.append(
            {
                "param": name,
                "tenure": est,
                "lifetimes": val,
                "rel_diff": rel,
                "agree_3sf": agree,
                "tenure_se": se,
                "lifetimes_se": se_l,
                "se_rel_diff": abs(se - se_l) / abs(se_l) if se and se_l else None,
            }
        )
        if not agree:
            bad.append(f"{label} {name} {est:.6g} vs {val:.6g} (rel {rel:.2e})")
    return {"model": label, "rows": rows}, bad


def compare_customers(outdir: Path) -> dict[str, Any] | None:
    """Customer by customer: the summaries (x = frequency, t_x = recency, T)
    equal, and how far P(alive), expected purchases and CLV are apart."""
    import duckdb

    a, b = outdir / "customers-tenure.parquet", outdir / "customers-lifetimes.parquet"
    if not (a.exists() and b.exists()):
        return None
    con = duckdb.connect()
    row = con.execute(
        f"""
        SELECT count(*) FILTER (WHERE t.customer_id IS NULL) AS only_lifetimes,
               count(*) FILTER (WHERE l.customer_id IS NULL) AS only_tenure,
               count(*) FILTER (WHERE t.x <> l.x) AS x_differs,
               count(*) FILTER (WHERE t.t_x <> l.t_x) AS t_x_differs,
               count(*) FILTER (WHERE t."T" <> l."T") AS T_differs,
               max(abs(t.p_alive - l.p_alive)) AS max_p_alive_diff,
               max(abs(t.expected_purchases - l.expected_purchases)) AS max_purchases_diff,
               max(abs(t.clv_like_lifetimes - l.clv)
                   / greatest(abs(l.clv), 1e-9)) AS max_clv_rel_diff
        FROM read_parquet({sql_path(a)}) t
        FULL JOIN read_parquet({sql_path(b)}) l USING (customer_id)
        """
    ).fetchone()
    con.close()
    names = [
        "only_lifetimes",
        "only_tenure",
        "x_differs",
        "t_x_differs",
        "T_differs",
        "max_p_alive_diff",
        "max_purchases_diff",
        "max_clv_rel_diff",
    ]
    return {n: (float(v) if v is not None else None) for n, v in zip(names, row, strict=True)}


def _rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b) if b else math.inf


def agreement(
    results: dict[str, dict[str, Any]], outdir: Path, meta: dict[str, Any]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Checks (name, ok, what) and the estimates side by side."""
    checks: list[dict[str, Any]] = []
    tables: list[dict[str, Any]] = []

    def add(name: str, ok: bool, what: str) -> None:
        checks.append({"check": name, "ok": bool(ok), "what": what})

    ten, life = results.get("tenure"), results.get("lifetimes")
    ten_ok = bool(ten) and "error" not in ten
    life_ok = bool(life) and "error" not in life
    if ten_ok:
        add(
            "tenure scored every customer",
            ten["customers"] == meta["customers"],
            f"{ten['customers']:,} of {meta['customers']:,}",
        )
        add(
            "tenure's as-of date is the data's last day",
            ten["as_of"] == meta["as_of"],
            ten["as_of"],
        )
        steps = results.get("tenure steps")
        if steps and "error" not in steps:
            diffs = [
                k
                for k, v in ten["bgnbd"]["params"].items()
                if not math.isclose(v, steps["bgnbd"]["params"][k], rel_tol=1e-9)
            ]
            add(
                "tenure predict() = tenure steps (BG/NBD estimates)",
                not diffs,
                "identical" if not diffs else "differ: " + ", ".join(diffs),
            )
    if ten_ok and life_ok:
        cmp = compare_customers(outdir)
        if cmp is not None:
            same = not any(
                cmp[k]
                for k in ("only_lifetimes", "only_tenure", "x_differs", "t_x_differs", "T_differs")
            )
            add(
                "summaries equal per customer (x = frequency, t_x = recency, T)",
                same,
                f"{meta['customers']:,} customers; only in lifetimes {cmp['only_lifetimes']:.0f}, "
                f"only in tenure {cmp['only_tenure']:.0f}, x differs {cmp['x_differs']:.0f}, "
                f"t_x differs {cmp['t_x_differs']:.0f}, T differs {cmp['T_differs']:.0f}",
            )
            tables.append({"model": "per customer", "rows": [cmp]})
        for key, label in (("bgnbd", "BG/NBD"), ("gamma_gamma", "Gamma-Gamma")):
            table, bad = compare_params(ten[key], life[key], label)
            tables.append(table)
            add(
                f"{label} estimates to {SIG_FIGS} significant figures",
                not bad,
                "; ".join(bad)
                if bad
                else ", ".join(f"{r['param']} {r['tenure']:.4g}" for r in table["rows"]),
            )
        pa_t, pa_l = ten["mean_p_alive"], life["mean_p_alive"]
        add(
            f"mean P(alive) within {TARGET_AGREE:.1%}",
            _rel(pa_t, pa_l) <= TARGET_AGREE,
            f"tenure {pa_t:.6f}, lifetimes {pa_l:.6f}, rel {_rel(pa_t, pa_l):.2e}",
        )
        c_t, c_l = ten["total_clv_like_lifetimes"], life["total_clv"]
        add(
            f"total CLV within {TARGET_AGREE:.1%} (lifetimes' definition: 12 x 30 days)",
            _rel(c_t, c_l) <= TARGET_AGREE,
            f"tenure {c_t:,.0f}, lifetimes {c_l:,.0f}, rel {_rel(c_t, c_l):.2e}",
        )
        e_t, e_l = ten["total_expected_purchases"], life["total_expected_purchases"]
        add(
            f"total expected purchases in {HORIZON_DAYS} days within {TARGET_AGREE:.1%}",
            _rel(e_t, e_l) <= TARGET_AGREE,
            f"tenure {e_t:,.0f}, lifetimes {e_l:,.0f}, rel {_rel(e_t, e_l):.2e}",
        )
    fits = results.get("fits")
    if fits and "error" not in fits.get("tenure", {"error": 1}):
        tf = fits["tenure"]
        lf = fits.get("lifetimes")
        if lf and "error" not in lf:
            for key, label in (("bgnbd", "per customer"), ("bgnbd_weights", "weights")):
                table, bad = compare_params(tf["bgnbd"], lf[key], f"fit alone, lifetimes {label}")
                tables.append(table)
                add(
                    f"fit alone: tenure = lifetimes ({label}) to {SIG_FIGS} significant figures",
                    not bad,
                    "; ".join(bad) if bad else "all four",
                )
    return checks, tables


def ratios(
    results: dict[str, dict[str, Any]], meta: dict[str, Any], checks: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The targets, met or missed (pro rata and indicative away from the
    sizes they are stated for)."""
    rows, customers = int(meta["rows"]), int(meta["customers"])
    at_orders = abs(rows - TARGET_ORDERS) <= 0.1 * TARGET_ORDERS
    at_customers = customers == TARGET_FIT_CUSTOMERS
    lines: list[dict[str, Any]] = []
    tp = _seconds(results.get("tenure"), "predict")
    lt = _seconds(results.get("lifetimes"), "total")
    life = results.get("lifetimes")
    if tp is not None:
        limit = TARGET_E2E_S * rows / TARGET_ORDERS
        lines.append(
            {
                "target": f"end to end on {TARGET_ORDERS / 1e6:g}M orders < {TARGET_E2E_S:g} s",
                "value": f"{tp:.2f} s",
                "limit": f"< {limit:.3g} s" + ("" if at_orders else " (pro rata, indicative)"),
                "met": tp < limit,
                "binding": at_orders,
            }
        )
    if tp is not None and (lt is not None or (life and life.get("timed_out"))):
        if lt is not None:
            speed = lt / tp
            value, met = f"{speed:.1f}x ({lt:.2f} s / {tp:.2f} s)", speed >= TARGET_E2E_SPEEDUP
        else:  # lifetimes took longer than its timeout: a lower bound
            bound = life["process_s"] / tp
            value = f"more than {bound:.1f}x (lifetimes {life['error']})"
            met = True if bound >= TARGET_E2E_SPEEDUP else None  # None: not known
        lines.append(
            {
                "target": f"end to end >= {TARGET_E2E_SPEEDUP:g}x faster than lifetimes",
                "value": value,
                "limit": f">= {TARGET_E2E_SPEEDUP:g}x" + ("" if at_orders else " (indicative)"),
                "met": met,
                "binding": at_orders,
            }
        )
    fits = results.get("fits") or {}
    tf = fastest(fits.get("tenure"), "fit")
    for prefix, label in (("fit", "one row per customer"), ("fit weights", "weights=")):
        lf = fastest(fits.get("lifetimes"), prefix)
        if tf and lf:
            speed = lf["seconds"] / tf["seconds"]
            lines.append(
                {
                    "target": f"BG/NBD fit with SEs >= {TARGET_FIT_SPEEDUP:g}x faster than "
                    f"lifetimes' ({label})",
                    "value": f"{speed:.1f}x ({lf['seconds']:.3f} s / {tf['seconds']:.3f} s)",
                    "limit": f">= {TARGET_FIT_SPEEDUP:g}x"
                    + ("" if at_customers else " (stated for 1M customers, indicative)"),
                    "met": speed >= TARGET_FIT_SPEEDUP,
                    # the target compares with lifetimes' usual call, one row per customer
                    "binding": at_customers and prefix == "fit",
                }
            )
    estimate_checks = [c for c in checks if "significant figures" in c["check"]]
    if estimate_checks:
        lines.append(
            {
                "target": f"same estimates as lifetimes to {SIG_FIGS} significant figures",
                "value": "all agree"
                if all(c["ok"] for c in estimate_checks)
                else "; ".join(c["what"] for c in estimate_checks if not c["ok"]),
                "limit": "",
                "met": all(c["ok"] for c in estimate_checks),
                "binding": True,
            }
        )
    return lines


STEP_ORDER = (
    "read",
    "statistics",
    "summary",
    "bgnbd fit",
    "gg fit",
    "score",
    "p alive",
    "expected purchases",
    "clv",
    "predict",
    "total",
)


def markdown_steps(meta: dict[str, Any], results: dict[str, dict[str, Any]]) -> str:
    n, rows = meta["customers"], meta["rows"]
    lines = [
        "| customers | orders | tool | step | seconds | CPU s | peak RSS MiB | 1-min load |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def line(tool: str, name: str, step: dict[str, Any], out: dict[str, Any]) -> str:
        bold = "**" if name in ("total", "predict") or name.startswith("fit") else ""
        load = (
            f"{out.get('load_before')} → {out.get('load_after')}"
            if name in ("total", "predict")
            else ""
        )
        return (
            f"| {n:,} | {rows:,} | {tool} | {bold}{name}{bold} | {bold}{step['seconds']:.3f}{bold} "
            f"| {step['cpu_s']:.1f} | {step['peak_rss_mib']:,.0f} | {load} |"
        )

    for tool, out in results.items():
        if tool == "fits":
            for sub, inner in out.items():
                label = f"{sub} (fit alone)"
                if "error" in inner:
                    lines.append(
                        f"| {n:,} | {rows:,} | {label} | not run | — | — | — | {inner['error']} |"
                    )
                    continue
                for prefix in ("fit", "fit weights"):
                    best = fastest(inner, prefix)
                    if best:
                        name = f"{prefix} (best of {len(best['runs'])})"
                        lines.append(line(label, name, best, inner))
            continue
        steps = measured(out)
        for name in STEP_ORDER:
            if name in steps:
                lines.append(line(tool, name, steps[name], out))
        if "error" in out:
            lines.append(f"| {n:,} | {rows:,} | {tool} | stopped | — | — | — | {out['error']} |")
    return "\n".join(lines)


def figures_row(meta: dict[str, Any], results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The headline figures of one size."""
    ten, life = results.get("tenure"), results.get("lifetimes")
    fits = results.get("fits") or {}
    tf, lf, lw = (
        fastest(fits.get("tenure"), "fit"),
        fastest(fits.get("lifetimes"), "fit"),
        fastest(fits.get("lifetimes"), "fit weights"),
    )
    tp, lt = _seconds(ten, "predict"), _seconds(life, "total")
    return {
        "customers": meta["customers"],
        "orders": meta["rows"],
        "tenure_s": tp,
        "tenure_process_s": ten.get("process_s") if ten else None,
        "tenure_peak_mib": ten.get("peak_rss_mib") if ten and "error" not in ten else None,
        "lifetimes_s": lt,
        "lifetimes_error": life.get("error") if life else None,
        "lifetimes_peak_mib": life.get("peak_rss_mib") if life and "error" not in life else None,
        "speedup": lt / tp if tp and lt else None,
        "tenure_fit_s": tf["seconds"] if tf else None,
        "lifetimes_fit_s": lf["seconds"] if lf else None,
        "lifetimes_fit_weights_s": lw["seconds"] if lw else None,
        "fit_speedup": lf["seconds"] / tf["seconds"] if tf and lf else None,
        "fit_weights_speedup": lw["seconds"] / tf["seconds"] if tf and lw else None,
        "distinct_rows": (fits.get("tenure") or {}).get("rows"),
    }


def markdown_figures(rows: list[dict[str, Any]]) -> str:
    def s(v: float | None, fmt: str = "{:.2f}") -> str:
        return "—" if v is None else fmt.format(v)

    lines = [
        "| customers | orders | tenure s | lifetimes s | × | tenure fit s | lifetimes fit s "
        "| × | lifetimes fit, weights s | × | peak RSS tenure / lifetimes MiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        life = (
            s(r["lifetimes_s"]) if r["lifetimes_s"] is not None else (r["lifetimes_error"] or "—")
        )
        lines.append(
            f"| {r['customers']:,} | {r['orders']:,} | {s(r['tenure_s'])} | {life} "
            f"| {s(r['speedup'], '{:.1f}×')} | {s(r['tenure_fit_s'], '{:.3f}')} "
            f"| {s(r['lifetimes_fit_s'])} | {s(r['fit_speedup'], '{:.0f}×')} "
            f"| {s(r['lifetimes_fit_weights_s'], '{:.3f}')} | {s(r['fit_weights_speedup'], '{:.1f}×')} "
            f"| {s(r['tenure_peak_mib'], '{:,.0f}')} / {s(r['lifetimes_peak_mib'], '{:,.0f}')} |"
        )
    return "\n".join(lines)


def dominant_step(results: dict[str, dict[str, Any]]) -> str | None:
    steps = results.get("tenure steps")
    if not steps or "error" in steps:
        return None
    got = measured(steps)
    total = got["total"]["seconds"]
    parts = [(n, got[n]["seconds"]) for n in ("read", "statistics", "bgnbd fit", "gg fit", "score")]
    text = ", ".join(f"{n} {s:.2f} s ({s / total:.0%})" for n, s in parts)
    top = max(parts, key=lambda p: p[1])
    return f"tenure's steps: {text}; the largest is {top[0]}"


def machine() -> dict[str, Any]:
    import tenure

    root = Path(tenure.__file__).resolve().parent
    files = [p for d in SOURCE_DIRS for p in (root / d).rglob("*.py")]
    files += [root / f for f in SOURCE_FILES]
    digest = hashlib.sha256()
    for path in sorted(p for p in files if p.exists()):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            [
                "git",
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                *SOURCE_DIRS,
                *SOURCE_FILES,
            ],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        revision = head + (" with uncommitted changes to the predictions" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        revision = None
    mem = mem_total_gib()
    return {
        "tenure_source": revision,
        "source_digest": digest.hexdigest()[:12],
        "cpu_count": os.cpu_count(),
        "mem_total_gib": mem,
        "platform": platform.platform(),
        "versions": versions(
            "tenure", "ibis-framework", "duckdb", "pyarrow", "pandas", "numpy", "scipy"
        ),
    }


def describe(tool: str, out: dict[str, Any]) -> str:
    steps = ", ".join(
        f"{s['step']} {s['seconds']:.2f} s" for s in out.get("steps", []) if s["step"] != "import"
    )
    if "error" in out:
        tail = "\n      ".join(out.get("stderr_tail", []))
        done = f" after: {steps}" if steps else ""
        return f"  {tool:<13} NOT DONE: {out['error']}{done}" + (f"\n      {tail}" if tail else "")
    return (
        f"  {tool:<13} {steps}\n      process {out['process_s']:.2f} s, peak "
        f"{out['peak_rss_mib']:,.0f} MiB, load {out['load_before']}->{out['load_after']}"
    )


def run_size(
    args: argparse.Namespace, customers: int, log: Log, life_python: str | None, life_note: str
) -> dict[str, Any] | None:
    prepared = prepare_data(args, customers, log)
    if prepared is None:
        return None
    path, meta = prepared
    outdir = path.parent / f"{path.stem}-outputs"
    shutil.rmtree(outdir, ignore_errors=True)
    outdir.mkdir()
    common = ["--path", str(path), "--outdir", str(outdir), "--as-of", meta["as_of"]]
    results: dict[str, dict[str, Any]] = {}
    for tool in args.tools:
        if tool == "fits":
            fits: dict[str, dict[str, Any]] = {}
            fit_args = [*common, "--fit-repeat", str(args.fit_repeat)]
            fits["tenure"] = run_child(
                sys.executable, ["tenure-fit", *fit_args], outdir, args.timeout
            )
            log(describe("tenure fit", fits["tenure"]))
            if life_python is None:
                fits["lifetimes"] = {"error": life_note}
            else:
                fits["lifetimes"] = run_child(
                    life_python, ["lifetimes-fit", *fit_args], outdir, args.lifetimes_timeout
                )
            log(describe("lifetimes fit", fits["lifetimes"]))
            results["fits"] = fits
            continue
        python, timeout = sys.executable, args.timeout
        if tool == "lifetimes":
            if life_python is None:
                results[tool] = {"error": life_note}
                log(describe(tool, results[tool]))
                continue
            python, timeout = life_python, args.lifetimes_timeout
        outs = []
        for _ in range(args.repeat):
            out = run_child(python, [tool.replace(" ", "-"), *common], outdir, timeout)
            outs.append(out)
            if "error" in out:
                break
        failed = [o for o in outs if "error" in o]
        results[tool] = failed[0] if failed else _best_run(outs)
        log(describe(tool, results[tool]))
    checks, tables = agreement(results, outdir, meta)
    lines = ratios(results, meta, checks)
    if not args.keep_outputs:
        shutil.rmtree(outdir, ignore_errors=True)
    return {
        "data": meta,
        "results": results,
        "checks": checks,
        "estimates": tables,
        "targets": lines,
        "figures": figures_row(meta, results),
        "dominant": dominant_step(results),
    }


def print_size(run: dict[str, Any]) -> None:
    meta = run["data"]
    print()
    print(
        f"## {meta['customers']:,} customers, {meta['rows']:,} orders "
        f"({meta['orders_per_customer']:.2f} a customer, rate scale k = {meta['rate_scale_k']:.4g}), "
        f"as of {meta['as_of']}"
    )
    rows = run["figures"]["distinct_rows"]
    if rows:
        print(f"distinct (x, t_x, T) the BG/NBD fit runs on: {rows:,}")
    print()
    print(markdown_steps(meta, run["results"]))
    print()
    for table in run["estimates"]:
        if table["model"] == "per customer":
            r = table["rows"][0]
            print(
                f"per customer: max |P(alive) diff| {r['max_p_alive_diff']:.2e}, max |expected "
                f"purchases diff| {r['max_purchases_diff']:.2e}, max CLV rel diff "
                f"{r['max_clv_rel_diff']:.2e}"
            )
            continue
        print(f"{table['model']}: estimate tenure / lifetimes (rel diff), SE tenure / lifetimes")
        for r in table["rows"]:
            se = (
                f"{r['tenure_se']:.4g} / {r['lifetimes_se']:.4g}"
                if r["tenure_se"] is not None and r["lifetimes_se"] is not None
                else "—"
            )
            print(
                f"  {r['param']:<6} {r['tenure']:.6g} / {r['lifetimes']:.6g} ({r['rel_diff']:.1e}"
                f"{'' if r['agree_3sf'] else ', NOT to 3 s.f.'}), SE {se}"
            )
    truth = meta["true_params"]
    print("simulated with: " + ", ".join(f"{k} {v:.4g}" for k, v in truth.items()))
    print()
    for c in run["checks"]:
        print(f"check {c['check']}: {'agrees' if c['ok'] else 'DIFFERS'} ({c['what']})")
    print()
    for t in run["targets"]:
        verdict = {True: "met", False: "MISSED", None: "not known"}[t["met"]]
        note = "" if t["binding"] else " [indicative]"
        print(f"target {t['target']}: {t['value']}, {t['limit']}: {verdict}{note}")
    if run["dominant"]:
        print(run["dominant"])


def _all_outs(results: dict[str, dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for tool, out in results.items():
        yield from (out.values() if tool == "fits" else [out])


def parent(args: argparse.Namespace) -> int:
    log = Log(to_stderr=args.json == "-")
    info = machine()
    log(f"machine: {info['cpu_count']} cores, {info['mem_total_gib']} GiB RAM, {info['platform']}")
    log("versions: " + ", ".join(f"{k} {v}" for k, v in info["versions"].items()))
    log(
        f"tenure source: {info['tenure_source'] or 'not a git checkout'}, "
        f"predictions files digest {info['source_digest']}"
    )
    life_python, life_note = None, "not measured"
    if "lifetimes" in args.tools or "fits" in args.tools:
        life_python, life_note = lifetimes_python(args, log)
        log(f"lifetimes: {life_note}")
    runs = []
    for customers in args.customers:
        run = run_size(args, customers, log, life_python, life_note)
        if run is None:
            return 1
        runs.append(run)
    modules: dict[str, set[str]] = {}
    for run in runs:
        for out in _all_outs(run["results"]):
            for name, digest in (out.get("tenure_code") or {}).items():
                modules.setdefault(name, set()).add(digest)
    changed = any(len(d) > 1 for d in modules.values())
    code = hashlib.sha256(
        json.dumps({k: sorted(v) for k, v in sorted(modules.items())}).encode()
    ).hexdigest()[:12]
    codes = [code] if modules else []
    document = {
        "date": date.today().isoformat(),
        "machine": info,
        "lifetimes_environment": life_note,
        "settings": {
            "horizon_days": HORIZON_DAYS,
            "discount_rate": DISCOUNT_RATE,
            "lifetimes_monthly_rate": MONTHLY_RATE,
            "orders_per_customer": args.orders_per_customer,
            "seed": args.seed,
            "blas_threads": args.blas_threads,
            "blas_env": {k: os.environ.get(k) for k in BLAS_THREAD_VARS},
        },
        "runs": runs,
        "tenure_code_measured": {k: sorted(v) for k, v in sorted(modules.items())},
        "source_changed_during_runs": changed,
    }
    if args.json == "-":
        print(json.dumps(document, indent=2))
    else:
        for run in runs:
            print_size(run)
        print()
        print(markdown_figures([r["figures"] for r in runs]))
        print(
            "\ntenure s: the predict() call; lifetimes s: read + summary + fits + P(alive) + "
            "expected purchases + CLV; fit s: the fastest BG/NBD fit with standard errors alone; "
            "peak RSS: that process's VmHWM."
        )
        print(
            f"tenure code measured: {len(modules)} modules, digest {', '.join(codes) or '—'} "
            "(of the files the measured processes imported)"
        )
        if changed:
            moved = sorted(k for k, v in modules.items() if len(v) > 1)
            print(
                "WARNING: tenure's source changed between the measured processes "
                f"({', '.join(moved)}); the figures mix versions."
            )
        if args.json:
            Path(args.json).write_text(json.dumps(document, indent=2), encoding="utf-8")
            print(f"wrote {args.json}")
    failed = any(
        "error" in run["results"].get(t, {}) for run in runs for t in ("tenure", "tenure steps")
    ) or any("error" in (run["results"].get("fits") or {}).get("tenure", {}) for run in runs)
    bad = any(not c["ok"] for run in runs for c in run["checks"])
    return 1 if failed or bad else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--customers",
        type=int,
        nargs="+",
        action="extend",
        help="customers to simulate; repeat the flag or give a list (default: 100000 1000000)",
    )
    parser.add_argument(
        "--orders-per-customer",
        type=float,
        help="scale BG/NBD's purchase rate (alpha / k) so that customers place this many "
        "orders on average (default: the published parameters, about 2.35)",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--tools",
        nargs="+",
        choices=TOOLS,
        default=list(TOOLS),
        help="what to measure (default: all, in this order)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="end-to-end runs per tool; each step its fastest"
    )
    parser.add_argument(
        "--fit-repeat", type=int, default=3, help="repeats of each fit alone; the fastest counts"
    )
    parser.add_argument(
        "--workdir",
        help="folder for the cached orders (default: tenure-bench-predict in the temp folder)",
    )
    parser.add_argument("--regenerate", action="store_true", help="simulate the orders again")
    parser.add_argument(
        "--keep-outputs", action="store_true", help="keep the per-customer outputs next to the data"
    )
    parser.add_argument(
        "--json",
        nargs="?",
        const="-",
        help="print the figures as JSON instead of the tables, or with FILE write them there",
    )
    parser.add_argument("--lifetimes-python", help="an interpreter that has lifetimes installed")
    parser.add_argument(
        "--no-setup",
        action="store_true",
        help=f"do not create {LIFETIMES_VENV.name} when lifetimes is missing",
    )
    parser.add_argument(
        "--timeout", type=float, default=3600, help="seconds before a tenure process is stopped"
    )
    parser.add_argument(
        "--lifetimes-timeout",
        type=float,
        default=900,
        help="seconds before a lifetimes process is stopped and reported as timed out",
    )
    parser.add_argument(
        "--blas-threads",
        type=int,
        help="set OPENBLAS_NUM_THREADS and MKL_NUM_THREADS to this in the measured "
        "processes (default: as in this shell)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--outdir", help=argparse.SUPPRESS)
    parser.add_argument("--as-of", help=argparse.SUPPRESS)
    parser.add_argument("--gen-customers", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.customers = args.customers or [100_000, 1_000_000]
    if any(n < 1 for n in args.customers):
        parser.error("--customers must be 1 or more")
    if args.orders_per_customer is not None and args.orders_per_customer <= 1:
        parser.error("--orders-per-customer must be more than 1 (the first order counts)")
    if args.repeat < 1 or args.fit_repeat < 1:
        parser.error("--repeat and --fit-repeat must be 1 or more")

    global BLAS_THREADS
    BLAS_THREADS = args.blas_threads
    if args.child:
        path = Path(args.path)
        outdir = Path(args.outdir) if args.outdir else None
        children = {
            "generate": lambda: child_generate(
                args.gen_customers, args.seed, args.orders_per_customer, path
            ),
            "tenure": lambda: child_tenure(path, outdir),
            "tenure-steps": lambda: child_tenure_steps(path, outdir),
            "tenure-fit": lambda: child_tenure_fit(path, outdir, args.fit_repeat),
            "lifetimes": lambda: child_lifetimes(path, outdir, args.as_of),
            "lifetimes-fit": lambda: child_lifetimes_fit(path, outdir, args.as_of, args.fit_repeat),
        }
        if args.child not in children:
            parser.error(f"unknown child mode {args.child!r}")
        children[args.child]()
        return 0
    return parent(args)


if __name__ == "__main__":
    sys.exit(main())
