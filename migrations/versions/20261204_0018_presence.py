"""room presence: viewers estimated from activity, and which platforms send enter/leave

`room_viewers.estimated` marks a viewer counted present from their activity (a platform whose
push has no enter/leave); `room_enter_platforms` lists, per room, the platforms whose
enter/leave events were seen, whose viewers are counted from those events instead.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import livedesk.core.db

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("room_viewers") as batch:
        batch.add_column(
            sa.Column("estimated", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "room_enter_platforms",
        sa.Column("room_id", sa.String(length=128), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("first_at", livedesk.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["rooms.id"],
            name=op.f("fk_room_enter_platforms_room_id_rooms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("room_id", "platform", name=op.f("pk_room_enter_platforms")),
    )


def downgrade() -> None:
    op.drop_table("room_enter_platforms")
    with op.batch_alter_table("room_viewers") as batch:
        batch.drop_column("estimated")
