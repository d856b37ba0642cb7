"""customers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 22:44:29.860935
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import livedesk.core.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("nickname", sa.String(length=64), nullable=True),
        sa.Column("nickname_source", sa.String(length=8), nullable=True),
        sa.Column("nickname_at", livedesk.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("member_id", sa.String(length=128), nullable=True),
        sa.Column("union_id", sa.String(length=128), nullable=True),
        sa.Column("phone_hash", sa.String(length=128), nullable=True),
        sa.Column("merged_into", sa.BigInteger(), nullable=True),
        sa.Column("order_count", sa.Integer(), nullable=False),
        sa.Column("total_spent_cents", sa.BigInteger(), nullable=False),
        sa.Column("first_order_at", livedesk.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_order_at", livedesk.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "last_items",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "bought_skus",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "recent_orders",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("points_balance", sa.BigInteger(), nullable=False),
        sa.Column("do_not_greet", sa.String(length=32), nullable=True),
        sa.Column("first_seen_at", livedesk.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", livedesk.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", livedesk.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merged_into"], ["customers.id"], name=op.f("fk_customers_merged_into_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("member_id", name=op.f("uq_customers_member_id")),
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customers_merged_into"), ["merged_into"], unique=False)
        batch_op.create_index(batch_op.f("ix_customers_phone_hash"), ["phone_hash"], unique=False)
        batch_op.create_index(batch_op.f("ix_customers_union_id"), ["union_id"], unique=False)

    op.create_table(
        "import_runs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rows_done", sa.BigInteger(), nullable=False),
        sa.Column(
            "counts",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("started_at", livedesk.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", livedesk.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_runs")),
        sa.UniqueConstraint("file_sha256", "path", name=op.f("uq_import_runs_file_sha256_path")),
    )
    op.create_table(
        "customer_identities",
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("platform_user_id", sa.String(length=128), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", livedesk.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_identities_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint(
            "platform", "platform_user_id", name=op.f("pk_customer_identities")
        ),
    )
    with op.batch_alter_table("customer_identities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_identities_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "customer_orders",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.String(length=128), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("room_id", sa.String(length=128), nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column(
            "items",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("coupon_id", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("ordered_at", livedesk.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("refunded_at", livedesk.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_customer_orders_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_orders")),
        sa.UniqueConstraint(
            "platform", "order_id", name=op.f("uq_customer_orders_platform_order_id")
        ),
    )
    with op.batch_alter_table("customer_orders", schema=None) as batch_op:
        batch_op.create_index(
            "ix_customer_orders_customer", ["customer_id", "ordered_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("customer_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_orders_customer")

    op.drop_table("customer_orders")
    with op.batch_alter_table("customer_identities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_identities_customer_id"))

    op.drop_table("customer_identities")
    op.drop_table("import_runs")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customers_union_id"))
        batch_op.drop_index(batch_op.f("ix_customers_phone_hash"))
        batch_op.drop_index(batch_op.f("ix_customers_merged_into"))

    op.drop_table("customers")
