"""Taking pending claims for a batch: oldest first, skipping those another worker holds."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.claims.state import PendingClaim
from core.models import Claim

_PENDING = (
    select(
        Claim.id.label("claim_pk"),
        Claim.claim_id,
        Claim.idempotency_record_id,
        Claim.tenant_id,
        Claim.mode,
        Claim.reward_id,
        Claim.participant_external_id,
        Claim.points_deduction,
        Claim.request_id,
        Claim.accepted_at,
        Claim.attempts,
    )
    .where(Claim.status == "pending")
    .order_by(Claim.id)
)


def lock_pending(
    session: Session, *, limit: int, exclude: Sequence[int] = ()
) -> list[PendingClaim]:
    """Up to `limit` of the oldest pending claims, locked FOR UPDATE SKIP LOCKED so any
    number of workers share the backlog; `exclude` are claim row ids set aside."""
    query = _PENDING.limit(limit).with_for_update(skip_locked=True)
    if exclude:
        query = query.where(Claim.id.not_in(exclude))
    return [PendingClaim(**row._mapping) for row in session.connection().execute(query)]
