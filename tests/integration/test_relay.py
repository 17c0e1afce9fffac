"""The outbox relay on real PostgreSQL: who gets a delivery, exactly once, whatever the races."""

from __future__ import annotations

import re
import threading
from typing import Any

from sqlalchemy import event, func, select, update

from core.clock import utcnow
from core.db import Database
from core.facts import append, fact
from core.migrate import upgrade
from core.models import Fact, WebhookDelivery, WebhookEndpoint
from core.runtime import Runtime
from core.webhooks.endpoints import create_endpoint, update_endpoint
from core.webhooks.inputs import EndpointCreate, EndpointPatch
from core.webhooks.relay import relay, relay_batch
from tests.support.claims import new_reward
from tests.support.services import fresh_database
from tests.support.tenants import TestTenant, make_tenant


def _endpoint(db: Database, tenant: TestTenant, *, mode: str = "live", types: list[str]) -> str:
    body = EndpointCreate.model_validate({"url": "http://127.0.0.1:9/hook", "event_types": types})
    with db.transaction() as session:
        made = create_endpoint(
            session, principal=tenant.principal(mode), body=body, allow_private=True
        )
    return made["id"]


def _facts(
    db: Database,
    tenant: TestTenant,
    n: int,
    *,
    mode: str = "live",
    type_: str = "reward.reward_claimed",
) -> list[str]:
    rows = [
        fact(tenant_id=tenant.id, mode=mode, type_=type_, data={"n": i}, at=utcnow())  # type: ignore[arg-type]
        for i in range(n)
    ]
    with db.transaction() as session:
        append(session, rows)
    return [row["event_id"] for row in rows]


def _deliveries(db: Database, event_ids: list[str]) -> list[tuple[str, int]]:
    with db.transaction() as session:
        rows = session.execute(
            select(Fact.event_id, WebhookDelivery.endpoint_pk)
            .join(Fact, Fact.id == WebhookDelivery.fact_id)
            .where(Fact.event_id.in_(event_ids))
        )
        return [(row[0], row[1]) for row in rows]


def _drain(db: Database) -> None:
    relay(db, on_committed=lambda _: None)


def test_a_fact_goes_to_each_subscribed_endpoint_of_its_tenant_and_mode_only(
    runtime: Runtime, tenant: TestTenant, other_tenant: TestTenant
) -> None:
    db = runtime.db
    _endpoint(db, tenant, types=["reward.reward_claimed"])
    _endpoint(db, tenant, types=["*"])
    _endpoint(db, tenant, types=["reward.claim_reversed"])  # another type
    _endpoint(db, tenant, mode="test", types=["*"])  # another mode
    _endpoint(db, other_tenant, types=["*"])  # another tenant
    off = _endpoint(db, tenant, types=["*"])
    with db.transaction() as session:
        patch = EndpointPatch(enabled=False)
        update_endpoint(
            session, principal=tenant.principal(), endpoint_id=off, body=patch, allow_private=True
        )
    live = _facts(db, tenant, 3)
    test_mode = _facts(db, tenant, 2, mode="test")
    _drain(db)
    assert len(_deliveries(db, live)) == 3 * 2
    assert len(_deliveries(db, test_mode)) == 2 * 1  # test-mode facts: test-mode endpoints only
    with db.transaction() as session:
        left = session.scalar(
            select(func.count()).where(
                Fact.event_id.in_(live + test_mode), Fact.dispatched_at.is_(None)
            )
        )
    assert left == 0


def test_racing_relays_create_each_delivery_exactly_once(
    runtime: Runtime, tenant: TestTenant
) -> None:
    db = runtime.db
    for _ in range(3):
        _endpoint(db, tenant, types=["*"])
    event_ids = _facts(db, tenant, 600)
    created: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(6)

    def run() -> None:
        barrier.wait()
        relay(db, on_committed=lambda pks: _collect(pks, created, lock))

    threads = [threading.Thread(target=run) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rows = _deliveries(db, event_ids)
    assert len(rows) == 600 * 3
    assert len(set(rows)) == 600 * 3
    mine = {pk for pk in created if pk in _pks(db, event_ids)}
    assert len(mine) == 600 * 3  # and no relay reported one twice
    assert len(created) == len(set(created))


def test_a_fact_committed_after_a_later_one_is_still_relayed(
    runtime: Runtime, tenant: TestTenant
) -> None:
    """A "highest id seen" cursor would skip the fact whose transaction commits late."""
    db = runtime.db
    _endpoint(db, tenant, types=["*"])
    slow = db.sessions()
    slow.begin()
    early = fact(
        tenant_id=tenant.id, mode="live", type_="reward.inventory_low", data={}, at=utcnow()
    )
    append(slow, [early])  # takes the lower id, commits last
    later = _facts(db, tenant, 1)
    _drain(db)
    assert len(_deliveries(db, later)) == 1
    slow.commit()
    slow.close()
    _drain(db)
    assert len(_deliveries(db, [early["event_id"]])) == 1


def test_relaying_a_fact_twice_creates_no_second_delivery(
    runtime: Runtime, tenant: TestTenant
) -> None:
    db = runtime.db
    _endpoint(db, tenant, types=["*"])
    event_ids = _facts(db, tenant, 1)
    _drain(db)
    with db.transaction() as session:
        session.execute(
            Fact.__table__.update().where(Fact.event_id.in_(event_ids)).values(dispatched_at=None)
        )
    with db.transaction() as session:
        _, created = relay_batch(session, now=utcnow())
    assert not set(created) & _pks(db, event_ids)  # the unique key turned the insert away
    assert len(_deliveries(db, event_ids)) == 1


def test_only_a_claim_of_the_reward_goes_to_its_fulfillment_endpoint_once(
    runtime: Runtime, tenant: TestTenant
) -> None:
    """The fulfillment endpoint takes the reward's `reward.reward_claimed` facts whatever it
    subscribes to; other facts naming the reward (stock alerts, reversals, failures) go to
    subscribers only, and relaying the claim again creates no second delivery."""
    db = runtime.db
    eid = _endpoint(db, tenant, types=["campaign.completed"])
    reward_id = new_reward(db, tenant, fulfillment={"endpoint_id": eid, "on_failure": "keep"})
    claim = _fact_of(db, tenant, "reward.reward_claimed", {"reward_id": reward_id, "claim_id": "c"})
    others = [
        _fact_of(db, tenant, type_, {"reward_id": reward_id, "claim_id": "c"})
        for type_ in ("reward.inventory_low", "reward.claim_reversed", "reward.fulfillment_failed")
    ]
    no_reward = _fact_of(db, tenant, "reward.reward_claimed", {"claim_id": "d"})
    _drain(db)
    with db.transaction() as session:
        pk = session.scalar(select(WebhookEndpoint.id).where(WebhookEndpoint.endpoint_id == eid))
    assert _deliveries(db, [claim]) == [(claim, pk)]
    assert _deliveries(db, [*others, no_reward]) == []
    with db.transaction() as session:
        session.execute(update(Fact).where(Fact.event_id == claim).values(dispatched_at=None))
    _drain(db)  # the unique key turns the second insert away
    assert _deliveries(db, [claim]) == [(claim, pk)]


def test_a_batch_without_subscribers_or_fulfillment_costs_three_or_four_statements() -> None:
    """The relay's common case (issue 11): lock the facts, read the subscribers, read the
    fulfillment endpoints only when a fact is a claim, mark the facts dispatched."""
    with fresh_database("relaycost") as url:
        upgrade(url)
        db = Database(url, pool_size=1)
        try:
            tenant = make_tenant(db)
            reward_id = new_reward(db, tenant)  # no fulfillment
            _drain(db)
            _fact_of(db, tenant, "reward.inventory_low", {"reward_id": reward_id})
            _fact_of(db, tenant, "campaign.completed", {})
            assert _statements_of_a_relay(db) == [
                "SELECT facts",
                "SELECT webhook_endpoints",
                "UPDATE facts",
            ]
            claim = _fact_of(db, tenant, "reward.reward_claimed", {"reward_id": reward_id})
            assert _statements_of_a_relay(db) == [
                "SELECT facts",
                "SELECT webhook_endpoints",
                "SELECT rewards",
                "UPDATE facts",
            ]
            assert _deliveries(db, [claim]) == []
        finally:
            db.dispose()


def _fact_of(db: Database, tenant: TestTenant, type_: str, data: dict[str, Any]) -> str:
    row = fact(tenant_id=tenant.id, mode="live", type_=type_, data=data, at=utcnow())  # type: ignore[arg-type]
    with db.transaction() as session:
        append(session, [row])
    return str(row["event_id"])


def _statements_of_a_relay(db: Database) -> list[str]:
    """What one relay sends, as "VERB table" (BEGIN and COMMIT are not cursor statements)."""
    sent: list[str] = []

    def record(*args: Any) -> None:
        found = re.match(r"(SELECT|UPDATE|INSERT)\b(?:.*?\b(?:FROM|INTO))? (\w+)", args[2], re.S)
        sent.append(" ".join(found.groups()) if found else args[2])

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert relay(db) >= 1
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    return sent


def _collect(pks: list[int], into: list[int], lock: threading.Lock) -> None:
    with lock:
        into.extend(pks)


def _pks(db: Database, event_ids: list[str]) -> set[int]:
    with db.transaction() as session:
        return set(
            session.scalars(
                select(WebhookDelivery.id)
                .join(Fact, Fact.id == WebhookDelivery.fact_id)
                .where(Fact.event_id.in_(event_ids))
            )
        )
