"""followups_sent.session_id: a customer is followed up once per session, not once per room

Sends before this were of the room's newest session (or of all a room never started saw):
they are that session's.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05 08:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("followups_sent") as batch:
        batch.add_column(
            sa.Column("session_id", sa.BigInteger(), nullable=False, server_default="0")
        )
    op.execute(
        """
        UPDATE followups_sent
        SET session_id = COALESCE(
            (SELECT MAX(s.id) FROM live_sessions s WHERE s.room_id = followups_sent.room_id), 0
        )
        """
    )
    with op.batch_alter_table("followups_sent") as batch:
        batch.alter_column("session_id", server_default=None)
        batch.drop_constraint("pk_followups_sent", type_="primary")
        batch.create_primary_key("pk_followups_sent", ["room_id", "session_id", "customer_id"])


def downgrade() -> None:
    # Once per room again: each customer's latest send stays.
    op.execute(
        """
        DELETE FROM followups_sent
        WHERE session_id < (
            SELECT MAX(t.session_id) FROM followups_sent t
            WHERE t.room_id = followups_sent.room_id
              AND t.customer_id = followups_sent.customer_id
        )
        """
    )
    with op.batch_alter_table("followups_sent") as batch:
        batch.drop_constraint("pk_followups_sent", type_="primary")
        batch.create_primary_key("pk_followups_sent", ["room_id", "customer_id"])
        batch.drop_column("session_id")
