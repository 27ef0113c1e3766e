"""loyalty API and webhooks: Idempotency-Key requests, the webhook outbox

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "loyalty_api_requests",
        sa.Column("principal", sa.String(400), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("customer_id", sa.String(200), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("response", sa.Text, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_index("ix_loyalty_api_requests_created_at", "loyalty_api_requests", ["created_at"])
    op.create_table(
        "loyalty_webhook_endpoints",
        sa.Column("url", sa.String(2000), primary_key=True),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_table(
        "loyalty_webhook_events",
        sa.Column("id", ID, primary_key=True),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("customer_id", sa.String(200), nullable=False),
        sa.Column("dedup", sa.String(200), nullable=False, unique=True),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("fanned_out", sa.Boolean, nullable=False),
    )
    op.create_index(
        "ix_loyalty_webhook_events_fanned_out", "loyalty_webhook_events", ["fanned_out"]
    )
    op.create_table(
        "loyalty_webhook_deliveries",
        sa.Column("id", ID, primary_key=True),
        sa.Column("event_id", ID, sa.ForeignKey("loyalty_webhook_events.id"), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_at", WHEN),
        sa.Column("last_status", sa.Integer),
        sa.Column("last_error", sa.Text),
        sa.Column("done_at", WHEN),
        sa.UniqueConstraint("event_id", "url", name="ux_loyalty_webhook_deliveries_event_url"),
    )
    op.create_index(
        "ix_loyalty_webhook_deliveries_due", "loyalty_webhook_deliveries", ["state", "next_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_loyalty_webhook_deliveries_due", "loyalty_webhook_deliveries")
    op.drop_table("loyalty_webhook_deliveries")
    op.drop_index("ix_loyalty_webhook_events_fanned_out", "loyalty_webhook_events")
    op.drop_table("loyalty_webhook_events")
    op.drop_table("loyalty_webhook_endpoints")
    op.drop_index("ix_loyalty_api_requests_created_at", "loyalty_api_requests")
    op.drop_table("loyalty_api_requests")
