"""rooms: the rolling windows move out of the room row into room_windows

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 09:10:00
"""

from __future__ import annotations

import orjson
import sqlalchemy as sa
from alembic import op

import livedesk.core.clock
import livedesk.core.db

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

rooms = sa.table(
    "rooms",
    sa.column("id", sa.String),
    sa.column("state", livedesk.core.db.JSONType),
)
room_windows = sa.table(
    "room_windows",
    sa.column("room_id", sa.String),
    sa.column("body", sa.Text),
    sa.column("saved_at", livedesk.core.db.UTCDateTime),
)


def upgrade() -> None:
    op.create_table(
        "room_windows",
        sa.Column("room_id", sa.String(length=128), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("saved_at", livedesk.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["rooms.id"],
            name=op.f("fk_room_windows_room_id_rooms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("room_id", name=op.f("pk_room_windows")),
    )
    # Rooms saved by an older version carry their windows in the state: move them over.
    connection = op.get_bind()
    now = livedesk.core.clock.utcnow()
    for room_id, state in connection.execute(sa.select(rooms.c.id, rooms.c.state)).all():
        if not state or "windows" not in state:
            continue
        windows = state.pop("windows")
        connection.execute(
            room_windows.insert().values(
                room_id=room_id, body=orjson.dumps(windows).decode(), saved_at=now
            )
        )
        connection.execute(rooms.update().where(rooms.c.id == room_id).values(state=state))


def downgrade() -> None:
    connection = op.get_bind()
    saved = connection.execute(sa.select(room_windows.c.room_id, room_windows.c.body)).all()
    for room_id, body in saved:
        state = connection.execute(sa.select(rooms.c.state).where(rooms.c.id == room_id)).scalar()
        state = {**(state or {}), "windows": orjson.loads(body)}
        connection.execute(rooms.update().where(rooms.c.id == room_id).values(state=state))
    op.drop_table("room_windows")
