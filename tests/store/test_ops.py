"""The operational store on SQLite and on PostgreSQL: migrations, runs, versions."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tenure.config import load_settings
from tenure.errors import StoreVersionError
from tenure.ingestion.pipeline import ingest
from tenure.store import ops_schema
from tenure.store.ops import OpsStore, head_revision
from tenure.store.workspace import Workspace
from tests.conftest import write


@pytest.fixture(params=["sqlite", "postgresql"])
def ops_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ops.sqlite'}"
    return request.getfixturevalue("pg_database")


def test_a_new_store_is_created_at_the_head_revision(ops_url):
    ops = OpsStore.open(ops_url)
    assert ops.revision() == head_revision()
    inspector = sa.inspect(ops.engine)
    assert "ingest_runs" in inspector.get_table_names()
    ops.close()


def test_runs_are_recorded_and_finished(ops_url):
    ops = OpsStore.open(ops_url)
    first = ops.start_run("orders", "a.csv")
    second = ops.start_run("customers", "b.csv")
    assert second > first
    assert [r["id"] for r in ops.running_runs()] == [first, second]
    ops.finish_run(first, "succeeded", read=3, accepted=2, rejected=1, duplicates=0)
    runs = ops.runs()
    assert [r["id"] for r in runs] == [second, first]  # newest first
    done = runs[1]
    assert (done["status"], done["read"], done["accepted"], done["rejected"]) == (
        "succeeded",
        3,
        2,
        1,
    )
    assert done["finished_at"] >= done["started_at"]
    ops.close()


def test_an_older_revision_is_refused_until_migrated(ops_url):
    OpsStore.open(ops_url).close()
    engine = sa.create_engine(ops_url)
    with engine.begin() as conn:
        ops_schema.metadata.drop_all(conn)  # every table of every revision
        conn.execute(sa.text("DELETE FROM alembic_version"))
        conn.execute(sa.text("INSERT INTO alembic_version VALUES ('0000')"))
    with pytest.raises(StoreVersionError, match="newer tenure"):
        OpsStore.open(ops_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE alembic_version"))
    engine.dispose()
    # an empty database is simply created
    ops = OpsStore.open(ops_url)
    assert ops.revision() == head_revision()
    ops.close()


def test_ingest_records_its_run_in_the_ops_store(ops_url, tmp_path):
    settings = load_settings(store=tmp_path / "store", ops_url=ops_url)
    write(
        tmp_path / "o.csv",
        "order_id,customer_id,placed_at,amount\nO1,C1,2024-01-01,1\nO2,C1,nope,1\n",
    )
    with Workspace.open(settings) as ws:
        r = ingest("orders", tmp_path / "o.csv", workspace=ws)
        run = ws.ops.runs()[0]
    assert run["id"] == r.ingest_id
    assert (run["kind"], run["status"], run["read"], run["accepted"], run["rejected"]) == (
        "orders",
        "succeeded",
        2,
        1,
        1,
    )
    assert run["quarantine_path"] == r.quarantine


def test_a_store_at_the_first_revision_gains_the_later_tables_by_migrating(ops_url):
    OpsStore.open(ops_url).close()
    engine = sa.create_engine(ops_url)
    later = [t for t in ops_schema.metadata.sorted_tables if t.name != "ingest_runs"]
    with engine.begin() as conn:
        ops_schema.metadata.drop_all(conn, tables=later)  # as revision 0001 left it
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0001'"))
    with pytest.raises(StoreVersionError, match="tenure migrate"):
        OpsStore.open(ops_url)
    assert OpsStore.migrate(ops_url) == ("0001", head_revision())
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        for table in ops_schema.metadata.sorted_tables:  # the revisions make what the schema says
            assert inspector.has_table(table.name), table.name
            assert {c["name"] for c in inspector.get_columns(table.name)} == set(table.c.keys())
    engine.dispose()


def test_the_head_revision_read_from_the_files_is_alembics():
    # the quick reading of the revision files must name the head Alembic finds
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from tenure.store.ops import _script_directory

    config = Config()
    config.set_main_option("script_location", _script_directory().dir)
    assert head_revision() == ScriptDirectory.from_config(config).get_current_head()
