"""ownership: room leases and the live pipeline processes

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 16:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import livedesk.core.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "room_leases",
        sa.Column("room_id", sa.String(length=128), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", livedesk.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("room_id", name=op.f("pk_room_leases")),
    )
    op.create_table(
        "pipeline_owners",
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=200), nullable=False),
        sa.Column("started_at", livedesk.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("seen_at", livedesk.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("owner", name=op.f("pk_pipeline_owners")),
    )


def downgrade() -> None:
    op.drop_table("pipeline_owners")
    op.drop_table("room_leases")
