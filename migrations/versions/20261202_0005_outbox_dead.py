"""outbox: index the dead letters

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 14:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_dead",
            ["room_id"],
            unique=False,
            postgresql_where=sa.text("state = 'dead'"),
            sqlite_where=sa.text("state = 'dead'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_outbox_dead",
            postgresql_where=sa.text("state = 'dead'"),
            sqlite_where=sa.text("state = 'dead'"),
        )
