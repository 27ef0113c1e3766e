"""campaigns: definitions, and each customer's arm

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", ID, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("channel", sa.String(40), nullable=False),
        sa.Column("purpose", sa.String(40), nullable=False),
        sa.Column("priority", sa.String(40), nullable=False),
        sa.Column("template", sa.Text, nullable=False),
        sa.Column("audience", sa.Text, nullable=False),
        sa.Column("holdout", sa.Float, nullable=False),
        sa.Column("salt", sa.String(64), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.Column("launched_at", WHEN),
        sa.Column("finished_at", WHEN),
        sa.Column("global_share", sa.Float),
    )
    op.create_table(
        "campaign_assignments",
        sa.Column("campaign_id", ID, sa.ForeignKey("campaigns.id"), primary_key=True),
        sa.Column("customer_id", sa.String(200), primary_key=True),
        sa.Column("arm", sa.String(20), nullable=False),
        sa.Column("assigned_at", WHEN, nullable=False),
        sa.Column("queued", sa.Boolean, nullable=False),
        sa.Column("skipped", sa.Text),
    )
    op.create_index("ix_campaign_assignments_customer", "campaign_assignments", ["customer_id"])


def downgrade() -> None:
    op.drop_index("ix_campaign_assignments_customer", "campaign_assignments")
    op.drop_table("campaign_assignments")
    op.drop_table("campaigns")
