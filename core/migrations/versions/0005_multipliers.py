"""points multipliers: a reward's factor and duration, a credit's base amount and multiplier

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable columns only: existing rows need no rewrite, and null means "no multiplier".
    with op.batch_alter_table("rewards") as batch:
        batch.add_column(sa.Column("multiplier_factor", sa.Numeric(4, 2), nullable=True))
        batch.add_column(sa.Column("multiplier_days", sa.Integer(), nullable=True))
    with op.batch_alter_table("ledger_entries") as batch:
        batch.add_column(sa.Column("base_amount", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("multiplier_claim_id", sa.String(40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ledger_entries") as batch:
        batch.drop_column("multiplier_claim_id")
        batch.drop_column("base_amount")
    with op.batch_alter_table("rewards") as batch:
        batch.drop_column("multiplier_days")
        batch.drop_column("multiplier_factor")
