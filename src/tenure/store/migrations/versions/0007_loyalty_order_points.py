"""loyalty points earned from ingested orders, and their reversals

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "loyalty_order_points",
        sa.Column("id", ID, primary_key=True),
        sa.Column("order_id", sa.String(200), nullable=False),
        sa.Column("line", sa.String(200), nullable=False),
        sa.Column("rule", sa.String(100), nullable=False),
        sa.Column("customer_id", sa.String(200), nullable=False),
        sa.Column("points", sa.BigInteger, nullable=False),
        sa.Column("refunded", sa.BigInteger, nullable=False),
        sa.Column("amount", sa.Numeric(18, 4, asdecimal=False)),
        sa.Column("entry_id", ID, sa.ForeignKey("loyalty_entries.id")),
        sa.Column("posted_at", WHEN, nullable=False),
        sa.UniqueConstraint("order_id", "line", "rule", name="ux_loyalty_order_points_line"),
    )
    op.create_table(
        "loyalty_order_reversals",
        sa.Column("id", ID, primary_key=True),
        sa.Column("order_id", sa.String(200), nullable=False),
        sa.Column("line", sa.String(200), nullable=False),
        sa.Column("rule", sa.String(100), nullable=False),
        sa.Column("reversed_to", sa.BigInteger, nullable=False),
        sa.Column("entry_id", ID, sa.ForeignKey("loyalty_entries.id")),
        sa.Column("posted_at", WHEN, nullable=False),
        sa.UniqueConstraint(
            "order_id", "line", "rule", "reversed_to", name="ux_loyalty_order_reversals_step"
        ),
    )


def downgrade() -> None:
    op.drop_table("loyalty_order_reversals")
    op.drop_table("loyalty_order_points")
