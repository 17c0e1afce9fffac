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
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, insert, or_, select, update
from sqlalchemy.orm import Session

from core.claims import fulfillment
from core.clock import to_wire
from core.models import Fact, Reward, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from core.webhooks.endpoints import signing_secrets
from core.webhooks.sender import AttemptResult

log = logging.getLogger("coffer.webhooks")
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
    leased_until: datetime | None = None,
) -> str | None:
    """Log the attempt and decide: `delivered`, `retrying` (next_attempt_at set) or `failed`.

    With `leased_until` (the lease begin_attempt took), None and nothing recorded when the
    delivery is no longer under that lease (finish_round).
    """
    delivery = session.get(WebhookDelivery, delivery_pk)
    assert delivery is not None
    sent = [Sent(delivery_pk, result, attempted_at)]
    return finish_round(session, endpoint_pk=delivery.endpoint_pk, sent=sent, now=now,
                        schedule=schedule, leased_until=leased_until).get(delivery_pk)  # fmt: skip


def lease_round(
    session: Session, *, endpoint_pk: int, now: datetime, lease: timedelta, limit: int
) -> list[Prepared] | None:
    """Lease up to `limit` due deliveries of one endpoint for one round of attempts.

    None when the endpoint is disabled or gone, or when another task holds
    deliveries of it: one round of one task per endpoint at a time, so an
    endpoint that answers slowly occupies at most one worker slot (the
    periodic job or that task's next round takes the rest). [] when nothing
    of it is due. Oldest due first; three statements, whatever the round's size.
    """
    # Locking the endpoint row makes "none in flight, then lease" one step per endpoint.
    endpoint = session.get(WebhookEndpoint, endpoint_pk, with_for_update=True)
    if endpoint is None or not endpoint.enabled or in_flight(session, endpoint_pk, now) > 0:
        return None
    rows = session.execute(
        select(WebhookDelivery.id, Fact)
        .join(Fact, Fact.id == WebhookDelivery.fact_id)
        .where(WebhookDelivery.endpoint_pk == endpoint_pk, *is_free_and_due(now))
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
        .with_for_update(of=WebhookDelivery, skip_locked=True)
    ).all()
    if not rows:
        return []
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_([pk for pk, _ in rows]))
        .values(sending_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    secrets = signing_secrets(endpoint, now)
    return [
        Prepared(pk, endpoint.id, fact.event_id, endpoint.url, secrets, payload(fact))
        for pk, fact in rows
    ]


@dataclass(frozen=True)
class Sent:
    """One attempt made: which delivery, what came back, when it started."""

    delivery_pk: int
    result: AttemptResult
    attempted_at: datetime


def finish_round(
    session: Session,
    *,
    endpoint_pk: int,
    sent: list[Sent],
    now: datetime,
    schedule: tuple[int, ...],
    released: Sequence[int] = (),
    leased_until: datetime | None = None,
) -> dict[int, str]:
    """Log a round's attempts and decide each delivery: {pk: delivered | retrying | failed}.

    `released`: deliveries leased for the round but not attempted (they did not
    fit its window); their lease ends, nothing else changes. With
    `leased_until` (the round's lease), only deliveries still under that very
    lease are recorded: a round that outlived its lease (a receiver trickling
    its answer past every timeout) may have been overtaken by another holder,
    whose attempt counts, or ended by the endpoint's deletion (core.webhooks.removal); the
    stale one is dropped and logged.

    The attempt rows go in one statement and the delivered deliveries are
    closed in one; failures are decided one by one (each has its own attempt
    count and Retry-After). The endpoint's failure streak: a 410 disables it
    at once, as do FAILING_DAYS_BEFORE_DISABLE days without a success; any
    success in the round ends the streak.
    """
    endpoint = session.get(WebhookEndpoint, endpoint_pk, with_for_update=True)
    assert endpoint is not None  # a foreign key
    if leased_until is not None:
        sent, released = _still_leased(session, sent, released, leased_until)
    if released:
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(released))
            .values(sending_until=None)
            .execution_options(synchronize_session=False)
        )
    if not sent:
        return {}
    session.execute(
        insert(WebhookAttempt),
        [
            {
                "delivery_pk": one.delivery_pk,
                "attempted_at": one.attempted_at,
                "status_code": one.result.status_code,
                "error": one.result.error,
                "duration_ms": one.result.duration_ms,
                "response_body": one.result.response_body,
            }
            for one in sent
        ],
    )
    outcomes: dict[int, str] = {}
    delivered = [one.delivery_pk for one in sent if one.result.ok]
    if delivered:
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(delivered))
            .values(
                status="delivered",
                finished_at=now,
                next_attempt_at=None,
                sending_until=None,
                queued_until=None,
                attempt_count=WebhookDelivery.attempt_count + 1,
            )
            .execution_options(synchronize_session=False)
        )
        outcomes.update(dict.fromkeys(delivered, "delivered"))
    failures = {one.delivery_pk: one.result for one in sent if not one.result.ok}
    for delivery in _locked(session, list(failures)):
        result = failures[delivery.id]
        delivery.sending_until = delivery.queued_until = None
        delivery.attempt_count += 1
        _count_failure(endpoint, result, now)
        wait = next_wait(delivery.attempt_count, schedule, result.retry_after_s)
        if wait is None:
            delivery.status, delivery.finished_at, delivery.next_attempt_at = "failed", now, None
            outcomes[delivery.id] = "failed"
        else:
            delivery.next_attempt_at = now + wait
            outcomes[delivery.id] = "retrying"
    if delivered:
        endpoint.failing_since = None
    _fulfil(session, endpoint, outcomes, failures, now)
    return outcomes


def _still_leased(
    session: Session, sent: list[Sent], released: Sequence[int], leased_until: datetime
) -> tuple[list[Sent], list[int]]:
    """The sent and released deliveries that are still under this round's lease."""
    pks = [one.delivery_pk for one in sent] + list(released)
    if not pks:
        return sent, list(released)
    ours = set(
        session.scalars(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.id.in_(pks), WebhookDelivery.sending_until == leased_until)
            .with_for_update()
        )
    )
    if len(ours) < len(pks):
        # It outlived its lease, or the endpoint was deleted meanwhile.
        log.warning("a round no longer held its lease; %d attempt(s) not recorded",
                    len(pks) - len(ours))  # fmt: skip
    return [one for one in sent if one.delivery_pk in ours], [pk for pk in released if pk in ours]


def _locked(session: Session, delivery_pks: list[int]) -> list[WebhookDelivery]:
    if not delivery_pks:
        return []
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.id.in_(delivery_pks))
        .order_by(WebhookDelivery.id)
        .with_for_update()
        .execution_options(populate_existing=True)  # the bulk UPDATEs left no stale copies
    )
    return list(session.scalars(query))


def _fulfil(
    session: Session,
    endpoint: WebhookEndpoint,
    outcomes: dict[int, str],
    failures: dict[int, AttemptResult],
    now: datetime,
) -> None:
    """Let fulfillment (CONTRACT §7) see the deliveries that ended, if this endpoint fulfils
    any reward; one indexed look-up per round otherwise."""
    ended = {pk: outcome for pk, outcome in outcomes.items() if outcome != "retrying"}
    if not ended or not _fulfils(session, endpoint):
        return
    # The failures decided above are unflushed changes (the session does not autoflush),
    # and _locked reloads its rows over them (populate_existing): written first, or a
    # delivery that failed for good stays pending and is attempted again forever.
    session.flush()
    for delivery in _locked(session, list(ended)):
        error = failures[delivery.id].error if delivery.id in failures else None
        fulfillment.after_delivery(
            session, delivery=delivery, endpoint=endpoint, outcome=ended[delivery.id],
            last_error=error, now=now,
        )  # fmt: skip


def _fulfils(session: Session, endpoint: WebhookEndpoint) -> bool:
    """Is this endpoint any reward's fulfillment endpoint (the only case after_delivery acts)?"""
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


def has_due(session: Session, *, endpoint_pk: int, now: datetime) -> bool:
    """Is a delivery of this endpoint due and free?"""
    found = session.scalar(
        select(WebhookDelivery.id)
        .where(WebhookDelivery.endpoint_pk == endpoint_pk, *is_free_and_due(now))
        .limit(1)
    )
    return found is not None


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
