"""Reversing a succeeded claim: refund, optional restock, freed slot, one fact (CONTRACT §7).

Everything happens in the caller's transaction: the claim row is locked first
(batches never lock succeeded claims, so this cannot deadlock with them), then
the reward's inventory, then the participant, the order batches use. Two
reversals of one claim racing with different keys queue on the claim's lock;
the second finds it reversed and returns it unchanged, so points are refunded
once. The claim's original record is kept: the reversal is a row of its own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import allocation, facts, points, stock_alerts
from core.catalog import load
from core.claims.queries import claim_status
from core.clock import utcnow
from core.errors import ClaimNotFound, ClaimNotReversible
from core.idempotency import Recorded, complete, record
from core.inputs import ReversalBody
from core.models import Claim, ClaimReversal
from core.tenants import Principal


def reverse_claim(
    session: Session,
    *,
    principal: Principal,
    claim_id: str,
    body: ReversalBody,
    key: str,
    print_: str,
) -> Recorded:
    """POST /claims/{id}/reverse: 200 with the claim as GET /claims/{id} shows it.

    Raises ClaimNotFound (404), ClaimNotReversible (409: pending or failed) and
    IdempotencyKeyReused (422); a refusal rolls back with the caller's
    transaction, so it does not consume the key.
    """
    recorded = record(
        session, principal=principal, key=key, print_=print_, kind="reversal", resource_id=claim_id
    )
    if not recorded.fresh:
        return recorded
    claim = session.scalar(
        select(Claim)
        .where(
            Claim.claim_id == claim_id,
            Claim.tenant_id == principal.tenant_id,
            Claim.mode == principal.mode,
        )
        .with_for_update()
    )
    if claim is None:
        raise ClaimNotFound(f"No claim {claim_id}")
    if claim.status not in ("succeeded", "reversed"):
        raise ClaimNotReversible(f"The claim is {claim.status}; only a succeeded claim reverses")
    if claim.status == "succeeded":
        apply_reversal(session, principal=principal, claim=claim, body=body, now=utcnow())
    view = claim_status(session, principal=principal, claim_id=claim_id)
    return complete(session, record_id=recorded.id, response_status=200, body=view)


def apply_reversal(
    session: Session, *, principal: Principal, claim: Claim, body: ReversalBody, now: datetime
) -> None:
    """Reverse a succeeded claim whose row the caller holds locked (also for fulfillment)."""
    reward, inventory = load(session, principal=principal, reward_id=claim.reward_id, lock=True)
    refund = claim.points_deducted or 0
    key = (claim.tenant_id, claim.mode, claim.participant_external_id)
    account = points.lock_accounts(session, {key})[key]
    entries = []
    if refund:
        account.balance += refund
        entries.append(
            points.entry(
                tenant_id=claim.tenant_id,
                mode=claim.mode,
                participant_pk=account.pk,
                amount=refund,
                kind="reversal_refund",
                reason=body.reason,
                claim_id=claim.claim_id,
                balance_after=account.balance,
                at=now,
            )
        )
    points.save(session, [account], entries)
    claim.status = "reversed"  # frees the code and the participant's slot
    session.flush()
    restocked = body.restock and claim.code_id is not None
    if restocked and claim.code_id is not None:
        allocation.return_code(session, inventory=inventory, code_id=claim.code_id, at=now)
        stock_alerts.rearm(reward, inventory)
    session.add(
        ClaimReversal(
            tenant_id=claim.tenant_id,
            mode=claim.mode,
            claim_pk=claim.id,
            reason=body.reason,
            points_refunded=refund,
            restocked=restocked,
            reversed_at=now,
        )
    )
    facts.append(session, [_reversed_fact(claim, refund, restocked, body.reason, now)])
    session.flush()


def _reversed_fact(
    claim: Claim, refund: int, restocked: bool, reason: str | None, now: datetime
) -> dict[str, Any]:
    data = {
        "claim_id": claim.claim_id,
        "participant_id": claim.participant_external_id,
        "reward_id": claim.reward_id,
        "points_refunded": refund,
        "restocked": restocked,
        "reason": reason,
    }
    return facts.fact(
        tenant_id=claim.tenant_id, mode=claim.mode, type_="reward.claim_reversed", data=data, at=now
    )
