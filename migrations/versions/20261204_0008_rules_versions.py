"""rules versions: every rules set applied, with its full text, and the history of applies

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 16:00:40
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import livedesk.core.db

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rules_versions",
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=80), nullable=False),
        sa.Column(
            "files",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", livedesk.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("hash", name=op.f("pk_rules_versions")),
    )
    op.create_table(
        "rules_applies",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("version_hash", sa.String(length=64), nullable=False),
        sa.Column("applied_at", livedesk.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("applied_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_hash"],
            ["rules_versions.hash"],
            name=op.f("fk_rules_applies_version_hash_rules_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rules_applies")),
    )


def downgrade() -> None:
    op.drop_table("rules_applies")
    op.drop_table("rules_versions")
