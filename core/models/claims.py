"""Idempotent requests (the journal every keyed request is recorded in) and claims."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.models.base import Base, BigId, TenantScoped


class IdempotentRequest(TenantScoped, Base):
    """A request recorded under its Idempotency-Key, with its outcome once final.

    Claims, points credits and campaigns share one key space per tenant and
    mode, so reusing a key across endpoints is detected as a different request.
    A claim request stays `pending` until a worker decides it.
    """

    __tablename__ = "requests"
    __table_args__ = (
        CheckConstraint("kind IN ('claim', 'points_credit', 'campaign')", name="kind"),
        CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status"),
        Index(
            "uq_requests_tenant_mode_idempotency_key",
            "tenant_id",
            "mode",
            "idempotency_key",
            unique=True,
        ),
        # Workers take pending claims oldest first; the partial index stays small.
        Index(
            "ix_requests_pending_claims",
            "id",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(10))
    claim_id: Mapped[str | None] = mapped_column(String(40), unique=True)
    reward_id: Mapped[str | None] = mapped_column(String(40))
    participant_external_id: Mapped[str | None] = mapped_column(String(255))
    points_deduction: Mapped[bool | None]
    trace_id: Mapped[str | None] = mapped_column(String(64))
    response_status: Mapped[int | None]
    response_body: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]


class Claim(TenantScoped, Base):
    """An allocation of one code to one participant. Append-only: never updated."""

    __tablename__ = "claims"
    __table_args__ = (
        Index("ix_claims_participant_id_reward_id", "participant_id", "reward_id"),
        Index("ix_claims_participant_id_id", "participant_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    claim_id: Mapped[str] = mapped_column(String(40), unique=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), unique=True)
    reward_id: Mapped[str] = mapped_column(ForeignKey("rewards.id"))
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"))
    participant_external_id: Mapped[str] = mapped_column(String(255))
    # The last line of defence for "no code is ever handed out twice".
    code_id: Mapped[int] = mapped_column(ForeignKey("reward_codes.id"), unique=True)
    code_value: Mapped[str] = mapped_column(String(255))
    reward_name: Mapped[str] = mapped_column(String(200))
    reward_type: Mapped[str] = mapped_column(String(20))
    points_deducted: Mapped[int] = mapped_column(BigInteger)
    new_balance: Mapped[int] = mapped_column(BigInteger)
    idempotency_key: Mapped[str] = mapped_column(String(255))
    claimed_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
