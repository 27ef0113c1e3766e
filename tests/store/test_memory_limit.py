"""memory_limit: DuckDB's memory cap on every connection to the store and on
an ingest's scratch database, from tenure.toml or TENURE_MEMORY_LIMIT."""

from __future__ import annotations

import duckdb
import pytest

from tenure.config import load_settings
from tenure.errors import ConfigError
from tenure.store import writer
from tenure.store.workspace import Workspace


@pytest.fixture(autouse=True)
def _limit_restored(monkeypatch):
    """The limit in use is the process's: put it back after each test."""
    monkeypatch.setattr("tenure.config._active_memory_limit", None)


def duckdb_shows(limit: str | None) -> str:
    """How DuckDB itself, on a bare connection, reports ``limit`` (None: its default)."""
    con = duckdb.connect()
    try:
        if limit:
            con.execute(f"SET memory_limit = '{limit}'")
        return con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    finally:
        con.close()


def limits(store) -> tuple[str, str]:
    """memory_limit of a read of the store, and of an ingest's staging connection."""
    with Workspace.open(load_settings(store=store)) as ws:
        with ws.analytics(read_only=True) as con:
            read = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
        scratch = store / ".tmp" / "scratch.duckdb"
        scratch.parent.mkdir(exist_ok=True)
        with writer.staging(ws.settings.analytics_path, scratch) as con:
            ingest = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    return read, ingest


def test_without_the_setting_reads_keep_duckdbs_default_and_an_ingest_2gb(store):
    assert limits(store) == (duckdb_shows(None), duckdb_shows("2GB"))
    assert duckdb_shows("2GB") == "1.8 GiB"  # 2e9 bytes, as DuckDB writes it


def test_tenure_toml_sets_it_on_reads_and_on_the_ingest(store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tenure.toml").write_text('memory_limit = "512MiB"\n', "utf-8")
    assert limits(store) == ("512.0 MiB", "512.0 MiB")


def test_the_environment_beats_tenure_toml(store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tenure.toml").write_text('memory_limit = "512MiB"\n', "utf-8")
    monkeypatch.setenv("TENURE_MEMORY_LIMIT", "1GiB")
    assert limits(store) == ("1.0 GiB", "1.0 GiB")


def test_an_ingest_under_a_limit_stores_every_row(cli, store, tmp_path, monkeypatch):
    monkeypatch.setenv("TENURE_MEMORY_LIMIT", "256MiB")
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "order_id,customer_id,ordered_at,amount\n"
        + "".join(f"o{i},c{i % 7},2024-01-{1 + i % 28:02d},{i}.50\n" for i in range(300)),
        "utf-8",
    )
    assert cli("ingest", "orders", orders, "--store", store).code == 0
    with Workspace.open(load_settings(store=store)) as ws, ws.analytics(read_only=True) as con:
        assert con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0] == (
            "256.0 MiB"
        )
        assert con.execute("SELECT count(*), sum(amount) FROM orders").fetchall()[0] == (
            300,
            sum(i + 0.5 for i in range(300)),
        )


@pytest.mark.parametrize("value", ["lots", "6", "6 gigs", "-1GB"])
def test_a_value_that_is_no_size_is_a_config_error_naming_it(tmp_path, monkeypatch, value):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tenure.toml").write_text(f'memory_limit = "{value}"\n', "utf-8")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    text = str(raised.value)
    assert "memory_limit" in text and repr(value) in text and "tenure.toml" in text
    assert "6GB" in raised.value.hint


def test_a_limit_duckdb_cannot_work_in_is_refused(monkeypatch):
    monkeypatch.setenv("TENURE_MEMORY_LIMIT", "64MB")
    with pytest.raises(ConfigError, match=r"TENURE_MEMORY_LIMIT has the value '64MB', too little"):
        load_settings()


def test_the_cli_names_a_bad_value_without_a_traceback(cli, store, monkeypatch):
    monkeypatch.setenv("TENURE_MEMORY_LIMIT", "plenty")
    ran = cli("metrics", "--store", store, "--json")
    assert ran.code != 0
    assert "Traceback" not in ran.out + ran.err
    assert "memory_limit" in ran.out + ran.err and "'plenty'" in ran.out + ran.err
