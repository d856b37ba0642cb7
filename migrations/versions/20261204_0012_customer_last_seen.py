"""customers: when each was last seen in a live room, and do-not-contact

`last_seen_at` / `last_seen_room` / `seen_before_at` feed 流失预警 (how long a customer has been
away, also as of before the session they came back in); `do_not_contact` keeps a customer out
of marketing follow-ups.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import livedesk.core.db

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(
            sa.Column("last_seen_at", livedesk.core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("last_seen_room", sa.String(length=128), nullable=True))
        batch.add_column(
            sa.Column("seen_before_at", livedesk.core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(
            sa.Column("do_not_contact", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("do_not_contact")
        batch.drop_column("seen_before_at")
        batch.drop_column("last_seen_room")
        batch.drop_column("last_seen_at")
