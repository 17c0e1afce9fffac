"""Every claim outcome over HTTP: business errors change nothing, replays return the original."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from tests.support.client import Api
from tests.support.stack import Stack
from tests.support.tenants import TestTenant

PROBLEM_KEYS = {"type", "code", "title", "status", "detail"}


def state(api: Api, reward_id: str, participant: str) -> tuple[int, int, int | None, int]:
    """Balance, ledger length, available codes, claims held: what a refusal must not change."""
    points = api.get(f"/participants/{participant}/points").json()
    held = api.get(f"/participants/{participant}/rewards").json()["total_claimed"]
    return (
        points["balance"],
        len(points["entries"]),
        api.get(f"/rewards/{reward_id}").json()["available_codes"],
        held,
    )


def assert_refused(
    api: Api, reward_id: str, participant: str, code: str, *, deduct: bool = True
) -> None:
    before = state(api, reward_id, participant)
    response = api.claim(reward_id, participant, points_deduction=deduct)
    assert response.status_code == 409, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem.keys() >= PROBLEM_KEYS
    assert problem["type"] == problem["code"] == code and problem["status"] == 409
    assert state(api, reward_id, participant) == before


def test_each_business_error_is_structured_and_changes_nothing(api: Api) -> None:
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    earlier = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).isoformat()
    api.credit("shopper", 1000)

    deleted = api.create_reward(points_cost=100)
    api.upload(deleted["id"], ["D-1"])
    assert api.session.delete(api.url(f"/rewards/{deleted['id']}")).status_code == 204
    assert_refused(api, deleted["id"], "shopper", "reward_inactive")

    scheduled = api.create_reward(points_cost=100, starts_at=later)
    api.upload(scheduled["id"], ["S-1"])
    assert_refused(api, scheduled["id"], "shopper", "reward_inactive")

    expired = api.create_reward(points_cost=100, expires_at=earlier)
    api.upload(expired["id"], ["E-1"])
    assert_refused(api, expired["id"], "shopper", "reward_expired")

    pricey = api.create_reward(points_cost=5000)
    api.upload(pricey["id"], ["P-1"])
    assert_refused(api, pricey["id"], "shopper", "insufficient_points")

    empty = api.create_reward(points_cost=100)
    assert_refused(api, empty["id"], "shopper", "inventory_exhausted")

    once = api.create_reward(points_cost=100)
    api.upload(once["id"], ["O-1", "O-2"])
    assert api.claim(once["id"], "shopper", points_deduction=True).status_code == 201
    assert_refused(api, once["id"], "shopper", "max_claims_exceeded")


def test_a_failed_claim_reads_back_as_failed_with_its_problem(api: Api) -> None:
    reward = api.create_reward()
    response = api.claim(reward["id"], "nobody")
    assert response.json()["code"] == "inventory_exhausted"
    claims = api.get("/participants/nobody/rewards").json()
    assert claims == {"participant_id": "nobody", "rewards": [], "total_claimed": 0}
    # The claim id of a failure is only known through GET after a 202; use respond-async.
    pending = api.claim(reward["id"], "nobody", prefer="respond-async")
    assert pending.status_code == 202
    location = pending.headers["Location"]
    body = poll(api, location)
    assert body["status"] == "failed" and body["claim_id"] == pending.json()["claim_id"]
    assert body["error"]["code"] == "inventory_exhausted" and body["error"]["status"] == 409


def poll(api: Api, location: str, timeout_s: float = 15) -> dict[str, object]:
    deadline = dt.datetime.now() + dt.timedelta(seconds=timeout_s)
    while dt.datetime.now() < deadline:
        body = api.session.get(f"{api.base_url}{location}", timeout=10).json()
        if body["status"] != "pending":
            return body
    raise AssertionError(f"{location} still pending after {timeout_s}s")


def test_a_replay_returns_the_original_success_and_a_new_key_a_new_code(api: Api) -> None:
    reward = api.create_reward()
    api.upload(reward["id"], ["R-1", "R-2"])
    first = api.claim(reward["id"], "user_9", key="checkout-1")
    again = api.claim(reward["id"], "user_9", key='"checkout-1"')
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert (
        again.headers["Idempotent-Replayed"] == "true"
        and "Idempotent-Replayed" not in first.headers
    )
    assert api.get(f"/rewards/{reward['id']}").json()["available_codes"] == 1
    current = api.get(f"/claims/{first.json()['claim_id']}").json()
    assert current == {**first.json(), "fulfillment_status": "not_required"}


def test_a_replay_of_a_refusal_returns_the_same_refusal(api: Api) -> None:
    reward = api.create_reward(points_cost=100)
    api.upload(reward["id"], ["X-1"])
    first = api.claim(reward["id"], "broke", key="k-broke", points_deduction=True)
    api.credit("broke", 1000)  # even with points now, the key's outcome is fixed
    again = api.claim(reward["id"], "broke", key="k-broke", points_deduction=True)
    assert first.status_code == again.status_code == 409
    assert again.json() == first.json() and again.json()["code"] == "insufficient_points"
    assert again.headers["Idempotent-Replayed"] == "true"


def test_the_same_key_with_another_body_is_refused_and_changes_nothing(api: Api) -> None:
    reward = api.create_reward()
    api.upload(reward["id"], ["K-1", "K-2"])
    assert api.claim(reward["id"], "alice", key="shared").status_code == 201
    other = api.claim(reward["id"], "mallory", key="shared")
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert api.get("/participants/mallory/rewards").json()["total_claimed"] == 0
    assert api.get(f"/rewards/{reward['id']}").json()["available_codes"] == 1


def test_a_request_refused_before_acceptance_does_not_consume_its_key(api: Api) -> None:
    reward = api.create_reward()
    api.upload(reward["id"], ["N-1"])
    missing = api.claim("rwd_does_not_exist", "user_1", key="retry-me")
    assert missing.status_code == 404 and missing.json()["code"] == "reward_not_found"
    assert api.claim(reward["id"], "user_1", key="retry-me").status_code == 201


def test_keys_are_scoped_to_tenant_and_mode(stack: Stack, tenant: TestTenant, api: Api) -> None:
    test_mode = Api(stack.base_url, tenant.key("test", "admin"))
    live_reward, test_reward = api.create_reward(), test_mode.create_reward()
    api.upload(live_reward["id"], ["L-1"])
    test_mode.upload(test_reward["id"], ["T-1"])
    key = f"same-{uuid.uuid4().hex}"
    assert api.claim(live_reward["id"], "u", key=key).json()["code_value"] == "L-1"
    assert test_mode.claim(test_reward["id"], "u", key=key).json()["code_value"] == "T-1"
    assert test_mode.get(f"/rewards/{live_reward['id']}").status_code == 404


@pytest.mark.parametrize("prefer", ["respond-async", "wait=0"])
def test_respond_async_answers_202_with_a_location_that_resolves(api: Api, prefer: str) -> None:
    reward = api.create_reward(points_cost=10)
    api.upload(reward["id"], ["A-1"])
    api.credit("async", 100)
    response = api.claim(reward["id"], "async", points_deduction=True, prefer=prefer)
    assert response.status_code == 202
    body = response.json()
    assert body == {"claim_id": body["claim_id"], "status": "pending"}
    assert response.headers["Location"] == f"/api/v1/gamify/claims/{body['claim_id']}"
    final = poll(api, response.headers["Location"])
    assert (
        final["status"] == "succeeded"
        and final["code_value"] == "A-1"
        and final["new_balance"] == 90
    )


def test_participant_rewards_list_newest_first_with_the_seed_record_shape(
    api: Api, server_api: Api
) -> None:
    first, second = api.create_reward(name="First"), api.create_reward(name="Second")
    api.upload(first["id"], ["F-1"])
    api.upload(second["id"], ["S-1"])
    api.claim(first["id"], "collector")
    api.claim(second["id"], "collector")
    listing = server_api.get("/participants/collector/rewards").json()  # a storefront's key
    assert listing["total_claimed"] == 2
    assert [r["reward_name"] for r in listing["rewards"]] == ["Second", "First"]
    record_keys = {"claim_id", "reward_id", "reward_name", "reward_type", "code_value"}
    assert set(listing["rewards"][0]) == record_keys | {"claimed_at", "expires_at"}
    # An admin key's records add status and fulfillment_status (docs/api-extensions.md).
    admin_record = api.get("/participants/collector/rewards").json()["rewards"][0]
    assert set(admin_record) == set(listing["rewards"][0]) | {"status", "fulfillment_status"}


def test_a_server_key_can_claim_and_read_but_not_administer(server_api: Api, api: Api) -> None:
    reward = api.create_reward()
    api.upload(reward["id"], ["SV-1"])
    claimed = server_api.claim(reward["id"], "via-server")
    assert claimed.status_code == 201 and claimed.json()["code_value"] == "SV-1"
    refused = server_api.post("/rewards", {"name": "x", "type": "coupon"})
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
