"""webhook endpoints, deliveries and attempts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30

One delivery per (fact, endpoint) under a unique key, so any number of relays
racing over the same fact create it once; the due index covers the periodic
job's scan of pending deliveries by next attempt time.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.models.base import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _when(name: str, *, nullable: bool = True) -> sa.Column:
    return sa.Column(name, UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("endpoint_id", sa.String(40), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("description", sa.String(500), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.String(500), nullable=True),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("previous_secret", sa.String(100), nullable=True),
        _when("previous_secret_expires_at"),
        _when("failing_since"),
        _when("created_at", nullable=False),
        _when("deleted_at"),
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.Column("mode", sa.String(4), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_endpoints"),
        sa.UniqueConstraint("endpoint_id", name="uq_webhook_endpoints_endpoint_id"),
    )
    op.create_index(
        "ix_webhook_endpoints_tenant_mode_id", "webhook_endpoints", ["tenant_id", "mode", "id"]
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("delivery_id", sa.String(40), nullable=False),
        sa.Column("fact_id", BigId, nullable=False),
        sa.Column("endpoint_pk", BigId, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempt_count", sa.Integer(), nullable=False),
        _when("next_attempt_at"),
        _when("queued_until"),
        _when("sending_until"),
        _when("created_at", nullable=False),
        _when("finished_at"),
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.Column("mode", sa.String(4), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
        sa.UniqueConstraint("delivery_id", name="uq_webhook_deliveries_delivery_id"),
        sa.UniqueConstraint(
            "fact_id", "endpoint_pk", name="uq_webhook_deliveries_fact_id_endpoint_pk"
        ),
        sa.ForeignKeyConstraint(
            ["fact_id"], ["facts.id"], name="fk_webhook_deliveries_fact_id_facts"
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_pk"],
            ["webhook_endpoints.id"],
            name="fk_webhook_deliveries_endpoint_pk_webhook_endpoints",
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')", name="ck_webhook_deliveries_status"
        ),
    )
    op.create_index(
        "ix_webhook_deliveries_endpoint_pk_id", "webhook_deliveries", ["endpoint_pk", "id"]
    )
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_webhook_deliveries_sending",
        "webhook_deliveries",
        ["endpoint_pk"],
        postgresql_where=sa.text("sending_until IS NOT NULL"),
        sqlite_where=sa.text("sending_until IS NOT NULL"),
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("delivery_pk", BigId, nullable=False),
        _when("attempted_at", nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(500), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_attempts"),
        sa.ForeignKeyConstraint(
            ["delivery_pk"],
            ["webhook_deliveries.id"],
            name="fk_webhook_attempts_delivery_pk_webhook_deliveries",
        ),
    )
    op.create_index("ix_webhook_attempts_delivery_pk_id", "webhook_attempts", ["delivery_pk", "id"])


def downgrade() -> None:
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_endpoints")
