"""live_sessions.kind: a session's kind (老客专场, 常规, 大促…) is the session's, not the room's

A room's tag (session_kinds) moves onto every session of that room; it stays, as the tag of
the room's one implicit session, only for a room that never had a 开播.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("live_sessions") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(length=32), nullable=False, server_default="regular")
        )
        batch.add_column(sa.Column("kind_set_by", sa.String(length=64), nullable=True))
    op.execute(
        """
        UPDATE live_sessions
        SET kind = (SELECT k.kind FROM session_kinds k WHERE k.room_id = live_sessions.room_id),
            kind_set_by = (
                SELECT k.set_by FROM session_kinds k WHERE k.room_id = live_sessions.room_id
            )
        WHERE EXISTS (SELECT 1 FROM session_kinds k WHERE k.room_id = live_sessions.room_id)
        """
    )
    op.execute(
        """
        DELETE FROM session_kinds
        WHERE EXISTS (SELECT 1 FROM live_sessions s WHERE s.room_id = session_kinds.room_id)
        """
    )


def downgrade() -> None:
    # Each room's newest tagged session's kind back onto the room.
    op.execute(
        """
        INSERT INTO session_kinds (room_id, kind, set_by, set_at)
        SELECT s.room_id, s.kind, COALESCE(s.kind_set_by, s.started_by), s.started_at
        FROM live_sessions s
        WHERE s.id = (
            SELECT MAX(t.id) FROM live_sessions t
            WHERE t.room_id = s.room_id AND t.kind_set_by IS NOT NULL
        )
        """
    )
    with op.batch_alter_table("live_sessions") as batch:
        batch.drop_column("kind_set_by")
        batch.drop_column("kind")
