"""What the admin sees of deliveries: each with its attempts, and the manual retry."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import utcnow
from core.errors import DeliveryNotRetryable, WebhookDeliveryNotFound
from core.models import Fact, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from core.schemas import DeliveryAttempt, DeliveryPage, DeliveryView
from core.tenants import Principal
from core.webhooks import paging
from core.webhooks.endpoints import load
from core.webhooks.relay import QUEUED_LEASE


def list_deliveries(
    session: Session, *, principal: Principal, endpoint_id: str, limit: int, cursor: str | None
) -> DeliveryPage:
    """An endpoint's deliveries, newest first, each with its attempts; a deleted endpoint's
    too (its record stays readable, though the endpoint itself is 404)."""
    endpoint = load(session, principal=principal, endpoint_id=endpoint_id, deleted_too=True)
    query = (
        select(WebhookDelivery, Fact.event_id, Fact.type)
        .join(Fact, Fact.id == WebhookDelivery.fact_id)
        .where(WebhookDelivery.endpoint_pk == endpoint.id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit + 1)
    )
    if cursor is not None:
        query = query.where(WebhookDelivery.id < paging.decode("whd", cursor))
    rows = session.execute(query).all()
    more = len(rows) > limit
    rows = rows[:limit]
    attempts = _attempts(session, [row[0].id for row in rows])
    return DeliveryPage(
        deliveries=[
            shape(delivery, event_id, event_type, attempts[delivery.id])
            for delivery, event_id, event_type in rows
        ],
        next_cursor=paging.encode("whd", rows[-1][0].id) if more else None,
    )


def retry_delivery(
    session: Session, *, principal: Principal, delivery_id: str, schedule: tuple[int, ...]
) -> tuple[int, DeliveryView]:
    """Make a delivery due now: (its pk, to send at once after commit, and how it shows).

    A failed delivery gets one more attempt (a failure fails it again, with no
    new schedule); a pending one is brought forward. A delivered one, or one whose
    endpoint was deleted (nothing would ever attempt it), is 409 delivery_not_retryable.
    """
    endpoint_pk = session.scalar(
        select(WebhookDelivery.endpoint_pk).where(
            WebhookDelivery.delivery_id == delivery_id,
            WebhookDelivery.tenant_id == principal.tenant_id,
            WebhookDelivery.mode == principal.mode,
        )
    )
    if endpoint_pk is None:
        raise WebhookDeliveryNotFound(f"No webhook delivery {delivery_id}")
    # The endpoint row before the delivery, as a delete takes them: a delete under way
    # is waited for and seen, or waits for this retry and then ends the delivery again.
    endpoint = session.scalar(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_pk)
        .with_for_update(key_share=True)
    )
    if endpoint is None or endpoint.deleted_at is not None:
        raise DeliveryNotRetryable(f"Delivery {delivery_id} went to a deleted webhook endpoint")
    row = session.execute(
        select(WebhookDelivery, Fact.event_id, Fact.type)
        .join(Fact, Fact.id == WebhookDelivery.fact_id)
        .where(
            WebhookDelivery.delivery_id == delivery_id,
            WebhookDelivery.tenant_id == principal.tenant_id,
            WebhookDelivery.mode == principal.mode,
        )
        .with_for_update(of=WebhookDelivery)
    ).one_or_none()
    if row is None:
        raise WebhookDeliveryNotFound(f"No webhook delivery {delivery_id}")
    delivery, event_id, event_type = row
    if delivery.status == "delivered":
        raise DeliveryNotRetryable(f"Delivery {delivery_id} was already delivered")
    now = utcnow()
    if delivery.status == "failed":
        delivery.attempt_count = max(delivery.attempt_count, len(schedule))
    delivery.status, delivery.finished_at = "pending", None
    delivery.next_attempt_at, delivery.queued_until = now, now + QUEUED_LEASE
    return delivery.id, shape(
        delivery, event_id, event_type, _attempts(session, [delivery.id])[delivery.id]
    )


def shape(
    delivery: WebhookDelivery, event_id: str, event_type: str, attempts: list[WebhookAttempt]
) -> DeliveryView:
    return DeliveryView(
        id=delivery.delivery_id,
        event_id=event_id,
        event_type=event_type,  # type: ignore[arg-type]  # facts are appended with a FactType
        status=delivery.status,  # type: ignore[arg-type]  # checked by the table
        next_attempt_at=delivery.next_attempt_at,
        attempts=[
            DeliveryAttempt(
                attempted_at=attempt.attempted_at,
                status_code=attempt.status_code,
                error=attempt.error,
                duration_ms=attempt.duration_ms,
                response_body=attempt.response_body,
            )
            for attempt in attempts
        ],
    )


def _attempts(session: Session, delivery_pks: list[int]) -> dict[int, list[WebhookAttempt]]:
    found: dict[int, list[WebhookAttempt]] = defaultdict(list)
    if delivery_pks:
        query = (
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_pk.in_(delivery_pks))
            .order_by(WebhookAttempt.id)
        )
        for attempt in session.scalars(query):
            found[attempt.delivery_pk].append(attempt)
    return found
