"""In-memory snapshots of the rows a batch of claims is decided against (locked first)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from core.points import Account

ParticipantState = Account  # a participant's locked balance, owned by core.points


@dataclass(frozen=True)
class PendingClaim:
    """A claim accepted and not yet decided (a `claims` row with status `pending`)."""

    claim_pk: int
    claim_id: str
    idempotency_record_id: int
    tenant_id: str
    mode: str
    reward_id: str
    participant_external_id: str
    points_deduction: bool
    request_id: str | None
    accepted_at: datetime
    attempts: int = 0

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
    fulfillment_endpoint_id: str | None = None  # set: each claim starts fulfillment `pending` (§7)
    multiplier_factor: Decimal | None = None  # set for points_multiplier rewards only
    multiplier_days: int | None = None

    @property
    def is_multiplier(self) -> bool:
        return self.multiplier_factor is not None


@dataclass
class InventoryState:
    """A reward's code counters as locked; the planner moves them as it grants codes."""

    reward_id: str
    uploaded_count: int
    allocated_count: int
    returned_count: int
    low_stock_notified: bool
    exhausted_notified: bool
    returned_taken: int = 0  # returned codes granted by this batch, oldest first

    @property
    def available(self) -> int:
        return self.uploaded_count - self.allocated_count + self.returned_count
