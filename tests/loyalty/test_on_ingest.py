"""The command line and the Python API ingest through one path: the same
orders leave the same ledger, worked by hand below."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

import tenure
from tenure import loyalty
from tenure.config import load_settings
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import loyalty_badges, loyalty_entries

from ..conftest import write

PROGRAM = """
[loyalty]
return_window_days = 30
challenges = [{id = "pair", kind = "orders", count = 2, days = 30, badge = "Pair", points = 20}]
[loyalty.earning]
points_per_unit = 1
"""

ORDERS = """order_id,customer_id,placed_at,amount,currency,status
O1,C1,2026-10-01 10:00:00,45.90,EUR,completed
O2,C1,2026-10-02 10:00:00,100.00,EUR,completed
O3,C2,2026-10-03 10:00:00,20.00,EUR,cancelled
O4,C3,2026-10-04 10:00:00,9.99,EUR,completed
"""


def _ledger(store: Path) -> tuple[list[tuple], list[tuple]]:
    """The entries, as a ledger keeps them (with the time of an order's
    points; the bonus and the approvals its write made are at the moment
    it ran), and the badges."""
    ops = OpsStore.open(load_settings(store=store).ops_database_url)
    try:
        loyalty.check_invariant(ops)
        e, b = loyalty_entries, loyalty_badges
        with ops.engine.connect() as conn:
            entries = conn.execute(
                sa.select(e.c.customer_id, e.c.kind, e.c.points, e.c.pending, e.c.order_line,
                          e.c.rule, e.c.reason, e.c.amount,
                          sa.case((e.c.rule == "purchase", e.c.at), else_=None))
                .order_by(e.c.customer_id, e.c.order_line, e.c.rule)
            ).all()  # fmt: skip
            badges = conn.execute(
                sa.select(b.c.customer_id, b.c.challenge_id, b.c.badge).order_by(b.c.customer_id)
            ).all()  # fmt: skip
        return [tuple(r) for r in entries], [tuple(r) for r in badges]
    finally:
        ops.close()


def test_the_cli_and_tenure_ingest_leave_the_same_ledger(cli, tmp_path):
    Path("tenure.toml").write_text(PROGRAM, encoding="utf-8")
    orders = write(tmp_path / "orders.csv", ORDERS)
    by_cli, by_python = tmp_path / "cli-store", tmp_path / "python-store"

    r = cli("ingest", "orders", orders, "--store", by_cli, "--json")
    assert r.code == 0, r.err
    result = tenure.ingest("orders", orders, store=by_python)

    # 45.90 -> 45 and 100.00 -> 100 for C1, 9.99 -> 9 for C3, pending; the
    # cancelled order earns nothing. C1's two orders in 30 days complete
    # the challenge: the badge and 20 points
    for refreshed in (r.json()["refreshed"], result.refreshed):
        assert refreshed["loyalty_posted"]["points"] == 154
        assert len(refreshed["loyalty_settled"]["challenges"]["badges"]) == 1
    entries, badges = _ledger(by_python)
    assert (entries, badges) == _ledger(by_cli)
    assert badges == [("C1", "pair", "Pair")]
    assert sorted((c, k, p, q) for c, k, p, q, *_ in entries) == [
        ("C1", "approve", 45, -45), ("C1", "approve", 100, -100), ("C1", "earn", 20, 0),
        ("C1", "pending", 0, 45), ("C1", "pending", 0, 100), ("C3", "pending", 0, 9),
    ]  # fmt: skip

    # the same file again through either path posts nothing more
    again = tenure.ingest("orders", orders, store=by_python)
    assert again.refreshed.get("loyalty_posted") is None
    assert _ledger(by_python)[0] == entries


def test_tenure_ingest_into_an_open_workspace_posts_too(tmp_path):
    Path("tenure.toml").write_text(PROGRAM, encoding="utf-8")
    orders = write(tmp_path / "orders.csv", ORDERS)
    with tenure.Workspace.open(load_settings(store=tmp_path / "store")) as ws:
        result = tenure.ingest("orders", orders, workspace=ws)
    assert result.refreshed["loyalty_posted"]["points"] == 154


def test_without_a_program_tenure_ingest_does_no_loyalty_work(tmp_path):
    orders = write(tmp_path / "orders.csv", ORDERS)
    result = tenure.ingest("orders", orders, store=tmp_path / "store")
    assert "loyalty_posted" not in result.refreshed
    assert _ledger(tmp_path / "store") == ([], [])
