"""Claims (a participant's request for a reward, through its whole lifecycle) and reversals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.models.base import Base, BigId, TenantScoped

CLAIM_STATUSES = ("pending", "succeeded", "failed", "reversed")
FULFILLMENT_STATUSES = ("not_required", "pending", "fulfilled", "failed")


class Claim(TenantScoped, Base):
    """One claim: accepted `pending`, decided `succeeded` or `failed`, maybe later `reversed`.

    The allocation a success records (code, debit, balance after it, the
    reward's name and type at claim time) is written once and never changed; a
    reversal is a row of its own and only moves `status` to `reversed`.
    """

    __tablename__ = "claims"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'succeeded', 'failed', 'reversed')", name="status"),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        # Workers take pending claims oldest first; the partial index stays small.
        Index(
            "ix_claims_pending",
            "id",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        # The last line of defence for "no code is ever held by two claims at once": a
        # reversed claim lets its code go back to inventory, a live one never does.
        Index(
            "uq_claims_held_code",
            "code_id",
            unique=True,
            postgresql_where=text("status = 'succeeded'"),
            sqlite_where=text("status = 'succeeded'"),
        ),
        Index("ix_claims_participant_reward", "participant_id", "reward_id"),
        Index("ix_claims_participant_id_id", "participant_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    claim_id: Mapped[str] = mapped_column(String(40), unique=True)
    idempotency_record_id: Mapped[int] = mapped_column(
        ForeignKey("idempotency_keys.id"), unique=True
    )
    reward_id: Mapped[str] = mapped_column(ForeignKey("rewards.id"))
    participant_external_id: Mapped[str] = mapped_column(String(255))
    points_deduction: Mapped[bool]
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(default=0)
    # The X-Request-ID of the HTTP request that made the claim; the worker logs it too.
    request_id: Mapped[str | None] = mapped_column(String(64))
    accepted_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    # Set when the claim succeeds:
    participant_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id"))
    code_id: Mapped[int | None] = mapped_column(ForeignKey("reward_codes.id"))
    code_value: Mapped[str | None] = mapped_column(String(255))
    reward_name: Mapped[str | None] = mapped_column(String(200))
    reward_type: Mapped[str | None] = mapped_column(String(20))
    points_deducted: Mapped[int | None] = mapped_column(BigInteger)
    new_balance: Mapped[int | None] = mapped_column(BigInteger)
    claimed_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    fulfillment_status: Mapped[str | None] = mapped_column(String(12))
    fulfillment_reference: Mapped[str | None] = mapped_column(String(500))  # from a team's report
    # Set when the claim fails: the problem document (CONTRACT §3) it failed with.
    error_code: Mapped[str | None] = mapped_column(String(40))
    # none_as_null: an unset problem is SQL NULL, not the JSON text 'null'.
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))


class ClaimReversal(TenantScoped, Base):
    """The undoing of a succeeded claim: refund, restock and freed slot, recorded once."""

    __tablename__ = "claim_reversals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    claim_pk: Mapped[int] = mapped_column(ForeignKey("claims.id"), unique=True)
    reason: Mapped[str | None] = mapped_column(Text)
    points_refunded: Mapped[int] = mapped_column(BigInteger)
    restocked: Mapped[bool]
    reversed_at: Mapped[datetime] = mapped_column(default=utcnow)
