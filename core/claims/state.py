"""In-memory snapshots of the locked rows a batch of claims is decided against."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class PendingClaim:
    request_pk: int
    claim_id: str
    tenant_id: str
    mode: str
    reward_id: str
    participant_external_id: str
    points_deduction: bool
    idempotency_key: str
    trace_id: str | None
    created_at: datetime

    @property
    def participant_key(self) -> tuple[str, str, str]:
        return (self.tenant_id, self.mode, self.participant_external_id)


@dataclass(frozen=True)
class RewardState:
    id: str
    tenant_id: str
    mode: str
    name: str
    type: str
    points_cost: int | None
    max_claims_per_user: int
    starts_at: datetime | None
    expires_at: datetime | None
    deactivated_at: datetime | None
    code_expiry_days: int | None
    code_prefix: str | None
    code_length: int | None
    low_stock_threshold: int | None


@dataclass
class InventoryState:
    reward_id: str
    uploaded_count: int
    allocated_count: int
    low_stock_notified: bool
    allocated_before: int = -1

    def __post_init__(self) -> None:
        self.allocated_before = self.allocated_count

    @property
    def available(self) -> int:
        return self.uploaded_count - self.allocated_count


@dataclass
class ParticipantState:
    pk: int
    external_id: str
    balance: int
    balance_before: int = -1

    def __post_init__(self) -> None:
        self.balance_before = self.balance
