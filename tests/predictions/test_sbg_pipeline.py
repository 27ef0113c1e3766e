"""sBG from a file of subscriptions: parameters recovered from simulated
subscriptions, a holdout that follows the actual survivors, rows that
cannot be used set aside, and errors that say what to do."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tenure.errors import InputError
from tenure.given import RejectedRowsWarning, read_subscriptions

ALPHA, BETA = 0.9, 2.4
DATA_END = date(2025, 6, 30)


def _simulate(n: int, seed: int) -> pd.DataFrame:
    """Monthly subscriptions from the sBG process: θ ~ Beta(α, β), cancelled
    at the T-th renewal date with T ~ Geometric(θ); starts spread over three
    years; an end after the data end is not known yet."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 3 * 365, n), "D")
    start = start + pd.to_timedelta(rng.integers(0, 86_400, n), "s")
    # past 60 months every end falls after the data end
    months = np.minimum(rng.geometric(rng.beta(ALPHA, BETA, n)), 60)
    end = pd.Series([s + pd.DateOffset(months=int(m)) for s, m in zip(start, months, strict=True)])
    end = end.where(end.dt.date <= DATA_END)
    return pd.DataFrame(
        {
            "subscription_id": [f"S{i}" for i in range(n)],
            "customer_id": [f"C{i}" for i in range(n)],
            "started_at": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "ended_at": end.dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "plan": rng.choice(["basic", "plus"], n),
        }
    )


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sbg") / "subscriptions.csv"
    _simulate(12_000, seed=3).to_csv(path, index=False)
    return path


def test_parameters_of_simulated_subscriptions_are_recovered(cli, simulated):
    out = cli("fit", "sbg", "--subscriptions", simulated, "--as-of", DATA_END, "--json")
    assert out.code == 0, out.err
    fit = out.json()
    assert fit["model"] == "sbg" and fit["period"] == "month"
    assert fit["n_customers"] == fit["subscriptions"] == 12_000
    for name, truth in (("alpha", ALPHA), ("beta", BETA)):
        assert abs(fit["params"][name] - truth) < 3 * fit["std_errors"][name], name
    # the curve is the model's S(t) at the fitted parameters
    from scipy.special import betaln

    a, b = fit["params"]["alpha"], fit["params"]["beta"]
    for row in fit["curve"]:
        assert row["survival"] == pytest.approx(np.exp(betaln(a, b + row["t"]) - betaln(a, b)))
    assert fit["subscriptions_file"]["rejected"] == 0


def test_the_holdout_follows_the_survivors(cli, simulated):
    out = cli("fit", "sbg", "--subscriptions", simulated, "--as-of", DATA_END,
              "--calibration-end", "2024-06-30", "--json")  # fmt: skip
    assert out.code == 0, out.err
    v = out.json()["validation"]
    frame = pd.read_csv(simulated, parse_dates=["started_at", "ended_at"])
    cal = pd.Timestamp("2024-06-30", tz="UTC")
    # active at the calibration end, by hand: started by then, not ended by then
    active = frame[(frame.started_at.dt.date <= cal.date())
                   & ~(frame.ended_at.dt.date <= cal.date())]  # fmt: skip
    assert v["active_at_calibration_end"] == len(active)
    # 12 whole months fit between 30 Jun 2024 and 30 Jun 2025 for everyone
    assert v["periods_followed"] == 12
    for row in v["tracking"]:
        # still active j renewals on: not ended by the j-th renewal after the
        # calibration end; counted here from the starts, month by month
        j = row["period"]
        months_at_cal = (cal.year - active.started_at.dt.year) * 12 + (
            cal.month - active.started_at.dt.month
        )
        # (30 June ends its month: every renewal due in June has passed)
        renewal = [
            s + pd.DateOffset(months=int(m) + j)
            for s, m in zip(active.started_at, months_at_cal, strict=True)
        ]
        due = pd.Series(renewal, index=active.index).dt.date
        alive = active.ended_at.isna() | (active.ended_at.dt.date > due)
        assert row["actual"] == int(alive.sum()), j
        # and the model, fitted without the holdout, predicts it within 4 %
        assert row["predicted"] == pytest.approx(row["actual"], rel=0.04), j


def test_rows_that_cannot_be_used_are_set_aside_with_their_reason(cli, tmp_path):
    path = tmp_path / "subs.csv"
    path.write_text(
        "id,customer,start_date,cancelled_at\n"
        "s1,A,2024-01-05,2024-03-05\n"
        "s2,B,2024-01-07,\n"
        "s3,,2024-01-09,\n"
        "s4,C,2024-13-01,\n"
        "s5,D,2024-02-01,2024-01-01\n"
        "s2,B,2024-01-07,\n"
        "s6,E,2024-02-10,2024-02-20\n",
        encoding="utf-8",
    )
    data = read_subscriptions(path)
    with pytest.warns(RejectedRowsWarning, match="3 of 7 rows"):
        data.warn()
    assert (data.read, data.rejected, data.duplicates) == (7, 3, 1)
    reasons = {(r["line"], r["column"], r["value"]) for r in data.reasons}
    assert reasons == {
        (4, "customer", None),
        (5, "start_date", "2024-13-01"),
        (6, "cancelled_at", "2024-01-01"),
    }
    assert data.reasons[2]["reason"] == "is before started_at"
    data.source.close()
    out = cli("fit", "sbg", "--subscriptions", path, "--json")
    assert out.code == 0, out.err
    fit = out.json()
    assert fit["subscriptions"] == 3 and fit["churned"] == 2  # s1, s2, s6
    quarantine = Path(fit["subscriptions_file"]["quarantine"])
    assert quarantine.name == "subs.rejected.csv"
    assert quarantine.read_text().count("\n") == 4  # header + 3 rows
    assert "3 of 7 rows were left out" in out.err


def test_bad_input_says_what_to_do(cli, tmp_path, simulated):
    out = cli("fit", "sbg", "--subscriptions", simulated, "--calibration-end", "2030-01-01")
    assert out.code == 1
    assert "subscriptions.csv" in out.err and "outside the subscriptions" in out.err
    none = tmp_path / "none.csv"
    none.write_text("subscription_id,customer_id,started_at,ended_at\ns1,A,2024-01-01,\n")
    out = cli("fit", "sbg", "--subscriptions", none)
    assert out.code == 1 and "no subscriber has cancelled" in out.err
    out = cli("fit", "sbg", "--subscriptions", none, "--period", "week")
    assert out.code == 1 and "month or year" in out.err
    out = cli("fit", "bgnbd", "--subscriptions", none)
    assert out.code == 1 and "orders" in out.err
    with pytest.raises(InputError, match="ended_at"):
        nocol = tmp_path / "nocol.csv"
        nocol.write_text("subscription_id,customer_id,started_at\ns1,A,2024-01-01\n")
        read_subscriptions(nocol)


def test_a_dataframe_in_gives_pandas_out(simulated):
    from tenure.analysis.fitting import fit

    frame = pd.read_csv(simulated).head(3000)
    result = fit("sbg", subscriptions=frame, as_of=DATA_END, period="year")
    assert result.record["period"] == "year"
    scores = result.scores
    assert isinstance(scores, pd.DataFrame)
    active = frame.ended_at.isna() & (pd.to_datetime(frame.started_at).dt.date <= DATA_END)
    assert len(scores) == int(active.sum())
    m = result.model
    # a subscriber's renewal probability is the model's r(t + 1)
    row = scores.iloc[0]
    assert row["renewal_probability"] == pytest.approx(
        float(m.predict_retention(row["periods"] + 1))
    )
    # a year holds one renewal: the expected renewals over 365 days is P(renew)
    np.testing.assert_allclose(scores["expected_renewals"], scores["renewal_probability"])
    assert json.dumps(result.record, default=str)
