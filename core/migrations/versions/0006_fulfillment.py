"""fulfillment: a reward's fulfillment endpoint and policy, a claim's fulfillment reference

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain nullable columns: SQLite adds them without a table rebuild; the values are
    # checked by the definition's validation (core/inputs.py), the only writer.
    op.add_column("rewards", sa.Column("fulfillment_endpoint_id", sa.String(40), nullable=True))
    op.add_column("rewards", sa.Column("fulfillment_on_failure", sa.String(10), nullable=True))
    op.add_column("claims", sa.Column("fulfillment_reference", sa.String(500), nullable=True))


def downgrade() -> None:
    op.drop_column("claims", "fulfillment_reference")
    op.drop_column("rewards", "fulfillment_on_failure")
    op.drop_column("rewards", "fulfillment_endpoint_id")
