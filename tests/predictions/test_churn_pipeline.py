"""The churn pipeline on a demo store: time-based windows, every active
customer scored, an AUC well above chance, and errors that say what to do."""

from __future__ import annotations

import json
from datetime import date, timedelta

import ibis
import numpy as np
import pandas as pd
import pytest

from tenure.config import load_settings
from tenure.datamodel import KINDS
from tenure.engine.context import Context, Definitions
from tenure.engine.features import PURCHASE_FEATURES, churn_features
from tenure.engine.source import Source, open_store
from tenure.errors import ConfigError, InputError
from tenure.models.churn import ChurnClassifier
from tenure.predictions.churn import fit_churn
from tests.conftest import query
from tests.engine.conftest import duckdb_tables, orders_frame

DEMO_END = date(2026, 10, 31)  # the demo's last day


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A demo store of 1,500 customers, open for the module."""
    from tenure.datamodel import INGEST_ORDER
    from tenure.datasets.demo import generate_demo
    from tenure.ingestion.pipeline import ingest
    from tenure.store.workspace import Workspace

    folder = tmp_path_factory.mktemp("churn-demo")
    files = generate_demo(folder / "files", customers=1500, seed=4)
    settings = load_settings(store=folder / "store", reporting_currency="EUR")
    with Workspace.open(settings) as ws:
        for kind in INGEST_ORDER:
            assert ingest(kind, files.by_kind()[kind], workspace=ws).rejected == 0
    with open_store(settings) as source:
        yield settings, source


@pytest.fixture(scope="module")
def result(demo):
    _, source = demo
    # one thread: on a busy machine, waiting threads cost more than they give
    model = ChurnClassifier(n_jobs=1)
    return fit_churn(Context(source, Definitions()), horizon_days=90, classifier=model)


def _active_at_demo_end(store) -> set[str]:
    """Customers with a purchase in the 365 days to the end, or a subscription
    running at the end of it: the 'either' definition, in plain SQL."""
    rows = query(
        store,
        f"""
        SELECT customer_id FROM orders
        WHERE status IN ('completed', 'pending', 'partially_refunded')
          AND CAST(placed_at AS DATE) BETWEEN DATE '{DEMO_END}' - 364 AND DATE '{DEMO_END}'
        UNION
        SELECT customer_id FROM subscriptions
        WHERE CAST(started_at AS DATE) <= DATE '{DEMO_END}'
          AND (ended_at IS NULL OR CAST(ended_at AS DATE) > DATE '{DEMO_END}')
        """,
    )
    return {r[0] for r in rows}


def test_every_customer_active_at_as_of_is_scored(demo, result):
    settings, _ = demo
    frame = result.customers
    assert result.as_of == DEMO_END
    assert set(frame["customer_id"]) == _active_at_demo_end(settings.store)
    assert frame["customer_id"].is_unique
    p = frame["churn_probability"].to_numpy()
    assert np.isfinite(p).all() and ((p >= 0) & (p <= 1)).all()
    assert (np.diff(p) <= 0).all()  # highest risk first
    assert list(frame.columns[:5]) == [
        "customer_id", "churn_probability", "driver_1", "driver_1_value", "driver_1_contribution",
    ]  # fmt: skip
    assert "driver_3_contribution" in frame.columns
    features = set(result.model.feature_names_in_)
    assert set(frame["driver_1"]) <= features
    assert set(PURCHASE_FEATURES) <= features and "events_30" in features
    assert result.sizes["score"] == len(frame)


def test_the_model_ranks_well_above_chance_and_above_recency(result):
    ev = result.evaluation
    assert list(ev.index) == ["model", "recency_baseline"]
    assert ev.loc["model", "auc"] > 0.68
    assert ev.loc["model", "auc"] > ev.loc["recency_baseline", "auc"]
    assert ev.loc["model", "customers"] == result.sizes["test"]
    assert 0 < ev.loc["model", "churn_rate"] < 1


def test_the_windows_follow_the_horizon(result):
    assert result.windows == {
        "train": DEMO_END - timedelta(days=180),
        "test": DEMO_END - timedelta(days=90),
        "score": DEMO_END,
    }
    imp = result.importances
    assert list(imp.index) == list(imp.sort_values(ascending=False).index)
    assert set(imp.index) == set(result.model.feature_names_in_)
    assert result.definitions["active_by"] == "either"


def test_a_source_with_its_own_definitions(demo):
    _, source = demo
    small = ChurnClassifier(n_estimators=50, cv=3, n_jobs=1)
    result = fit_churn(
        source, horizon_days=60, definitions=Definitions(active_by="purchase"),
        as_of=date(2026, 9, 30), classifier=small, top=1,
    )  # fmt: skip
    assert result.as_of == date(2026, 9, 30)
    assert result.windows["train"] == date(2026, 6, 2)  # 120 days before
    assert "driver_2" not in result.customers.columns
    assert result.model.n_estimators == 50
    assert result.evaluation.loc["model", "auc"] > 0.6


# what each kind's rows are dated by, and what a row may learn later
DATED = {
    "orders": "placed_at",
    "subscriptions": "started_at",
    "support_tickets": "opened_at",
    "survey_responses": "answered_at",
    "events": "occurred_at",
}
LATER = {"subscriptions": ["ended_at"], "support_tickets": ["first_response_at", "resolved_at"]}


def _cut(source: Source, before: pd.Timestamp) -> Source:
    """The source as it was known at ``before``: later rows left out, later
    ends and resolutions not yet known."""
    raw = duckdb_tables()
    for kind, column in DATED.items():
        table = source.get(kind)
        frame = table.filter(table[column] < before).to_pandas()
        for later in LATER.get(kind, []):
            frame.loc[frame[later] >= before, later] = pd.NaT
        raw.register("frame", frame)
        raw.execute(f'INSERT INTO "{kind}" BY NAME SELECT * FROM frame')
        raw.unregister("frame")
    return Source(ibis.duckdb.from_connection(raw), {k: k for k in KINDS})


def test_features_see_nothing_after_the_as_of_day(demo):
    _, source = demo
    as_of = date(2026, 8, 2)
    cut = _cut(source, pd.Timestamp(as_of + timedelta(days=1)))
    frames = []
    for src in (source, cut):
        ctx = Context(src, Definitions(as_of=as_of))
        table = churn_features(ctx).order_by("customer_id").to_pandas()
        frames.append(table.set_index("customer_id"))
    full, known = frames
    assert len(full) > 1000
    pd.testing.assert_frame_equal(full, known, rtol=1e-12)


def test_too_little_history_says_how_long_a_horizon_fits(demo):
    _, source = demo
    ctx = Context(source, Definitions())
    first = min(pd.Timestamp(r[0]).date() for r in query(
        demo[0].store, "SELECT MIN(CAST(placed_at AS DATE)) FROM orders "
        "WHERE status IN ('completed', 'pending', 'partially_refunded')",
    ))  # fmt: skip
    longest = (DEMO_END - first).days // 2
    with pytest.raises(InputError, match=f"Use a horizon of {longest} days or fewer"):
        fit_churn(ctx, horizon_days=longest + 1)


def test_an_as_of_after_the_data_is_refused(demo):
    _, source = demo
    with pytest.raises(InputError, match="after the last day of data"):
        fit_churn(source, as_of=DEMO_END + timedelta(days=30))


def test_definitions_belong_to_the_source_not_the_context(demo):
    _, source = demo
    with pytest.raises(ConfigError, match="definitions were given with a Context"):
        fit_churn(Context(source, Definitions()), definitions=Definitions())
    with pytest.raises(ConfigError, match="horizon"):
        fit_churn(source, horizon_days=0)


def test_a_window_with_one_class_says_so():
    # 30 customers buy every 20 days through 2024: within any 30 days each
    # buys again, so nobody churns in the training window
    rows = []
    for c in range(30):
        day = date(2024, 1, 1) + timedelta(days=c % 20)
        while day <= date(2024, 12, 31):
            rows.append((f"o{len(rows)}", f"c{c}", f"{day} 10:00", 10.0))
            day += timedelta(days=20)
    raw = duckdb_tables(orders=orders_frame(rows))
    source = Source(ibis.duckdb.from_connection(raw), {k: k for k in KINDS})
    with pytest.raises(
        InputError, match="all 30 customers active on 2024-11-01 stayed in the 30 days"
    ):
        fit_churn(source, horizon_days=30, as_of=date(2024, 12, 31))


# -- the commands: tenure fit churn and tenure fit sbg on a copy of the store --------


@pytest.fixture(scope="module")
def store_copy(demo, tmp_path_factory):
    import shutil

    settings, _ = demo
    target = tmp_path_factory.mktemp("churn-cli") / "store"
    shutil.copytree(settings.store, target)
    return target


def test_fit_churn_keeps_every_active_customers_score(cli, demo, store_copy, tmp_path):
    export = tmp_path / "churn.csv"
    out = cli("fit", "churn", "--store", store_copy, "--horizon", "90", "--top", "5",
              "--export", export, "--json")  # fmt: skip
    assert out.code == 0, out.err
    record = out.json()
    assert record["model"] == "churn" and record["horizon_days"] == 90
    assert record["windows"] == {"train": "2026-05-04", "test": "2026-08-02", "score": "2026-10-31"}
    assert set(record["validation"]) == {"model", "recency_baseline"}
    assert len(record["top_customers"]) == 5
    p = [c["churn_probability"] for c in record["top_customers"]]
    assert p == sorted(p, reverse=True)
    kept = query(
        store_copy, "SELECT customer_id, churn_probability, model_version FROM churn_predictions"
    )
    assert {r[0] for r in kept} == _active_at_demo_end(demo[0].store)
    assert {r[2] for r in kept} == {1} and record["model_version"] == 1
    assert record["n_customers"] == len(kept)
    assert sum(r[1] for r in kept) == pytest.approx(record["predicted_churners"])
    # the export holds the same scores
    exported = pd.read_csv(export, dtype={"customer_id": str})
    assert dict(
        zip(exported.customer_id, exported.churn_probability, strict=True)
    ) == pytest.approx({r[0]: r[1] for r in kept})
    (validation,) = query(store_copy, "SELECT validation FROM model_fits WHERE model = 'churn'")[0]
    assert json.loads(validation) == record["validation"]


def test_fit_sbg_from_the_store_recovers_the_demo_parameters(cli, demo, store_copy):
    from scipy.special import betaln

    out = cli("fit", "sbg", "--store", store_copy, "--json")
    assert out.code == 0, out.err
    fit = out.json()
    # the demo draws subscription lifetimes from sBG(0.704, 1.182) in months
    for name, truth in (("alpha", 0.704), ("beta", 1.182)):
        assert abs(fit["params"][name] - truth) < 3 * fit["std_errors"][name], name
    end = DEMO_END.isoformat()
    (active,) = query(store_copy, f"""
        SELECT count(*) FROM subscriptions WHERE CAST(started_at AS DATE) <= DATE '{end}'
          AND (ended_at IS NULL OR CAST(ended_at AS DATE) > DATE '{end}')""")[0]  # fmt: skip
    rows = query(
        store_copy, "SELECT periods, mrr, clv, model_version FROM subscription_predictions"
    )
    assert len(rows) == active == fit["active"]
    # a subscriber's value: mrr × Σ_{j=1..12} S(t + j) / S(t) / (1 + d)^j, with the
    # yearly 10 % discount rate taken monthly
    a, b = fit["params"]["alpha"], fit["params"]["beta"]
    z = 1 / 1.1 ** (1 / 12)
    for t, mrr, clv, version in rows[:20]:
        j = np.arange(1, 13)
        value = np.sum(np.exp(betaln(a, b + t + j) - betaln(a, b + t)) * z**j)
        assert clv == pytest.approx(mrr * value) and version == 1


def test_the_calibration_table_covers_the_test_window(result):
    cal = result.calibration
    assert cal["customers"].sum() == result.sizes["test"]
    assert (cal["customers"].max() - cal["customers"].min()) <= 1  # equal groups
    # the observed shares average to the test window's churn rate
    rate = result.evaluation.loc["model", "churn_rate"]
    assert np.average(cal["observed"], weights=cal["customers"]) == pytest.approx(rate)
    assert (np.diff(cal["predicted"]) >= 0).all()
    # calibrated: the riskiest tenth churns more than the safest
    assert cal["observed"].iloc[-1] > cal["observed"].iloc[0]


def test_drivers_for_the_riskiest_only(demo, result):
    _, source = demo
    few = fit_churn(
        Context(source, Definitions()), horizon_days=90,
        classifier=ChurnClassifier(n_jobs=1), explain=5,
    )  # fmt: skip
    pd.testing.assert_frame_equal(
        few.customers[["customer_id", "churn_probability"]],
        result.customers[["customer_id", "churn_probability"]],
    )
    explained = few.customers["driver_1"].notna()
    assert explained.tolist() == [True] * 5 + [False] * (len(few.customers) - 5)
    pd.testing.assert_frame_equal(few.customers.head(5), result.customers.head(5))


def test_a_kept_churn_model_reads_back_as_it_was_fitted(cli, demo, tmp_path):
    """What the dashboard shows without fitting again: the kept fit's
    windows, test scores, drivers, calibration and scores, equal to what
    tenure fit churn printed when it kept them."""
    import shutil

    import duckdb

    from tenure.predictions.store import load_churn
    from tenure.report import churn as churn_section
    from tenure.report.formatting import Formatter

    settings, _ = demo
    store = tmp_path / "store"
    shutil.copytree(settings.store, store)
    out = cli("fit", "churn", "--store", store, "--horizon", "60", "--top", "5", "--json")
    assert out.code == 0, out.err
    record = out.json()
    mine = load_settings(store=store)
    with duckdb.connect(str(mine.analytics_path), read_only=True) as con:
        kept = load_churn(con)
    assert kept is not None and kept.model is None
    assert kept.kept["model_version"] == record["model_version"]
    assert kept.horizon_days == 60 and kept.as_of.isoformat() == record["as_of"]
    assert {k: v.isoformat() for k, v in kept.windows.items()} == record["windows"]
    assert kept.sizes == record["sizes"]
    for scorer, row in record["validation"].items():
        assert kept.evaluation.loc[scorer].to_dict() == pytest.approx(row)
    assert kept.importances.to_dict() == pytest.approx(record["drivers"])
    assert list(kept.importances.index) == list(record["drivers"])  # largest first
    pd.testing.assert_frame_equal(
        kept.calibration, pd.DataFrame(record["calibration"]), check_dtype=False
    )
    top = [c["customer_id"] for c in record["top_customers"]]
    head = kept.customers.head(5)
    assert head["customer_id"].tolist() == top
    assert head["churn_probability"].tolist() == pytest.approx(
        [c["churn_probability"] for c in record["top_customers"]]
    )
    assert len(kept.customers) == record["n_customers"]

    # the report's churn part made from it says so and shows the kept numbers
    fmt = Formatter("en", "EUR")
    with open_store(mine) as source:
        shown = churn_section.section(
            Context(source, Definitions()), mine, fmt, lambda figs, prefix: figs
        )
    part = shown["parts"][0]
    assert f"kept in the store (version {record['model_version']}" in part["text"]
    scores = part["tables"][0]["rows"][0]
    assert scores[:3] == [
        "churn model", fmt.number(record["validation"]["model"]["auc"], 3),
        fmt.number(record["validation"]["model"]["brier"], 3),
    ]  # fmt: skip
    assert [r[0] for r in part["tables"][2]["rows"][:5]] == top


def test_a_churn_fit_kept_before_its_details_is_not_shown_as_kept(cli, demo, tmp_path):
    import shutil

    import duckdb

    from tenure.predictions.store import load_churn

    settings, _ = demo
    store = tmp_path / "store"
    shutil.copytree(settings.store, store)
    assert cli("fit", "churn", "--store", store, "--horizon", "60").code == 0
    path = str(load_settings(store=store).analytics_path)
    with duckdb.connect(path) as con:  # as an older tenure left it
        con.execute("ALTER TABLE model_fits DROP COLUMN details")
        assert load_churn(con) is None
    # the next fit adds the column back and is read back
    assert cli("fit", "churn", "--store", store, "--horizon", "60").code == 0
    with duckdb.connect(path, read_only=True) as con:
        kept = load_churn(con)
        versions = con.execute("SELECT model_version, details IS NULL FROM model_fits").fetchall()
    assert kept is not None and kept.kept["model_version"] == 2
    assert sorted(versions) == [(1, True), (2, False)]
