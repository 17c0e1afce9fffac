"""The claim endpoint up to acceptance: refusals that never record the key, and 202 answers.

No worker runs here: every accepted claim is sent with `Prefer: respond-async`
and stays pending.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from core.runtime import Runtime
from core.schemas import ClaimPending
from tests.api.conftest import (
    Caller,
    assert_problem,
    error_fields,
    new_id,
    requests_under_key,
)
from tests.support.tenants import TestTenant


@pytest.fixture
def reward_id(admin: Caller) -> str:
    reward = admin.create_reward()
    admin.upload(reward["id"], [f"{reward['id']}-1", f"{reward['id']}-2"])
    return reward["id"]


def test_an_accepted_claim_answers_202_pending_with_its_location(
    server: Caller, reward_id: str, runtime: Runtime, tenant: TestTenant
) -> None:
    key = new_id("key")

    response = server.claim(reward_id, {"participant_id": new_id()}, key=key)

    assert response.status_code == 202
    assert list(response.json) == list(ClaimPending.model_fields)
    assert response.json["status"] == "pending"
    assert response.json["claim_id"].startswith("clm_")
    assert response.headers["Location"] == f"/api/v1/gamify/claims/{response.json['claim_id']}"
    assert response.headers["Preference-Applied"] == "respond-async"
    assert requests_under_key(runtime, tenant, key) == 1
    status = server.get(f"/claims/{response.json['claim_id']}")
    assert status.json == {"claim_id": response.json["claim_id"], "status": "pending"}


def test_a_claim_without_an_idempotency_key_is_refused(
    server: Caller, reward_id: str, admin: Caller
) -> None:
    response = server.claim(reward_id, {"participant_id": new_id()}, key=None)

    assert_problem(response, 400, "idempotency_key_missing")
    assert admin.reward(reward_id)["available_codes"] == 2


@pytest.mark.parametrize("key", ["", '""', "k" * 256, '"' + "k" * 256 + '"', "naïve"])
def test_an_empty_or_overlong_key_is_a_validation_error_and_not_recorded(
    server: Caller, reward_id: str, runtime: Runtime, tenant: TestTenant, key: str
) -> None:
    response = server.claim(reward_id, {"participant_id": new_id()}, key=key)

    assert error_fields(response) == {"Idempotency-Key"}
    assert requests_under_key(runtime, tenant, key) == 0


def test_a_key_of_exactly_255_characters_is_accepted(
    server: Caller, reward_id: str, runtime: Runtime, tenant: TestTenant
) -> None:
    key = new_id("key").ljust(255, "k")

    response = server.claim(reward_id, {"participant_id": new_id()}, key=key)

    assert response.status_code == 202
    assert requests_under_key(runtime, tenant, key) == 1


def test_a_claim_of_an_unknown_reward_is_404_and_does_not_consume_its_key(
    server: Caller, reward_id: str, runtime: Runtime, tenant: TestTenant
) -> None:
    key, participant = new_id("key"), new_id()

    missing = server.claim(
        "rwd_00000000000000000000000000", {"participant_id": participant}, key=key
    )

    assert_problem(missing, 404, "reward_not_found")
    assert requests_under_key(runtime, tenant, key) == 0
    fresh = server.claim(reward_id, {"participant_id": participant}, key=key)
    assert fresh.status_code == 202
    assert "Idempotent-Replayed" not in fresh.headers


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "participant_id"),
        ({"participant_id": ""}, "participant_id"),
        ({"participant_id": "p" * 256}, "participant_id"),
        ({"participant_id": 42}, "participant_id"),
        ({"participant_id": None}, "participant_id"),
        ({"participant_id": "nul\u0000"}, "participant_id"),
        ({"participant_id": "u", "points_deduction": "true"}, "points_deduction"),
        ({"participant_id": "u", "points_deduction": 1}, "points_deduction"),
        ({"participant_id": "u", "points_deduction": None}, "points_deduction"),
        ({"participant_id": "u", "quantity": 2}, "quantity"),
        (["u"], "body"),
    ],
)
def test_a_bad_claim_body_is_a_validation_error_and_does_not_consume_its_key(
    server: Caller, reward_id: str, recorded: Callable[[str], int], body: Any, field: str
) -> None:
    key = new_id("key")

    response = server.claim(reward_id, body, key=key)

    assert error_fields(response) == {field}
    assert recorded(key) == 0


def test_malformed_json_in_a_claim_is_a_validation_error(
    server: Caller, reward_id: str, runtime: Runtime, tenant: TestTenant
) -> None:
    key = new_id("key")

    response = server.post(
        f"/rewards/{reward_id}/claim",
        data=b'{"participant_id": ',
        headers={"Idempotency-Key": key, "Content-Type": "application/json"},
    )

    assert error_fields(response) == {"body"}
    assert requests_under_key(runtime, tenant, key) == 0


def test_the_same_key_with_a_different_body_is_422(
    server: Caller, reward_id: str, runtime: Runtime, tenant: TestTenant
) -> None:
    key, participant = new_id("key"), new_id()
    first = server.claim(reward_id, {"participant_id": participant}, key=key)
    assert first.status_code == 202

    other_participant = server.claim(reward_id, {"participant_id": new_id()}, key=key)
    with_deduction = server.claim(
        reward_id, {"participant_id": participant, "points_deduction": True}, key=key
    )

    assert_problem(other_participant, 422, "idempotency_key_reused")
    assert_problem(with_deduction, 422, "idempotency_key_reused")
    assert requests_under_key(runtime, tenant, key) == 1


def test_the_same_key_on_another_reward_is_422(
    server: Caller, admin: Caller, reward_id: str
) -> None:
    key, participant = new_id("key"), new_id()
    other = admin.create_reward()["id"]
    assert server.claim(reward_id, {"participant_id": participant}, key=key).status_code == 202

    response = server.claim(other, {"participant_id": participant}, key=key)

    assert_problem(response, 422, "idempotency_key_reused")


def test_a_replay_of_a_pending_claim_is_202_with_the_same_claim_id(
    server: Caller, reward_id: str
) -> None:
    key, participant = new_id("key"), new_id()
    first = server.claim(reward_id, {"participant_id": participant}, key=key)

    # Prefer is not part of the request, and an explicit default is no change.
    replay = server.claim(
        reward_id,
        {"participant_id": participant, "points_deduction": False},
        key=key,
        prefer="wait=0",
    )

    assert replay.status_code == 202
    assert replay.json == first.json
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.headers["Location"] == first.headers["Location"]


def test_a_quoted_key_is_the_same_claim_key_as_the_bare_one(server: Caller, reward_id: str) -> None:
    key, participant = new_id("key"), new_id()
    first = server.claim(reward_id, {"participant_id": participant}, key=f'"{key}"')

    replay = server.claim(reward_id, {"participant_id": participant}, key=key)

    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json["claim_id"] == first.json["claim_id"]


def test_claim_keys_are_scoped_to_tenant_and_mode(
    admin: Caller, test_admin: Caller, other_admin: Caller
) -> None:
    key, participant = new_id("key"), new_id()
    claim_ids = set()

    for caller in (admin, test_admin, other_admin):
        reward = caller.create_reward()
        response = caller.claim(reward["id"], {"participant_id": participant}, key=key)
        assert response.status_code == 202
        assert "Idempotent-Replayed" not in response.headers
        claim_ids.add(response.json["claim_id"])

    assert len(claim_ids) == 3


def test_a_claim_id_of_another_tenant_or_mode_is_not_found(
    server: Caller, reward_id: str, other_admin: Caller, test_admin: Caller
) -> None:
    claim_id = server.claim(reward_id, {"participant_id": new_id()}, key=new_id("key")).json[
        "claim_id"
    ]

    assert_problem(other_admin.get(f"/claims/{claim_id}"), 404, "claim_not_found")
    assert_problem(test_admin.get(f"/claims/{claim_id}"), 404, "claim_not_found")
    assert server.get(f"/claims/{claim_id}").status_code == 200


def test_a_claim_on_a_deactivated_reward_is_still_accepted_for_the_worker_to_refuse(
    server: Caller, admin: Caller, reward_id: str
) -> None:
    admin.delete(f"/rewards/{reward_id}")

    response = server.claim(reward_id, {"participant_id": new_id()}, key=new_id("key"))

    # reward_inactive is a business outcome, decided by the worker, not a refusal here.
    assert response.status_code == 202
    assert response.json["status"] == "pending"
