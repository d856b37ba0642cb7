"""session KPIs: who interacted, and who added to cart then ordered

`room_viewers.interacted` marks a viewer (counted by enter/leave) who commented, liked, gifted
or ordered in the session, for the review's 互动率 over the whole session; `room_carts` holds
each customer who added to cart in a room and when they then ordered, for 加购转化.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 20:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import livedesk.core.db

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("room_viewers") as batch:
        batch.add_column(
            sa.Column("interacted", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "room_carts",
        sa.Column("room_id", sa.String(length=128), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("carted_at", livedesk.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ordered_at", livedesk.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["room_id"], ["rooms.id"], name=op.f("fk_room_carts_room_id_rooms"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("room_id", "customer_id", name=op.f("pk_room_carts")),
    )


def downgrade() -> None:
    op.drop_table("room_carts")
    with op.batch_alter_table("room_viewers") as batch:
        batch.drop_column("interacted")
