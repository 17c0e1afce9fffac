"""Running deliveries: rounds of attempts per endpoint, the periodic pick-up of due ones.

`deliver_endpoint` works for one endpoint: it leases up to `round_size` of
its due deliveries (a round), checks the URL's addresses, sends them over at
most `per_endpoint` pooled connections within one timeout window, records
the round and leases the next one in the same transaction, until nothing of
the endpoint is due or its time budget is spent (the caller then runs it
again, behind other work). Whoever runs it (a delivery lane or a Celery
task, see workers.tasks.webhooks), only one round of an endpoint is in
flight at a time, so a slow endpoint ties up one runner and never the
others' deliveries. The schedule lives in the database: the periodic job
(`queue_due_endpoints`) offers every endpoint with due deliveries no one
holds, so a lost message or a killed worker only delays an attempt, and no
Celery countdown is ever used. `attempt` makes one attempt of one delivery
(kept for tools and tests; the workers run rounds).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from core.clock import utcnow
from core.db import Database
from core.models import WebhookDelivery, WebhookEndpoint
from core.settings import Settings
from core.webhooks import signing
from core.webhooks.deliveries import (
    LEASE_MARGIN,
    Prepared,
    Sent,
    begin_attempt,
    finish_attempt,
    finish_round,
    has_due,
    is_free_and_due,
    lease_round,
)
from core.webhooks.relay import QUEUED_LEASE
from core.webhooks.sender import CONNECTIONS, Request, Sender, process_sender, refused
from core.webhooks.ssrf import UnsafeUrl

PER_ENDPOINT_IN_FLIGHT = CONNECTIONS  # attempts of one endpoint at once, in one task's round
ROUND_SIZE = 100  # deliveries leased per round (those that do not fit its window go back)
ROUND_BUDGET_S = 2.0  # a task starts no new round after this; a successor takes over
DUE_BATCH = 500


class DeliveryQueue(Protocol):
    """The queue as the webhook code sees it; both calls never raise (the periodic jobs are
    the fallback) and are made after the commit that gives them something to do."""

    def wake_relay(self) -> None: ...  # facts were written: relay them
    def send(self, delivery_pks: list[int]) -> None: ...  # attempt these deliveries now
    def send_endpoints(self, endpoint_pks: list[int]) -> None: ...  # their due deliveries now


@dataclass(frozen=True)
class DeliveryPolicy:
    """The settings an attempt follows (CONTRACT §1: COFFER_WEBHOOK_*)."""

    timeout_s: float
    allow_private: bool
    schedule: tuple[int, ...]
    per_endpoint: int = PER_ENDPOINT_IN_FLIGHT
    round_size: int = ROUND_SIZE

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
    """Make one attempt of a delivery if it is due and free; None if there was nothing to do,
    or if the attempt no longer held its lease when it came back (the endpoint was deleted
    meanwhile, or the lease ran out and another holder took the delivery over)."""
    lease = timedelta(seconds=policy.timeout_s) + LEASE_MARGIN
    with db.transaction() as session:
        leased_at = utcnow()
        prepared = begin_attempt(
            session, delivery_pk=delivery_pk, now=leased_at, lease=lease, cap=policy.per_endpoint
        )
    if prepared is None:
        return None
    attempted_at = utcnow()
    headers = signing.headers(
        secrets=prepared.secrets, msg_id=prepared.event_id, at=attempted_at, body=prepared.body
    )
    result = process_sender().post(
        prepared.url, body=prepared.body, headers=headers,
        timeout_s=policy.timeout_s, allow_private=policy.allow_private,
    )  # fmt: skip
    with db.transaction() as session:
        now = utcnow()
        outcome = finish_attempt(
            session, delivery_pk=delivery_pk, result=result, attempted_at=attempted_at,
            now=now, schedule=policy.schedule, leased_until=leased_at + lease,
        )  # fmt: skip
        following = hand_on(session, endpoint_pk=prepared.endpoint_pk, now=now)
    return None if outcome is None else Attempted(outcome, following)


@dataclass
class Delivered:
    """What one task did for an endpoint."""

    outcomes: Counter[str] = field(default_factory=Counter)  # delivered / retrying / failed
    rounds: int = 0
    more: bool = False  # due deliveries were left when the budget ran out: send a successor
    busy: bool = False  # another task holds the endpoint (or it is disabled): nothing done


def deliver_endpoint(
    db: Database,
    *,
    endpoint_pk: int,
    policy: DeliveryPolicy,
    sender: Sender | None = None,
    budget_s: float = ROUND_BUDGET_S,
) -> Delivered:
    """Rounds of attempts to one endpoint until none is due or `budget_s` is spent.

    Two short transactions per round at most (lease; record + lease the next),
    none open during HTTP. The budget must stay below LEASE_MARGIN minus the
    task's time-limit margin (workers.tasks.webhooks) so a killed task's last
    lease has not run out before the kill.
    """
    sender = sender or process_sender()
    lease = timedelta(seconds=policy.timeout_s) + LEASE_MARGIN
    done = Delivered()
    deadline = time.monotonic() + budget_s
    with db.transaction() as session:
        leased_at = utcnow()
        batch = lease_round(
            session, endpoint_pk=endpoint_pk, now=leased_at, lease=lease, limit=policy.round_size
        )
    done.busy = batch is None
    while batch:
        sent = send_round(sender, batch, policy)
        attempted = {one.delivery_pk for one in sent}
        released = [one.delivery_pk for one in batch if one.delivery_pk not in attempted]
        with db.transaction() as session:
            now = utcnow()
            outcomes = finish_round(
                session, endpoint_pk=endpoint_pk, sent=sent, now=now, schedule=policy.schedule,
                released=released, leased_until=leased_at + lease,
            )  # fmt: skip
            if time.monotonic() < deadline:
                leased_at = now
                batch = lease_round(
                    session, endpoint_pk=endpoint_pk, now=now, lease=lease,
                    limit=policy.round_size,
                )  # fmt: skip
            else:
                batch = None
                done.more = has_due(session, endpoint_pk=endpoint_pk, now=now)
        done.rounds += 1
        done.outcomes.update(outcomes.values())
    return done


def send_round(sender: Sender, batch: list[Prepared], policy: DeliveryPolicy) -> list[Sent]:
    """Check the endpoint's URL once for the round (every attempt of it starts right after),
    sign each body at its attempt time, and POST them all at once to the checked address."""
    attempted_at = utcnow()
    started = time.monotonic()
    try:
        target = sender.resolve(batch[0].url, allow_private=policy.allow_private)
    except UnsafeUrl as refusal:
        result = refused(refusal, started)
        return [Sent(one.delivery_pk, result, attempted_at) for one in batch]
    requests = [
        Request(
            one.body,
            signing.headers(
                secrets=one.secrets, msg_id=one.event_id, at=attempted_at, body=one.body
            ),
        )
        for one in batch
    ]
    results = sender.post_round(
        target, requests, timeout_s=policy.timeout_s, connections=policy.per_endpoint
    )
    return [
        Sent(one.delivery_pk, result, attempted_at)
        for one, result in zip(batch, results, strict=True)
        if result is not None  # not attempted: it did not fit the round's window
    ]


def endpoint_of(db: Database, delivery_pk: int) -> int | None:
    """The endpoint a delivery goes to (None if there is no such delivery)."""
    with db.transaction() as session:
        return session.scalar(
            select(WebhookDelivery.endpoint_pk).where(WebhookDelivery.id == delivery_pk)
        )


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

    The caller enqueues a task for them after commit. Rows other workers
    hold are skipped (SKIP LOCKED); the ones left over come next time.
    """
    return [pk for pk, _ in _queue_due(session, now=now, per_endpoint=per_endpoint)]


def queue_due_endpoints(session: Session, *, now: datetime, per_endpoint: int) -> list[int]:
    """queue_due by endpoint: the endpoints to send one `deliver_endpoint` task each."""
    found = _queue_due(session, now=now, per_endpoint=per_endpoint)
    return list(dict.fromkeys(endpoint_pk for _, endpoint_pk in found))


def _queue_due(session: Session, *, now: datetime, per_endpoint: int) -> list[tuple[int, int]]:
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
    return [(delivery.id, delivery.endpoint_pk) for delivery in deliveries]


def _not_queued(now: datetime) -> ColumnElement[bool]:
    return or_(WebhookDelivery.queued_until.is_(None), WebhookDelivery.queued_until < now)
