"""Delivery bookkeeping: taking an attempt, recording its result, the retry schedule.

An attempt is framed by two short transactions with the HTTP call between
them and no transaction open during it: `begin_attempt` leases the delivery
(`sending_until`) if it is due, its endpoint is enabled and under its
in-flight cap; `finish_attempt` logs the attempt and decides what comes next.
A worker that dies mid-attempt leaves the lease to expire, after which the
periodic job offers the delivery again: at least once, never lost, and the
receiver deduplicates on `webhook-id`.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from core.claims import fulfillment
from core.clock import to_wire
from core.models import Fact, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from core.webhooks.endpoints import signing_secrets
from core.webhooks.sender import AttemptResult

LEASE_MARGIN = timedelta(seconds=30)  # beyond the HTTP timeout, before a lease is presumed dead
MAX_RETRY_AFTER = timedelta(hours=24)  # a receiver's Retry-After is honoured up to this
FAILING_DAYS_BEFORE_DISABLE = 5
JITTER = 0.1  # each wait is the schedule's +/- 10 %


@dataclass(frozen=True)
class Prepared:
    """What one attempt sends, read inside the lease transaction."""

    delivery_pk: int
    endpoint_pk: int
    event_id: str
    url: str
    secrets: list[str]
    body: bytes


def payload(fact: Fact) -> bytes:
    """The exact bytes sent and signed, `{"type", "timestamp", "data"}`, alike every attempt."""
    document = {"type": fact.type, "timestamp": to_wire(fact.created_at), "data": fact.data}
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def begin_attempt(
    session: Session, *, delivery_pk: int, now: datetime, lease: timedelta, cap: int
) -> Prepared | None:
    """Lease a due delivery for one attempt, or None (not due, taken, endpoint off or at its cap).

    Deliveries refused for the cap are handed back to the periodic job
    (`queued_until` cleared) rather than waited for: a slow endpoint never
    holds a worker that another endpoint's delivery could use.
    """
    delivery = session.scalar(
        select(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_pk, *is_free_and_due(now))
        .with_for_update(skip_locked=True)
    )
    if delivery is None:
        return None
    # Locking the endpoint row makes "count in flight, then take a slot" one step per endpoint.
    endpoint = session.get(WebhookEndpoint, delivery.endpoint_pk, with_for_update=True)
    assert endpoint is not None  # a foreign key
    if not endpoint.enabled or in_flight(session, endpoint.id, now) >= cap:
        delivery.queued_until = None
        return None
    delivery.sending_until = now + lease
    session.flush()  # counted by the next in_flight, even in this same transaction
    fact = session.get(Fact, delivery.fact_id)
    assert fact is not None  # a foreign key
    return Prepared(
        delivery.id, endpoint.id, fact.event_id, endpoint.url,
        signing_secrets(endpoint, now), payload(fact),
    )  # fmt: skip


def finish_attempt(
    session: Session,
    *,
    delivery_pk: int,
    result: AttemptResult,
    attempted_at: datetime,
    now: datetime,
    schedule: tuple[int, ...],
) -> str:
    """Log the attempt and decide: `delivered`, `retrying` (next_attempt_at set) or `failed`."""
    delivery = session.get(WebhookDelivery, delivery_pk, with_for_update=True)
    assert delivery is not None
    endpoint = session.get(WebhookEndpoint, delivery.endpoint_pk, with_for_update=True)
    assert endpoint is not None
    session.add(
        WebhookAttempt(
            delivery_pk=delivery.id, attempted_at=attempted_at, status_code=result.status_code,
            error=result.error, duration_ms=result.duration_ms, response_body=result.response_body,
        )
    )  # fmt: skip
    delivery.sending_until = delivery.queued_until = None
    delivery.attempt_count += 1
    if result.ok:
        delivery.status, delivery.finished_at, delivery.next_attempt_at = "delivered", now, None
        endpoint.failing_since = None
        fulfillment.after_delivery(
            session, delivery=delivery, endpoint=endpoint, outcome="delivered", last_error=None,
            now=now,
        )  # fmt: skip
        return "delivered"
    _count_failure(endpoint, result, now)
    wait = next_wait(delivery.attempt_count, schedule, result.retry_after_s)
    if wait is None:
        delivery.status, delivery.finished_at, delivery.next_attempt_at = "failed", now, None
        fulfillment.after_delivery(
            session, delivery=delivery, endpoint=endpoint, outcome="failed",
            last_error=result.error, now=now,
        )  # fmt: skip
        return "failed"
    delivery.next_attempt_at = now + wait
    return "retrying"


def next_wait(
    attempts_made: int, schedule: tuple[int, ...], retry_after_s: float | None
) -> timedelta | None:
    """The wait before the next attempt after `attempts_made` attempts, or None: give up.

    The schedule's entry with jitter (so receivers recovering from an outage
    are not met by every delivery at once), stretched to a Retry-After of up
    to MAX_RETRY_AFTER.
    """
    if attempts_made > len(schedule):
        return None
    wait = timedelta(seconds=schedule[attempts_made - 1] * random.uniform(1 - JITTER, 1 + JITTER))
    if retry_after_s is not None:
        wait = max(wait, min(timedelta(seconds=retry_after_s), MAX_RETRY_AFTER))
    return wait


def _count_failure(endpoint: WebhookEndpoint, result: AttemptResult, now: datetime) -> None:
    """410 disables at once; so does failing without a success for FAILING_DAYS_BEFORE_DISABLE."""
    endpoint.failing_since = endpoint.failing_since or now
    if not endpoint.enabled:
        return
    if result.status_code == 410:
        endpoint.enabled = False
        endpoint.disabled_reason = f"the endpoint answered 410 Gone at {to_wire(now)}"
    elif now - endpoint.failing_since >= timedelta(days=FAILING_DAYS_BEFORE_DISABLE):
        endpoint.enabled = False
        endpoint.disabled_reason = (
            f"every delivery failed for {FAILING_DAYS_BEFORE_DISABLE} days "
            f"(since {to_wire(endpoint.failing_since)})"
        )


def is_free_and_due(now: datetime) -> list[ColumnElement[bool]]:
    """Pending, due, and no attempt in flight."""
    return [
        WebhookDelivery.status == "pending",
        WebhookDelivery.next_attempt_at <= now,
        or_(WebhookDelivery.sending_until.is_(None), WebhookDelivery.sending_until < now),
    ]


def in_flight(session: Session, endpoint_pk: int, now: datetime) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(WebhookDelivery)
            .where(
                WebhookDelivery.endpoint_pk == endpoint_pk,
                WebhookDelivery.status == "pending",
                WebhookDelivery.sending_until > now,
            )
        )
        or 0
    )
