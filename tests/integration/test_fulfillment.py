"""Fulfillment (CONTRACT §7) on real PostgreSQL with a real receiver on 127.0.0.1.

Claims are decided by the claim core (as the worker does), facts relayed by the outbox
relay and delivered by real HTTP attempts with a compressed retry schedule (no Celery
here); the late report goes through the real Flask app.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from core.claims.queries import claim_status
from core.db import Database
from core.models import Claim, Fact, Inventory, Reward, WebhookDelivery, WebhookEndpoint
from core.runtime import Runtime
from core.webhooks.dispatch import DeliveryPolicy, attempt, deliver_endpoint, endpoint_of
from core.webhooks.endpoints import create_endpoint
from core.webhooks.inputs import EndpointCreate
from core.webhooks.relay import relay
from core.webhooks.removal import delete_endpoint
from tests.support.claims import accept, balance_and_ledger, credit, drain_all, new_reward
from tests.support.receiver import Answer, Receiver
from tests.support.tenants import TestTenant

API = "/api/v1/gamify"
POLICY = DeliveryPolicy(timeout_s=2, allow_private=True, schedule=(0, 0, 0))  # 4 attempts


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def endpoint(
    db: Database,
    tenant: TestTenant,
    url: str,
    *,
    events: list[str],
    mode: str = "live",
    receiver: Receiver | None = None,
) -> str:
    body = EndpointCreate(url=url, event_types=events)  # type: ignore[arg-type]
    with db.transaction() as session:
        made = create_endpoint(
            session, principal=tenant.principal(mode), body=body, allow_private=True
        )
    if receiver is not None:
        receiver.secrets.append(made["secret"])  # so it verifies what it receives
    return str(made["id"])


def fulfilled_reward(
    db: Database, tenant: TestTenant, endpoint_id: str, on_failure: str = "keep", **fields: Any
) -> str:
    chosen = {"endpoint_id": endpoint_id, "on_failure": on_failure}
    return new_reward(db, tenant, fulfillment=chosen, **fields)


def claimed(db: Database, tenant: TestTenant, reward_id: str, who: str, **kw: Any) -> str:
    claim_id = accept(db, tenant, reward_id, who, **kw).resource_id or ""
    drain_all(db)
    return claim_id


def view(db: Database, tenant: TestTenant, claim_id: str) -> dict[str, Any]:
    with db.transaction() as session:
        return claim_status(session, principal=tenant.principal(), claim_id=claim_id)


def deliveries_of(db: Database, claim_id: str) -> dict[str, int]:
    """Relay what is pending; endpoint id -> delivery pk of this claim's reward_claimed fact."""
    relay(db, on_committed=lambda _: None)
    with db.transaction() as session:
        rows = session.execute(
            select(WebhookEndpoint.endpoint_id, WebhookDelivery.id)
            .join(WebhookDelivery, WebhookDelivery.endpoint_pk == WebhookEndpoint.id)
            .join(Fact, Fact.id == WebhookDelivery.fact_id)
            .where(
                Fact.type == "reward.reward_claimed", Fact.data["claim_id"].as_string() == claim_id
            )
        ).all()
    return {endpoint_id: pk for endpoint_id, pk in rows}


def run_out(db: Database, delivery_pk: int) -> list[str]:
    """Attempt a delivery until it is delivered or fails for good; the outcomes."""
    outcomes: list[str] = []
    while (done := attempt(db, delivery_pk=delivery_pk, policy=POLICY)) is not None:
        outcomes.append(done.outcome)
    return outcomes


def facts_of(db: Database, tenant: TestTenant, type_: str) -> list[dict[str, Any]]:
    with db.transaction() as session:
        found = session.scalars(
            select(Fact.data)
            .where(Fact.tenant_id == tenant.id, Fact.type == type_)
            .order_by(Fact.id)
        )
        return list(found)


def test_a_delivered_claim_is_fulfilled_even_if_the_endpoint_subscribes_to_other_types(
    runtime: Runtime, tenant: TestTenant, receiver: Receiver
) -> None:
    db = runtime.db
    eid = endpoint(db, tenant, receiver.url, events=["campaign.completed"], receiver=receiver)
    reward_id = fulfilled_reward(db, tenant, eid, codes=2)
    claim_id = claimed(db, tenant, reward_id, "shopper")
    assert view(db, tenant, claim_id)["fulfillment_status"] == "pending"
    deliveries = deliveries_of(db, claim_id)
    assert list(deliveries) == [eid]
    assert run_out(db, deliveries[eid]) == ["delivered"]
    (got,) = receiver.received
    assert got.payload["type"] == "reward.reward_claimed"
    assert got.payload["data"]["claim_id"] == claim_id
    now = view(db, tenant, claim_id)
    assert (now["status"], now["fulfillment_status"]) == ("succeeded", "fulfilled")


def test_a_subscriber_that_is_also_the_fulfillment_endpoint_gets_one_delivery(
    runtime: Runtime, tenant: TestTenant, receiver: Receiver
) -> None:
    db = runtime.db
    eid = endpoint(db, tenant, receiver.url, events=["reward.reward_claimed"])
    reward_id = fulfilled_reward(db, tenant, eid, codes=1)
    claim_id = claimed(db, tenant, reward_id, "shopper")
    deliveries = deliveries_of(db, claim_id)
    assert list(deliveries) == [eid]
    assert run_out(db, deliveries[eid]) == ["delivered"]
    assert len(receiver.received) == 1
    assert view(db, tenant, claim_id)["fulfillment_status"] == "fulfilled"


def test_rewards_without_fulfillment_stay_not_required_whatever_is_delivered(
    runtime: Runtime, tenant: TestTenant, receiver: Receiver
) -> None:
    db = runtime.db
    eid = endpoint(db, tenant, receiver.url, events=["*"])
    other = endpoint(db, tenant, receiver.url, events=["campaign.completed"])
    claim_id = claimed(db, tenant, new_reward(db, tenant, codes=1), "shopper")
    assert view(db, tenant, claim_id)["fulfillment_status"] == "not_required"
    deliveries = deliveries_of(db, claim_id)
    assert list(deliveries) == [eid]  # the other endpoint fulfils nothing: no delivery
    assert other not in deliveries
    assert run_out(db, deliveries[eid]) == ["delivered"]
    assert view(db, tenant, claim_id)["fulfillment_status"] == "not_required"


def test_failing_every_attempt_with_keep_fails_fulfillment_and_appends_the_fact(
    runtime: Runtime, tenant: TestTenant, receiver: Receiver
) -> None:
    db = runtime.db
    receiver.default = Answer(500)
    eid = endpoint(db, tenant, receiver.url, events=["campaign.completed"])
    reward_id = fulfilled_reward(db, tenant, eid, "keep", codes=1)
    claim_id = claimed(db, tenant, reward_id, "shopper")
    pk = deliveries_of(db, claim_id)[eid]
    assert run_out(db, pk) == ["retrying"] * 3 + ["failed"]
    now = view(db, tenant, claim_id)
    assert (now["status"], now["fulfillment_status"]) == ("succeeded", "failed")
    assert facts_of(db, tenant, "reward.fulfillment_failed") == [
        {
            "claim_id": claim_id,
            "participant_id": "shopper",
            "reward_id": reward_id,
            "endpoint_id": eid,
            "last_error": "HTTP 500",
        }
    ]
    assert facts_of(db, tenant, "reward.claim_reversed") == []


@pytest.mark.parametrize("on_failure", ["keep", "reverse"])
@pytest.mark.parametrize("path", ["rounds", "single attempts"])
def test_a_fulfillment_delivery_that_fails_for_good_ends_failed_and_is_never_tried_again(
    runtime: Runtime, tenant: TestTenant, receiver: Receiver, on_failure: str, path: str
) -> None:
    """The delivery row itself ends `failed` (attempt count, no next attempt), whichever
    path sent it; deciding the claim's fulfillment must not undo that (it once did: the
    delivery stayed pending and was attempted again and again)."""
    db = runtime.db
    receiver.default = Answer(500)
    eid = endpoint(db, tenant, receiver.url, events=["campaign.completed"])
    reward_id = fulfilled_reward(db, tenant, eid, on_failure, codes=1)
    claim_id = claimed(db, tenant, reward_id, "shopper")
    pk = deliveries_of(db, claim_id)[eid]
    if path == "rounds":
        endpoint_pk = endpoint_of(db, pk)
        assert endpoint_pk is not None
        for _ in range(len(POLICY.schedule) + 1):
            deliver_endpoint(db, endpoint_pk=endpoint_pk, policy=POLICY)
        again = deliver_endpoint(db, endpoint_pk=endpoint_pk, policy=POLICY)
        assert again.rounds == 0  # nothing was due any more
    else:
        assert run_out(db, pk) == ["retrying"] * 3 + ["failed"]
    with db.transaction() as session:
        row = session.get_one(WebhookDelivery, pk)
        assert (row.status, row.attempt_count, row.next_attempt_at) == ("failed", 4, None)
        assert row.finished_at is not None
    assert len(receiver.received) == 4
    assert view(db, tenant, claim_id)["fulfillment_status"] == "failed"
    assert len(facts_of(db, tenant, "reward.fulfillment_failed")) == 1


def test_failing_every_attempt_with_reverse_reverses_refunds_restocks_and_frees_the_slot(
    runtime: Runtime, tenant: TestTenant, receiver: Receiver
) -> None:
    db = runtime.db
    receiver.default = Answer(503)
    eid = endpoint(db, tenant, receiver.url, events=["campaign.completed"])
    reward_id = fulfilled_reward(db, tenant, eid, "reverse", codes=1, points_cost=40)
    credit(db, tenant, "shopper", 100)
    claim_id = claimed(db, tenant, reward_id, "shopper", deduct=True)
    first = view(db, tenant, claim_id)
    assert first["points_deducted"] == 40 and first["fulfillment_status"] == "pending"
    assert run_out(db, deliveries_of(db, claim_id)[eid])[-1] == "failed"
    now = view(db, tenant, claim_id)
    assert (now["status"], now["fulfillment_status"]) == ("reversed", "failed")
    assert now["reversal"]["reason"] == "fulfillment_failed"
    assert now["reversal"]["restocked"] is True and now["reversal"]["points_refunded"] == 40
    assert balance_and_ledger(db, tenant, "shopper") == (100, 100)
    (failed,) = facts_of(db, tenant, "reward.fulfillment_failed")
    assert failed["claim_id"] == claim_id and failed["last_error"] == "HTTP 503"
    (reversed_,) = facts_of(db, tenant, "reward.claim_reversed")
    assert reversed_["reason"] == "fulfillment_failed" and reversed_["restocked"] is True
    with db.transaction() as session:
        assert session.get_one(Inventory, reward_id).available == 1
    # The slot (max_claims_per_user 1) and the one code are free again.
    again = claimed(db, tenant, reward_id, "shopper", deduct=True)
    assert view(db, tenant, again)["code_value"] == first["code_value"]
    assert view(db, tenant, again)["fulfillment_status"] == "pending"


def test_a_late_report_marks_a_failed_claim_fulfilled_and_keeps_the_reference(
    runtime: Runtime, tenant: TestTenant, receiver: Receiver, client: FlaskClient
) -> None:
    db = runtime.db
    receiver.default = Answer(500)
    eid = endpoint(db, tenant, receiver.url, events=["campaign.completed"])
    claim_id = claimed(db, tenant, fulfilled_reward(db, tenant, eid, codes=1), "shopper")
    run_out(db, deliveries_of(db, claim_id)[eid])
    assert view(db, tenant, claim_id)["fulfillment_status"] == "failed"
    path = f"{API}/claims/{claim_id}/fulfillment"
    body = {"status": "fulfilled", "reference": "UPS-1Z999"}
    server = client.post(path, json=body, headers=tenant.auth("live", "server"))
    assert server.status_code == 403
    answered = client.post(path, json=body, headers=tenant.auth())
    assert answered.status_code == 200, answered.get_data(as_text=True)
    assert answered.get_json()["fulfillment_status"] == "fulfilled"
    read = client.get(f"{API}/claims/{claim_id}", headers=tenant.auth("live", "server"))
    assert read.get_json()["fulfillment_status"] == "fulfilled"
    with db.transaction() as session:
        stored = session.scalars(select(Claim).where(Claim.claim_id == claim_id)).one()
        assert stored.fulfillment_reference == "UPS-1Z999"


def test_a_late_report_of_fulfilled_wins_over_a_pending_delivery(
    runtime: Runtime, tenant: TestTenant, receiver: Receiver, client: FlaskClient
) -> None:
    db = runtime.db
    receiver.default = Answer(500)
    eid = endpoint(db, tenant, receiver.url, events=["campaign.completed"])
    claim_id = claimed(db, tenant, fulfilled_reward(db, tenant, eid, "reverse", codes=1), "s")
    pk = deliveries_of(db, claim_id)[eid]
    answered = client.post(
        f"{API}/claims/{claim_id}/fulfillment", json={"status": "fulfilled"}, headers=tenant.auth()
    )
    assert answered.status_code == 200
    assert run_out(db, pk)[-1] == "failed"  # the delivery fails later: the report stands
    now = view(db, tenant, claim_id)
    assert (now["status"], now["fulfillment_status"]) == ("succeeded", "fulfilled")
    assert facts_of(db, tenant, "reward.fulfillment_failed") == []


def test_a_report_of_failed_is_a_final_failure_and_a_reversed_claim_takes_no_report(
    runtime: Runtime, tenant: TestTenant, receiver: Receiver, client: FlaskClient
) -> None:
    db = runtime.db
    eid = endpoint(db, tenant, receiver.url, events=["campaign.completed"])
    claim_id = claimed(db, tenant, fulfilled_reward(db, tenant, eid, "reverse", codes=1), "s")
    path = f"{API}/claims/{claim_id}/fulfillment"
    failed = client.post(
        path, json={"status": "failed", "reference": "lost"}, headers=tenant.auth()
    )
    assert failed.status_code == 200, failed.get_data(as_text=True)
    assert (failed.get_json()["status"], failed.get_json()["fulfillment_status"]) == (
        "reversed",
        "failed",
    )
    (fact,) = facts_of(db, tenant, "reward.fulfillment_failed")
    assert fact["last_error"] == "reported failed: lost"
    refused = client.post(path, json={"status": "fulfilled"}, headers=tenant.auth())
    assert refused.status_code == 409
    assert refused.get_json()["code"] == "fulfillment_not_changeable"
    # The delivery succeeding later does not revive a reversed claim either.
    assert run_out(db, deliveries_of(db, claim_id)[eid]) == ["delivered"]
    assert view(db, tenant, claim_id)["fulfillment_status"] == "failed"


def test_a_claim_without_fulfillment_takes_no_report_and_changes_nothing(
    runtime: Runtime, tenant: TestTenant, client: FlaskClient
) -> None:
    db = runtime.db
    claim_id = claimed(db, tenant, new_reward(db, tenant, codes=1), "shopper")
    refused = client.post(
        f"{API}/claims/{claim_id}/fulfillment", json={"status": "failed"}, headers=tenant.auth()
    )
    assert refused.status_code == 409
    assert refused.get_json()["code"] == "fulfillment_not_changeable"
    assert view(db, tenant, claim_id)["fulfillment_status"] == "not_required"
    assert facts_of(db, tenant, "reward.fulfillment_failed") == []


def test_a_definition_must_name_an_endpoint_of_its_own_tenant_and_mode(
    runtime: Runtime, tenant: TestTenant, other_tenant: TestTenant, client: FlaskClient
) -> None:
    db = runtime.db
    url = "http://127.0.0.1:9/hook"
    theirs = endpoint(db, other_tenant, url, events=["*"])
    test_mode = endpoint(db, tenant, url, events=["*"], mode="test")
    gone = endpoint(db, tenant, url, events=["*"])
    with db.transaction() as session:
        delete_endpoint(session, principal=tenant.principal(), endpoint_id=gone)
    ours = endpoint(db, tenant, url, events=["*"])
    before = _rewards(db, tenant)
    for endpoint_id in (theirs, test_mode, gone, "whe_nope"):
        body = {"name": "Mug", "type": "physical", "fulfillment": {"endpoint_id": endpoint_id}}
        refused = client.post(f"{API}/rewards", json=body, headers=tenant.auth())
        assert refused.status_code == 400, endpoint_id
        assert refused.get_json()["code"] == "validation_error"
        assert [e["field"] for e in refused.get_json()["errors"]] == ["fulfillment.endpoint_id"]
    for bad in ({"endpoint_id": ours, "on_failure": "refund"}, {"on_failure": "keep"}):
        body = {"name": "Mug", "type": "physical", "fulfillment": bad}
        assert client.post(f"{API}/rewards", json=body, headers=tenant.auth()).status_code == 400
    assert _rewards(db, tenant) == before
    made = client.post(
        f"{API}/rewards",
        json={"name": "Mug", "type": "physical", "fulfillment": {"endpoint_id": ours}},
        headers=tenant.auth(),
    )
    assert made.status_code == 201, made.get_data(as_text=True)
    assert made.get_json()["fulfillment"] == {"endpoint_id": ours, "on_failure": "keep"}
    reward_path = f"{API}/rewards/{made.get_json()['id']}"
    patched = client.patch(
        reward_path, json={"fulfillment": {"endpoint_id": theirs}}, headers=tenant.auth()
    )
    assert patched.status_code == 400
    assert patched.get_json()["errors"][0]["field"] == "fulfillment.endpoint_id"
    assert (
        client.get(reward_path, headers=tenant.auth()).get_json()["fulfillment"]["endpoint_id"]
        == ours
    )
    cleared = client.patch(reward_path, json={"fulfillment": None}, headers=tenant.auth())
    assert cleared.status_code == 200 and cleared.get_json()["fulfillment"] is None
    # Server keys see no admin-only member at all.
    assert (
        "fulfillment"
        not in client.get(reward_path, headers=tenant.auth("live", "server")).get_json()
    )


def _rewards(db: Database, tenant: TestTenant) -> int:
    with db.transaction() as session:
        return (
            session.scalar(
                select(func.count()).select_from(Reward).where(Reward.tenant_id == tenant.id)
            )
            or 0
        )
