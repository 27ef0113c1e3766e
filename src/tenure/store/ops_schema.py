"""Tables of the operational store: state the product itself writes.

Changes to these tables go through an Alembic revision in ``migrations/``.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

ingest_runs = sa.Table(
    "ingest_runs",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # running, succeeded, failed, interrupted
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("read", sa.BigInteger),
    sa.Column("accepted", sa.BigInteger),
    sa.Column("rejected", sa.BigInteger),
    sa.Column("duplicates", sa.BigInteger),
    sa.Column("inserted", sa.BigInteger),
    sa.Column("updated", sa.BigInteger),
    sa.Column("unchanged", sa.BigInteger),
    sa.Column("customers_created", sa.BigInteger),
    sa.Column("quarantine_path", sa.Text),
    sa.Column("message", sa.Text),
    sa.Column("pid", sa.Integer),
)

sa.Index("ix_ingest_runs_status", ingest_runs.c.status)

goals = sa.Table(
    "goals",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("metric", sa.String(60), nullable=False),
    sa.Column("period", sa.String(10), nullable=False),
    sa.Column("change", sa.String(40), nullable=False),  # as written: -10%, +2pp, =80
    sa.Column("baseline_period", sa.String(10), nullable=False),
    sa.Column("baseline_value", sa.Float, nullable=False),
    sa.Column("target_value", sa.Float, nullable=False),
    sa.Column("deadline", sa.Date, nullable=False),
    sa.Column("definitions", sa.Text, nullable=False),  # JSON: the definitions the baseline used
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("removed_at", sa.DateTime(timezone=True)),
)
