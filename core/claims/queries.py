"""Reading claims: one claim by id, and a participant's claimed rewards (CONTRACT §6)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.claims.responses import claim_record, claim_view
from core.errors import ClaimNotFound
from core.models import Claim, ClaimReversal, Participant
from core.tenants import Principal

MAX_RECORDS = 1000


def claim_status(session: Session, *, principal: Principal, claim_id: str) -> dict[str, Any]:
    """GET /claims/{id}: pending, failed (with its problem), succeeded or reversed.

    Raises ClaimNotFound (404) for a claim of another tenant or mode, as for none.
    """
    claim = session.scalar(
        select(Claim).where(
            Claim.claim_id == claim_id,
            Claim.tenant_id == principal.tenant_id,
            Claim.mode == principal.mode,
        )
    )
    if claim is None:
        raise ClaimNotFound(f"No claim {claim_id}")
    reversal = None
    if claim.status == "reversed":
        reversal = session.scalar(select(ClaimReversal).where(ClaimReversal.claim_pk == claim.id))
    return claim_view(claim, reversal)


def participant_rewards(
    session: Session, *, principal: Principal, external_id: str, include_reversed: bool = False
) -> dict[str, Any]:
    """Claims the participant holds, newest first, at most MAX_RECORDS; `total_claimed` counts
    them all. Reversed claims only with `include_reversed` (then each record has `status`).
    An admin principal's records also carry `status` and `fulfillment_status` (an
    extension, docs/api-extensions.md); server keys and participant tokens get CONTRACT §6's
    RECORD."""
    participant_pk = session.scalar(
        select(Participant.id).where(
            Participant.tenant_id == principal.tenant_id,
            Participant.mode == principal.mode,
            Participant.external_id == external_id,
        )
    )
    statuses = ["succeeded", "reversed"] if include_reversed else ["succeeded"]
    scope = (Claim.participant_id == participant_pk, Claim.status.in_(statuses))
    total = 0
    claims: list[Claim] = []
    if participant_pk is not None:
        total = session.scalar(select(func.count()).select_from(Claim).where(*scope)) or 0
        query = select(Claim).where(*scope).order_by(Claim.id.desc()).limit(MAX_RECORDS)
        claims = list(session.scalars(query))
    return {
        "participant_id": external_id,
        "rewards": [
            claim_record(c, with_status=include_reversed, admin=principal.is_admin) for c in claims
        ],
        "total_claimed": total,
    }
