"""Reading claims: one claim by id, and a participant's claimed rewards."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.claims.responses import failed_body, pending_body
from core.clock import to_wire
from core.errors import ClaimNotFound
from core.models import Claim, IdempotentRequest, Participant
from core.tenants import Principal

MAX_RECORDS = 1000


def claim_status(session: Session, *, principal: Principal, claim_id: str) -> dict[str, Any]:
    """pending, failed (with its problem) or succeeded (the claim response)."""
    row = session.execute(
        select(IdempotentRequest.status, IdempotentRequest.response_body).where(
            IdempotentRequest.claim_id == claim_id,
            IdempotentRequest.tenant_id == principal.tenant_id,
            IdempotentRequest.mode == principal.mode,
        )
    ).one_or_none()
    if row is None:
        raise ClaimNotFound(f"No claim {claim_id}")
    if row.status == "pending":
        return pending_body(claim_id)
    if row.status == "failed":
        return failed_body(claim_id, row.response_body)
    return row.response_body


def participant_rewards(
    session: Session, *, principal: Principal, external_id: str
) -> dict[str, Any]:
    """Every claim the participant holds, newest first; none for an unknown participant."""
    participant_pk = session.scalar(
        select(Participant.id).where(
            Participant.tenant_id == principal.tenant_id,
            Participant.mode == principal.mode,
            Participant.external_id == external_id,
        )
    )
    scope = Claim.participant_id == participant_pk
    total = 0
    claims: list[Claim] = []
    if participant_pk is not None:
        total = session.scalar(select(func.count()).select_from(Claim).where(scope)) or 0
        query = select(Claim).where(scope).order_by(Claim.id.desc()).limit(MAX_RECORDS)
        claims = list(session.scalars(query))
    return {
        "participant_id": external_id,
        "rewards": [
            {
                "claim_id": c.claim_id,
                "reward_id": c.reward_id,
                "reward_name": c.reward_name,
                "reward_type": c.reward_type,
                "code_value": c.code_value,
                "claimed_at": to_wire(c.claimed_at),
                "expires_at": to_wire(c.expires_at),
            }
            for c in claims
        ],
        "total_claimed": total,
    }
