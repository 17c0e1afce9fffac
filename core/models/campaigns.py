"""Campaigns (a reward gifted to a list of participants) and their items, one per participant."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.models.base import Base, BigId, TenantScoped


class Campaign(TenantScoped, Base):
    """The counters are moved in the transaction that decides items, so
    `succeeded + failed + pending == total` holds at every moment (CONTRACT §8)."""

    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'completed', 'cancelled')", name="status"),
        CheckConstraint("succeeded + failed <= total", name="counts"),
        Index("ix_campaigns_tenant_mode_id", "tenant_id", "mode", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    reward_id: Mapped[str] = mapped_column(ForeignKey("rewards.id"))
    points_deduction: Mapped[bool]
    status: Mapped[str] = mapped_column(String(10))
    total: Mapped[int]
    succeeded: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    failures_by_code: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When a chunk last committed: the sweep resumes a running campaign idle for longer.
    advanced_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]

    @property
    def pending(self) -> int:
        return self.total - self.succeeded - self.failed


class CampaignItem(Base):
    """One participant of a campaign, in upload order; decided once, by its claim."""

    __tablename__ = "campaign_items"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status"),
        Index("uq_campaign_items_campaign_participant", "campaign_id", "participant_id",
              unique=True),
        Index("ix_campaign_items_campaign_id_id", "campaign_id", "id"),
        # Chunks take the oldest pending items; the partial index stays small.
        Index("ix_campaign_items_pending", "campaign_id", "id",
              postgresql_where=text("status = 'pending'"),
              sqlite_where=text("status = 'pending'")),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"))
    participant_id: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    claim_id: Mapped[str | None] = mapped_column(String(40))
    code_value: Mapped[str | None] = mapped_column(String(255))
    error_code: Mapped[str | None] = mapped_column(String(40))
