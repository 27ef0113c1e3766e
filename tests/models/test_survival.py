"""Kaplan-Meier curves against hand computations and a product-limit estimate
written here; Cox hazard ratios recovered from simulations with known ratios;
the demo's subscription survival against the sBG truth it was drawn from."""

from __future__ import annotations

import math
import sys
from datetime import date
from statistics import NormalDist

import ibis
import numpy as np
import pandas as pd
import pytest
from scipy.special import betaln

from tenure.datamodel import KINDS
from tenure.datasets.demo import SBG, generate_demo
from tenure.engine.context import Context, Definitions
from tenure.engine.durations import subscription_durations
from tenure.engine.source import Source
from tenure.errors import ConfigError, InputError, MissingExtraError
from tenure.models.survival import cox_hazards, kaplan_meier
from tests.conftest import skip_or_fail
from tests.engine.conftest import duckdb_tables

Z = NormalDist().inv_cdf(0.975)


@pytest.fixture(autouse=True)
def _lifelines(request):
    if "monkeypatch" in request.fixturenames:  # the test that takes lifelines away
        return
    try:
        import lifelines  # noqa: F401
    except ImportError:
        skip_or_fail("lifelines is not installed (pip install 'tenure[ml]')")


def _product_limit(t: np.ndarray, e: np.ndarray) -> dict[float, tuple[float, int]]:
    """S(u) and the number at risk at every distinct time u, straight from the definition."""
    out, s = {0.0: (1.0, len(t))}, 1.0
    for u in sorted(set(t.tolist())):
        at_risk = int((t >= u).sum())
        ended = int(((t == u) & e).sum())
        s *= 1 - ended / at_risk
        out[float(u)] = (s, at_risk)
    return out


def test_kaplan_meier_by_hand():
    # durations 1, 2, 2+, 3, 4+, 5 (+ = still active)
    d = pd.DataFrame({"duration_days": [1, 2, 2, 3, 4, 5], "churned": [1, 1, 0, 1, 0, 1]})
    curve = kaplan_meier(d)
    assert list(curve.columns) == [
        "time", "survival", "lower", "upper", "at_risk", "events", "censored",
    ]  # fmt: skip
    assert curve["time"].tolist() == [0, 1, 2, 3, 4, 5]
    # S(1) = 5/6; S(2) = 5/6 * 4/5 = 2/3; S(3) = 2/3 * (1 - 1/3) = 4/9; S(5) = 0
    np.testing.assert_allclose(curve["survival"], [1, 5 / 6, 2 / 3, 4 / 9, 4 / 9, 0])
    assert curve["at_risk"].tolist() == [6, 6, 5, 3, 2, 1]
    assert curve["events"].tolist() == [0, 1, 1, 1, 0, 1]
    assert curve["censored"].tolist() == [0, 0, 1, 0, 1, 0]
    # the log(-log) band at t = 1: Greenwood's variance 1 / (6 * 5), on the
    # scale of log(-log S) its standard error is sqrt(1/30) / |log S|
    s = 5 / 6
    se = math.sqrt(1 / 30) / abs(math.log(s))
    lower, upper = s ** math.exp(Z * se), s ** math.exp(-Z * se)
    assert curve.loc[1, "lower"] == pytest.approx(lower, rel=1e-6)  # 0.2731
    assert curve.loc[1, "upper"] == pytest.approx(upper, rel=1e-6)  # 0.9747
    # at t = 3: variance 1/30 + 1/20 + 1/6
    s = 4 / 9
    se = math.sqrt(1 / 30 + 1 / 20 + 1 / 6) / abs(math.log(s))
    assert curve.loc[3, "lower"] == pytest.approx(s ** math.exp(Z * se), rel=1e-6)


def test_kaplan_meier_by_group_equals_the_product_limit_per_group():
    rng = np.random.default_rng(3)
    n = 400
    d = pd.DataFrame(
        {
            "periods": rng.integers(0, 12, n),  # many ties
            "churned": rng.random(n) < 0.6,
            "plan": rng.choice(["basic", "plus", None], n),
        }
    )
    curves = kaplan_meier(d, time="periods", group="plan")
    assert sorted(curves["plan"].unique()) == ["(none)", "basic", "plus"]
    for plan, curve in curves.groupby("plan"):
        rows = d[d["plan"].fillna("(none)") == plan]
        expected = _product_limit(rows["periods"].to_numpy(), rows["churned"].to_numpy())
        assert curve["time"].tolist() == list(expected)
        np.testing.assert_allclose(curve["survival"], [v[0] for v in expected.values()])
        assert curve["at_risk"].tolist() == [v[1] for v in expected.values()]
        assert ((curve["lower"] <= curve["survival"]) & (curve["survival"] <= curve["upper"])).all()


def _exponential_lifetimes(rng, hazard: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exponential lifetimes, right-censored by a uniform observation time."""
    life = rng.exponential(1 / hazard)
    observed = rng.uniform(0, 3 / hazard.mean(), len(hazard))
    return np.minimum(life, observed), life <= observed


def test_cox_recovers_known_hazard_ratios():
    rng = np.random.default_rng(11)
    n = 5000
    plan = rng.choice(["basic", "premium", "plus"], n, p=[0.5, 0.25, 0.25])
    country = rng.choice(["DE", "FR"], n)
    mrr = rng.normal(20, 5, n)
    # premium doubles the hazard, plus halves it, country does nothing, and each
    # unit of mrr multiplies it by exp(0.03)
    hazard = 0.01 * np.select([plan == "premium", plan == "plus"], [2.0, 0.5], 1.0)
    hazard = hazard * np.exp(0.03 * (mrr - 20))
    t, e = _exponential_lifetimes(rng, hazard)
    d = pd.DataFrame({"duration_days": t, "churned": e, "plan": plan, "country": country,
                      "mrr": mrr})  # fmt: skip
    out = cox_hazards(d, numeric=["mrr"]).set_index("covariate")
    assert list(out.columns) == ["hazard_ratio", "lower", "upper", "p"]
    assert list(out.index) == ["plan=plus", "plan=premium", "country=FR", "mrr"]
    assert out.attrs["reference"] == {"plan": "basic", "country": "DE"}
    truth = {"plan=plus": 0.5, "plan=premium": 2.0, "country=FR": 1.0, "mrr": math.exp(0.03)}
    for name, ratio in truth.items():
        row = out.loc[name]
        assert row.lower < ratio < row.upper, name
        assert row.hazard_ratio == pytest.approx(ratio, rel=0.1), name
    assert out.loc["plan=premium", "p"] < 1e-10 and out.loc["country=FR", "p"] > 0.01


def test_cox_picks_plan_and_country_when_present_and_says_when_there_is_nothing():
    rng = np.random.default_rng(5)
    n = 600
    d = pd.DataFrame(
        {
            "duration_days": rng.exponential(100, n),
            "churned": rng.random(n) < 0.7,
            "plan": rng.choice(["a", "b"], n),
        }
    )
    common = d["plan"].value_counts().idxmax()
    other = "b" if common == "a" else "a"
    out = cox_hazards(d)
    assert out["covariate"].tolist() == [f"plan={other}"]
    assert out.attrs["reference"] == {"plan": common}
    with pytest.raises(ConfigError, match="no covariates"):
        cox_hazards(d.drop(columns="plan"))
    with pytest.raises(InputError, match="one value only"):
        cox_hazards(d.assign(plan="a"))
    with pytest.raises(ConfigError, match="penalizer"):
        cox_hazards(d, penalizer=-1)


def test_bad_durations_say_what_to_change():
    d = pd.DataFrame({"duration_days": [1, 2], "churned": [True, False]})
    with pytest.raises(InputError, match="no column 'periods'"):
        kaplan_meier(d, time="periods")
    with pytest.raises(InputError, match="0 or more"):
        kaplan_meier(d.assign(duration_days=[-1, 2]))
    with pytest.raises(InputError, match="True / False"):
        kaplan_meier(d.assign(churned=["yes", "no"]))


def test_without_lifelines_the_ml_extra_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "lifelines", None)  # import lifelines fails
    d = pd.DataFrame({"duration_days": [1, 2], "churned": [True, False]})
    with pytest.raises(MissingExtraError, match=r"pip install 'tenure\[ml\]'"):
        kaplan_meier(d)


def test_demo_subscriptions_survive_as_their_sbg_truth(tmp_path):
    """The demo draws monthly lifetimes from the sBG model: the share still
    subscribed after t months is B(alpha, beta + t) / B(alpha, beta)."""
    files = generate_demo(tmp_path, customers=4000, seed=21)
    subs = pd.read_csv(files.subscriptions, parse_dates=["started_at", "ended_at"])
    subs["started_at"] = subs["started_at"].dt.tz_localize(None)
    subs["ended_at"] = subs["ended_at"].dt.tz_localize(None)
    raw = duckdb_tables(subscriptions=subs.drop(columns=["mrr", "currency"]))
    source = Source(ibis.duckdb.from_connection(raw), {k: k for k in KINDS})
    ctx = Context(source, Definitions(as_of=date.fromisoformat(files.params["as_of"])))
    d = subscription_durations(ctx).to_pandas()
    assert len(d) == files.params["counts"]["subscriptions"]
    curve = kaplan_meier(d, time="periods").set_index("time")
    a, b = SBG["alpha"], SBG["beta"]
    for t in (1, 2, 3, 6, 12):
        truth = math.exp(betaln(a, b + t) - betaln(a, b))
        assert curve.loc[t, "lower"] < truth < curve.loc[t, "upper"], t
