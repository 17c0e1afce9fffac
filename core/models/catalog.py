"""Reward definitions, their inventory position, and their codes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.models.base import Base, BigId, TenantScoped

REWARD_TYPES = ("coupon", "voucher", "physical", "digital", "points_multiplier")


class Reward(TenantScoped, Base):
    __tablename__ = "rewards"
    __table_args__ = (
        CheckConstraint("mode IN ('live', 'test')", name="mode"),
        CheckConstraint(
            "type IN ('coupon', 'voucher', 'physical', 'digital', 'points_multiplier')",
            name="type",
        ),
        CheckConstraint("points_cost IS NULL OR points_cost > 0", name="points_cost"),
        CheckConstraint("max_claims_per_user >= 1", name="max_claims_per_user"),
        Index("ix_rewards_tenant_mode_id", "tenant_id", "mode", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(20))
    description: Mapped[str | None] = mapped_column(Text)
    points_cost: Mapped[int | None] = mapped_column(BigInteger)
    max_claims_per_user: Mapped[int] = mapped_column(default=1)
    starts_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    code_expiry_days: Mapped[int | None]
    code_prefix: Mapped[str | None] = mapped_column(String(50))
    code_length: Mapped[int | None]
    low_stock_threshold: Mapped[int | None] = mapped_column(BigInteger)
    # points_multiplier rewards only (docs/multipliers.md): both set or both null.
    multiplier_factor: Mapped[Decimal | None] = mapped_column(Numeric(4, 2))
    multiplier_days: Mapped[int | None]
    # CONTRACT §7 fulfillment: the webhook endpoint (public id) each claim is delivered to,
    # and what a final delivery failure does (keep | reverse); both null = nothing to fulfil.
    fulfillment_endpoint_id: Mapped[str | None] = mapped_column(String(40))
    fulfillment_on_failure: Mapped[str | None] = mapped_column(String(10))
    deactivated_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def generates_codes(self) -> bool:
        return self.code_length is not None

    @property
    def is_multiplier(self) -> bool:
        """Its claims activate a points multiplier and take no code from the inventory."""
        return self.multiplier_factor is not None


class Inventory(TenantScoped, Base):
    """Where a reward's pre-loaded codes stand: codes with seq <= allocated_count are taken.

    Claims lock this row and move the counter inside their transaction, so the
    next code is found by equality on (reward_id, seq) rather than by scanning
    for "oldest unallocated": no index bloat from allocated rows, exact
    exhaustion, and a rolled-back claim hands its position back. Codes that a
    reversal returns wait in `returned_codes` and are offered first.
    """

    __tablename__ = "inventories"
    __table_args__ = (
        CheckConstraint("allocated_count <= uploaded_count", name="within_uploads"),
        CheckConstraint("allocated_count >= 0", name="allocated_non_negative"),
        CheckConstraint("returned_count >= 0", name="returned_non_negative"),
    )

    reward_id: Mapped[str] = mapped_column(ForeignKey("rewards.id"), primary_key=True)
    uploaded_count: Mapped[int] = mapped_column(BigInteger, default=0)
    allocated_count: Mapped[int] = mapped_column(BigInteger, default=0)
    # Codes given back by reversals with restock, waiting in `returned_codes`.
    returned_count: Mapped[int] = mapped_column(BigInteger, default=0)
    low_stock_notified: Mapped[bool] = mapped_column(default=False)
    exhausted_notified: Mapped[bool] = mapped_column(default=False)

    @property
    def available(self) -> int:
        return self.uploaded_count - self.allocated_count + self.returned_count


class RewardCode(TenantScoped, Base):
    """A deliverable code. Uploaded codes have seq 1..N in upload order; generated ones none."""

    __tablename__ = "reward_codes"
    __table_args__ = (
        Index("uq_reward_codes_reward_id_value", "reward_id", "value", unique=True),
        Index("uq_reward_codes_reward_id_seq", "reward_id", "seq", unique=True),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    reward_id: Mapped[str] = mapped_column(ForeignKey("rewards.id"))
    value: Mapped[str] = mapped_column(String(255))
    seq: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReturnedCode(TenantScoped, Base):
    """A code a reversal gave back, offered again (oldest first) before never-used codes."""

    __tablename__ = "returned_codes"
    __table_args__ = (Index("ix_returned_codes_reward_id_id", "reward_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    reward_id: Mapped[str] = mapped_column(ForeignKey("rewards.id"))
    code_id: Mapped[int] = mapped_column(ForeignKey("reward_codes.id"), unique=True)
    returned_at: Mapped[datetime] = mapped_column(default=utcnow)
