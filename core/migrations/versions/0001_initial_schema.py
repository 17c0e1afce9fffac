"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.models.base

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "facts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column(
            "data",
            sa.JSON(),
            nullable=False,
        ),
        sa.Column("created_at", core.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("dispatched_at", core.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("mode", sa.String(length=4), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_facts")),
        sa.UniqueConstraint("event_id", name=op.f("uq_facts_event_id")),
    )
    op.create_index(
        "ix_facts_tenant_mode_type_id", "facts", ["tenant_id", "mode", "type", "id"], unique=False
    )
    op.create_index(
        "ix_facts_undispatched",
        "facts",
        ["id"],
        unique=False,
        postgresql_where=sa.text("dispatched_at IS NULL"),
        sqlite_where=sa.text("dispatched_at IS NULL"),
    )
    op.create_table(
        "participants",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("created_at", core.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("mode", sa.String(length=4), nullable=False),
        sa.CheckConstraint("balance >= 0", name=op.f("ck_participants_balance_non_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participants")),
    )
    op.create_index(
        "uq_participants_tenant_mode_external_id",
        "participants",
        ["tenant_id", "mode", "external_id"],
        unique=True,
    )
    op.create_table(
        "requests",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("claim_id", sa.String(length=40), nullable=True),
        sa.Column("reward_id", sa.String(length=40), nullable=True),
        sa.Column("participant_external_id", sa.String(length=255), nullable=True),
        sa.Column("points_deduction", sa.Boolean(), nullable=True),
        sa.Column("trace_id", sa.String(length=64), nullable=True),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column(
            "response_body",
            sa.JSON(),
            nullable=True,
        ),
        sa.Column("created_at", core.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", core.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("mode", sa.String(length=4), nullable=False),
        sa.CheckConstraint(
            "kind IN ('claim', 'points_credit', 'campaign')", name=op.f("ck_requests_kind")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'succeeded', 'failed')", name=op.f("ck_requests_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_requests")),
        sa.UniqueConstraint("claim_id", name=op.f("uq_requests_claim_id")),
    )
    op.create_index(
        "ix_requests_pending_claims",
        "requests",
        ["id"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "uq_requests_tenant_mode_idempotency_key",
        "requests",
        ["tenant_id", "mode", "idempotency_key"],
        unique=True,
    )
    op.create_table(
        "rewards",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("points_cost", sa.BigInteger(), nullable=True),
        sa.Column("max_claims_per_user", sa.Integer(), nullable=False),
        sa.Column("starts_at", core.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", core.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("code_expiry_days", sa.Integer(), nullable=True),
        sa.Column("code_prefix", sa.String(length=50), nullable=True),
        sa.Column("code_length", sa.Integer(), nullable=True),
        sa.Column("low_stock_threshold", sa.BigInteger(), nullable=True),
        sa.Column("deactivated_at", core.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", core.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("mode", sa.String(length=4), nullable=False),
        sa.CheckConstraint("mode IN ('live', 'test')", name=op.f("ck_rewards_mode")),
        sa.CheckConstraint(
            "type IN ('coupon', 'voucher', 'physical', 'digital', 'points_multiplier')",
            name=op.f("ck_rewards_type"),
        ),
        sa.CheckConstraint("max_claims_per_user >= 1", name=op.f("ck_rewards_max_claims_per_user")),
        sa.CheckConstraint(
            "points_cost IS NULL OR points_cost > 0", name=op.f("ck_rewards_points_cost")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rewards")),
    )
    op.create_index(
        "ix_rewards_tenant_mode_id", "rewards", ["tenant_id", "mode", "id"], unique=False
    )
    op.create_table(
        "tenants",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", core.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenants")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("mode", sa.String(length=4), nullable=False),
        sa.Column("scope", sa.String(length=6), nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", core.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", core.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("mode IN ('live', 'test')", name=op.f("ck_api_keys_mode")),
        sa.CheckConstraint("scope IN ('admin', 'server')", name=op.f("ck_api_keys_scope")),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_api_keys_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )
    op.create_index(op.f("ix_api_keys_tenant_id"), "api_keys", ["tenant_id"], unique=False)
    op.create_table(
        "inventories",
        sa.Column("reward_id", sa.String(length=40), nullable=False),
        sa.Column("uploaded_count", sa.BigInteger(), nullable=False),
        sa.Column("allocated_count", sa.BigInteger(), nullable=False),
        sa.Column("low_stock_notified", sa.Boolean(), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("mode", sa.String(length=4), nullable=False),
        sa.CheckConstraint(
            "allocated_count <= uploaded_count", name=op.f("ck_inventories_within_uploads")
        ),
        sa.CheckConstraint(
            "allocated_count >= 0", name=op.f("ck_inventories_allocated_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["reward_id"], ["rewards.id"], name=op.f("fk_inventories_reward_id_rewards")
        ),
        sa.PrimaryKeyConstraint("reward_id", name=op.f("pk_inventories")),
    )
    op.create_table(
        "ledger_entries",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("entry_id", sa.String(length=40), nullable=False),
        sa.Column(
            "participant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("claim_id", sa.String(length=40), nullable=True),
        sa.Column("balance_after", sa.BigInteger(), nullable=False),
        sa.Column("created_at", core.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("mode", sa.String(length=4), nullable=False),
        sa.CheckConstraint(
            "kind IN ('credit', 'claim_debit', 'reversal_refund')",
            name=op.f("ck_ledger_entries_kind"),
        ),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_ledger_entries_amount_non_zero")),
        sa.CheckConstraint(
            "balance_after >= 0", name=op.f("ck_ledger_entries_balance_after_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_ledger_entries_participant_id_participants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_ledger_entries_entry_id")),
    )
    op.create_index(
        "ix_ledger_entries_participant_id_id",
        "ledger_entries",
        ["participant_id", "id"],
        unique=False,
    )
    op.create_table(
        "reward_codes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("reward_id", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("created_at", core.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("mode", sa.String(length=4), nullable=False),
        sa.ForeignKeyConstraint(
            ["reward_id"], ["rewards.id"], name=op.f("fk_reward_codes_reward_id_rewards")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reward_codes")),
    )
    op.create_index(
        "uq_reward_codes_reward_id_seq", "reward_codes", ["reward_id", "seq"], unique=True
    )
    op.create_index(
        "uq_reward_codes_reward_id_value", "reward_codes", ["reward_id", "value"], unique=True
    )
    op.create_table(
        "claims",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("claim_id", sa.String(length=40), nullable=False),
        sa.Column(
            "request_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("reward_id", sa.String(length=40), nullable=False),
        sa.Column(
            "participant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("participant_external_id", sa.String(length=255), nullable=False),
        sa.Column("code_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code_value", sa.String(length=255), nullable=False),
        sa.Column("reward_name", sa.String(length=200), nullable=False),
        sa.Column("reward_type", sa.String(length=20), nullable=False),
        sa.Column("points_deducted", sa.BigInteger(), nullable=False),
        sa.Column("new_balance", sa.BigInteger(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("claimed_at", core.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", core.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("mode", sa.String(length=4), nullable=False),
        sa.ForeignKeyConstraint(
            ["code_id"], ["reward_codes.id"], name=op.f("fk_claims_code_id_reward_codes")
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_claims_participant_id_participants"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_claims_request_id_requests")
        ),
        sa.ForeignKeyConstraint(
            ["reward_id"], ["rewards.id"], name=op.f("fk_claims_reward_id_rewards")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claims")),
        sa.UniqueConstraint("claim_id", name=op.f("uq_claims_claim_id")),
        sa.UniqueConstraint("code_id", name=op.f("uq_claims_code_id")),
        sa.UniqueConstraint("request_id", name=op.f("uq_claims_request_id")),
    )
    op.create_index("ix_claims_participant_id_id", "claims", ["participant_id", "id"], unique=False)
    op.create_index(
        "ix_claims_participant_id_reward_id",
        "claims",
        ["participant_id", "reward_id"],
        unique=False,
    )
    _tune_autovacuum()


# Tables whose rows are updated on every claim. Vacuum them early and without
# throttling: dead entries in the pending-claims index are stepped over by every
# worker's "oldest pending" scan until vacuum removes them.
_HOT_TABLES = ("requests", "inventories", "participants")


def _tune_autovacuum() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _HOT_TABLES:
        op.execute(
            f"ALTER TABLE {table} SET (autovacuum_vacuum_scale_factor = 0, "
            "autovacuum_vacuum_threshold = 5000, autovacuum_vacuum_cost_delay = 0, "
            "autovacuum_analyze_scale_factor = 0.02)"
        )


def downgrade() -> None:
    op.drop_index("ix_claims_participant_id_reward_id", table_name="claims")
    op.drop_index("ix_claims_participant_id_id", table_name="claims")
    op.drop_table("claims")
    op.drop_index("uq_reward_codes_reward_id_value", table_name="reward_codes")
    op.drop_index("uq_reward_codes_reward_id_seq", table_name="reward_codes")
    op.drop_table("reward_codes")
    op.drop_index("ix_ledger_entries_participant_id_id", table_name="ledger_entries")
    op.drop_table("ledger_entries")
    op.drop_table("inventories")
    op.drop_index(op.f("ix_api_keys_tenant_id"), table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_table("tenants")
    op.drop_index("ix_rewards_tenant_mode_id", table_name="rewards")
    op.drop_table("rewards")
    op.drop_index("uq_requests_tenant_mode_idempotency_key", table_name="requests")
    op.drop_index(
        "ix_requests_pending_claims",
        table_name="requests",
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )
    op.drop_table("requests")
    op.drop_index("uq_participants_tenant_mode_external_id", table_name="participants")
    op.drop_table("participants")
    op.drop_index(
        "ix_facts_undispatched",
        table_name="facts",
        postgresql_where=sa.text("dispatched_at IS NULL"),
        sqlite_where=sa.text("dispatched_at IS NULL"),
    )
    op.drop_index("ix_facts_tenant_mode_type_id", table_name="facts")
    op.drop_table("facts")
