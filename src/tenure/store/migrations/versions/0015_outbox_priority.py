"""campaign messages: their campaign's priority, and messages rendered when sent

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

def upgrade() -> None:
    # a message queued before this revision is rendered, of a normal-priority campaign
    with op.batch_alter_table("campaign_messages") as batch:
        batch.add_column(sa.Column("priority", sa.Integer, nullable=False, server_default="1"))
        batch.add_column(sa.Column("rendered", sa.Boolean, nullable=False,
                                   server_default=sa.true()))  # fmt: skip
    op.execute(
        "UPDATE campaign_messages SET priority = CASE (SELECT c.priority FROM campaigns c "
        "WHERE c.name = campaign_messages.campaign) WHEN 'high' THEN 2 WHEN 'low' THEN 0 "
        "ELSE 1 END"
    )  # fmt: skip
    op.create_index("ix_campaign_messages_claim", "campaign_messages",
                    ["state", sa.text("priority DESC"), "next_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_campaign_messages_claim", table_name="campaign_messages")
    with op.batch_alter_table("campaign_messages") as batch:
        batch.drop_column("rendered")
        batch.drop_column("priority")
