"""room_rules: which rules version each room ran under from which seq

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 17:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import livedesk.core.db

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "room_rules",
        sa.Column("room_id", sa.String(length=128), nullable=False),
        sa.Column("since_seq", sa.BigInteger(), nullable=False),
        sa.Column("apply_id", sa.BigInteger(), nullable=False),
        sa.Column("version_hash", sa.String(length=64), nullable=False),
        sa.Column("switched_at", livedesk.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["room_id"], ["rooms.id"], name=op.f("fk_room_rules_room_id_rooms"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["version_hash"],
            ["rules_versions.hash"],
            name=op.f("fk_room_rules_version_hash_rules_versions"),
        ),
        sa.PrimaryKeyConstraint("room_id", "since_seq", name=op.f("pk_room_rules")),
    )


def downgrade() -> None:
    op.drop_table("room_rules")
