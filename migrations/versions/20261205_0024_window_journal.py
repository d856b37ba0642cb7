"""rooms: the rolling windows saved as a journal (issue 13 point 2)

A room's windows were one JSON row rewritten whole with every batch (room_windows, ~320 KB
after a minute at 3,000 events/s). Now their head (newest bucket, totals) is in the room
state, each ring slot's bucket a row of room_window_buckets and each user's newest sightings
a row of room_window_users; a batch writes only the rows it moved. Windows saved whole
(versions 1 and 2) are split into those rows.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05 12:40:00
"""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

import livedesk.core.clock
import livedesk.core.db

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

MAX_BUCKETS = 90  # livedesk.analysis.buckets.MAX_BUCKETS
HEAD_VERSION = 3  # livedesk.analysis.windows.HEAD_VERSION

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
buckets = sa.table(
    "room_window_buckets",
    sa.column("room_id", sa.String),
    sa.column("slot", sa.Integer),
    sa.column("body", sa.Text),
)
users = sa.table(
    "room_window_users",
    sa.column("room_id", sa.String),
    sa.column("user_id", sa.String),
    sa.column("commented", sa.Integer),
    sa.column("active", sa.Integer),
)


def upgrade() -> None:
    op.create_table(
        "room_window_buckets",
        sa.Column("room_id", sa.String(length=128), nullable=False),
        sa.Column("slot", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["rooms.id"],
            name=op.f("fk_room_window_buckets_room_id_rooms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("room_id", "slot", name=op.f("pk_room_window_buckets")),
    )
    op.create_table(
        "room_window_users",
        sa.Column("room_id", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=False),
        sa.Column("commented", sa.Integer(), nullable=True),
        sa.Column("active", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["rooms.id"],
            name=op.f("fk_room_window_users_room_id_rooms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("room_id", "user_id", name=op.f("pk_room_window_users")),
    )
    connection = op.get_bind()
    for room_id, body in connection.execute(sa.select(room_windows.c.room_id, room_windows.c.body)):
        _split(connection, room_id, orjson.loads(body))
    op.drop_table("room_windows")


def _split(connection: sa.Connection, room_id: str, saved: dict[str, Any]) -> None:
    """A room's windows saved whole (version 1: users per bucket; 2: users' newest buckets)
    as the journal's rows and head."""
    commented: dict[str, int] = {}
    active: dict[str, int] = {}
    if saved.get("v") == 2:
        commented = {str(u): int(i) for u, i in saved["commented"].items()}
        active = {str(u): int(i) for u, i in saved["active"].items()}
    for raw in saved.get("buckets", ()):
        index = int(raw["index"])
        for user_id in raw.pop("commenters", ()):
            commented[str(user_id)] = max(commented.get(str(user_id), index), index)
            active[str(user_id)] = max(active.get(str(user_id), index), index)
        for user_id in raw.pop("interactors", ()):
            active[str(user_id)] = max(active.get(str(user_id), index), index)
        connection.execute(
            buckets.insert().values(
                room_id=room_id, slot=index % MAX_BUCKETS, body=orjson.dumps(raw).decode()
            )
        )
    rows = [
        {"room_id": room_id, "user_id": u, "commented": commented.get(u), "active": i}
        for u, i in active.items()
    ]
    if rows:
        connection.execute(users.insert(), rows)
    head = {
        "v": HEAD_VERSION,
        "negative_below": saved["negative_below"],
        "newest": saved.get("newest"),
        "totals": saved.get("totals", {}),
    }
    state = connection.execute(sa.select(rooms.c.state).where(rooms.c.id == room_id)).scalar()
    state = {**(state or {}), "windows_head": head, "windows_stamp": None}
    connection.execute(rooms.update().where(rooms.c.id == room_id).values(state=state))


def downgrade() -> None:
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
    connection = op.get_bind()
    now = livedesk.core.clock.utcnow()
    for room_id, state in connection.execute(sa.select(rooms.c.id, rooms.c.state)).all():
        head = (state or {}).get("windows_head")
        if head is None:
            continue
        state = {k: v for k, v in state.items() if k not in ("windows_head", "windows_stamp")}
        newest = head.get("newest")
        horizon = newest - MAX_BUCKETS + 1 if newest is not None else None
        saved_users = connection.execute(
            sa.select(users.c.user_id, users.c.commented, users.c.active).where(
                users.c.room_id == room_id
            )
        ).all()
        kept = [row for row in saved_users if horizon is not None and row.active >= horizon]
        body = {
            "v": 2,
            "negative_below": head["negative_below"],
            "newest": newest,
            "buckets": [
                orjson.loads(b)
                for b in connection.execute(
                    sa.select(buckets.c.body).where(buckets.c.room_id == room_id)
                ).scalars()
            ],
            "commented": {
                row.user_id: row.commented
                for row in kept
                if row.commented is not None and row.commented >= horizon
            },
            "active": {row.user_id: row.active for row in kept},
            "totals": head.get("totals", {}),
        }
        connection.execute(
            room_windows.insert().values(
                room_id=room_id, body=orjson.dumps(body).decode(), saved_at=now
            )
        )
        connection.execute(rooms.update().where(rooms.c.id == room_id).values(state=state))
    op.drop_table("room_window_users")
    op.drop_table("room_window_buckets")
