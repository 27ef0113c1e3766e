"""Revision 0008 on a ledger that has entries: down below it and up again,
the ledger is kept and the catalogue's, referrals' and challenges' tables
come back empty and usable."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command

from tenure.loyalty import balance, earn
from tenure.loyalty.rewards import redeem_reward
from tenure.loyalty_settings import Program, Reward
from tenure.store.ops import OpsStore, _alembic_config

TABLES = ("loyalty_redemptions", "loyalty_reward_stock", "loyalty_referral_codes",
          "loyalty_referrals", "loyalty_events", "loyalty_badges", "loyalty_awards")  # fmt: skip


def test_the_rewards_tables_migrate_down_and_up_around_a_ledger(ops_url):
    at = datetime(2026, 1, 10, tzinfo=UTC)
    ops = OpsStore.open(ops_url)
    earn(ops, "C1", 900, at=at)
    ops.close()
    engine = sa.create_engine(ops_url)
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0007")
    with engine.connect() as conn:
        assert not any(sa.inspect(conn).has_table(t) for t in TABLES)
    engine.dispose()
    OpsStore.migrate(ops_url)
    ops = OpsStore.open(ops_url)
    program = Program(rewards=(Reward("5off", "discount", "5 off", points=500, value=5.0),))
    assert redeem_reward(ops, "C1", "5off", program=program, at=at).doc["balance"] == 400
    assert balance(ops, "C1", at=at)["balance"] == 400
    ops.close()
