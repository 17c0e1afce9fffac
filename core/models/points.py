"""Participants and their append-only points ledger."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.models.base import Base, BigId, TenantScoped


class Participant(TenantScoped, Base):
    """A tenant's own user id; the row appears on first credit or claim."""

    __tablename__ = "participants"
    __table_args__ = (
        CheckConstraint("balance >= 0", name="balance_non_negative"),
        Index(
            "uq_participants_tenant_mode_external_id",
            "tenant_id",
            "mode",
            "external_id",
            unique=True,
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    external_id: Mapped[str] = mapped_column(String(255))
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LedgerEntry(TenantScoped, Base):
    """One balance change. The balance always equals the sum of these amounts."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount_non_zero"),
        CheckConstraint("balance_after >= 0", name="balance_after_non_negative"),
        CheckConstraint("kind IN ('credit', 'claim_debit', 'reversal_refund')", name="kind"),
        Index("ix_ledger_entries_participant_id_id", "participant_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entry_id: Mapped[str] = mapped_column(String(40), unique=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    claim_id: Mapped[str | None] = mapped_column(String(40))
    balance_after: Mapped[int] = mapped_column(BigInteger)
    # A credit a points multiplier raised: the amount asked for, and the multiplier's claim.
    base_amount: Mapped[int | None] = mapped_column(BigInteger)
    multiplier_claim_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
