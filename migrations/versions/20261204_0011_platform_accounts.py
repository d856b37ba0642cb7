"""platform accounts: viewers keyed by platform and user id, grants name the payee's platform

A room multi-cast to several platforms has viewers of each, and a user id means someone only
on its own platform: room viewers are keyed `platform:user id` (existing rows take their
room's platform, the only one a room had), and a grant names its payee's platform beside the
payee's user id.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("grants") as batch:
        batch.add_column(sa.Column("platform", sa.String(length=32), nullable=True))
    op.execute(
        "UPDATE room_viewers SET user_key = "
        "(SELECT rooms.platform FROM rooms WHERE rooms.id = room_viewers.room_id) "
        "|| ':' || user_key"
    )
    # Grants so far named the room's platform's accounts.
    op.execute(
        "UPDATE grants SET platform = "
        "(SELECT rooms.platform FROM rooms WHERE rooms.id = grants.room_id) "
        "WHERE platform_user_id IS NOT NULL"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE room_viewers SET user_key = "
        "substr(user_key, length((SELECT rooms.platform FROM rooms "
        "WHERE rooms.id = room_viewers.room_id)) + 2)"
    )
    with op.batch_alter_table("grants") as batch:
        batch.drop_column("platform")
