"""The outbox relay: undispatched facts become one delivery per subscribed endpoint.

Facts are claimed row by row with `FOR UPDATE SKIP LOCKED` in id order, never
through a "highest id seen" cursor: a fact whose transaction commits after a
later id was seen would be skipped by a cursor, but is still undispatched
here and gets relayed by the next pass. Any number of relays may run at once
(the fast path after each commit, the periodic sweep): each fact is locked by
one of them, and the unique key on (fact, endpoint) keeps a delivery from
being created twice even if a fact were relayed again.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, tuple_, update
from sqlalchemy.orm import Session

from core import fulfillment
from core.clock import utcnow
from core.db import Database, insert_for
from core.ids import new_id
from core.models import Fact, WebhookDelivery, WebhookEndpoint
from core.webhooks import removal
from core.webhooks.inputs import ALL_TYPES

BATCH = 200
QUEUED_LEASE = timedelta(seconds=15)  # a queued delivery task this old is presumed lost


def relay_batch(session: Session, *, now: datetime, limit: int = BATCH) -> tuple[int, list[int]]:
    """Relay up to `limit` facts in the caller's transaction: (facts relayed, new delivery pks)."""
    count, created = relay_rows(session, now=now, limit=limit)
    return count, [delivery_pk for delivery_pk, _ in created]


def relay_rows(
    session: Session, *, now: datetime, limit: int = BATCH
) -> tuple[int, list[tuple[int, int]]]:
    """relay_batch, with each new delivery as (delivery pk, endpoint pk)."""
    facts = list(
        session.scalars(
            select(Fact)
            .where(Fact.dispatched_at.is_(None))
            .order_by(Fact.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not facts:
        return 0, []
    subscribers = _subscribers(session, {(fact.tenant_id, fact.mode) for fact in facts})
    rows = [
        _delivery(fact, endpoint, now)
        for fact in facts
        for endpoint in subscribers[(fact.tenant_id, fact.mode)]
        if ALL_TYPES in endpoint.event_types or fact.type in endpoint.event_types
    ]
    # A claim of a reward with fulfillment goes to its endpoint whatever that one subscribes
    # to (CONTRACT §7); one that also subscribes has its row already: one per (fact, endpoint).
    # A deleted fulfillment endpoint will never take it: the claim's fulfillment fails now.
    planned = {(row["fact_id"], row["endpoint_pk"]) for row in rows}
    by_pk = {fact.id: fact for fact in facts}
    for fact_pk, endpoint in fulfillment.endpoints_of(session, facts).items():
        if endpoint.deleted_at is not None:
            removal.claim_without_endpoint(session, fact=by_pk[fact_pk], endpoint=endpoint, now=now)
        elif (fact_pk, endpoint.id) not in planned:
            rows.append(_delivery(by_pk[fact_pk], endpoint, now))
    created: list[tuple[int, int]] = []
    if rows:
        # Executemany form: one cached statement, sent as multi-row VALUES pages by
        # SQLAlchemy (insertmanyvalues); `.values(rows)` compiled anew for every batch.
        statement = (
            insert_for(session)(WebhookDelivery.__table__)
            .on_conflict_do_nothing(index_elements=["fact_id", "endpoint_pk"])
            .returning(WebhookDelivery.__table__.c.id, WebhookDelivery.__table__.c.endpoint_pk)
        )
        created = [(row[0], row[1]) for row in session.connection().execute(statement, rows)]
    session.execute(
        update(Fact)
        .where(Fact.id.in_([fact.id for fact in facts]))
        .values(dispatched_at=now)
        .execution_options(synchronize_session=False)  # the facts are not read again here
    )
    return len(facts), created


def relay(
    db: Database,
    *,
    on_committed: Callable[[list[int]], None] | None = None,
    on_endpoints: Callable[[list[int]], None] | None = None,
    budget_s: float = 10.0,
) -> int:
    """Relay batch after batch until none is pending or the budget is spent; returns facts relayed.

    After each batch's commit, `on_committed` receives its new delivery pks and
    `on_endpoints` the endpoints they go to, each once (to start their first
    attempts at once: one task per endpoint).
    """
    relayed = 0
    deadline = time.monotonic() + budget_s
    while time.monotonic() < deadline:
        with db.transaction() as session:
            count, created = relay_rows(session, now=utcnow())
        relayed += count
        if created and on_committed is not None:
            on_committed([delivery_pk for delivery_pk, _ in created])
        if created and on_endpoints is not None:
            on_endpoints(list(dict.fromkeys(endpoint_pk for _, endpoint_pk in created)))
        if count < BATCH:
            break
    return relayed


def _subscribers(
    session: Session, scopes: set[tuple[str, str]]
) -> dict[tuple[str, str], list[WebhookEndpoint]]:
    """Enabled endpoints per (tenant, mode): test-mode facts reach test-mode endpoints only.

    Locked FOR KEY SHARE (as the deliveries' foreign key would lock them anyway): an
    endpoint being deleted or disabled right now is waited for and then left out, so no
    delivery is created behind a delete that has already ended its pending ones.
    """
    found: dict[tuple[str, str], list[WebhookEndpoint]] = defaultdict(list)
    query = (
        select(WebhookEndpoint)
        .where(
            tuple_(WebhookEndpoint.tenant_id, WebhookEndpoint.mode).in_(list(scopes)),
            WebhookEndpoint.enabled.is_(True),
            WebhookEndpoint.deleted_at.is_(None),
        )
        .with_for_update(key_share=True)
    )
    for endpoint in session.scalars(query):
        found[(endpoint.tenant_id, endpoint.mode)].append(endpoint)
    return found


def _delivery(fact: Fact, endpoint: WebhookEndpoint, now: datetime) -> dict[str, Any]:
    return {
        "delivery_id": new_id("whd"),
        "tenant_id": fact.tenant_id,
        "mode": fact.mode,
        "fact_id": fact.id,
        "endpoint_pk": endpoint.id,
        "status": "pending",
        "attempt_count": 0,
        "next_attempt_at": now,
        "queued_until": now + QUEUED_LEASE,  # the caller enqueues it right after commit
        "created_at": now,
    }
