"""The report's churn and survival section: the churn model's numbers as
``tenure fit churn`` kept them, Kaplan-Meier curves equal to a hand count,
the kept sBG fit's curve equal to its closed form, and what the section says
without subscriptions, without lifelines, or with no model kept."""

from __future__ import annotations

import sys
from datetime import date, timedelta

import ibis
import numpy as np
import pandas as pd
import pytest
from scipy.special import beta as beta_fn

from tenure.analysis.fitting import fit
from tenure.analysis.predictions import StoredPredictions
from tenure.config import load_settings
from tenure.datamodel import KINDS
from tenure.engine.context import Context, Definitions
from tenure.engine.durations import subscription_durations
from tenure.engine.source import Source, open_store
from tenure.report import churn
from tenure.report.formatting import Formatter
from tests.conftest import demo_store
from tests.engine.conftest import duckdb_tables, orders_frame

DEMO_END = date(2026, 10, 31)  # the demo's last day
FMT = Formatter("de-DE", "EUR")
# a store that keeps no fit at all
NOTHING_KEPT = StoredPredictions([], None, None)


def _figures(figs: list, prefix: str) -> list:
    """The section's figures themselves, where the report takes their HTML."""
    return figs


def _part(section: dict, title: str) -> dict:
    assert section["id"] == "churn" and section["title"] == "Churn and survival"
    return next(p for p in section["parts"] if p["title"] == title)


def _table(part: dict, starts: str) -> dict:
    return next(t for t in part.get("tables", []) if t["title"].startswith(starts))


def _trace(fig, name: str):
    return next(t for t in fig.data if t.name == name)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A demo store of 400 customers, open for the module."""
    folder = tmp_path_factory.mktemp("churn-section")
    settings, files = demo_store(folder, customers=400, seed=5)
    # what tenure fit churn and tenure fit sbg keep, and the report reads back
    churn_fit = fit("churn", settings=settings, save=True)
    sbg_fit = fit("sbg", settings=settings, save=True)
    with open_store(settings) as source:
        yield settings, source, churn_fit, sbg_fit


@pytest.fixture(scope="module")
def section(demo):
    settings, source, *_ = demo
    return churn.section(Context(source, Definitions()), settings, FMT, _figures)


@pytest.fixture(scope="module")
def result(demo):
    """The churn model as it was fitted, before the store kept it."""
    return demo[2].details


# -- churn risk ---------------------------------------------------------------------


def test_the_riskiest_customers_are_fit_churns_first_rows(section, result):
    part = _part(section, "Churn risk")
    table = _table(part, "The 20 customers most likely to churn in the next 90 days")
    top = result.customers.head(20)
    assert [r[0] for r in table["rows"]] == top["customer_id"].tolist()
    assert [r[1] for r in table["rows"]] == [FMT.percent(100 * p) for p in top["churn_probability"]]
    assert table["header"] == ["customer", "churn probability", "driver 1", "driver 2", "driver 3"]
    first = top.iloc[0]
    name = churn.FEATURES[first["driver_1"]][0]
    sign = "+" if first["driver_1_contribution"] > 0 else ""
    assert table["rows"][0][2].startswith(f"{name}: ")
    assert table["rows"][0][2].endswith(f" ({sign}{FMT.number(first['driver_1_contribution'], 2)})")


def test_the_evaluation_and_windows_are_fit_churns(section, result):
    part = _part(section, "Churn risk")
    ev = result.evaluation
    scores = _table(part, "Fitted on the training window, tested on the test window")
    assert scores["rows"] == [
        [name, FMT.number(ev.loc[s, "auc"], 3), FMT.number(ev.loc[s, "brier"], 3),
         FMT.number(ev.loc[s, "lift_top_decile"], 2)]
        for s, name in (("model", "churn model"), ("recency_baseline", "recency only"))
    ]  # fmt: skip
    assert "," in scores["rows"][0][1]  # German decimals: through the Formatter
    windows = _table(part, "The windows")["rows"]
    train, test = DEMO_END - timedelta(days=180), DEMO_END - timedelta(days=90)
    assert windows[0][:3] == ["training", FMT.date(train), f"{FMT.date(train)} – {FMT.date(test)}"]
    assert windows[1][:3] == ["test", FMT.date(test), f"{FMT.date(test)} – {FMT.date(DEMO_END)}"]
    assert [w[3] for w in windows] == [
        FMT.number(result.sizes[k]) for k in ("train", "test", "score")
    ]
    p = result.customers["churn_probability"]
    assert f"Of the {FMT.number(len(p))} customers active on {FMT.date(DEMO_END)}" in part["text"]
    assert f"expects {FMT.number(p.sum())} " in part["text"]
    # the base rate's Brier score is p (1 - p)
    rate = ev.loc["model", "churn_rate"]
    assert f"Brier score of {FMT.number(rate * (1 - rate), 3)}" in part["notes"][0]


def test_the_drivers_chart_is_the_mean_absolute_shap_per_feature(section, result):
    fig, calibration = _part(section, "Churn risk")["charts"]
    bars = fig.data[0]
    top = result.importances.head(15)
    np.testing.assert_allclose(bars.x, top.to_numpy())
    assert list(bars.y) == [churn.FEATURES[f][0] for f in top.index]
    assert fig.layout.separators == FMT.separators
    # the calibration chart is the test window's table, point for point
    points = calibration.data[1]
    np.testing.assert_allclose(points.x, result.calibration["predicted"])
    np.testing.assert_allclose(points.y, result.calibration["observed"])


# -- survival on the demo ------------------------------------------------------------


def test_the_survival_part_shows_the_kept_sbg_fit(demo, section):
    _, source, _, sbg_fit = demo
    part = _part(section, "Subscription survival")
    d = subscription_durations(Context(source, Definitions())).to_pandas()
    started = _table(part, "Share still subscribed")["rows"][0]
    assert started[:3] == [
        "all subscriptions (Kaplan–Meier)",
        FMT.number(len(d)),
        FMT.number(int(d.churned.sum())),
    ]
    # the parameters tenure fit sbg found, read back from the store
    a, b = sbg_fit.record["params"]["alpha"], sbg_fit.record["params"]["beta"]
    shown = {r[1]: r[2] for r in _table(part, "Shifted-beta-geometric")["rows"]}
    assert shown["alpha"] == FMT.number(a, 4) and shown["beta"] == FMT.number(b, 4)
    sbg = _trace(part["charts"][0], "sBG model")
    t = np.asarray(sbg.x, dtype="float64")
    assert t[0] == 0 and t[-1] >= 24  # projected past the data
    np.testing.assert_allclose(sbg.y, 100 * beta_fn(a, b + t) / beta_fn(a, b), rtol=1e-9)
    s12 = beta_fn(a, b + 12) / beta_fn(a, b)
    sbg_row = _table(part, "Share still subscribed")["rows"][1]
    assert sbg_row[0] == "all subscriptions (sBG)" and sbg_row[6] == FMT.percent(100 * s12)
    assert (
        f"The sBG curve is the model kept in the store (version {sbg_fit.record['model_version']}"
        in part["text"]
    )
    names = [t.name for t in part["charts"][1].data]  # by plan: one curve per plan
    assert names == ["basic", "plus", "premium"]
    assert part["notes"] == [
        "An sBG model per plan and hazard ratios by plan and country are not shown here: "
        "tenure fit sbg --subscriptions FILE fits the sBG model on a file of one plan's "
        "subscriptions, and cox_hazards in tenure.models gives the hazard ratios in Python "
        "(see docs/churn.md)"
    ]


# -- survival by hand ----------------------------------------------------------------

AS_OF = date(2024, 12, 31)
SUBSCRIPTIONS = [
    # months are counted at the renewal dates, the 1st of each month here
    ("s1", "a", "2024-01-01", "2024-02-01", "basic"),  # ended on its 1st renewal date: t = 1
    ("s2", "b", "2024-01-01", "2024-01-15", "basic"),  # before its 1st: t = 1
    ("s3", "c", "2024-01-01", "2024-03-10", "basic"),  # after its 2nd, before its 3rd: t = 3
    ("s4", "d", "2024-01-01", "2024-03-01", "basic"),  # on its 2nd: t = 2
    ("s5", "e", "2024-10-01", None, "plus"),  # active, 2 renewals: censored at 2
    ("s6", "f", "2024-01-01", None, "plus"),  # active, 11 renewals: censored at 11
    ("s7", "g", "2024-06-01", "2024-09-01", "plus"),  # on its 3rd: t = 3
    ("s8", "h", "2024-06-01", None, "plus"),  # active, 6 renewals: censored at 6
]
# t = 1: 8 at risk, 2 end -> 6/8; t = 2: 6 at risk, 1 ends (s5 censored) -> 6/8 * 5/6;
# t = 3: 4 at risk, 2 end -> 5/8 * 2/4 = 5/16; then only censorings
KM_ALL = {0: 1.0, 1: 0.75, 2: 0.625, 3: 0.3125, 6: 0.3125, 11: 0.3125}
# basic: 4 at risk, 2 end at 1, 1 at 2, 1 at 3; plus: s7 ends at 3 among s6, s7, s8
KM_PLAN = {
    "basic": {0: 1.0, 1: 0.5, 2: 0.25, 3: 0.0},
    "plus": {0: 1.0, 2: 1.0, 3: 2 / 3, 6: 2 / 3, 11: 2 / 3},
}
SBG_ROWS = [(1, 1), (1, 1), (3, 1), (2, 1), (2, 0), (11, 0), (3, 1), (6, 0)]  # (t, churned)


def _tiny(**frames: pd.DataFrame) -> Context:
    source = Source(ibis.duckdb.from_connection(duckdb_tables(**frames)), {k: k for k in KINDS})
    return Context(source, Definitions(as_of=AS_OF))


def _subscriptions() -> pd.DataFrame:
    frame = pd.DataFrame(
        SUBSCRIPTIONS, columns=["subscription_id", "customer_id", "started_at", "ended_at", "plan"]
    )
    for col in ("started_at", "ended_at"):
        frame[col] = pd.to_datetime(frame[col]) + pd.Timedelta(hours=9)
    return frame


def _section(ctx: Context) -> dict:
    return churn.section(ctx, load_settings(), FMT, _figures, NOTHING_KEPT)


@pytest.fixture(scope="module")
def tiny():
    return _section(_tiny(subscriptions=_subscriptions()))


def test_kaplan_meier_equals_a_hand_count(tiny):
    part = _part(tiny, "Subscription survival")
    overall, by_plan = part["charts"]  # too few ends for hazard ratios
    km = _trace(overall, "Kaplan–Meier")
    assert list(km.x) == list(KM_ALL)
    np.testing.assert_allclose(km.y, [100 * s for s in KM_ALL.values()])
    for plan, curve in KM_PLAN.items():
        trace = _trace(by_plan, plan)
        assert list(trace.x) == list(curve)
        np.testing.assert_allclose(trace.y, [100 * s for s in curve.values()])
    row = _table(part, "Share still subscribed")["rows"][0]
    # after 1, 3 and 6 months; 12 and 24 lie past the last duration (11)
    assert row[:3] == ["all subscriptions (Kaplan–Meier)", "8", "5"]
    s3 = km.y[list(km.x).index(3)]  # 31.25, checked above; the table rounds it
    cells = [c.split(" (")[0] for c in row[3:]]
    assert cells == [FMT.percent(75.0), FMT.percent(s3), FMT.percent(s3), "—", "—"]
    assert "5 have ended and 3 are still active" in part["text"]


def test_without_kept_models_each_part_names_the_command_that_keeps_one(tiny):
    churn_part = _part(tiny, "Churn risk")
    assert churn_part["text"] == (
        "No churn model is kept in the store yet: tenure fit churn fits one and keeps "
        "every active customer's churn risk, for this page and the customer pages."
    )
    survival = _part(tiny, "Subscription survival")
    assert (
        "No sBG model is kept in the store yet: tenure fit sbg fits one on how long "
        "subscriptions last and keeps it, with every active subscription's renewal "
        "probability." in survival["text"]
    )
    # the Kaplan-Meier curves are counted all the same; no sBG line beside them
    assert [t.name for t in survival["charts"][0].data] == [None, "95 % band", "Kaplan–Meier"]
    assert [t["title"].split(" (")[0] for t in survival["tables"]] == [
        "Share still subscribed after 1, 3, 6, 12 and 24 months"
    ]


def test_without_subscriptions_the_survival_part_says_so():
    orders = orders_frame(
        [("o1", "a", "2024-03-01 10:00", 10.0), ("o2", "b", "2024-05-01 10:00", 12.0)]
    )
    part = _part(_section(_tiny(orders=orders)), "Subscription survival")
    assert part == {
        "title": "Subscription survival",
        "text": "There are no subscriptions in the data, so there are no survival curves.",
    }


def test_without_lifelines_the_section_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "lifelines", None)  # import lifelines fails
    part = _part(_section(_tiny(subscriptions=_subscriptions())), "Subscription survival")
    assert "pip install 'tenure[ml]'" in part["text"]
    assert part["tables"] == [] and part["charts"] == []


def test_the_parts_render_under_their_own_headings():
    from tenure.report.build import chart_blocks, render

    ctx = _tiny(subscriptions=_subscriptions())
    section = churn.section(ctx, load_settings(), FMT, chart_blocks, NOTHING_KEPT)
    data = {
        "title": "t", "generated": "", "definitions": ctx.describe(), "as_of": "", "version": "",
        "tiles": [], "sections": [section], "locale": "de-DE",
    }  # fmt: skip
    page = render(data, FMT)
    body = page[page.index('<section id="churn"') :]
    assert body.index('<h3 id="churn-1-h">Churn risk</h3>') < body.index("No churn model is kept")
    assert body.index('<h3 id="churn-2-h">Subscription survival</h3>') < body.index(
        "<caption>Share still subscribed"
    )
    assert body.count('class="plotly-graph-div"') == 2


# -- the two churns, side by side ---------------------------------------------------


def _evaluation(model: tuple[float, float], baseline: tuple[float, float]) -> pd.DataFrame:
    """(top-decile lift, AUC) of the model and of the recency baseline."""
    return pd.DataFrame(
        {"lift_top_decile": [model[0], baseline[0]], "auc": [model[1], baseline[1]]},
        index=["model", "recency_baseline"],
    )


def test_a_model_that_does_not_beat_recency_is_said_to_first():
    en = Formatter("en-US", "USD")
    # CDNOW: a top-decile lift of 1.28 against the recency rule's 1.30
    said = churn.baseline_verdict(_evaluation((1.28, 0.80), (1.30, 0.79)), en)
    assert said.startswith("The churn model does not beat a rule that knows only the days since")
    assert "top-decile lift 1.28 against 1.30" in said and "AUC" not in said
    both = churn.baseline_verdict(_evaluation((1.28, 0.70), (1.30, 0.71)), en)
    assert "top-decile lift 1.28 against 1.30 and AUC 0.700 against 0.710" in both
    # better on both: nothing to say
    assert churn.baseline_verdict(_evaluation((2.10, 0.85), (1.30, 0.79)), en) is None


def _monthly(churn_rate: float, missing: dict | None = None) -> pd.DataFrame:
    return pd.DataFrame(
        {"period": ["2026-10"], "churn_rate": [churn_rate], "missing": [missing or {}]}
    )


def test_the_monthly_and_the_model_churn_in_each_others_terms():
    en = Formatter("en-US", "USD")
    # 5.5 % a month over 90 days: 1 - 0.945^(90 / 30.4375) = 15.4 %; the model's
    # 75 % in 90 days a month: 1 - 0.25^(30.4375 / 90) = 37.4 %
    text = churn.comparison(_monthly(5.5), 90, 75.0, "purchase", 365, en)
    assert text == (
        "Two churn rates, side by side. The overview's monthly churn rate, 5.5% in 2026-10, "
        "counts the customers active at a month's start who are lost by its end, when 365 days "
        "have passed since their last purchase; over 90 days at that rate, 15.4%. The churn "
        "model's 75.0% counts the customers active today with no purchase in the 90 days after; "
        "as a rate per month, 37.4%. The model's is the larger because 90 days without a "
        "purchase are a shorter test than 365."
    )
    # a model's 10 % in 90 days is 1 - 0.9^(30.4375 / 90) = 3.5 % a month, under the
    # overview's 5.5 %: it is not said to be the larger
    text = churn.comparison(_monthly(5.5), 90, 10.0, "purchase", 365, en)
    assert text.endswith(
        "The churn model's 10.0% counts the customers active today with no purchase in the "
        "90 days after; as a rate per month, 3.5%."
    )
    assert churn.tile_note(5.5, 90, 75.0, en) == (
        "≈ 15.4% over 90 days; the churn model: 75.0% in the next 90 days"
    )
    # a month without a churn rate says why
    why = "the period starts less than the 365-day activity window after the first purchase"
    text = churn.comparison(_monthly(np.nan, {"churn_rate": why}), 90, 75.0, "purchase", 365, en)
    assert text.startswith(
        "The overview's monthly churn rate (customers lost by the month's end: 365 days have "
        f"passed since their last purchase) is not known yet: {why}. The churn model's 75.0%"
    )


def test_the_demo_section_states_both_churns(section, result):
    text = _part(section, "Churn risk")["text"]
    assert "Two churn rates, side by side." in text
    assert f"in the next {result.horizon_days} days" in text


def _kept_churn(probabilities: list[float], evaluation: pd.DataFrame) -> StoredPredictions:
    """A kept churn model of four customers, as the store gives it back."""
    from tenure.predictions.churn import ChurnResult

    customers = pd.DataFrame({
        "customer_id": [f"c{i}" for i in range(len(probabilities))],
        "churn_probability": probabilities,
        "driver_1": "recency_days", "driver_1_value": 100.0, "driver_1_contribution": 0.5,
    })  # fmt: skip
    windows = {"train": date(2024, 7, 4), "test": date(2024, 10, 2), "score": AS_OF}
    result = ChurnResult(
        model=None, evaluation=evaluation, importances=pd.Series({"recency_days": 0.5}),
        customers=customers, as_of=AS_OF, horizon_days=90, windows=windows,
        sizes={"train": 4, "test": 4, "score": 4}, definitions={}, calibration=None,
        kept={"fit_id": 1, "model_version": 1, "fitted_at": pd.Timestamp("2025-01-02 08:00")},
    )  # fmt: skip
    return StoredPredictions([], None, result)


def test_a_kept_model_no_better_than_recency_is_said_first_with_its_share():
    en = Formatter("en-US", "USD")
    evaluation = pd.DataFrame(
        {"auc": [0.80, 0.79], "brier": [0.20, 0.21], "lift_top_decile": [1.28, 1.30],
         "churn_rate": [0.5, 0.5], "customers": [4, 4]},
        index=["model", "recency_baseline"],
    )  # fmt: skip
    # active by purchases: lost after 365 days without one
    orders = orders_frame([("o1", "a", "2024-03-01 10:00", 10.0)])
    tiny = _tiny(subscriptions=_subscriptions(), orders=orders)
    ctx = Context(tiny.source, Definitions(as_of=AS_OF, active_by="purchase"))
    kept = _kept_churn([0.8, 0.6, 0.4, 0.2], evaluation)
    section = churn.section(ctx, load_settings(), en, _figures, kept, _monthly(5.5))
    # (0.8 + 0.6 + 0.4 + 0.2) / 4 = 50 % expected to churn in the next 90 days
    assert section["summary"] == {"horizon_days": 90, "expected_share": pytest.approx(50.0)}
    # lift 1.28 is not above 1.30; AUC 0.80 is above 0.79, so only the lift is named
    assert section["text"] == (
        "The churn model does not beat a rule that knows only the days since each customer's "
        "last purchase: on the test window its top-decile lift 1.28 against 1.30 for that rule. "
        "Ranking customers by recency does as well; read the scores below with that in mind."
    )
    text = _part(section, "Churn risk")["text"]
    assert text.startswith(
        "Of the 4 customers active on Dec 31, 2024, the model expects 2 (50.0%) to churn in the "
        "next 90 days; 2 have a churn probability of 50% or more."
    )
    # 50 % in 90 days is 1 - 0.5^(30.4375 / 90) = 20.9 % a month, above the overview's 5.5 %
    assert "as a rate per month, 20.9%. The model's is the larger because" in text
    # better on both measures: nothing is said before the numbers
    evaluation.loc["model", "lift_top_decile"] = 2.10
    better = churn.section(ctx, load_settings(), en, _figures, kept, _monthly(5.5))
    assert "text" not in better
