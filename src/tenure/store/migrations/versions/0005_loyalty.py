"""loyalty: members, lots, entries, allocations, idempotency keys

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "loyalty_members",
        sa.Column("customer_id", sa.String(200), primary_key=True),
        sa.Column("joined_at", WHEN, nullable=False),
    )
    member = sa.ForeignKey("loyalty_members.customer_id")
    op.create_table(
        "loyalty_lots",
        sa.Column("id", ID, primary_key=True),
        sa.Column("customer_id", sa.String(200), member, nullable=False),
        sa.Column("points", sa.BigInteger, nullable=False),
        sa.Column("pending", sa.Boolean, nullable=False),
        sa.Column("available_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_index("ix_loyalty_lots_customer", "loyalty_lots", ["customer_id"])
    op.create_index("ix_loyalty_lots_expires_at", "loyalty_lots", ["expires_at"])
    op.create_table(
        "loyalty_entries",
        sa.Column("id", ID, primary_key=True),
        sa.Column(
            "customer_id",
            sa.String(200),
            sa.ForeignKey("loyalty_members.customer_id"),
            nullable=False,
        ),  # fmt: skip
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("points", sa.BigInteger, nullable=False),
        sa.Column("pending", sa.BigInteger, nullable=False),
        sa.Column("lot_id", ID, sa.ForeignKey("loyalty_lots.id")),
        sa.Column("reverses", ID, sa.ForeignKey("loyalty_entries.id")),
        sa.Column("order_line", sa.String(200)),
        sa.Column("rule", sa.String(100)),
        sa.Column("reason", sa.Text),
        sa.Column("reward", sa.String(200)),
        sa.Column("idempotency_key", sa.String(255)),
        sa.Column("at", WHEN, nullable=False),
    )
    op.create_index("ix_loyalty_entries_customer", "loyalty_entries", ["customer_id", "id"])
    op.create_index("ix_loyalty_entries_reverses", "loyalty_entries", ["reverses"])
    op.create_index("ix_loyalty_entries_lot", "loyalty_entries", ["lot_id"])
    op.create_index(
        "ux_loyalty_entries_order_line_rule", "loyalty_entries", ["order_line", "rule"],
        unique=True,
    )  # fmt: skip
    op.create_table(
        "loyalty_allocations",
        sa.Column("id", ID, primary_key=True),
        sa.Column("entry_id", ID, sa.ForeignKey("loyalty_entries.id"), nullable=False),
        sa.Column("lot_id", ID, sa.ForeignKey("loyalty_lots.id"), nullable=False),
        sa.Column("points", sa.BigInteger, nullable=False),
        sa.Column("made_by", ID, sa.ForeignKey("loyalty_entries.id"), nullable=False),
    )
    op.create_index("ix_loyalty_allocations_lot", "loyalty_allocations", ["lot_id"])
    op.create_index("ix_loyalty_allocations_entry", "loyalty_allocations", ["entry_id"])
    op.create_index("ix_loyalty_allocations_made_by", "loyalty_allocations", ["made_by"])
    op.create_table(
        "loyalty_keys",
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("customer_id", sa.String(200), nullable=False),
        sa.Column("operation", sa.String(20), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("response", sa.Text, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_index("ix_loyalty_keys_created_at", "loyalty_keys", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_loyalty_keys_created_at", "loyalty_keys")
    op.drop_table("loyalty_keys")
    op.drop_index("ix_loyalty_allocations_made_by", "loyalty_allocations")
    op.drop_index("ix_loyalty_allocations_entry", "loyalty_allocations")
    op.drop_index("ix_loyalty_allocations_lot", "loyalty_allocations")
    op.drop_table("loyalty_allocations")
    op.drop_index("ux_loyalty_entries_order_line_rule", "loyalty_entries")
    op.drop_index("ix_loyalty_entries_lot", "loyalty_entries")
    op.drop_index("ix_loyalty_entries_reverses", "loyalty_entries")
    op.drop_index("ix_loyalty_entries_customer", "loyalty_entries")
    op.drop_table("loyalty_entries")
    op.drop_index("ix_loyalty_lots_expires_at", "loyalty_lots")
    op.drop_index("ix_loyalty_lots_customer", "loyalty_lots")
    op.drop_table("loyalty_lots")
    op.drop_table("loyalty_members")
