"""ingest runs

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingest_runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
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
    op.create_index("ix_ingest_runs_status", "ingest_runs", ["status"])


def downgrade() -> None:
    op.drop_index("ix_ingest_runs_status", table_name="ingest_runs")
    op.drop_table("ingest_runs")
