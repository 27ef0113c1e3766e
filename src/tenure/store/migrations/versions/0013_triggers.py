"""triggers: each trigger's watermark and last membership, and the
service-recovery tasks an NPS detractor opens

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "trigger_state",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("watermark", WHEN, nullable=False),
        sa.Column("evaluations", sa.Integer, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
    )
    op.create_table(
        "trigger_members",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("customer_id", sa.String(200), primary_key=True),
        sa.Column("member", sa.Boolean, nullable=False),
        sa.Column("entries", sa.Integer, nullable=False),
        sa.Column("exits", sa.Integer, nullable=False),
        sa.Column("changed_at", WHEN, nullable=False),
    )
    op.create_index("ix_trigger_members_customer", "trigger_members", ["customer_id"])
    op.create_table(
        "service_recovery_tasks",
        sa.Column("id", ID, primary_key=True),
        sa.Column("response_id", sa.String(200), nullable=False, unique=True),
        sa.Column("customer_id", sa.String(200), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("comment", sa.Text),
        sa.Column("answered_at", WHEN, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("closed_at", WHEN),
        sa.Column("note", sa.Text),
    )
    op.create_index("ix_service_recovery_tasks_customer", "service_recovery_tasks",
                    ["customer_id"])  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_service_recovery_tasks_customer", "service_recovery_tasks")
    op.drop_table("service_recovery_tasks")
    op.drop_index("ix_trigger_members_customer", "trigger_members")
    op.drop_table("trigger_members")
    op.drop_table("trigger_state")
