"""Taking pending claims for a batch: oldest first, skipping those another worker holds."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, select
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
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
# Built once: a statement object reused keeps SQLAlchemy's compiled form and its cache key,
# and its result columns need no adapting per call (a per-batch fixed cost, issue 11).
_PENDING_EXCEPT = _PENDING.where(Claim.id.not_in(bindparam("exclude", expanding=True)))


def lock_pending(
    session: Session, *, limit: int, exclude: Sequence[int] = ()
) -> list[PendingClaim]:
    """Up to `limit` of the oldest pending claims, locked FOR UPDATE SKIP LOCKED so any
    number of workers share the backlog; `exclude` are claim row ids set aside."""
    if exclude:
        rows = session.connection().execute(
            _PENDING_EXCEPT, {"limit": limit, "exclude": list(exclude)}
        )
    else:
        rows = session.connection().execute(_PENDING, {"limit": limit})
    return [PendingClaim(**row._mapping) for row in rows]
