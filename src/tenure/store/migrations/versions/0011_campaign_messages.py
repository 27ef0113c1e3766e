"""campaign messages: the message outbox and what became of each message

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "campaign_messages",
        sa.Column("id", ID, primary_key=True),
        sa.Column("dedup_key", sa.String(400), nullable=False, unique=True),
        sa.Column("campaign", sa.String(100), nullable=False),
        sa.Column("step", sa.String(100), nullable=False),
        sa.Column("customer_id", sa.String(200), nullable=False),
        sa.Column("occurrence", sa.String(100), nullable=False),
        sa.Column("channel", sa.String(40), nullable=False),
        sa.Column("purpose", sa.String(40), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("locale", sa.String(35), nullable=False),
        sa.Column("template", sa.String(200), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body_text", sa.Text, nullable=False),
        sa.Column("body_html", sa.Text),
        sa.Column("headers", sa.Text, nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("done_at", WHEN),
        sa.Column("provider_message_id", sa.String(400)),
        sa.Column("reason", sa.Text),
        sa.Column("test", sa.Boolean, nullable=False),
    )
    op.create_index("ix_campaign_messages_due", "campaign_messages", ["state", "next_at"])
    op.create_index("ix_campaign_messages_customer", "campaign_messages", ["customer_id"])
    op.create_index("ix_campaign_messages_campaign", "campaign_messages", ["campaign", "state"])


def downgrade() -> None:
    op.drop_index("ix_campaign_messages_campaign", "campaign_messages")
    op.drop_index("ix_campaign_messages_customer", "campaign_messages")
    op.drop_index("ix_campaign_messages_due", "campaign_messages")
    op.drop_table("campaign_messages")
