"""Claim shapes (CONTRACT §6): the claim response in each state, and a participant's claims.

A claim response is stored as JSON when the claim is decided and replayed byte
for byte, so the member order here is the order on the wire and must not change.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, RootModel
from pydantic.json_schema import SkipJsonSchema

from core.inputs import RewardType
from core.schemas.common import Count, ParticipantRef, Timestamp, Wire, id_field
from core.schemas.problems import Problem

ClaimId = Annotated[str, id_field("clm", "The claim's id.")]
RewardId = Annotated[str, id_field("rwd", "The claimed reward's id.")]
ExpiresAt = Annotated[
    Timestamp | None,
    Field(description="claimed_at + the reward's code_expiry_days; null = does not expire."),
]


class ClaimSucceeded(Wire):
    """The claim response: the code handed out and the points it cost."""

    claim_id: ClaimId
    status: Literal["succeeded"] = "succeeded"
    participant_id: ParticipantRef
    reward_id: RewardId
    reward_name: str = Field(description="The reward's name when it was claimed.")
    reward_type: RewardType = Field(description="The reward's type when it was claimed.")
    code_value: str = Field(description="The code handed out (or generated).")
    claimed_at: Timestamp = Field(description="When the claim was decided.")
    expires_at: ExpiresAt
    points_deducted: Count = Field(
        description="0 when points_deduction was false or the reward is free."
    )
    new_balance: Count = Field(description="The participant's balance after the claim.")


class Reversal(Wire):
    """How a claim was reversed (CONTRACT §7); the claim's original record is kept."""

    reversed_at: Timestamp = Field(description="When the reversal was recorded.")
    reason: str | None = Field(description="The reason given (`fulfillment_failed` if automatic).")
    points_refunded: Count = Field(description="Points given back with a `reversal_refund` entry.")
    restocked: bool = Field(description="Whether the code went back to the inventory.")


class ClaimView(Wire):
    """A succeeded or reversed claim as it stands now (GET /claims/{claim_id}).

    The claim response's members, then its fulfillment state, then, once
    reversed, the reversal.
    """

    claim_id: ClaimId
    status: Literal["succeeded", "reversed"] = Field(description="`reversed` once reversed.")
    participant_id: ParticipantRef
    reward_id: RewardId
    reward_name: str = Field(description="The reward's name when it was claimed.")
    reward_type: RewardType = Field(description="The reward's type when it was claimed.")
    code_value: str = Field(description="The code handed out (or generated).")
    claimed_at: Timestamp = Field(description="When the claim was decided.")
    expires_at: ExpiresAt
    points_deducted: Count = Field(description="Points the claim deducted.")
    new_balance: Count = Field(description="The participant's balance right after the claim.")
    fulfillment_status: FulfillmentStatus = Field(
        description="`not_required` unless the reward has a fulfillment endpoint (CONTRACT §7)."
    )
    reversal: Annotated[
        Reversal | SkipJsonSchema[None],
        Field(
            description="Present once the claim is reversed.",
            exclude_if=lambda value: value is None,  # absent, never null, on the wire
            json_schema_extra=lambda schema: schema.pop("default", None),
        ),
    ] = None


class ClaimPending(Wire):
    """Accepted and queued, not decided yet: GET the Location for the outcome."""

    claim_id: ClaimId
    status: Literal["pending"] = "pending"


class ClaimFailed(Wire):
    """Decided and refused: `error` is the problem the claim answered (409 for a business rule)."""

    claim_id: ClaimId
    status: Literal["failed"] = "failed"
    error: Problem = Field(description="The problem the claim answered.")


class ClaimStatus(RootModel[ClaimView | ClaimPending | ClaimFailed]):
    """A claim as GET /claims/{claim_id} shows it, told apart by `status`."""

    root: ClaimView | ClaimPending | ClaimFailed = Field(discriminator="status")


FulfillmentStatus = Literal["not_required", "pending", "fulfilled", "failed"]


def _absent_unless_set(description: str) -> Any:
    """A member written only when it has a value: absent, never null, on the wire."""
    return Field(
        description=description,
        exclude_if=lambda value: value is None,
        json_schema_extra=_no_default,
    )


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class ClaimRecord(Wire):
    """One claim a participant holds.

    `status` and `fulfillment_status` are absent from the contract's RECORD, except
    `status` with `?include=reversed`; admin keys get both on every record (an extension,
    docs/api-extensions.md), the way catalog entries carry admin-only members.
    """

    claim_id: ClaimId
    reward_id: RewardId
    reward_name: str = Field(description="The reward's name when it was claimed.")
    reward_type: RewardType = Field(description="The reward's type when it was claimed.")
    code_value: str = Field(description="The code handed out.")
    claimed_at: Timestamp = Field(description="When the claim was decided.")
    expires_at: ExpiresAt
    status: Annotated[
        Literal["succeeded", "reversed"] | SkipJsonSchema[None],
        _absent_unless_set("Present with `?include=reversed`, and always for admin keys."),
    ] = None
    fulfillment_status: Annotated[
        FulfillmentStatus | SkipJsonSchema[None],
        _absent_unless_set(
            "Admin keys only. The claim's fulfillment_status, as GET /claims/{claim_id} "
            "shows it (CONTRACT §7)."
        ),
    ] = None


class ParticipantRewards(Wire):
    """The participant's claims, newest first (the newest 1,000; total_claimed counts all).

    Reversed claims are left out, and not counted, unless `?include=reversed` is given.
    """

    participant_id: ParticipantRef
    rewards: Annotated[list[ClaimRecord], Field(max_length=1000, description="Newest first.")]
    total_claimed: Count = Field(description="Every claim the participant holds.")
