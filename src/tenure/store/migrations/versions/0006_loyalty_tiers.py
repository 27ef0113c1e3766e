"""loyalty tiers: the amount an earning was for, and tier changes

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
WHEN = sa.DateTime(timezone=True)
AMOUNT = sa.Numeric(18, 4, asdecimal=False)


def upgrade() -> None:
    with op.batch_alter_table("loyalty_entries") as batch:
        batch.add_column(sa.Column("amount", AMOUNT))
    op.create_table(
        "loyalty_tier_changes",
        sa.Column("id", ID, primary_key=True),
        sa.Column(
            "customer_id",
            sa.String(200),
            sa.ForeignKey("loyalty_members.customer_id"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("tier", sa.String(100)),
        sa.Column("previous", sa.String(100)),
        sa.Column("value", AMOUNT),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("kept_until", WHEN),
        sa.Column("entry_id", ID, sa.ForeignKey("loyalty_entries.id")),
        sa.Column("reason", sa.Text),
    )
    op.create_index(
        "ix_loyalty_tier_changes_customer", "loyalty_tier_changes", ["customer_id", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_loyalty_tier_changes_customer", "loyalty_tier_changes")
    op.drop_table("loyalty_tier_changes")
    with op.batch_alter_table("loyalty_entries") as batch:
        batch.drop_column("amount")
