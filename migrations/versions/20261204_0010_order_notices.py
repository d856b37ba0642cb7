"""ingest: order notices, completed from the shops' APIs into inbox events

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 16:03:21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import livedesk.core.db

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "order_notices",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("shop_id", sa.String(length=128), nullable=False),
        sa.Column("order_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("detail", livedesk.core.db.JSONType, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", livedesk.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("room_id", sa.String(length=128), nullable=True),
        sa.Column("event", livedesk.core.db.JSONType, nullable=True),
        sa.Column("received_at", livedesk.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("done_at", livedesk.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_notices")),
        sa.UniqueConstraint(
            "platform", "order_id", "kind", name=op.f("uq_order_notices_platform_order_id_kind")
        ),
    )
    with op.batch_alter_table("order_notices", schema=None) as batch_op:
        batch_op.create_index(
            "ix_order_notices_due",
            ["next_attempt_at"],
            unique=False,
            postgresql_where=sa.text("state = 'pending'"),
            sqlite_where=sa.text("state = 'pending'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("order_notices", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_order_notices_due",
            postgresql_where=sa.text("state = 'pending'"),
            sqlite_where=sa.text("state = 'pending'"),
        )
    op.drop_table("order_notices")
