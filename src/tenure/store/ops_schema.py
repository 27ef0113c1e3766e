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
