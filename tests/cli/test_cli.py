"""The command line: exit codes, --json, and every bad-input message of the contract."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import query, write

ORDERS = "order_id,customer_id,placed_at,amount\nO1,C1,2024-01-05,10\nO2,C2,2024-01-06,bad\n"


def test_ingest_json_has_the_contract_fields(cli, tmp_path, store):
    write(tmp_path / "o.csv", ORDERS)
    r = cli("ingest", "orders", tmp_path / "o.csv", "--store", store, "--json")
    assert r.code == 0, r.err
    data = r.json()
    for key in ("read", "accepted", "rejected", "duplicates", "inserted", "updated", "quarantine"):
        assert key in data
    assert (data["read"], data["accepted"], data["rejected"], data["inserted"]) == (2, 1, 1, 1)
    assert data["quarantine"].endswith(".csv")
    assert data["errors"][0] == {
        "line": 3,
        "column": "amount",
        "value": "bad",
        "reason": "is not an amount (expected a number such as 1234.56)",
    }


def test_human_output_names_file_line_column_value(cli, tmp_path, store):
    write(tmp_path / "o.csv", ORDERS)
    r = cli("ingest", "orders", tmp_path / "o.csv", "--store", store)
    assert r.code == 0
    assert "2 read" in r.out and "1 accepted" in r.out
    assert "o.csv line 3, column 'amount': 'bad' is not an amount" in r.err
    assert "Rejected rows and their reasons:" in r.err


def test_map_flag(cli, tmp_path, store):
    write(tmp_path / "o.csv", "Bestellung,Kunde,Datum,Summe\nB1,K1,2024-01-05,10\n")
    r = cli(
        "ingest",
        "orders",
        tmp_path / "o.csv",
        "--store",
        store,
        "--json",
        "--map",
        "Bestellung=order_id",
        "--map",
        "Kunde=customer_id",
        "--map",
        "Datum=placed_at",
        "--map",
        "Summe=amount",
    )
    assert r.code == 0, r.err
    assert r.json()["inserted"] == 1


# Every message of "Bad input gets a clear answer", with exit code 1 and no traceback.


def _user_error(r) -> str:
    assert r.code == 1, (r.out, r.err)
    assert "Traceback" not in r.err
    return r.err


def test_missing_required_column(cli, tmp_path, store):
    write(tmp_path / "o.csv", "order_id,customer_id,order_dte,amount\nO1,C1,2024-01-05,10\n")
    err = _user_error(cli("ingest", "orders", tmp_path / "o.csv", "--store", store))
    assert "need a column for 'placed_at'" in err
    assert "'order_id', 'customer_id', 'order_dte', 'amount'" in err
    assert "closest column is 'order_dte'" in err


def test_unknown_kind_lists_the_kinds(cli, tmp_path, store):
    write(tmp_path / "o.csv", ORDERS)
    r = cli("ingest", "purchases", tmp_path / "o.csv", "--store", store)
    assert r.code == 2 and "Traceback" not in r.err
    err = r.err
    assert "unknown kind 'purchases'" in err
    assert "customers, orders, order_items, subscriptions, support_tickets" in err


def test_missing_file_shows_the_path(cli, tmp_path, store):
    err = _user_error(cli("ingest", "orders", tmp_path / "nope.csv", "--store", store))
    assert str(tmp_path / "nope.csv") in err and "no such file" in err


def test_currency_without_rate_names_currency_and_date(cli, tmp_path, store):
    write(
        tmp_path / "o.csv",
        "order_id,customer_id,placed_at,amount,currency\nO1,C1,2024-03-05,10,JPY\n",
    )
    err = _user_error(
        cli("ingest", "orders", tmp_path / "o.csv", "--store", store, "--reporting-currency", "EUR")
    )
    assert "'JPY' has no FX rate into EUR on or before 2024-03-05" in err


def test_empty_file_says_so(cli, tmp_path, store):
    (tmp_path / "empty.csv").write_bytes(b"")
    err = _user_error(cli("ingest", "orders", tmp_path / "empty.csv", "--store", store))
    assert "empty.csv: the file is empty (0 bytes)" in err


def test_store_from_another_version_says_how_to_migrate(cli, tmp_path, store):
    write(tmp_path / "o.csv", ORDERS)
    assert cli("ingest", "orders", tmp_path / "o.csv", "--store", store).code == 0
    import duckdb

    con = duckdb.connect(str(store / "analytics.duckdb"))
    con.execute("UPDATE _tenure_meta SET value = '0' WHERE key = 'schema_version'")
    con.close()
    err = _user_error(cli("ingest", "orders", tmp_path / "o.csv", "--store", store))
    assert "schema version 0; this tenure uses version 2" in err
    assert f"tenure migrate --store {store}" in err
    r = cli("migrate", "--store", store, "--json")
    assert r.code == 0 and r.json()["analytics"] == {"from": 0, "to": 2}
    assert cli("ingest", "orders", tmp_path / "o.csv", "--store", store).code == 0
    con = duckdb.connect(str(store / "analytics.duckdb"))
    con.execute("UPDATE _tenure_meta SET value = '99' WHERE key = 'schema_version'")
    con.close()
    err = _user_error(cli("status", "--store", store))
    assert "written by a newer tenure" in err and "pip install --upgrade tenure" in err


def test_json_errors_are_one_document(cli, tmp_path, store):
    r = cli("ingest", "orders", tmp_path / "nope.csv", "--store", store, "--json")
    assert r.code == 1
    assert json.loads(r.out)["error"]["code"] == "file_not_found"


def test_usage_error_exits_2(cli):
    assert cli("ingest").code == 2
    assert cli("frobnicate").code == 2


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["metrics", "--period", "week"], "usage_error", ["'week'", "month, quarter, year"]),
        (["ingest", "purchases", "o.csv"], "unknown_kind", ["'purchases'", "orders"]),
        (["fit", "nosuchmodel"], "usage_error", ["'nosuchmodel'", "bgnbd"]),
        (["predict", "--model", "foo"], "usage_error", ["'foo'", "bgnbd, mbgnbd, paretonbd"]),
        (["fit", "--time-unit", "month"], "usage_error", ["'month'", "day, week"]),
        (["cohorts", "--value", "foo"], "usage_error", ["'foo'", "cumulative_revenue"]),
    ],
)
def test_usage_errors_exit_2_with_one_json_document(cli, tmp_path, store, args, code, words):
    write(tmp_path / "o.csv", ORDERS)
    r = cli(*args, "--store", store, "--json")
    assert r.code == 2, (r.out, r.err)
    assert "Traceback" not in r.err
    error = json.loads(r.out)["error"]  # exactly one document on stdout
    assert error["code"] == code
    for word in words:
        assert word in f"{error['message']} {error['hint']}"
    assert not store.exists()


def test_a_failed_ingest_creates_no_store(cli, tmp_path, store):
    r = cli("ingest", "orders", tmp_path / "nope.csv", "--store", store)
    assert r.code == 1
    assert not store.exists()
    write(tmp_path / "o.csv", "a;b\n1;2\n")
    assert cli("ingest", "orders", tmp_path / "o.csv", "--store", store).code == 1
    assert not store.exists()


@pytest.mark.parametrize(
    "command",
    [
        ["metrics"],
        ["cohorts"],
        ["segments"],
        ["fit", "bgnbd"],
        ["predict"],
        ["fits"],
        ["report"],
        ["goal", "list"],
        ["runs"],
        ["migrate"],
    ],  # fmt: skip
    ids=" ".join,
)
def test_a_command_on_a_store_that_is_not_there_says_so_and_creates_none(cli, store, command):
    r = cli(*command, "--store", store, "--json")
    assert r.code == 1
    error = r.json()["error"]
    assert error["message"] == f"there is no tenure store at {store}."
    # one hint, whichever layer found the store missing
    assert error["hint"] == (
        "Ingest data first (tenure ingest KIND FILE), try `tenure demo`, or pass --store."
    )
    assert not store.exists()


def test_a_failed_run_is_recorded_as_failed_with_its_reason(cli, tmp_path, store):
    write(tmp_path / "o.csv", ORDERS)
    assert cli("ingest", "orders", tmp_path / "o.csv", "--store", store).code == 0
    write(tmp_path / "bad.csv", "order_id,customer_id,order_dte,amount\nO1,C1,2024-01-05,10\n")
    r = cli("ingest", "orders", tmp_path / "bad.csv", "--store", store, "--json")
    assert r.code == 1
    assert json.loads(r.out)["error"]["code"] == "column_not_found"
    runs = cli("runs", "--store", store, "--json").json()
    assert runs[0]["status"] == "failed"
    assert "need a column for 'placed_at'" in runs[0]["message"]


def test_a_file_that_is_not_text_is_a_message_not_a_traceback(cli, tmp_path, store):
    (tmp_path / "o.csv").write_bytes(bytes(range(256)) * 40)
    r = cli("ingest", "orders", tmp_path / "o.csv", "--store", store, "--json")
    assert r.code == 1, r.err
    assert "Traceback" not in r.err
    assert set(json.loads(r.out)) == {"error"}


def test_a_new_store_adopts_the_currency_of_its_first_data(cli, tmp_path, store):
    write(
        tmp_path / "o.csv",
        "order_id,customer_id,placed_at,amount,currency\nO1,C1,2024-01-05,10,USD\n"
        "O2,C2,2024-01-06,12.5,USD\n",
    )
    r = cli("ingest", "orders", tmp_path / "o.csv", "--store", store, "--json")
    assert r.code == 0, r.err
    assert any("now reports in USD" in w for w in r.json()["warnings"])
    assert cli("status", "--store", store, "--json").json()["reporting_currency"] == "USD"
    # amounts are not converted: 10 USD reported as 10 USD
    assert query(store, "SELECT sum(amount_reporting) FROM orders")[0][0] == 22.5
    # a second file in another currency does not move it again
    write(
        tmp_path / "eur.csv",
        "order_id,customer_id,placed_at,amount,currency\nE1,C1,2024-02-01,3,EUR\n",
    )
    err = _user_error(cli("ingest", "orders", tmp_path / "eur.csv", "--store", store))
    assert "no FX rate into USD" in err


def test_a_currency_written_several_ways_is_one_currency_to_adopt(cli, tmp_path, store):
    # "usd", " USD" and "USD" are all USD (upper-cased, trimmed); a blank
    # cell would be the default currency, a second one: nothing adopted then
    write(
        tmp_path / "o.csv",
        "order_id,customer_id,placed_at,amount,currency\nO1,C1,2024-01-05,10,usd\n"
        'O2,C2,2024-01-06,12.5," USD"\nO3,C3,2024-01-07,1,USD\n',
    )
    r = cli("ingest", "orders", tmp_path / "o.csv", "--store", store, "--json")
    assert r.code == 0, r.err
    assert cli("status", "--store", store, "--json").json()["reporting_currency"] == "USD"
    other = tmp_path / "other"
    write(
        tmp_path / "b.csv",
        "order_id,customer_id,placed_at,amount,currency\nO1,C1,2024-01-05,10,usd\n"
        "O2,C2,2024-01-06,12.5,\n",
    )
    cli("ingest", "orders", tmp_path / "b.csv", "--store", other, "--json")
    assert cli("status", "--store", other, "--json").json()["reporting_currency"] != "USD"


def test_every_row_without_an_fx_rate_says_how_to_set_the_reporting_currency(cli, tmp_path, store):
    write(
        tmp_path / "o.csv",
        "order_id,customer_id,placed_at,amount,currency\nO1,C1,2024-01-05,10,USD\n",
    )
    err = _user_error(
        cli("ingest", "orders", tmp_path / "o.csv", "--store", store, "--reporting-currency", "EUR")
    )
    assert "no FX rate into EUR" in err
    assert "--reporting-currency CODE" in err and "fx_rates" in err


def test_status_and_runs(cli, tmp_path, store):
    write(tmp_path / "o.csv", ORDERS)
    cli("ingest", "orders", tmp_path / "o.csv", "--store", store)
    status = cli("status", "--store", store, "--json").json()
    assert status["tables"]["orders"] == 1 and status["tables"]["customers"] == 1
    runs = cli("runs", "--store", store, "--json").json()
    assert runs[0]["status"] == "succeeded" and runs[0]["rejected"] == 1
    assert runs[0]["source"].endswith("o.csv")


def test_settings_from_environment_and_toml(cli, tmp_path, monkeypatch):
    write(tmp_path / "o.csv", ORDERS.replace(",bad", ",1"))
    (tmp_path / "tenure.toml").write_text('store = "from-toml"\nreporting_currency = "USD"\n')
    assert cli("ingest", "orders", "o.csv", "--json", "--currency", "USD").code == 0
    assert query(
        tmp_path / "from-toml", "SELECT value FROM _tenure_meta WHERE key = 'reporting_currency'"
    ) == [("USD",)]
    monkeypatch.setenv("TENURE_STORE", str(tmp_path / "from-env"))
    assert cli("ingest", "orders", "o.csv", "--json", "--currency", "USD").code == 0
    assert (tmp_path / "from-env" / "analytics.duckdb").exists()
    # a flag beats both
    assert (
        cli("ingest", "orders", "o.csv", "--store", tmp_path / "flag", "--currency", "USD").code
        == 0
    )
    assert (tmp_path / "flag" / "analytics.duckdb").exists()


@pytest.mark.parametrize("command", ["ingest", "demo", "status", "runs", "migrate"])
def test_every_command_help_has_an_example(cli, command):
    r = cli(command, "--help")
    assert r.code == 0
    assert "Example" in r.out and f"tenure {command}" in r.out


def test_help_does_not_import_the_heavy_libraries():
    code = (
        "import sys; from tenure.cli.app import app; "
        "heavy = [m for m in ('duckdb', 'pandas', 'pyarrow', 'sqlalchemy', 'numpy') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_store_keeps_its_own_reporting_currency(cli, tmp_path, store):
    write(tmp_path / "o.csv", ORDERS.replace(",bad", ",1"))
    r = cli(
        "ingest",
        "orders",
        tmp_path / "o.csv",
        "--store",
        store,
        "--reporting-currency",
        "USD",
        "--currency",
        "USD",
        "--json",
    )
    assert r.code == 0, r.err
    # later commands need not repeat it
    assert cli("status", "--store", store, "--json").json()["reporting_currency"] == "USD"
    assert (
        cli(
            "ingest", "orders", tmp_path / "o.csv", "--store", store, "--currency", "USD", "--json"
        ).json()["unchanged"]
        == 2
    )
    err = _user_error(
        cli("ingest", "orders", tmp_path / "o.csv", "--store", store, "--reporting-currency", "GBP")
    )
    assert "reports in USD, but the settings ask for GBP" in err


def test_the_python_api_names_survive_importing_the_submodules(tmp_path):
    import pandas as pd

    import tenure
    import tenure.ingestion.pipeline  # noqa: F401 - binds the subpackage on tenure

    frame = pd.DataFrame(
        {"order_id": ["P1"], "customer_id": ["C1"], "placed_at": ["2024-05-01"], "amount": ["1.50"]}
    )
    result = tenure.ingest("orders", frame, store=tmp_path / "s")
    assert (result.read, result.inserted) == (1, 1)


def test_every_command_is_documented_and_its_help_shows_an_example(cli):
    """The docs cannot drift from the commands: each one has a docs page that
    shows it, and its --help ends with an example."""
    from pathlib import Path

    import typer.main

    from tenure.cli.app import app

    root = typer.main.get_command(app)
    docs = "\n".join(
        p.read_text(encoding="utf-8")
        for p in [
            *Path(__file__).parents[2].joinpath("docs").glob("*.md"),
            Path(__file__).parents[2] / "README.md",
        ]
    )
    names = []
    for name, command in root.commands.items():
        subs = getattr(command, "commands", None)
        names += [f"{name} {sub}" for sub in subs] if subs else [name]
    assert {
        "metrics",
        "cohorts",
        "segments",
        "report",
        "goal set",
        "goal list",
        "goal remove",
    } <= set(names)
    for name in names:
        assert f"tenure {name}" in docs, f"no docs page shows `tenure {name}`"
        r = cli(*name.split(), "--help")
        assert r.code == 0 and "Example" in r.out and f"tenure {name}" in r.out, name


def test_json_output_is_json_even_where_numbers_are_not_finite(capsys):
    import json as json_mod

    import numpy as np

    from tenure.cli._common import emit_json

    emit_json({"se": float("nan"), "curve": [np.float64("inf"), 1.5], "n": np.int64(3), "x": "a"})
    assert json_mod.loads(capsys.readouterr().out) == {
        "se": None, "curve": [None, 1.5], "n": 3, "x": "a",
    }  # fmt: skip


def test_an_unforeseen_error_is_one_message_not_a_traceback(monkeypatch, capsys):
    """The entry point's handler, on a command that fails as a bug would."""
    import typer

    from tenure.cli._common import run_app

    app = typer.Typer()

    @app.command()
    def broken(json_: bool = typer.Option(False, "--json")) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(sys, "argv", ["tenure", "--json"])
    with pytest.raises(SystemExit) as info:
        run_app(app)
    assert info.value.code == 1
    out, err = capsys.readouterr()
    error = json.loads(out)["error"]
    assert error["code"] == "internal_error"
    assert "ZeroDivisionError: division by zero" in error["message"]
    assert "report" in error["hint"]
    assert "Traceback" not in err and "internal error" in err


@pytest.mark.parametrize("given", ["ten", "1.5", "1e3"])
def test_a_whole_number_option_given_text_names_the_value(cli, tmp_path, store, given):
    """Typer's own message said only "Input should be a valid integer"."""
    orders = write(
        tmp_path / "o.csv", "order_id,customer_id,placed_at,amount\nO1,C1,2024-01-05,10\n"
    )
    r = cli("ingest", "orders", orders, "--max-errors", given, "--store", store, "--json")
    assert r.code == 2
    assert r.json()["error"]["message"] == (
        f"Invalid value for '--max-errors': '{given}' is not a whole number; give digits, e.g. 100."
    )
    # a number with a sign or spaces around it is still a number
    assert cli("ingest", "orders", orders, "--max-errors", " 7", "--store", store).code == 0
