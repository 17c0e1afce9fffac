"""Fulfillment (CONTRACT §7) through the whole stack: gunicorn, a Celery worker and beat
delivering on a compressed schedule to verifying receivers on 127.0.0.1."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.test_webhooks import hook_stack, receiver  # noqa: F401  # fixtures
from tests.support.client import Api
from tests.support.receiver import Answer, Receiver
from tests.support.stack import Stack
from tests.support.tenants import make_tenant

pytestmark = pytest.mark.slow
Database = Any


def eventually(read: Callable[[], Any], until: Callable[[Any], bool], timeout_s: float = 40) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = read()
        if until(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def test_a_claim_is_fulfilled_or_reversed_by_its_delivery(
    hook_stack: tuple[Stack, Database],  # noqa: F811
    receiver: Receiver,  # noqa: F811
) -> None:
    stack, db = hook_stack
    api = Api(stack.base_url, make_tenant(db).key())
    made = api.post(
        "/webhook-endpoints", {"url": receiver.url, "event_types": ["campaign.completed"]}
    )
    assert made.status_code == 201, made.text
    receiver.secrets.append(made.json()["secret"])
    endpoint_id = made.json()["id"]
    with Receiver() as failing:
        failing.default = Answer(500)
        bad = api.post(
            "/webhook-endpoints", {"url": failing.url, "event_types": ["campaign.completed"]}
        )
        failing.secrets.append(bad.json()["secret"])
        shipped = api.create_reward(fulfillment={"endpoint_id": endpoint_id, "on_failure": "keep"})
        lost = api.create_reward(
            points_cost=30, fulfillment={"endpoint_id": bad.json()["id"], "on_failure": "reverse"}
        )
        for reward in (shipped, lost):
            api.upload(reward["id"], [f"C-{uuid.uuid4().hex[:10]}"])
        api.credit("buyer", 100)
        ok = api.claim(shipped["id"], "buyer")
        doomed = api.claim(lost["id"], "buyer", points_deduction=True)
        assert (ok.status_code, doomed.status_code) == (201, 201), (ok.text, doomed.text)
        assert doomed.json()["new_balance"] == 70

        def read(claim: dict[str, Any]) -> Callable[[], dict[str, Any]]:
            return lambda: api.get(f"/claims/{claim['claim_id']}").json()

        fulfilled = eventually(read(ok.json()), lambda c: c["fulfillment_status"] != "pending")
        assert fulfilled["fulfillment_status"] == "fulfilled"
        (got,) = receiver.wait_for(1).values()
        assert got.payload["data"]["claim_id"] == ok.json()["claim_id"]
        reversed_ = eventually(read(doomed.json()), lambda c: c["status"] == "reversed")
        assert (reversed_["status"], reversed_["fulfillment_status"]) == ("reversed", "failed")
        assert reversed_["reversal"]["reason"] == "fulfillment_failed"
        assert len(failing.received) == 4  # the first attempt and the three retries
    assert api.get("/participants/buyer/points").json()["balance"] == 100
    assert api.get(f"/rewards/{lost['id']}").json()["available_codes"] == 1
    facts = api.get("/events?type=reward.fulfillment_failed").json()["events"]
    assert [f["data"]["claim_id"] for f in facts] == [doomed.json()["claim_id"]]


def test_deleting_the_fulfillment_endpoint_ends_its_retries_and_reverses_the_claim(
    hook_stack: tuple[Stack, Database],  # noqa: F811
    receiver: Receiver,  # noqa: F811
) -> None:
    stack, db = hook_stack
    api = Api(stack.base_url, make_tenant(db).key())
    watching = {"url": receiver.url, "event_types": ["reward.fulfillment_failed"]}
    watcher = api.post("/webhook-endpoints", watching)
    receiver.secrets.append(watcher.json()["secret"])
    with Receiver() as failing:
        failing.default = Answer(503, headers={"Retry-After": "2"})  # retried 2 s later
        made = api.post(
            "/webhook-endpoints", {"url": failing.url, "event_types": ["campaign.completed"]}
        )
        endpoint_id = made.json()["id"]
        reward = api.create_reward(
            points_cost=30, fulfillment={"endpoint_id": endpoint_id, "on_failure": "reverse"}
        )
        api.upload(reward["id"], [f"C-{uuid.uuid4().hex[:10]}"])
        api.credit("buyer", 100)
        claim = api.claim(reward["id"], "buyer", points_deduction=True).json()
        eventually(lambda: len(failing.received), lambda n: n >= 1)
        path = f"/webhook-endpoints/{endpoint_id}"
        gone = api.session.delete(api.url(path), timeout=30)
        assert gone.status_code == 204
        now = api.get(f"/claims/{claim['claim_id']}").json()  # decided by the delete itself
        assert (now["status"], now["fulfillment_status"]) == ("reversed", "failed")
        (told,) = receiver.wait_for(1).values()  # the fact, relayed after the delete's commit
        assert told.payload["data"]["last_error"] == "endpoint deleted"
        (shown,) = api.get(f"{path}/deliveries").json()["deliveries"]
        assert shown["status"] == "failed"
        assert [a["error"] for a in shown["attempts"]][-1] == "endpoint deleted"
        time.sleep(4)  # the retry was due 2 s after the first attempt: it never goes out
        assert len(failing.received) == 1
    assert api.get("/participants/buyer/points").json()["balance"] == 100
    assert api.get(f"/rewards/{reward['id']}").json()["available_codes"] == 1
