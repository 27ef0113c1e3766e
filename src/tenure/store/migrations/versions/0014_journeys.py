"""journeys: definitions, and each member's place

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "journeys",
        sa.Column("id", ID, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("definition", sa.Text, nullable=False),
        sa.Column("salt", sa.String(64), nullable=False),
        sa.Column("holdout", sa.Float, nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
    )
    op.create_table(
        "journey_members",
        sa.Column("journey_id", ID, sa.ForeignKey("journeys.id"), primary_key=True),
        sa.Column("customer_id", sa.String(200), primary_key=True),
        sa.Column("occurrence", sa.String(40), primary_key=True),
        sa.Column("arm", sa.String(20), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("step", sa.String(60)),
        sa.Column("due_at", WHEN),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("entered_at", WHEN, nullable=False),
        sa.Column("exited_at", WHEN),
        sa.Column("exit_reason", sa.Text),
    )
    op.create_index("ix_journey_members_due", "journey_members",
                    ["journey_id", "state", "due_at"])  # fmt: skip
    op.create_index("ix_journey_members_customer", "journey_members", ["customer_id"])


def downgrade() -> None:
    op.drop_index("ix_journey_members_customer", "journey_members")
    op.drop_index("ix_journey_members_due", "journey_members")
    op.drop_table("journey_members")
    op.drop_table("journeys")
