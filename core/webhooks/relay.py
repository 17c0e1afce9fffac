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
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Integer, Row, Table, bindparam, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core import fulfillment
from core.clock import utcnow
from core.db import Database
from core.ids import new_id
from core.models import Fact, WebhookDelivery, WebhookEndpoint
from core.webhooks import removal
from core.webhooks.inputs import ALL_TYPES

BATCH = 200
QUEUED_LEASE = timedelta(seconds=15)  # a queued delivery task this old is presumed lost

# The hot path's statements, built once (as the claim batch's are, docs/performance.md, issue
# 11): a reused statement keeps its memoised cache key and needs no result-column adaptation
# per call, and Core rows of the columns needed cost no ORM entity loading. Same SQL as the
# ORM statements they replace, minus the columns nobody read.
_FACTS = cast(Table, Fact.__table__)
_DELIVERIES = cast(Table, WebhookDelivery.__table__)
_facts = _FACTS.c
_endpoints = WebhookEndpoint.__table__.c
_PENDING = (
    select(
        _facts.id,
        _facts.tenant_id,
        _facts.mode,
        _facts.type,
        # All the relay reads of `data` (fulfillment.endpoints_of): not the whole document.
        _facts.data["reward_id"].as_string().label("reward_id"),
    )
    .where(_facts.dispatched_at.is_(None))
    .order_by(_facts.id)
    .limit(bindparam("limit", type_=Integer))
    .with_for_update(skip_locked=True)
)
# Locked as before: `with_for_update(key_share=True)`, which PostgreSQL gets as FOR NO KEY
# UPDATE (SQLAlchemy renders FOR KEY SHARE only with read=True as well).
_SUBSCRIBERS = (
    select(_endpoints.id, _endpoints.tenant_id, _endpoints.mode, _endpoints.event_types)
    .where(
        tuple_(_endpoints.tenant_id, _endpoints.mode).in_(bindparam("scopes", expanding=True)),
        _endpoints.enabled.is_(True),
        _endpoints.deleted_at.is_(None),
    )
    .with_for_update(key_share=True)
)
# Executemany form: sent as multi-row VALUES pages by SQLAlchemy (insertmanyvalues).
_INSERT = {
    dialect.dialect.name: dialect.insert(_DELIVERIES)
    .on_conflict_do_nothing(index_elements=["fact_id", "endpoint_pk"])
    .returning(_DELIVERIES.c.id, _DELIVERIES.c.endpoint_pk)
    for dialect in (postgresql, sqlite)
}
_DISPATCHED = (
    update(_FACTS)
    .where(_facts.id.in_(bindparam("ids", expanding=True)))
    .values(dispatched_at=bindparam("now", type_=_facts.dispatched_at.type))
)


def relay_batch(session: Session, *, now: datetime, limit: int = BATCH) -> tuple[int, list[int]]:
    """Relay up to `limit` facts in the caller's transaction: (facts relayed, new delivery pks)."""
    count, created = relay_rows(session, now=now, limit=limit)
    return count, [delivery_pk for delivery_pk, _ in created]


def relay_rows(
    session: Session, *, now: datetime, limit: int = BATCH
) -> tuple[int, list[tuple[int, int]]]:
    """relay_batch, with each new delivery as (delivery pk, endpoint pk)."""
    connection = session.connection()
    facts = connection.execute(_PENDING, {"limit": limit}).all()
    if not facts:
        return 0, []
    subscribers = _subscribers(session, {(fact.tenant_id, fact.mode) for fact in facts})
    rows = [
        _delivery(fact, endpoint_pk, now)
        for fact in facts
        for endpoint_pk, types in subscribers.get((fact.tenant_id, fact.mode), ())
        if ALL_TYPES in types or fact.type in types
    ]
    # A claim of a reward with fulfillment goes to its endpoint whatever that one subscribes
    # to (CONTRACT §7); one that also subscribes has its row already: one per (fact, endpoint).
    # A deleted fulfillment endpoint will never take it: the claim's fulfillment fails now.
    planned = {(row["fact_id"], row["endpoint_pk"]) for row in rows}
    by_pk = {fact.id: fact for fact in facts}
    for fact_pk, endpoint in fulfillment.endpoints_of(session, facts).items():
        if endpoint.deleted_at is not None:
            # Rare: the claim decision wants the ORM fact (its data), loaded for it alone.
            fact = session.get_one(Fact, fact_pk)
            removal.claim_without_endpoint(
                session, fact=fact, endpoint_id=endpoint.endpoint_id, now=now
            )
        elif (fact_pk, endpoint.id) not in planned:
            rows.append(_delivery(by_pk[fact_pk], endpoint.id, now))
    created: list[tuple[int, int]] = []
    if rows:
        inserted = connection.execute(_INSERT[connection.dialect.name], rows)
        created = [(row[0], row[1]) for row in inserted]
    connection.execute(_DISPATCHED, {"ids": list(by_pk), "now": now})
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
) -> dict[tuple[str, str], list[tuple[int, Sequence[str]]]]:
    """Enabled endpoints per (tenant, mode), as (endpoint pk, event types): test-mode facts
    reach test-mode endpoints only.

    Locked (as the deliveries' foreign key would lock them anyway): an endpoint being
    deleted or disabled right now is waited for and then left out, so no delivery is
    created behind a delete that has already ended its pending ones.
    """
    found: dict[tuple[str, str], list[tuple[int, Sequence[str]]]] = defaultdict(list)
    for endpoint in session.connection().execute(_SUBSCRIBERS, {"scopes": list(scopes)}):
        found[(endpoint.tenant_id, endpoint.mode)].append((endpoint.id, endpoint.event_types))
    return found


def _delivery(fact: Row[*tuple[Any, ...]], endpoint_pk: int, now: datetime) -> dict[str, Any]:
    return {
        "delivery_id": new_id("whd"),
        "tenant_id": fact.tenant_id,
        "mode": fact.mode,
        "fact_id": fact.id,
        "endpoint_pk": endpoint_pk,
        "status": "pending",
        "attempt_count": 0,
        "next_attempt_at": now,
        "queued_until": now + QUEUED_LEASE,  # the caller enqueues it right after commit
        "created_at": now,
    }
