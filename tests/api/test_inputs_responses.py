"""Response framing: no Content-Type without content, and one format for every problem."""

from __future__ import annotations

import json
import re
import threading
import time

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from core.claims.drain import Drain
from core.runtime import Runtime
from tests.api.conftest import GAMIFY, Caller, assert_problem, limits_changed, new_id
from tests.support.receiver import register
from tests.support.tenants import TestTenant

PROBLEM_MEMBERS = ["type", "code", "title", "status", "detail"]


def assert_empty_without_content_type(response: TestResponse) -> None:
    assert response.get_data() == b""
    assert "Content-Type" not in response.headers, response.headers
    assert response.headers.get("Content-Length", "0") == "0"


# Every 204 Coffer answers: DELETE /rewards/{id}, the first time and again.


def test_deactivating_a_reward_is_204_without_a_body_or_content_type(admin: Caller) -> None:
    reward = admin.create_reward()

    first = admin.delete(f"/rewards/{reward['id']}")
    again = admin.delete(f"/rewards/{reward['id']}")

    for response in (first, again):
        assert response.status_code == 204
        assert_empty_without_content_type(response)
    assert admin.reward(reward["id"])["status"] == "inactive"


def test_no_route_answers_204_with_a_content_type(
    app: Flask, admin: Caller, runtime: Runtime, tenant: TestTenant
) -> None:
    """Every DELETE route (the methods that answer 204), on a real object."""
    deletes = [rule.rule for rule in app.url_map.iter_rules() if "DELETE" in (rule.methods or ())]
    # The endpoint is registered through core: the session app refuses 127.0.0.1 URLs.
    objects = {
        f"{GAMIFY}/rewards/<reward_id>": lambda: str(admin.create_reward()["id"]),
        f"{GAMIFY}/webhook-endpoints/<endpoint_id>": lambda: register(
            runtime.db, tenant, "http://127.0.0.1:9/hooks"
        ),
    }
    assert sorted(deletes) == sorted(objects)
    for rule, make in objects.items():
        response = admin.client.delete(re.sub(r"<\w+>", make(), rule), headers=admin.headers)
        assert response.status_code == 204, rule
        assert_empty_without_content_type(response)


def test_an_options_answer_is_empty_and_claims_no_media_type(admin: Caller) -> None:
    response = admin.client.options(f"{GAMIFY}/rewards", headers=admin.headers)
    assert response.status_code == 200
    assert {"GET", "POST"} <= set(response.headers["Allow"].replace(" ", "").split(","))
    assert_empty_without_content_type(response)


def test_a_head_answer_keeps_the_media_type_of_its_get(admin: Caller) -> None:
    response = admin.client.head(f"{GAMIFY}/rewards", headers=admin.headers)
    assert response.status_code == 200
    assert response.mimetype == "application/json"


# One serializer for every problem: the error handlers and the claim route's failures.


def assert_canonical_problem(response: TestResponse) -> list[str]:
    """The body exactly as the one serializer writes it; returns its member names."""
    raw = response.get_data(as_text=True)
    problem = json.loads(raw)
    assert raw == json.dumps(problem, separators=(",", ":")) + "\n", raw
    assert list(problem)[:5] == PROBLEM_MEMBERS
    return list(problem)


def drain_now(runtime: Runtime) -> int:
    return Drain(runtime.db, runtime.publisher, batch_size=100).run().decided


def test_a_claim_failure_and_its_replay_are_formatted_like_every_other_problem(
    app: Flask, admin: Caller, server: Caller, runtime: Runtime
) -> None:
    reward, key = admin.create_reward(), new_id("key")  # no codes: inventory_exhausted
    body = {"participant_id": new_id()}
    accepted = server.claim(reward["id"], body, key=key)
    assert accepted.status_code == 202
    drain_now(runtime)

    replay = server.claim(reward["id"], body, key=key)

    assert_problem(replay, 409, "inventory_exhausted")
    assert replay.headers["Idempotent-Replayed"] == "true"
    handler_problems = [
        admin.get("/rewards/rwd_nope"),  # a domain error: 404 reward_not_found
        admin.post("/rewards", {"name": "x"}),  # a validation error, with `errors`
        admin.get("/no-such-endpoint"),  # werkzeug's 404
        admin.client.put(f"{GAMIFY}/rewards", headers=admin.headers),  # werkzeug's 405
    ]
    with limits_changed(app, max_body_bytes=10):
        handler_problems.append(admin.post("/rewards", {"name": "long enough"}))  # 413
    for response in [replay, *handler_problems]:
        assert response.mimetype == "application/problem+json"
        assert_canonical_problem(response)
    assert assert_canonical_problem(handler_problems[1])[5:] == ["errors"]


def test_a_claim_failure_answered_fresh_is_formatted_the_same(
    admin: Caller, server: Caller, runtime: Runtime
) -> None:
    reward = admin.create_reward()
    drain_now(runtime)
    deadline = time.monotonic() + 10

    def decide_soon() -> None:
        while time.monotonic() < deadline and not drain_now(runtime):
            time.sleep(0.02)

    drainer = threading.Thread(target=decide_soon, daemon=True)
    drainer.start()
    fresh = server.claim(
        reward["id"], {"participant_id": new_id()}, key=new_id("key"), prefer="wait=5"
    )
    drainer.join()

    assert_problem(fresh, 409, "inventory_exhausted")
    assert "Idempotent-Replayed" not in fresh.headers
    assert_canonical_problem(fresh)


@pytest.mark.parametrize("status", [400, 404])
def test_error_handler_problems_carry_no_spaces_between_members(admin: Caller, status: int) -> None:
    response = admin.get("/rewards?limit=0") if status == 400 else admin.get("/rewards/rwd_x")
    assert response.status_code == status
    assert ", " not in response.get_data(as_text=True).split('"detail"')[0]
