"""customer_orders.refunded_cents: what refunds took off each order, capped at its amount

Orders refunded before this were refunded whole (a refund marked the order refunded).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customer_orders") as batch:
        batch.add_column(
            sa.Column("refunded_cents", sa.BigInteger(), nullable=False, server_default="0")
        )
    op.execute("UPDATE customer_orders SET refunded_cents = amount_cents WHERE status = 'refunded'")


def downgrade() -> None:
    with op.batch_alter_table("customer_orders") as batch:
        batch.drop_column("refunded_cents")
