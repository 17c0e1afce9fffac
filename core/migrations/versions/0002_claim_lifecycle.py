"""claims with a lifecycle, the idempotency journal, returnable codes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30

`requests` (a claim's state kept in the idempotency table) becomes two tables:
`idempotency_keys`, the journal every keyed request is recorded in, and
`claims`, one row per claim from acceptance (pending) to its decision and any
reversal. Existing rows are carried over: every journal row keeps its id,
fingerprint and stored response text (so replays stay byte-identical), and
every claim request, pending, failed or succeeded, becomes a claim row with
the allocation it made. Codes can now return to inventory (`returned_codes`),
so "one holder per code" moves from a plain unique key on claims.code_id to a
unique index over claims that hold their code (status 'succeeded').
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.models.base import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.execute("CREATE TABLE legacy_claims AS SELECT * FROM claims")
    op.drop_table("claims")
    _create_journal()
    _create_claims()
    _copy_claims()
    op.drop_table("legacy_claims")
    op.drop_table("requests")
    _returnable_codes()
    _create_reversals()
    _tune_autovacuum()


def _create_journal() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("resource_id", sa.String(40), nullable=True),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.JSON(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.Column("mode", sa.String(4), nullable=False),
        sa.CheckConstraint(
            "kind IN ('claim', 'points_credit', 'campaign', 'reversal')",
            name=op.f("ck_idempotency_keys_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
    )
    op.create_index(
        "uq_idempotency_keys_tenant_mode_key",
        "idempotency_keys",
        ["tenant_id", "mode", "idempotency_key"],
        unique=True,
    )
    # Ids are kept: claims point at their journal row by id.
    op.execute(
        "INSERT INTO idempotency_keys (id, idempotency_key, fingerprint, kind, resource_id,"
        " response_status, response_body, created_at, completed_at, tenant_id, mode)"
        " SELECT id, idempotency_key, fingerprint, kind, claim_id,"
        " CASE WHEN status = 'pending' THEN NULL ELSE response_status END,"
        " CASE WHEN status = 'pending' THEN NULL ELSE response_body END,"
        " created_at, completed_at, tenant_id, mode FROM requests ORDER BY id"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "SELECT setval(pg_get_serial_sequence('idempotency_keys', 'id'),"
            " (SELECT COALESCE(max(id), 0) + 1 FROM idempotency_keys), false)"
        )


def _create_claims() -> None:
    op.create_table(
        "claims",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("claim_id", sa.String(40), nullable=False),
        sa.Column("idempotency_record_id", BigId, nullable=False),
        sa.Column("reward_id", sa.String(40), nullable=False),
        sa.Column("participant_external_id", sa.String(255), nullable=False),
        sa.Column("points_deduction", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("accepted_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("participant_id", BigId, nullable=True),
        sa.Column("code_id", BigId, nullable=True),
        sa.Column("code_value", sa.String(255), nullable=True),
        sa.Column("reward_name", sa.String(200), nullable=True),
        sa.Column("reward_type", sa.String(20), nullable=True),
        sa.Column("points_deducted", sa.BigInteger(), nullable=True),
        sa.Column("new_balance", sa.BigInteger(), nullable=True),
        sa.Column("claimed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("fulfillment_status", sa.String(12), nullable=True),
        sa.Column("error_code", sa.String(40), nullable=True),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.Column("mode", sa.String(4), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'succeeded', 'failed', 'reversed')",
            name=op.f("ck_claims_status"),
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_claims_attempts_non_negative")),
        sa.ForeignKeyConstraint(
            ["code_id"], ["reward_codes.id"], name=op.f("fk_claims_code_id_reward_codes")
        ),
        sa.ForeignKeyConstraint(
            ["idempotency_record_id"],
            ["idempotency_keys.id"],
            name=op.f("fk_claims_idempotency_record_id_idempotency_keys"),
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_claims_participant_id_participants"),
        ),
        sa.ForeignKeyConstraint(
            ["reward_id"], ["rewards.id"], name=op.f("fk_claims_reward_id_rewards")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claims")),
        sa.UniqueConstraint("claim_id", name=op.f("uq_claims_claim_id")),
        sa.UniqueConstraint("idempotency_record_id", name=op.f("uq_claims_idempotency_record_id")),
    )
    pending = sa.text("status = 'pending'")
    held = sa.text("status = 'succeeded'")
    op.create_index(
        "ix_claims_pending", "claims", ["id"], postgresql_where=pending, sqlite_where=pending
    )
    op.create_index(
        "uq_claims_held_code",
        "claims",
        ["code_id"],
        unique=True,
        postgresql_where=held,
        sqlite_where=held,
    )
    op.create_index("ix_claims_participant_reward", "claims", ["participant_id", "reward_id"])
    op.create_index("ix_claims_participant_id_id", "claims", ["participant_id", "id"])


def _copy_claims() -> None:
    """Every claim request becomes a claim, in acceptance order, with what it allocated."""
    op.execute(
        "INSERT INTO claims (claim_id, idempotency_record_id, reward_id,"
        " participant_external_id, points_deduction, status, attempts, request_id, accepted_at,"
        " decided_at, participant_id, code_id, code_value, reward_name, reward_type,"
        " points_deducted, new_balance, claimed_at, expires_at, fulfillment_status,"
        " error_code, error, tenant_id, mode)"
        " SELECT r.claim_id, r.id, r.reward_id, r.participant_external_id,"
        " COALESCE(r.points_deduction, false), r.status, 0, r.trace_id, r.created_at,"
        " r.completed_at, c.participant_id, c.code_id, c.code_value, c.reward_name,"
        " c.reward_type, c.points_deducted, c.new_balance, c.claimed_at, c.expires_at,"
        " CASE WHEN r.status = 'succeeded' THEN 'not_required' END,"
        " NULL,"
        " CASE WHEN r.status = 'failed' THEN r.response_body END,"
        " r.tenant_id, r.mode"
        " FROM requests r LEFT JOIN legacy_claims c ON c.request_id = r.id"
        " WHERE r.kind = 'claim' ORDER BY r.id"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE claims SET error_code = error->>'code' WHERE status = 'failed'")
    else:
        op.execute(
            "UPDATE claims SET error_code = json_extract(error, '$.code') WHERE status = 'failed'"
        )


def _returnable_codes() -> None:
    with op.batch_alter_table("inventories") as batch:
        batch.add_column(
            sa.Column("returned_count", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("exhausted_notified", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.create_check_constraint("returned_non_negative", "returned_count >= 0")
    op.create_table(
        "returned_codes",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("reward_id", sa.String(40), nullable=False),
        sa.Column("code_id", BigId, nullable=False),
        sa.Column("returned_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.Column("mode", sa.String(4), nullable=False),
        sa.ForeignKeyConstraint(
            ["code_id"], ["reward_codes.id"], name=op.f("fk_returned_codes_code_id_reward_codes")
        ),
        sa.ForeignKeyConstraint(
            ["reward_id"], ["rewards.id"], name=op.f("fk_returned_codes_reward_id_rewards")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_returned_codes")),
        sa.UniqueConstraint("code_id", name=op.f("uq_returned_codes_code_id")),
    )
    op.create_index("ix_returned_codes_reward_id_id", "returned_codes", ["reward_id", "id"])


def _create_reversals() -> None:
    op.create_table(
        "claim_reversals",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("claim_pk", BigId, nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("points_refunded", sa.BigInteger(), nullable=False),
        sa.Column("restocked", sa.Boolean(), nullable=False),
        sa.Column("reversed_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.Column("mode", sa.String(4), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_pk"], ["claims.id"], name=op.f("fk_claim_reversals_claim_pk_claims")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_reversals")),
        sa.UniqueConstraint("claim_pk", name=op.f("uq_claim_reversals_claim_pk")),
    )


def _tune_autovacuum() -> None:
    # As in 0001: rows updated on every claim are vacuumed early and unthrottled.
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in ("claims", "idempotency_keys"):
        op.execute(
            f"ALTER TABLE {table} SET (autovacuum_vacuum_scale_factor = 0, "
            "autovacuum_vacuum_threshold = 5000, autovacuum_vacuum_cost_delay = 0, "
            "autovacuum_analyze_scale_factor = 0.02)"
        )


def downgrade() -> None:
    raise NotImplementedError(
        "0002 is forward-only: restore the backup taken before `coffer db upgrade`"
    )
