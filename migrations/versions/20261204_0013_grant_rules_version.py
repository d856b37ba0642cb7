"""grants.rules_version: the rules version a grant was decided under

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 17:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("grants") as batch:
        batch.add_column(sa.Column("rules_version", sa.String(length=12), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("grants") as batch:
        batch.drop_column("rules_version")
