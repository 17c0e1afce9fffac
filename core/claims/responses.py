"""The wire shapes of a claim: the claim response, its views and records, the claimed fact."""

from __future__ import annotations

from typing import Any

from core.clock import to_wire
from core.models import Claim, ClaimReversal


def succeeded_body(
    *,
    claim_id: str,
    participant_id: str,
    reward_id: str,
    reward_name: str,
    reward_type: str,
    code_value: str,
    claimed_at: Any,
    expires_at: Any,
    points_deducted: int,
    new_balance: int,
) -> dict[str, Any]:
    """The claim response (201), stored as the claim's first response for replays."""
    return {
        "claim_id": claim_id,
        "status": "succeeded",
        "participant_id": participant_id,
        "reward_id": reward_id,
        "reward_name": reward_name,
        "reward_type": reward_type,
        "code_value": code_value,
        "claimed_at": to_wire(claimed_at),
        "expires_at": to_wire(expires_at),
        "points_deducted": points_deducted,
        "new_balance": new_balance,
    }


def claim_view(claim: Claim, reversal: ClaimReversal | None = None) -> dict[str, Any]:
    """GET /claims/{id}: the claim as it stands now (a reversed one with its `reversal`)."""
    if claim.status == "pending":
        return pending_body(claim.claim_id)
    if claim.status == "failed":
        return {"claim_id": claim.claim_id, "status": "failed", "error": claim.error}
    body = succeeded_body(
        claim_id=claim.claim_id,
        participant_id=claim.participant_external_id,
        reward_id=claim.reward_id,
        reward_name=claim.reward_name or "",
        reward_type=claim.reward_type or "",
        code_value=claim.code_value or "",
        claimed_at=claim.claimed_at,
        expires_at=claim.expires_at,
        points_deducted=claim.points_deducted or 0,
        new_balance=claim.new_balance or 0,
    )
    body["status"] = claim.status
    body["fulfillment_status"] = claim.fulfillment_status or "not_required"
    if reversal is not None:
        body["reversal"] = {
            "reversed_at": to_wire(reversal.reversed_at),
            "reason": reversal.reason,
            "points_refunded": reversal.points_refunded,
            "restocked": reversal.restocked,
        }
    return body


def claim_record(claim: Claim, *, with_status: bool = False, admin: bool = False) -> dict[str, Any]:
    """One RECORD of GET /participants/{pid}/rewards; `admin` adds `status` and
    `fulfillment_status` (an extension for admin keys, docs/api-extensions.md)."""
    record = {
        "claim_id": claim.claim_id,
        "reward_id": claim.reward_id,
        "reward_name": claim.reward_name,
        "reward_type": claim.reward_type,
        "code_value": claim.code_value,
        "claimed_at": to_wire(claim.claimed_at),
        "expires_at": to_wire(claim.expires_at),
    }
    if with_status or admin:
        record["status"] = claim.status
    if admin:
        record["fulfillment_status"] = claim.fulfillment_status or "not_required"
    return record


def claimed_fact(body: dict[str, Any]) -> dict[str, Any]:
    """The data of `reward.reward_claimed`, taken from the claim response (CONTRACT §7)."""
    keys = (
        "claim_id",
        "participant_id",
        "reward_id",
        "reward_name",
        "reward_type",
        "code_value",
        "points_deducted",
        "claimed_at",
        "expires_at",
    )
    return {key: body[key] for key in keys}


def pending_body(claim_id: str) -> dict[str, Any]:
    return {"claim_id": claim_id, "status": "pending"}
