"""Typed results: one model per response shape of Coffer's OpenAPI document.

Each class has the name of its schema in `GET /api/v1/openapi.json`
(`components.schemas`), the same members, the same required members and the
same types; the package's tests compare them with the document a real Coffer
serves, so a change on either side fails them. Members Coffer may add later
are ignored rather than refused, so an older client keeps working against a
newer Coffer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

RewardType = Literal["coupon", "voucher", "physical", "digital", "points_multiplier"]
RewardStatus = Literal["active", "scheduled", "expired", "inactive"]
FulfillmentStatus = Literal["not_required", "pending", "fulfilled", "failed"]
LedgerKind = Literal["credit", "claim_debit", "reversal_refund"]


class Model(BaseModel):
    """A response body: immutable, tolerant of members added by a newer Coffer."""

    model_config = ConfigDict(extra="ignore", frozen=True)


# Problems (RFC 9457).


class FieldError(Model):
    field: str
    message: str


class Problem(Model):
    """An RFC 9457 problem; `type` and `code` carry the same stable code."""

    type: str
    code: str
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None  # validation_error only


# Catalog (CONTRACT §4).


class Eligibility(Model):
    eligible: bool
    reason: str | None  # the error code a claim would get, e.g. "insufficient_points"
    claims_held: int


class CodeGenerationShape(Model):
    prefix: str
    length: int


class MultiplierShape(Model):
    factor: float
    duration_days: int


class FulfillmentView(Model):
    endpoint_id: str
    on_failure: Literal["keep", "reverse"]


class RewardEntry(Model):
    """A catalog entry; `eligibility` only in a listing asked with a participant id."""

    id: str
    name: str
    type: RewardType
    description: str | None
    points_cost: int | None  # None: free
    available_codes: int | None  # None: the reward generates codes
    max_claims_per_user: int
    expires_at: datetime | None
    starts_at: datetime | None
    code_expiry_days: int | None
    low_stock_threshold: int | None
    status: RewardStatus
    created_at: datetime
    # Admin keys only.
    code_generation: CodeGenerationShape | None = None
    multiplier: MultiplierShape | None = None
    fulfillment: FulfillmentView | None = None
    eligibility: Eligibility | None = None


class RewardPage(Model):
    rewards: list[RewardEntry]
    total: int
    next_cursor: str | None


# Claims (CONTRACT §6).


class ClaimSucceeded(Model):
    """The claim response (201): the code handed out and the points it cost."""

    claim_id: str
    status: Literal["succeeded"]
    participant_id: str
    reward_id: str
    reward_name: str
    reward_type: RewardType
    code_value: str
    claimed_at: datetime
    expires_at: datetime | None
    points_deducted: int
    new_balance: int


class Reversal(Model):
    reversed_at: datetime
    reason: str | None
    points_refunded: int
    restocked: bool


class ClaimView(Model):
    """A succeeded or reversed claim as GET /claims/{claim_id} shows it now."""

    claim_id: str
    status: Literal["succeeded", "reversed"]
    participant_id: str
    reward_id: str
    reward_name: str
    reward_type: RewardType
    code_value: str
    claimed_at: datetime
    expires_at: datetime | None
    points_deducted: int
    new_balance: int
    fulfillment_status: FulfillmentStatus
    reversal: Reversal | None = None  # once reversed


class ClaimPending(Model):
    claim_id: str
    status: Literal["pending"]


class ClaimFailed(Model):
    claim_id: str
    status: Literal["failed"]
    error: Problem


ClaimState = Annotated[ClaimView | ClaimPending | ClaimFailed, Field(discriminator="status")]


class ClaimRecord(Model):
    claim_id: str
    reward_id: str
    reward_name: str
    reward_type: RewardType
    code_value: str
    claimed_at: datetime
    expires_at: datetime | None
    status: Literal["succeeded", "reversed"] | None = None  # with include_reversed only


class ParticipantRewards(Model):
    participant_id: str
    rewards: list[ClaimRecord]
    total_claimed: int


# Points (CONTRACT §5).


class LedgerEntry(Model):
    entry_id: str
    amount: int  # signed: credits > 0, debits < 0
    kind: LedgerKind
    reason: str | None
    claim_id: str | None
    balance_after: int
    created_at: datetime
    base_amount: int | None
    multiplier_claim_id: str | None


class PointsSummary(Model):
    participant_id: str
    balance: int
    entries: list[LedgerEntry]  # newest first


class PointsCredited(Model):
    participant_id: str
    balance: int
    entry_id: str


# Participant tokens (CONTRACT §10).


class ParticipantToken(Model):
    token: str  # "cpt_...": hand it to the participant's browser
    expires_at: datetime


# Every model above, by its schema name in the OpenAPI document.
SCHEMAS: dict[str, type[Model]] = {
    model.__name__: model
    for model in (
        FieldError, Problem, Eligibility, CodeGenerationShape, MultiplierShape, FulfillmentView,
        RewardEntry, RewardPage, ClaimSucceeded, Reversal, ClaimView, ClaimPending, ClaimFailed,
        ClaimRecord, ParticipantRewards, LedgerEntry, PointsSummary, PointsCredited,
        ParticipantToken,
    )
}  # fmt: skip


# GET /claims/{claim_id}: one of three shapes, told apart by `status`.
CLAIM_STATE: TypeAdapter[ClaimView | ClaimPending | ClaimFailed] = TypeAdapter(ClaimState)
