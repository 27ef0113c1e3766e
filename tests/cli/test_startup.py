"""What a command imports is part of its cost: ``tenure segments`` prints its
sizes without pandas or the Ibis engine, and ``tenure ingest`` into a store without kept scores
imports neither pandas nor the models; into a store with kept scores it
rescores the customers it touched without pandas or the engine. Each command runs in a fresh
interpreter, as a user types it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import tenure
from tests.conftest import write

# runs the command's entry point, then prints which heavy modules it loaded
RUN = """
import io, json, sys
sys.argv = ["tenure", *sys.argv[1:]]
out, sys.stdout = sys.stdout, io.StringIO()
from tenure.cli.app import main
try:
    main()
except SystemExit as exc:
    code = exc.code
printed, sys.stdout = sys.stdout.getvalue(), out
heavy = ("pandas", "pyarrow", "scipy", "numpy", "ibis", "sqlglot", "pydantic")
print(json.dumps({"code": code, "out": printed, "loaded": [m for m in heavy if m in sys.modules]}))
"""


def _run(*args: object) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", RUN, *map(str, args)], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


ORDERS = (
    "order_id,customer_id,placed_at,amount\n"
    "O1,C1,2024-01-05,10\nO2,C1,2024-02-06,20\nO3,C2,2024-01-20,35\nO4,C3,2024-03-01,5\n"
)


def test_ingest_without_kept_scores_and_segments_import_no_pandas(tmp_path, store):
    write(tmp_path / "o.csv", ORDERS)
    ingest = _run("ingest", "orders", tmp_path / "o.csv", "--store", store, "--json")
    assert ingest["code"] == 0
    assert json.loads(ingest["out"])["inserted"] == 4
    assert ingest["loaded"] == []  # no scores kept: nothing to score, no models

    seg = _run("segments", "--store", store, "--json")
    assert seg["code"] == 0
    # the persisted summary answers in one DuckDB query: no engine, no pandas;
    # the options are converted without pydantic
    assert seg["loaded"] == []
    doc = json.loads(seg["out"])
    # the same document as the library's pandas result gives
    frame = tenure.segments(store=store)
    expected = tenure.analysis.segments_document(frame, "rfm")
    assert doc["segments"] == expected["segments"]
    assert sum(s["customers"] for s in doc["segments"]) == 3
    assert doc["definitions"]["as_of"] == "2024-03-01"


def test_ingest_with_kept_scores_rescores_without_pandas_or_the_engine(tmp_path, store):
    from tests.predictions.test_store_scoring import _orders

    _orders(tmp_path / "orders.csv")
    assert _run("ingest", "orders", tmp_path / "orders.csv", "--store", store)["code"] == 0
    assert _run("predict", "--model", "bgnbd", "--store", store)["code"] == 0
    write(tmp_path / "later.csv", "order_id,customer_id,placed_at,amount\nL1,c0001,2026-05-02,10\n")
    ingest = _run("ingest", "orders", tmp_path / "later.csv", "--store", store, "--json")
    assert ingest["code"] == 0
    assert json.loads(ingest["out"])["refreshed"]["scores_refreshed"] == 1
    # the models' NumPy, and nothing else heavy: BG/NBD scores need none of
    # SciPy's special functions, whose import cost more than the scoring
    assert sorted(ingest["loaded"]) == ["numpy"]


def test_options_converted_without_pydantic_keep_typers_checks(tmp_path, store):
    """Whole numbers, text and paths are converted as Typer converts them;
    text that is no whole number is refused naming it; the rest still gets
    Typer's own check and message."""
    write(tmp_path / "o.csv", ORDERS)
    assert _run("ingest", "orders", tmp_path / "o.csv", "--store", store)["code"] == 0
    seg = _run("segments", "--store", store, "--activity-window", "30", "--kind", "business",
               "--json")  # fmt: skip
    assert seg["code"] == 0 and "pydantic" not in seg["loaded"]
    doc = json.loads(seg["out"])
    assert doc["definitions"]["activity_window_days"] == 30 and doc["kind"] == "business"
    # 30 days up to 2024-03-01 start on 2024-02-01: C1 (last on 02-06) and C3
    # (03-01) bought in them, C2 (01-20) did not
    assert {s["segment"]: s["customers"] for s in doc["segments"]}["lapsed"] == 1
    bad = _run("segments", "--store", store, "--activity-window", "thirty", "--json")
    assert bad["code"] == 2
    error = json.loads(bad["out"])["error"]
    assert error["code"] == "usage_error"
    # refused before Typer's adapter, whose message did not name the value
    assert error["message"] == (
        "Invalid value for '--activity-window': 'thirty' is not a whole number; "
        "give digits, e.g. 100."
    )
    assert "pydantic" not in bad["loaded"]
    # a negative number is Typer's to convert; the definitions refuse it
    negative = _run("segments", "--store", store, "--activity-window", "-5", "--json")
    assert negative["code"] == 1
    assert "-5 days" in json.loads(negative["out"])["error"]["message"]
    export = tmp_path / "out" / "scores.csv"
    export.parent.mkdir()
    done = _run("segments", "--store", store, "--export", export, "--json")
    assert done["code"] == 0 and json.loads(done["out"])["export"] == str(export)
    assert len(export.read_text().splitlines()) == 4  # a header and three customers


def test_a_command_run_alone_reads_as_in_the_whole_app():
    """The entry point builds the parser of the command it runs only: help,
    usage errors and the unknown-command message are the whole app's."""
    from typer.testing import CliRunner

    from tenure.cli.app import app, only

    runner = CliRunner()
    for args in (
        ["ingest", "--help"],
        ["ingest", "orders"],
        ["segments", "--activity-window", "thirty", "--json"],
        ["loyalty", "--help"],
        ["ingst", "orders", "o.csv"],
    ):
        whole = runner.invoke(app, args)
        alone = runner.invoke(only(args[0]), args)
        assert (alone.exit_code, alone.output) == (whole.exit_code, whole.output), args
    assert only("ingest").registered_commands[0].name == "ingest"
    assert only("ingest").registered_groups == [] and only("ingst") is app
    assert len(app.registered_commands) > 10  # the whole app is left whole
