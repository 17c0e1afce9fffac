"""A claim's fulfillment (CONTRACT §7): pending -> fulfilled | failed, and what failing does.

The claim of a reward with fulfillment starts `pending` (core/claims/writer.py); its
`reward.reward_claimed` delivery to the fulfillment endpoint decides it, inside the
transaction that records the delivery's last attempt (core/webhooks/deliveries.py):
- delivered -> `fulfilled` (also over an earlier `failed`: fulfilled wins);
- failed its whole retry schedule, while `pending` -> `failed`, a `reward.fulfillment_failed`
  fact, and with `on_failure: "reverse"` the reversal POST /claims/{id}/reverse makes, with
  restock and the reason `fulfillment_failed`.
A team's late report (POST /claims/{id}/fulfillment) moves it the same way; only a
succeeded claim with fulfillment takes one (else 409 fulfillment_not_changeable).

Locks: the claim row, then (reversing) the inventory and the participant, the order
POST /claims/{id}/reverse takes them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import facts
from core.claims.queries import claim_status
from core.claims.reversal import apply_reversal
from core.clock import utcnow
from core.errors import ClaimNotFound, FulfillmentNotChangeable
from core.inputs import FulfillmentReport, ReversalBody
from core.models import Claim, Fact, Reward, WebhookDelivery, WebhookEndpoint
from core.tenants import Principal

REVERSAL_REASON = "fulfillment_failed"


def after_delivery(
    session: Session,
    *,
    delivery: WebhookDelivery,
    endpoint: WebhookEndpoint,
    outcome: str,
    last_error: str | None,
    now: datetime,
) -> None:
    """Decide the claim a finished delivery fulfils, if it fulfils one (else nothing).

    `outcome` is `delivered` or `failed` (the schedule ran out, or the endpoint was
    deleted: core/webhooks/removal.py). Only the delivery to the reward's current
    fulfillment endpoint counts; other subscribers' do not.
    """
    fact = session.get(Fact, delivery.fact_id)
    if fact is None:
        return
    decide(session, fact=fact, endpoint_id=endpoint.endpoint_id, outcome=outcome,
           last_error=last_error, now=now)  # fmt: skip


def decide(
    session: Session,
    *,
    fact: Fact,
    endpoint_id: str,
    outcome: str,
    last_error: str | None,
    now: datetime,
) -> None:
    """after_delivery for a `reward.reward_claimed` fact and the endpoint it went (or could not
    go) to: a fact of another type, a claim no longer succeeded, or an endpoint that is not
    the reward's fulfillment endpoint changes nothing."""
    if fact.type != "reward.reward_claimed":
        return
    claim = _locked_claim(session, fact.tenant_id, fact.mode, str(fact.data.get("claim_id")))
    if claim is None or claim.status != "succeeded":
        return
    reward = session.get(Reward, claim.reward_id)
    if reward is None or reward.fulfillment_endpoint_id != endpoint_id:
        return
    if outcome == "delivered" and claim.fulfillment_status in ("pending", "failed"):
        claim.fulfillment_status = "fulfilled"
    elif outcome == "failed" and claim.fulfillment_status == "pending":
        _fail(session, claim, reward, last_error or "failed", now)


def report(
    session: Session, *, principal: Principal, claim_id: str, body: FulfillmentReport
) -> dict[str, Any]:
    """POST /claims/{id}/fulfillment: 200 with the claim as GET /claims/{id} shows it.

    Raises ClaimNotFound (404) and FulfillmentNotChangeable (409: the claim is pending,
    failed or reversed, or its reward has no fulfillment). `fulfilled` always wins;
    `failed` over a claim not yet failed is a final failure, as the delivery's would be.
    """
    claim = _locked_claim(session, principal.tenant_id, principal.mode, claim_id)
    if claim is None:
        raise ClaimNotFound(f"No claim {claim_id}")
    if claim.status != "succeeded" or claim.fulfillment_status in (None, "not_required"):
        state = claim.status if claim.status != "succeeded" else "without fulfillment"
        raise FulfillmentNotChangeable(f"The claim is {state}; its fulfillment cannot change")
    if body.reference is not None:
        claim.fulfillment_reference = body.reference
    if body.status == "fulfilled":
        claim.fulfillment_status = "fulfilled"
    elif claim.fulfillment_status != "failed":
        reward = session.get(Reward, claim.reward_id)
        assert reward is not None  # a foreign key
        reported = "reported failed" + (f": {body.reference}" if body.reference else "")
        _fail(session, claim, reward, reported, utcnow())
    session.flush()
    return claim_status(session, principal=principal, claim_id=claim_id)


def _fail(session: Session, claim: Claim, reward: Reward, last_error: str, now: datetime) -> None:
    claim.fulfillment_status = "failed"
    data = {
        "claim_id": claim.claim_id,
        "participant_id": claim.participant_external_id,
        "reward_id": claim.reward_id,
        "endpoint_id": reward.fulfillment_endpoint_id,
        "last_error": last_error,
    }
    facts.append(
        session,
        [
            facts.fact(
                tenant_id=claim.tenant_id, mode=claim.mode, type_="reward.fulfillment_failed",
                data=data, at=now,
            )
        ],
    )  # fmt: skip
    if reward.fulfillment_on_failure == "reverse":
        system = Principal(
            key_id="fulfillment", tenant_id=claim.tenant_id, mode=claim.mode,  # type: ignore[arg-type]
            scope="admin",
        )  # fmt: skip
        body = ReversalBody(reason=REVERSAL_REASON, restock=True)
        apply_reversal(session, principal=system, claim=claim, body=body, now=now)


def _locked_claim(session: Session, tenant_id: str, mode: str, claim_id: str) -> Claim | None:
    return session.scalar(
        select(Claim)
        .where(Claim.claim_id == claim_id, Claim.tenant_id == tenant_id, Claim.mode == mode)
        .with_for_update()
    )
