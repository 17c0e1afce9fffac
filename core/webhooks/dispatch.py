"""Running deliveries: one attempt at a time per task, the periodic pick-up of due ones.

Each delivery is its own task, so a slow endpoint occupies at most
`per_endpoint` workers (its in-flight cap) and never the deliveries queued
behind it for other endpoints. The schedule lives in the database: the
periodic job (`queue_due`) offers every due delivery that no task holds, so a
lost broker message or a killed worker only delays an attempt, and no
Celery countdown is ever used.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from core.clock import utcnow
from core.db import Database
from core.models import WebhookDelivery, WebhookEndpoint
from core.settings import Settings
from core.webhooks import sender, signing
from core.webhooks.deliveries import LEASE_MARGIN, begin_attempt, finish_attempt, is_free_and_due
from core.webhooks.relay import QUEUED_LEASE

PER_ENDPOINT_IN_FLIGHT = 2
DUE_BATCH = 500


class DeliveryQueue(Protocol):
    """The queue as the webhook code sees it; both calls never raise (the periodic jobs are
    the fallback) and are made after the commit that gives them something to do."""

    def wake_relay(self) -> None: ...  # facts were written: relay them
    def send(self, delivery_pks: list[int]) -> None: ...  # attempt these deliveries now


@dataclass(frozen=True)
class DeliveryPolicy:
    """The settings an attempt follows (CONTRACT §1: COFFER_WEBHOOK_*)."""

    timeout_s: float
    allow_private: bool
    schedule: tuple[int, ...]
    per_endpoint: int = PER_ENDPOINT_IN_FLIGHT

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryPolicy:
        return cls(
            timeout_s=float(settings.webhook_timeout_s),
            allow_private=bool(settings.webhook_allow_private),
            schedule=tuple(settings.webhook_retry_schedule),
        )


@dataclass(frozen=True)
class Attempted:
    outcome: str  # delivered | retrying | failed
    next_pk: int | None  # a delivery of the same endpoint handed on to the next task


def attempt(db: Database, *, delivery_pk: int, policy: DeliveryPolicy) -> Attempted | None:
    """Make one attempt of a delivery if it is due and free; None if there was nothing to do."""
    lease = timedelta(seconds=policy.timeout_s) + LEASE_MARGIN
    with db.transaction() as session:
        prepared = begin_attempt(
            session, delivery_pk=delivery_pk, now=utcnow(), lease=lease, cap=policy.per_endpoint
        )
    if prepared is None:
        return None
    attempted_at = utcnow()
    headers = signing.headers(
        secrets=prepared.secrets, msg_id=prepared.event_id, at=attempted_at, body=prepared.body
    )
    result = sender.post(
        prepared.url, body=prepared.body, headers=headers,
        timeout_s=policy.timeout_s, allow_private=policy.allow_private,
    )  # fmt: skip
    with db.transaction() as session:
        now = utcnow()
        outcome = finish_attempt(
            session, delivery_pk=delivery_pk, result=result, attempted_at=attempted_at,
            now=now, schedule=policy.schedule,
        )  # fmt: skip
        following = hand_on(session, endpoint_pk=prepared.endpoint_pk, now=now)
    return Attempted(outcome, following)


def hand_on(session: Session, *, endpoint_pk: int, now: datetime) -> int | None:
    """The endpoint's next due delivery that no task holds, marked queued for the caller to send.

    A finished attempt frees a slot of its endpoint; handing it straight to
    the next waiting delivery keeps a backlog flowing without waiting for
    the periodic job.
    """
    delivery = session.scalar(
        select(WebhookDelivery)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_pk)
        .where(
            WebhookDelivery.endpoint_pk == endpoint_pk,
            WebhookEndpoint.enabled.is_(True),
            *is_free_and_due(now),
            _not_queued(now),
        )
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(1)
        .with_for_update(of=WebhookDelivery, skip_locked=True)
    )
    if delivery is None:
        return None
    delivery.queued_until = now + QUEUED_LEASE
    return delivery.id


def queue_due(session: Session, *, now: datetime, per_endpoint: int) -> list[int]:
    """Due deliveries no task holds, at most `per_endpoint` per endpoint, marked queued.

    The caller enqueues one task for each after commit. Rows other workers
    hold are skipped (SKIP LOCKED); the ones left over come next time.
    """
    ranked = (
        select(
            WebhookDelivery.id,
            func.row_number()
            .over(
                partition_by=WebhookDelivery.endpoint_pk,
                order_by=(WebhookDelivery.next_attempt_at, WebhookDelivery.id),
            )
            .label("rank"),
        )
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_pk)
        .where(WebhookEndpoint.enabled.is_(True), *is_free_and_due(now), _not_queued(now))
        .subquery()
    )
    chosen = select(ranked.c.id).where(ranked.c.rank <= per_endpoint).limit(DUE_BATCH)
    deliveries = list(
        session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.id.in_(chosen), *is_free_and_due(now), _not_queued(now))
            .with_for_update(skip_locked=True)
        )
    )
    for delivery in deliveries:
        delivery.queued_until = now + QUEUED_LEASE
    return [delivery.id for delivery in deliveries]


def _not_queued(now: datetime) -> ColumnElement[bool]:
    return or_(WebhookDelivery.queued_until.is_(None), WebhookDelivery.queued_until < now)
