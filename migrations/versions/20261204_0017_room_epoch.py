"""rooms: an epoch per room incarnation, and the panels' snapshot in a column of its own

The snapshot moves out of the state blob (where it was one key among the decision state) into
`rooms.snapshot`; every existing room gets an epoch of its own.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 20:10:00
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

import livedesk.core.db

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

rooms = sa.table(
    "rooms",
    sa.column("id", sa.String),
    sa.column("state", livedesk.core.db.JSONType),
    sa.column("snapshot", livedesk.core.db.JSONType),
    sa.column("epoch", sa.String),
)


def upgrade() -> None:
    # Added in place, not by batch mode: on SQLite a batch copies and drops the rooms table,
    # and with foreign keys on that drop would cascade to the room's windows, log and viewers.
    # (SQLite adds a NOT NULL column only with a default: the empty epoch, never used.)
    op.add_column(
        "rooms", sa.Column("epoch", sa.String(length=32), nullable=False, server_default="")
    )
    op.add_column(
        "rooms",
        sa.Column(
            "snapshot", livedesk.core.db.JSONType, nullable=False, server_default=sa.text("'{}'")
        ),
    )
    connection = op.get_bind()
    for room_id, state in connection.execute(sa.select(rooms.c.id, rooms.c.state)).all():
        state = dict(state or {})
        snapshot = state.pop("snapshot", None) or {}
        connection.execute(
            rooms.update()
            .where(rooms.c.id == room_id)
            .values(state=state, snapshot=snapshot, epoch=secrets.token_hex(8))
        )


def downgrade() -> None:
    connection = op.get_bind()
    saved = connection.execute(sa.select(rooms.c.id, rooms.c.state, rooms.c.snapshot)).all()
    for room_id, state, snapshot in saved:
        if not snapshot:
            continue
        state = {**(state or {}), "snapshot": snapshot}
        connection.execute(rooms.update().where(rooms.c.id == room_id).values(state=state))
    # SQLite (3.35+) drops a column in place too: no table copy, no cascade.
    op.execute("ALTER TABLE rooms DROP COLUMN snapshot")
    op.execute("ALTER TABLE rooms DROP COLUMN epoch")
