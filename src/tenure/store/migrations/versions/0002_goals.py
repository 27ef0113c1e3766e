"""goals

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "goals",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("metric", sa.String(60), nullable=False),
        sa.Column("period", sa.String(10), nullable=False),
        sa.Column("change", sa.String(40), nullable=False),
        sa.Column("baseline_period", sa.String(10), nullable=False),
        sa.Column("baseline_value", sa.Float, nullable=False),
        sa.Column("target_value", sa.Float, nullable=False),
        sa.Column("deadline", sa.Date, nullable=False),
        sa.Column("definitions", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    op.drop_table("goals")
