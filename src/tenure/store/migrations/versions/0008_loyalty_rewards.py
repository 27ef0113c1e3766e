"""loyalty rewards, referrals, challenges: redemptions of catalogue rewards,
stock, referral codes and referrals, events, badges and bonus awards

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
WHEN = sa.DateTime(timezone=True)
AMOUNT = sa.Numeric(18, 4, asdecimal=False)
DIGEST = sa.String(64)


def upgrade() -> None:
    op.create_table(
        "loyalty_redemptions",
        sa.Column("id", ID, primary_key=True),
        sa.Column(
            "entry_id", ID, sa.ForeignKey("loyalty_entries.id"), nullable=False, unique=True
        ),  # fmt: skip
        sa.Column("customer_id", sa.String(200), nullable=False),
        sa.Column("reward_id", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("points", sa.BigInteger, nullable=False),
        sa.Column("value", AMOUNT),
        sa.Column("product_id", sa.String(200)),
        sa.Column("order_id", sa.String(200)),
        sa.Column("order_total", AMOUNT),
        sa.Column("at", WHEN, nullable=False),
    )
    op.create_index("ix_loyalty_redemptions_member", "loyalty_redemptions",
                    ["customer_id", "reward_id"])  # fmt: skip
    op.create_table(
        "loyalty_reward_stock",
        sa.Column("reward_id", sa.String(100), primary_key=True),
        sa.Column("redeemed", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "loyalty_referral_codes",
        sa.Column("code", sa.String(40), primary_key=True),
        sa.Column("customer_id", sa.String(200), nullable=False, unique=True),
        sa.Column("email_digest", DIGEST),
        sa.Column("address_digest", DIGEST),
        sa.Column("payment_digest", DIGEST),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_table(
        "loyalty_referrals",
        sa.Column("id", ID, primary_key=True),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("advocate_id", sa.String(200), nullable=False),
        sa.Column("friend_id", sa.String(200), nullable=False),
        sa.Column("friend_key", sa.String(200), unique=True),
        sa.Column("email_digest", DIGEST),
        sa.Column("address_digest", DIGEST),
        sa.Column("payment_digest", DIGEST),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("reason", sa.String(40)),
        sa.Column("detail", sa.Text),
        sa.Column("order_id", sa.String(200)),
        sa.Column("order_amount", AMOUNT),
        sa.Column("order_at", WHEN),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("decided_at", WHEN),
    )
    op.create_index("ix_loyalty_referrals_advocate", "loyalty_referrals",
                    ["advocate_id", "status"])  # fmt: skip
    op.create_index("ix_loyalty_referrals_friend", "loyalty_referrals", ["friend_id"])
    op.create_table(
        "loyalty_events",
        sa.Column("id", ID, primary_key=True),
        sa.Column("customer_id", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("key", sa.String(255), unique=True),
        sa.Column("at", WHEN, nullable=False),
    )
    op.create_index("ix_loyalty_events_customer", "loyalty_events", ["customer_id", "kind"])
    op.create_table(
        "loyalty_badges",
        sa.Column("id", ID, primary_key=True),
        sa.Column("customer_id", sa.String(200), nullable=False),
        sa.Column("challenge_id", sa.String(100), nullable=False),
        sa.Column("badge", sa.String(200), nullable=False),
        sa.Column("completed_at", WHEN, nullable=False),
        sa.Column("awarded_at", WHEN, nullable=False),
        sa.UniqueConstraint("customer_id", "challenge_id", name="ux_loyalty_badges_member"),
    )
    op.create_table(
        "loyalty_awards",
        sa.Column("id", ID, primary_key=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("source_id", ID, nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("customer_id", sa.String(200), nullable=False),
        sa.Column("points", sa.BigInteger, nullable=False),
        sa.Column("entry_id", ID, sa.ForeignKey("loyalty_entries.id"), nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.UniqueConstraint("source", "source_id", "role", name="ux_loyalty_awards_source"),
    )
    op.create_index("ix_loyalty_awards_customer", "loyalty_awards", ["customer_id"])


def downgrade() -> None:
    op.drop_index("ix_loyalty_awards_customer", "loyalty_awards")
    op.drop_table("loyalty_awards")
    op.drop_table("loyalty_badges")
    op.drop_index("ix_loyalty_events_customer", "loyalty_events")
    op.drop_table("loyalty_events")
    op.drop_index("ix_loyalty_referrals_friend", "loyalty_referrals")
    op.drop_index("ix_loyalty_referrals_advocate", "loyalty_referrals")
    op.drop_table("loyalty_referrals")
    op.drop_table("loyalty_referral_codes")
    op.drop_table("loyalty_reward_stock")
    op.drop_index("ix_loyalty_redemptions_member", "loyalty_redemptions")
    op.drop_table("loyalty_redemptions")
