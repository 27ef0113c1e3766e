"""consent ledger, suppressions, bounces, contacts, unsubscribe links used

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "consent_events",
        sa.Column("id", ID, primary_key=True),
        sa.Column("customer_id", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(40), nullable=False),
        sa.Column("purpose", sa.String(40), nullable=False),
        sa.Column("granted", sa.Boolean, nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("reference", sa.String(400)),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("recorded_at", WHEN, nullable=False),
        sa.Column("key", sa.String(255), unique=True),
    )
    op.create_index(
        "ix_consent_events_state", "consent_events", ["customer_id", "channel", "purpose", "at"]
    )
    op.create_table(
        "consent_api_requests",
        sa.Column("principal", sa.String(400), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("customer_id", sa.String(200)),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("response", sa.Text, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_table(
        "suppressions",
        sa.Column("id", ID, primary_key=True),
        sa.Column("channel", sa.String(40)),
        sa.Column("address", sa.String(400)),
        sa.Column("customer_id", sa.String(200)),
        sa.Column("reason", sa.String(20), nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("detail", sa.Text),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("lifted_at", WHEN),
    )
    op.create_index("ix_suppressions_address", "suppressions", ["address"])
    op.create_index("ix_suppressions_customer", "suppressions", ["customer_id"])
    op.create_table(
        "bounces",
        sa.Column("id", ID, primary_key=True),
        sa.Column("channel", sa.String(40), nullable=False),
        sa.Column("address", sa.String(400), nullable=False),
        sa.Column("customer_id", sa.String(200)),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("detail", sa.Text),
        sa.Column("at", WHEN, nullable=False),
    )
    op.create_index("ix_bounces_address", "bounces", ["address", "at"])
    op.create_table(
        "contacts",
        sa.Column("id", ID, primary_key=True),
        sa.Column("customer_id", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(40), nullable=False),
        sa.Column("purpose", sa.String(40), nullable=False),
        sa.Column("campaign", sa.String(200)),
        sa.Column("priority", sa.String(40)),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("reference", sa.String(400), unique=True),
    )
    op.create_index("ix_contacts_customer_at", "contacts", ["customer_id", "at"])
    op.create_table(
        "unsubscribe_uses",
        sa.Column("nonce", sa.String(64), primary_key=True),
        sa.Column("customer_id", sa.String(200), nullable=False),
        sa.Column("event_id", ID, sa.ForeignKey("consent_events.id"), nullable=False),
        sa.Column("used_at", WHEN, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("unsubscribe_uses")
    op.drop_index("ix_contacts_customer_at", "contacts")
    op.drop_table("contacts")
    op.drop_index("ix_bounces_address", "bounces")
    op.drop_table("bounces")
    op.drop_index("ix_suppressions_customer", "suppressions")
    op.drop_index("ix_suppressions_address", "suppressions")
    op.drop_table("suppressions")
    op.drop_table("consent_api_requests")
    op.drop_index("ix_consent_events_state", "consent_events")
    op.drop_table("consent_events")
