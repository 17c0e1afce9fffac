"""Deleting a webhook endpoint, and what that does to the deliveries and claims that need it.

A disabled endpoint only pauses: its deliveries stay pending and resume when it is
enabled again. A deleted one never receives again (it is 404 to the API, so nothing can
enable it), so a delivery still pending to it would stay pending for ever. The delete
therefore ends each one, in its own transaction, the way a delivery whose retry
schedule ran out ends (CONTRACT §7): `failed`, with a last attempt whose error is
ENDPOINT_DELETED, and the claim it fulfils, if any, `failed` with a
`reward.fulfillment_failed` fact and, with `on_failure: "reverse"`, reversed with
restock (core.claims.fulfillment). A claim of a reward whose fulfillment endpoint is
already deleted when its fact is relayed ends the same way (`claim_without_endpoint`).

Locks: the endpoint row (FOR UPDATE), then its pending deliveries, then the claims in
core.claims.fulfillment's order, as a round's finish takes them. The relay and the
manual retry lock the endpoint row (FOR NO KEY UPDATE) before they create or reopen a
delivery to it, so none is left pending behind a delete committed in between. An
attempt in flight during the delete is ended too: its round no longer holds the lease
when it reports, so its result is dropped (core.webhooks.deliveries.finish_round).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import Integer, insert, literal, select, update
from sqlalchemy.orm import Session

from core.claims import fulfillment
from core.clock import utcnow
from core.models import Fact, Reward, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from core.tenants import Principal
from core.webhooks.endpoints import load

log = logging.getLogger("coffer.webhooks")
ENDPOINT_DELETED = "endpoint deleted"  # the error of the attempt that ends a delivery
CLAIMED = "reward.reward_claimed"


def delete_endpoint(session: Session, *, principal: Principal, endpoint_id: str) -> int:
    """DELETE /webhook-endpoints/{id}: stamp it deleted and disabled, end its pending
    deliveries; returns how many were ended.

    Raises WebhookEndpointNotFound (404) unless it is an undeleted endpoint of the key's
    tenant and mode. The ending may append facts (fulfillment failures, reversals): the
    caller wakes the relay after commit.
    """
    endpoint = load(session, principal=principal, endpoint_id=endpoint_id, lock=True)
    now = utcnow()
    endpoint.deleted_at = now
    endpoint.enabled = False
    endpoint.disabled_reason = "deleted"
    ended = end_pending(session, endpoint=endpoint, now=now)
    if ended:
        log.info("webhook endpoint deleted; its pending deliveries ended failed",
                 extra={"endpoint_id": endpoint_id, "deliveries": ended})  # fmt: skip
    return ended


def end_pending(session: Session, *, endpoint: WebhookEndpoint, now: datetime) -> int:
    """Fail every pending delivery of `endpoint` (locked by the caller) as a final failure
    with an ENDPOINT_DELETED attempt, and decide the claims they fulfil; the number ended.

    Three statements whatever the backlog (lock, log the attempts, close the deliveries),
    plus one claim decision per `reward.reward_claimed` delivery when the endpoint is some
    reward's fulfillment endpoint.
    """
    pending = (WebhookDelivery.endpoint_pk == endpoint.id, WebhookDelivery.status == "pending")
    locked = session.scalars(
        select(WebhookDelivery.id).where(*pending).order_by(WebhookDelivery.id).with_for_update()
    ).all()
    if not locked:
        return 0
    claimed = _claimed_facts(session, endpoint) if _fulfils(session, endpoint) else []
    attempts = select(
        WebhookDelivery.id,
        literal(now, WebhookAttempt.attempted_at.type),
        literal(None, Integer),
        literal(ENDPOINT_DELETED),
        literal(0),
    ).where(*pending)
    session.execute(
        insert(WebhookAttempt).from_select(
            ["delivery_pk", "attempted_at", "status_code", "error", "duration_ms"], attempts
        )
    )
    session.execute(
        update(WebhookDelivery)
        .where(*pending)
        .values(
            status="failed",
            finished_at=now,
            next_attempt_at=None,
            sending_until=None,  # an attempt in flight no longer holds its lease
            queued_until=None,
            attempt_count=WebhookDelivery.attempt_count + 1,
        )
        .execution_options(synchronize_session=False)
    )
    for fact in claimed:
        claim_without_endpoint(session, fact=fact, endpoint_id=endpoint.endpoint_id, now=now)
    return len(locked)


def claim_without_endpoint(
    session: Session, *, fact: Fact, endpoint_id: str, now: datetime
) -> None:
    """The final failure of the claim a `reward.reward_claimed` fact records, its fulfillment
    endpoint (public id) being deleted (nothing if that endpoint is not its reward's any more)."""
    fulfillment.decide(
        session, fact=fact, endpoint_id=endpoint_id, outcome="failed",
        last_error=ENDPOINT_DELETED, now=now,
    )  # fmt: skip


def _claimed_facts(session: Session, endpoint: WebhookEndpoint) -> list[Fact]:
    """The `reward.reward_claimed` facts of the endpoint's pending deliveries, oldest first."""
    return list(
        session.scalars(
            select(Fact)
            .join(WebhookDelivery, WebhookDelivery.fact_id == Fact.id)
            .where(
                WebhookDelivery.endpoint_pk == endpoint.id,
                WebhookDelivery.status == "pending",
                Fact.type == CLAIMED,
            )
            .order_by(Fact.id)
        )
    )


def _fulfils(session: Session, endpoint: WebhookEndpoint) -> bool:
    """Is this endpoint any reward's fulfillment endpoint?"""
    found = session.scalar(
        select(Reward.id)
        .where(
            Reward.tenant_id == endpoint.tenant_id,
            Reward.mode == endpoint.mode,
            Reward.fulfillment_endpoint_id == endpoint.endpoint_id,
        )
        .limit(1)
    )
    return found is not None
