"""Terminal tables fit 80 columns without cutting a number; --wide shows
every column."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from tenure.cli.tables import Col, print_table
from tests.conftest import demo_store as build_demo_store

WIDTH = 80


def _console(width: int = WIDTH) -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, width=width, highlight=False, soft_wrap=True), buf


# 12 number columns of 7 to 9 characters: far wider than 80 columns together
ROWS = [[f"2026-{m:02d}", *(f"{(m + 1) * 1_234_567 + i:,}" for i in range(12))] for m in (1, 2)]
COLS = [Col("period", numeric=False), *(Col(f"c{i}", rank=i + 1) for i in range(12))]


def test_columns_give_way_highest_rank_first_and_are_named():
    console, buf = _console()
    left_out = print_table(console, COLS, ROWS, title="t")
    out = buf.getvalue()
    lines = out.splitlines()
    assert all(len(line) <= WIDTH for line in lines)
    assert "…" not in out
    # each column needs its 9-character number and 3 for the rule and padding: 5 fit
    # after the period's 10 + 1 and the border: c0..c4 shown, c5..c11 left out
    assert left_out == [f"c{i}" for i in range(5, 12)]
    for number in (ROWS[0][1], ROWS[1][5]):
        assert number in out
    assert ROWS[0][6] not in out
    assert "Left out to fit 80 columns: c5, c6, c7, c8, c9, c10, c11." in " ".join(lines)


def test_wide_shows_every_column_whole():
    console, buf = _console()
    assert print_table(console, COLS, ROWS, title="t", wide=True) == []
    out = buf.getvalue()
    assert all(cell in out for row in ROWS for cell in row)
    assert max(len(line) for line in out.splitlines()) > WIDTH
    assert "…" not in out


def test_columns_that_cannot_give_way_stay():
    cols = [Col("period", numeric=False), *(Col(f"c{i}") for i in range(12))]
    console, buf = _console()
    assert print_table(console, cols, ROWS) == []


# -- the commands, on the demo business, in an 80-column terminal -------------------


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tables")
    settings, _ = build_demo_store(folder, customers=300, seed=4)
    # a fit checked on a holdout and the scores, for tenure fits and predict
    from tenure.analysis.fitting import fit, predict

    fit("bgnbd", settings=settings, calibration_end="2026-03-31", save=True)
    predict(settings=settings, model="bgnbd", save=True)
    return folder / "store"


def _fits(out: str) -> None:
    """No line past 80 columns, no number cut with an ellipsis."""
    for line in out.splitlines():
        assert len(line) <= WIDTH, line
    assert "…" not in out


COMMANDS = [
    ("metrics",),
    ("metrics", "--period", "quarter"),
    ("cohorts",),
    ("cohorts", "--value", "cumulative_revenue"),
    ("segments", "--from", "2026-04-30"),
    ("segments", "--kind", "business"),
    ("predict", "--top", "5"),
    ("fits",),
]


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_every_table_fits_80_columns(cli, demo_store, monkeypatch, args):
    monkeypatch.setenv("COLUMNS", str(WIDTH))
    r = cli(*args, "--store", demo_store)
    assert r.code == 0, r.err
    _fits(r.out)
    wide = cli(*args, "--wide", "--store", demo_store)
    assert wide.code == 0, wide.err
    assert "…" not in wide.out
    if "Left out to fit" in r.out:  # --wide shows what was left out
        left = re.search(r"Left out to fit 80 columns: (.*?)\. --wide", " ".join(r.out.split()))
        header = " ".join(wide.out.split())
        for name in left.group(1).split(", "):
            assert name in header
        assert "Left out" not in wide.out


def test_metrics_shows_the_flow_counts_in_80_columns(cli, demo_store, monkeypatch):
    monkeypatch.setenv("COLUMNS", str(WIDTH))
    out = cli("metrics", "--period", "year", "--store", demo_store).out
    header = next(line for line in out.splitlines() if "period" in line)
    assert [h for h in header.replace("┃", " ").split() if h in "SLNRE"] == list("SLNRE")
    assert "S − L + N + R = E" in " ".join(out.split())


def test_goal_list_fits_80_columns(cli, demo_store, monkeypatch):
    monkeypatch.setenv("COLUMNS", str(WIDTH))
    for metric, change in (("churn_rate", "-10%"), ("revenue", "+10%"), ("aov", "=40")):
        r = cli("goal", "set", metric, change, "--by", "2027-06-30", "--store", demo_store)
        assert r.code == 0, r.err
        _fits(r.out)
    listed = cli("goal", "list", "--store", demo_store)
    assert listed.code == 0, listed.err
    _fits(listed.out)
    assert "2027-06-30" in listed.out  # the deadline is never cut
