"""The wire shapes of a claim: the claim response, records, and the claimed fact."""

from __future__ import annotations

from typing import Any

from core.clock import to_wire
from core.errors import CofferError


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


def claimed_fact(body: dict[str, Any]) -> dict[str, Any]:
    """The data of `reward.reward_claimed`, taken from the claim response."""
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


def failed_body(claim_id: str, error: CofferError | dict[str, Any]) -> dict[str, Any]:
    problem = error.problem() if isinstance(error, CofferError) else error
    return {"claim_id": claim_id, "status": "failed", "error": problem}
