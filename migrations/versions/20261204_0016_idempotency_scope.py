"""idempotency_keys: a key belongs to its operator (primary key scope + key)

Keys stored before this have the empty scope: nobody's, they expire with the retention window.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_keys", recreate="always") as batch:
        batch.add_column(
            sa.Column("scope", sa.String(length=64), nullable=False, server_default="")
        )
        batch.drop_constraint("pk_idempotency_keys", type_="primary")
        batch.create_primary_key("pk_idempotency_keys", ["scope", "key"])
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.alter_column("scope", server_default=None)


def downgrade() -> None:
    op.execute("DELETE FROM idempotency_keys WHERE scope <> ''")
    with op.batch_alter_table("idempotency_keys", recreate="always") as batch:
        batch.drop_constraint("pk_idempotency_keys", type_="primary")
        batch.create_primary_key("pk_idempotency_keys", ["key"])
        batch.drop_column("scope")
