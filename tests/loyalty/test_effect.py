"""The program-effect estimate against a simulation whose truth is known:
the demo business with an effect planted (members' chance of buying again
within 90 days raised by 10 points) and without one. Better customers
join more often, so the naive comparison sees a large difference in both;
the matched estimate's interval holds the planted effect, and holds 0
where none was planted."""

from __future__ import annotations

import time

import pytest

from tenure.loyalty import effect
from tenure.loyalty.effect import compare

CUSTOMERS = 5000


def _store(folder, planted: float):
    from tenure.config import load_settings
    from tenure.datasets.demo import generate_demo
    from tenure.ingestion.pipeline import ingest
    from tenure.loyalty.history_import import import_history, read_events
    from tenure.store.workspace import Workspace

    files = generate_demo(folder / "files", customers=CUSTOMERS, seed=42, loyalty_effect=planted)
    settings = load_settings(store=folder / "store", reporting_currency="EUR")
    with Workspace.open(settings) as ws:
        for kind in ("fx_rates", "customers", "orders"):
            ingest(kind, files.by_kind()[kind], workspace=ws)
        # enrolment is the first entry: the points of joining are all the estimate reads
        joins = [e for e in read_events(files.loyalty_ledger) if e.reason == "joined the program"]
        import_history(ws.ops, joins)
        found = effect.estimate(ws.ops, ws.settings)
    return found, files.params["loyalty"]


@pytest.mark.parametrize("planted", [0.10, 0.0])
def test_the_estimate_recovers_the_planted_effect(tmp_path, planted):
    started = time.monotonic()
    found, truth = _store(tmp_path, planted)
    assert truth["planted_effect"] == planted
    realised = truth["realised_effect"]
    assert (realised > 0.06) if planted else (realised == 0)
    est, naive = found.estimate, found.naive
    # every member who bought before joining and whose 90 days ended is compared
    assert found.compared == truth["eligible_members"] and found.compared > 700
    assert found.matched >= 0.97 * found.compared
    assert est.ci_low < realised < est.ci_high
    assert est.ci_low < planted < est.ci_high
    if planted:
        assert est.ci_low > 0  # an effect of 10 points is seen
    # self-selection: the naive comparison is far off, and its interval misses the truth
    assert naive.difference > planted + 0.1 and naive.ci_low > planted
    assert est.members == found.matched and naive.members == found.compared
    assert time.monotonic() - started < 60


def test_the_arithmetic_of_the_estimate():
    # two strata: members 3 of 4 bought again against 1 of 4 controls, and
    # 1 of 2 against 1 of 2; naive: 4 of 6 against 2 of 6
    counts = [
        (100, 0, 0, "member", 4, 3), (100, 0, 0, "control", 4, 1),
        (100, 1, 0, "member", 2, 1), (100, 1, 0, "control", 2, 1),
        (101, 4, 4, "member", 3, 3),  # no control: left out of the estimate
    ]  # fmt: skip
    from datetime import date

    found = compare(counts, members=12, horizon=90, end=date(2026, 10, 31))
    # differences: 3 × 0.75, 1 × -0.25, 1 × 0.5, 1 × -0.5 -> mean 2 / 6
    assert found.estimate.difference == pytest.approx(2 / 6, abs=1e-6)
    assert found.estimate.member_rate == pytest.approx(4 / 6, abs=1e-6)
    assert found.estimate.control_rate == pytest.approx((4 * 0.25 + 2 * 0.5) / 6, abs=1e-6)
    diffs = [0.75] * 3 + [-0.25, 0.5, -0.5]
    mean = sum(diffs) / 6
    spread = sum((d - mean) ** 2 for d in diffs) / 5
    var = spread / 6 + (4 / 6) ** 2 * 0.25 * 0.75 / 4 + (2 / 6) ** 2 * 0.25 / 2
    half = 1.959964 * var**0.5
    assert found.estimate.ci_low == pytest.approx(mean - half, abs=1e-6)
    assert found.estimate.ci_high == pytest.approx(mean + half, abs=1e-6)
    assert (found.compared, found.matched, found.unmatched, found.strata) == (9, 6, 3, 2)
    assert found.naive.difference == pytest.approx(7 / 9 - 2 / 6, abs=1e-6)
    assert found.not_yet_comparable == 3
