"""Deleting a webhook endpoint (CONTRACT §7) on real PostgreSQL with a real receiver.

A deleted endpoint never receives again, so its pending deliveries end `failed` in the
delete's transaction, with an attempt whose error is "endpoint deleted", and the claims
they fulfil fail (and with `reverse` are reversed) as after a final failure. Deliveries
are attempted by real HTTP with a compressed schedule (no Celery here); the delete, the
delivery log, the retry and the metrics go through the real Flask app.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from core.claims.queries import claim_status
from core.clock import utcnow
from core.db import Database
from core.facts import append, fact
from core.models import Fact, Inventory, WebhookDelivery, WebhookEndpoint
from core.runtime import Runtime
from core.webhooks.dispatch import (
    DeliveryPolicy,
    attempt,
    deliver_endpoint,
    endpoint_of,
    queue_due_endpoints,
)
from core.webhooks.endpoints import create_endpoint, update_endpoint
from core.webhooks.inputs import EndpointCreate, EndpointPatch
from core.webhooks.relay import relay
from core.webhooks.removal import ENDPOINT_DELETED, delete_endpoint
from tests.support.claims import accept, balance_and_ledger, credit, drain_all, new_reward
from tests.support.receiver import Answer, Receiver
from tests.support.tenants import TestTenant

API = "/api/v1/gamify"
POLICY = DeliveryPolicy(timeout_s=5, allow_private=True, schedule=(0, 0, 0))  # 4 attempts


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def register(db: Database, tenant: TestTenant, receiver: Receiver, events: list[str]) -> str:
    body = EndpointCreate(url=receiver.url, event_types=events)  # type: ignore[arg-type]
    with db.transaction() as session:
        made = create_endpoint(session, principal=tenant.principal(), body=body, allow_private=True)
    receiver.secrets.append(made["secret"])
    return str(made["id"])


def facts(db: Database, tenant: TestTenant, n: int) -> list[str]:
    """n `reward.inventory_low` facts, relayed; their event ids."""
    at = utcnow()
    rows = [
        fact(tenant_id=tenant.id, mode="live", type_="reward.inventory_low", data={"n": i}, at=at)
        for i in range(n)
    ]
    with db.transaction() as session:
        append(session, rows)
    relay(db, on_committed=lambda _: None)
    return [row["event_id"] for row in rows]


def deliveries(db: Database, endpoint_id: str) -> dict[str, WebhookDelivery]:
    """event id -> its delivery to this endpoint."""
    with db.transaction() as session:
        rows = session.execute(
            select(Fact.event_id, WebhookDelivery)
            .join(WebhookDelivery, WebhookDelivery.fact_id == Fact.id)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_pk)
            .where(WebhookEndpoint.endpoint_id == endpoint_id)
        ).all()
        session.expunge_all()
    return {event_id: delivery for event_id, delivery in rows}


def claim_delivery(db: Database, endpoint_id: str, claim_id: str) -> int:
    relay(db, on_committed=lambda _: None)
    with db.transaction() as session:
        return session.scalars(
            select(WebhookDelivery.id)
            .join(Fact, Fact.id == WebhookDelivery.fact_id)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_pk)
            .where(
                WebhookEndpoint.endpoint_id == endpoint_id,
                Fact.data["claim_id"].as_string() == claim_id,
            )
        ).one()


def claimed(db: Database, tenant: TestTenant, reward_id: str, who: str, **kw: Any) -> str:
    claim_id = accept(db, tenant, reward_id, who, **kw).resource_id or ""
    drain_all(db)
    return claim_id


def view(db: Database, tenant: TestTenant, claim_id: str) -> dict[str, Any]:
    with db.transaction() as session:
        return claim_status(session, principal=tenant.principal(), claim_id=claim_id)


def facts_of(db: Database, tenant: TestTenant, type_: str) -> list[dict[str, Any]]:
    with db.transaction() as session:
        return list(
            session.scalars(
                select(Fact.data)
                .where(Fact.tenant_id == tenant.id, Fact.type == type_)
                .order_by(Fact.id)
            )
        )


def pending_gauge(client: FlaskClient) -> int:
    text = client.get("/metrics").get_data(as_text=True)
    found = re.search(r"^coffer_webhook_deliveries_pending (\S+)$", text, re.MULTILINE)
    assert found is not None
    return int(float(found.group(1)))


def delete(client: FlaskClient, tenant: TestTenant, endpoint_id: str) -> None:
    answered = client.delete(f"{API}/webhook-endpoints/{endpoint_id}", headers=tenant.auth())
    assert answered.status_code == 204, answered.get_data(as_text=True)


def test_deleting_an_endpoint_fails_its_pending_deliveries_with_the_reason_and_keeps_the_rest(
    runtime: Runtime, tenant: TestTenant, receiver: Receiver, client: FlaskClient
) -> None:
    db = runtime.db
    eid = register(db, tenant, receiver, ["reward.inventory_low"])
    done, retrying, fresh = facts(db, tenant, 3)
    by_event = deliveries(db, eid)
    assert attempt(db, delivery_pk=by_event[done].id, policy=POLICY) is not None  # 204
    receiver.default = Answer(500)
    assert attempt(db, delivery_pk=by_event[retrying].id, policy=POLICY) is not None
    before = pending_gauge(client)
    delete(client, tenant, eid)
    assert pending_gauge(client) == before - 2  # `retrying` and `fresh`, never attempted
    log = client.get(f"{API}/webhook-endpoints/{eid}/deliveries", headers=tenant.auth())
    assert log.status_code == 200  # the deleted endpoint's record stays readable
    shown = {one["event_id"]: one for one in log.get_json()["deliveries"]}
    assert shown[done]["status"] == "delivered" and len(shown[done]["attempts"]) == 1
    for event_id, earlier in ((retrying, ["HTTP 500"]), (fresh, [])):
        assert shown[event_id]["status"] == "failed" and shown[event_id]["next_attempt_at"] is None
        *tried, last = shown[event_id]["attempts"]
        assert [one["error"] for one in tried] == earlier
        assert (last["error"], last["status_code"]) == (ENDPOINT_DELETED, None)
    assert client.get(f"{API}/webhook-endpoints/{eid}", headers=tenant.auth()).status_code == 404


def test_nothing_reaches_a_deleted_endpoint_afterwards(
    runtime: Runtime, tenant: TestTenant, receiver: Receiver, client: FlaskClient
) -> None:
    db = runtime.db
    eid = register(db, tenant, receiver, ["*"])
    (event_id,) = facts(db, tenant, 1)
    pk = deliveries(db, eid)[event_id].id
    endpoint_pk = endpoint_of(db, pk)
    assert endpoint_pk is not None
    delete(client, tenant, eid)
    facts(db, tenant, 2)  # appended after the delete: no delivery is created for it
    assert list(deliveries(db, eid)) == [event_id]
    delivery_id = deliveries(db, eid)[event_id].delivery_id
    retried = client.post(f"{API}/webhook-deliveries/{delivery_id}/retry", headers=tenant.auth())
    assert retried.status_code == 409 and retried.get_json()["code"] == "delivery_not_retryable"
    assert attempt(db, delivery_pk=pk, policy=POLICY) is None
    assert deliver_endpoint(db, endpoint_pk=endpoint_pk, policy=POLICY).busy
    with db.transaction() as session:
        offered = queue_due_endpoints(session, now=utcnow(), per_endpoint=16)
    assert endpoint_pk not in offered
    assert receiver.received == []
    assert deliveries(db, eid)[event_id].status == "failed"


def test_a_pending_fulfillment_fails_when_its_endpoint_is_deleted(
    runtime: Runtime, tenant: TestTenant, receiver: Receiver, client: FlaskClient
) -> None:
    db = runtime.db
    receiver.default = Answer(500)
    eid = register(db, tenant, receiver, ["campaign.completed"])
    chosen = {"endpoint_id": eid, "on_failure": "keep"}
    reward_id = new_reward(db, tenant, codes=1, fulfillment=chosen)
    claim_id = claimed(db, tenant, reward_id, "shopper")
    pk = claim_delivery(db, eid, claim_id)
    assert attempt(db, delivery_pk=pk, policy=POLICY).outcome == "retrying"  # type: ignore[union-attr]
    assert view(db, tenant, claim_id)["fulfillment_status"] == "pending"
    delete(client, tenant, eid)
    now = view(db, tenant, claim_id)
    assert (now["status"], now["fulfillment_status"]) == ("succeeded", "failed")
    assert facts_of(db, tenant, "reward.fulfillment_failed") == [
        {
            "claim_id": claim_id,
            "participant_id": "shopper",
            "reward_id": reward_id,
            "endpoint_id": eid,
            "last_error": ENDPOINT_DELETED,
        }
    ]
    assert facts_of(db, tenant, "reward.claim_reversed") == []


def test_with_reverse_the_claim_is_reversed_refunded_and_restocked_when_its_endpoint_is_deleted(
    runtime: Runtime, tenant: TestTenant, receiver: Receiver, client: FlaskClient
) -> None:
    db = runtime.db
    eid = register(db, tenant, receiver, ["campaign.completed"])
    chosen = {"endpoint_id": eid, "on_failure": "reverse"}
    reward_id = new_reward(db, tenant, codes=1, points_cost=40, fulfillment=chosen)
    credit(db, tenant, "shopper", 100)
    claim_id = claimed(db, tenant, reward_id, "shopper", deduct=True)
    claim_delivery(db, eid, claim_id)  # pending, never attempted
    with db.transaction() as session:
        assert session.get_one(Inventory, reward_id).available == 0
    delete(client, tenant, eid)
    now = view(db, tenant, claim_id)
    assert (now["status"], now["fulfillment_status"]) == ("reversed", "failed")
    assert now["reversal"]["reason"] == "fulfillment_failed"
    assert now["reversal"]["restocked"] is True and now["reversal"]["points_refunded"] == 40
    assert balance_and_ledger(db, tenant, "shopper") == (100, 100)
    with db.transaction() as session:
        assert session.get_one(Inventory, reward_id).available == 1
    (failed,) = facts_of(db, tenant, "reward.fulfillment_failed")
    assert failed["last_error"] == ENDPOINT_DELETED
    (reversal,) = facts_of(db, tenant, "reward.claim_reversed")
    assert reversal["claim_id"] == claim_id and reversal["restocked"] is True
    assert receiver.received == []


def test_a_claim_of_a_reward_whose_fulfillment_endpoint_is_deleted_fails_when_relayed(
    runtime: Runtime, tenant: TestTenant, receiver: Receiver, client: FlaskClient
) -> None:
    db = runtime.db
    eid = register(db, tenant, receiver, ["*"])
    chosen = {"endpoint_id": eid, "on_failure": "reverse"}
    reward_id = new_reward(db, tenant, codes=1, fulfillment=chosen)
    delete(client, tenant, eid)
    # The definition still names it (nothing rewrites a reward), and a claim still succeeds;
    # its fulfillment can never happen, so it fails at the relay instead of staying pending.
    shown = client.get(f"{API}/rewards/{reward_id}", headers=tenant.auth()).get_json()
    assert shown["fulfillment"] == chosen
    claim_id = claimed(db, tenant, reward_id, "shopper")
    assert view(db, tenant, claim_id)["fulfillment_status"] == "pending"
    relay(db, on_committed=lambda _: None)
    now = view(db, tenant, claim_id)
    assert (now["status"], now["fulfillment_status"]) == ("reversed", "failed")
    (failed,) = facts_of(db, tenant, "reward.fulfillment_failed")
    assert (failed["claim_id"], failed["last_error"]) == (claim_id, ENDPOINT_DELETED)
    assert deliveries(db, eid) == {}
    with db.transaction() as session:
        assert session.get_one(Inventory, reward_id).available == 1
    assert receiver.received == []


def test_a_reward_cannot_be_pointed_at_a_deleted_endpoint(
    runtime: Runtime, tenant: TestTenant, receiver: Receiver, client: FlaskClient
) -> None:
    db = runtime.db
    live, gone = register(db, tenant, receiver, ["*"]), register(db, tenant, receiver, ["*"])
    reward_id = new_reward(db, tenant, fulfillment={"endpoint_id": live})
    delete(client, tenant, gone)
    path = f"{API}/rewards/{reward_id}"
    for request in (
        lambda body: client.patch(path, json=body, headers=tenant.auth()),
        lambda body: client.post(
            f"{API}/rewards", json={"name": "Mug", "type": "physical", **body},
            headers=tenant.auth(),
        ),
    ):  # fmt: skip
        refused = request({"fulfillment": {"endpoint_id": gone}})
        assert refused.status_code == 400 and refused.get_json()["code"] == "validation_error"
        assert [e["field"] for e in refused.get_json()["errors"]] == ["fulfillment.endpoint_id"]
    shown = client.get(path, headers=tenant.auth()).get_json()["fulfillment"]
    assert shown == {"endpoint_id": live, "on_failure": "keep"}


def test_a_claim_relayed_while_its_fulfillment_endpoint_is_disabled_waits_for_it(
    runtime: Runtime, tenant: TestTenant, receiver: Receiver
) -> None:
    db = runtime.db
    eid = register(db, tenant, receiver, ["campaign.completed"])
    reward_id = new_reward(db, tenant, codes=1, fulfillment={"endpoint_id": eid})

    def switch(enabled: bool) -> None:
        with db.transaction() as session:
            update_endpoint(session, principal=tenant.principal(), endpoint_id=eid,
                            body=EndpointPatch(enabled=enabled), allow_private=True)  # fmt: skip

    switch(False)
    claim_id = claimed(db, tenant, reward_id, "shopper")
    pk = claim_delivery(db, eid, claim_id)  # created, though the endpoint is disabled
    assert attempt(db, delivery_pk=pk, policy=POLICY) is None  # paused, not ended
    assert view(db, tenant, claim_id)["fulfillment_status"] == "pending"
    switch(True)
    assert attempt(db, delivery_pk=pk, policy=POLICY).outcome == "delivered"  # type: ignore[union-attr]
    assert view(db, tenant, claim_id)["fulfillment_status"] == "fulfilled"
    assert len(receiver.delivered()) == 1


@pytest.mark.parametrize("runner", ["round", "single attempt"])
def test_an_attempt_in_flight_during_the_delete_is_not_recorded(
    runtime: Runtime, tenant: TestTenant, receiver: Receiver, client: FlaskClient, runner: str
) -> None:
    db = runtime.db
    eid = register(db, tenant, receiver, ["*"])
    (event_id,) = facts(db, tenant, 1)
    pk = deliveries(db, eid)[event_id].id
    endpoint_pk = endpoint_of(db, pk)
    assert endpoint_pk is not None
    receiver.default = Answer(204, delay_s=1.5)
    done: list[Any] = []

    def send() -> None:
        if runner == "round":
            done.append(deliver_endpoint(db, endpoint_pk=endpoint_pk, policy=POLICY).outcomes)
        else:
            done.append(attempt(db, delivery_pk=pk, policy=POLICY) or Counter())

    sender = threading.Thread(target=send)
    sender.start()
    deadline = time.monotonic() + 10
    while deliveries(db, eid)[event_id].sending_until is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)  # leased and sent: the receiver answers 204 after 1.5 s
    delete(client, tenant, eid)
    sender.join(timeout=15)
    assert done == [Counter()]  # its late 204 was dropped
    delivery = deliveries(db, eid)[event_id]
    assert delivery.status == "failed" and delivery.sending_until is None
    log = client.get(f"{API}/webhook-endpoints/{eid}/deliveries", headers=tenant.auth())
    (shown,) = log.get_json()["deliveries"]
    assert [one["error"] for one in shown["attempts"]] == [ENDPOINT_DELETED]


def test_a_relay_racing_a_delete_leaves_no_pending_delivery_behind(
    runtime: Runtime, tenant: TestTenant, receiver: Receiver
) -> None:
    db = runtime.db
    eid = register(db, tenant, receiver, ["*"])
    rows = [
        fact(tenant_id=tenant.id, mode="live", type_="reward.inventory_low", data={}, at=utcnow())
    ]
    with db.transaction() as session:
        append(session, rows)
    relayed: list[int] = []
    with db.transaction() as session:
        delete_endpoint(session, principal=tenant.principal(), endpoint_id=eid)
        # The relay starts while the delete is uncommitted: it must wait for it, then see it.
        racer = threading.Thread(target=lambda: relayed.append(relay(db)))
        racer.start()
        time.sleep(0.5)
        assert racer.is_alive()
    racer.join(timeout=15)
    assert relayed and relayed[0] >= 1
    assert deliveries(db, eid) == {}
    with db.transaction() as session:
        pending = session.scalar(
            select(func.count())
            .select_from(WebhookDelivery)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_pk)
            .where(WebhookEndpoint.endpoint_id == eid, WebhookDelivery.status == "pending")
        )
    assert pending == 0
