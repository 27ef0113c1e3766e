"""A journey runner killed at each of its named points, then run again:
nothing is sent twice and nobody is lost (also for a journey entered by a
trigger, killed before and after its watermark commits); and the
migration 0014."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import sqlalchemy as sa
from alembic import command

from tenure.campaigns import journeys_status
from tenure.campaigns.journeys_runner import run
from tenure.store.ops import OpsStore, _alembic_config, head_revision
from tenure.store.ops_schema import metadata
from tenure.store.registry import TABLES as REGISTERED

from .test_journeys import T0, THREE_STEPS, _create, _members, _sent, shop  # noqa: F401

# (shop runs on SQLite and on PostgreSQL: the ops_url fixture's two values)

_KILLED = """
import sys
from datetime import datetime
from tenure.config import load_settings
from tenure.campaigns.journeys_runner import run
from tenure.store.workspace import Workspace
settings = load_settings(store=sys.argv[1], ops_url=sys.argv[3])
with Workspace.open(settings, create=False) as ws:
    run(settings, ws.ops, "win-back", at=datetime.fromisoformat(sys.argv[2]), batch=2)
"""


@pytest.mark.parametrize("point", ["journey entered", "journey batch advanced"])
def test_killed_runner_completes_without_duplicates(shop, point):  # noqa: F811
    settings, ops, folder = shop
    # entered by its audience: lapsed:0 holds for every customer who ordered
    _create(ops, folder, THREE_STEPS.format(reentry="never").replace("lapsed:30", "lapsed:0"))
    env = {**os.environ, "TENURE_FAULT_AT": point, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", _KILLED, str(settings.store), T0.isoformat(),
                           settings.ops_database_url],
                          env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == -9, proc.stderr
    # killed after the entry, or after the first batch of two members
    assert len(_members(ops)) == 6
    assert [c for c, *_ in _sent(ops)] == ([] if point == "journey entered" else ["c01", "c02"])
    run(settings, ops, "win-back", at=T0, batch=2)
    run(settings, ops, "win-back", at=T0, batch=2)
    assert _sent(ops) == [(c, "first", "2024-07-01") for c in ("c01", "c02", "c03", "c04", "c05")]
    st = journeys_status.status(ops, "win-back")
    assert st["accounted"] and st["entries"] == 6
    assert st["active"]["wait1"] == 5 and st["exited"] == {"no email address": 1}


@pytest.mark.parametrize("point, entered", [("trigger watermark", 0), ("journey entered", 6)])
def test_killed_around_the_trigger_watermark_enters_each_once(shop, point, entered):  # noqa: F811
    from datetime import timedelta

    from tenure.store.ops_schema import trigger_state

    settings, ops, folder = shop
    # every customer's first order is 2024-06-01 12:00: after the baseline
    _create(ops, folder, THREE_STEPS.format(reentry="every").replace(
        'entry = ["lapsed:30"]', 'entry = "event:first_order"'))  # fmt: skip
    baseline = T0 - timedelta(days=60)
    assert run(settings, ops, "win-back", at=baseline)["journeys"][0]["entered"]["entered"] == 0
    env = {**os.environ, "TENURE_FAULT_AT": point, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", _KILLED, str(settings.store), T0.isoformat(),
                           settings.ops_database_url],
                          env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == -9, proc.stderr
    # killed inside the entry's transaction: neither the members nor the
    # watermark; killed after it: both
    with ops.engine.connect() as conn:
        mark = conn.execute(sa.select(trigger_state.c.watermark)).scalar()
    assert (len(_members(ops)), mark.replace(tzinfo=None)) == (
        entered, (baseline if entered == 0 else T0).replace(tzinfo=None))
    run(settings, ops, "win-back", at=T0)
    run(settings, ops, "win-back", at=T0)
    assert _sent(ops) == [(c, "first", "first_order") for c in ("c01", "c02", "c03", "c04", "c05")]
    st = journeys_status.status(ops, "win-back")
    assert st["accounted"] and st["entries"] == 6


TABLES = ("journeys", "journey_members")


def test_a_store_at_0012_gains_the_journey_tables_by_migrating(tmp_path):
    url = f"sqlite:///{tmp_path / 'ops.sqlite'}"
    OpsStore.open(url).close()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0012")
    with engine.connect() as conn:
        assert not any(sa.inspect(conn).has_table(t) for t in TABLES)
    assert OpsStore.migrate(url) == ("0012", head_revision())
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        for name in TABLES:
            made = {c["name"] for c in inspector.get_columns(name)}
            assert made == {c.name for c in metadata.tables[name].columns}, name
    engine.dispose()
    assert REGISTERED["journey_members"].customer_key == "customer_id"
    assert REGISTERED["journeys"].customer_key is None
