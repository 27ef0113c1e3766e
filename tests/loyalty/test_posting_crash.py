"""A posting killed (-9) at each named point of its path leaves each batch
whole or absent, the books balanced, and the next run posts every line
exactly once. The points are stopped at, not timed (tenure.faults)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import sqlalchemy as sa

from tenure import loyalty
from tenure.config import load_settings
from tenure.loyalty.posting import post_orders
from tenure.loyalty.rules import EarningRules
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import loyalty_entries, loyalty_order_points

from ..conftest import write

ORDERS = """order_id,customer_id,placed_at,amount,currency,status
O1,C1,2026-10-01 10:00:00,45.90,EUR,completed
O2,C1,2026-10-02 10:00:00,100.00,EUR,completed
O3,C2,2026-10-03 10:00:00,20.00,EUR,completed
"""

CHILD = """
import sys
from datetime import UTC, datetime
from tenure.loyalty.posting import post_orders
from tenure.loyalty.rules import EarningRules
from tenure.store.ops import OpsStore
ops = OpsStore.open(sys.argv[1], create=False)
post_orders(ops, sys.argv[2], EarningRules(), batch=1, at=datetime(2026, 10, 4, tzinfo=UTC))
"""


def _counts(ops: OpsStore) -> tuple[int, int]:
    with ops.engine.connect() as conn:
        return tuple(
            conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in (loyalty_entries, loyalty_order_points)
        )  # fmt: skip


@pytest.mark.parametrize(
    "point",
    ["loyalty posting locked", "loyalty entry written", "loyalty before commit",
     "loyalty after commit"],
)  # fmt: skip
def test_a_posting_killed_at_each_point_posts_each_line_once(cli, store, tmp_path, point):
    assert cli("ingest", "orders", write(tmp_path / "o.csv", ORDERS), "--store", store).code == 0
    settings = load_settings(store=store)
    url, path = settings.ops_database_url, str(settings.analytics_path)
    OpsStore.open(url).close()
    env = dict(os.environ, TENURE_FAULT_AT=point, PYTHONPATH=os.pathsep.join(sys.path))
    done = subprocess.run([sys.executable, "-c", CHILD, url, path], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == -9, done.stderr[-2000:]
    ops = OpsStore.open(url)
    try:
        loyalty.check_invariant(ops)
        # batches of one customer: C1's (2 lines) is whole or absent
        entries, lines = _counts(ops)
        committed = point == "loyalty after commit"
        assert (entries, lines) == ((2, 2) if committed else (0, 0))
        again = post_orders(ops, path, EarningRules())
        assert again.posted == (1 if committed else 3)
        assert _counts(ops) == (3, 3)
        assert loyalty.check_invariant(ops).issued == 45 + 100 + 20
    finally:
        ops.close()
