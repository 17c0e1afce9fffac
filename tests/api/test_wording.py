"""Refusals read as sentences: numbers agree with their nouns, and no pydantic internals
(a quoted regex, "Value error, ...") reach `errors[].message` or `detail`."""

from __future__ import annotations

from flask import Flask

from core.errors import RateLimited
from core.runtime import Runtime
from tests.api.conftest import Caller, assert_problem, limits_changed, new_id, reward_rows
from tests.support.tenants import TestTenant


def test_retry_after_one_second_is_singular(app: Flask, admin: Caller) -> None:
    with limits_changed(app, rate_limit="1/second"):
        # Three at once: at most one second boundary falls between them, so one is refused.
        answers = [admin.get("/rewards") for _ in range(3)]
    [refused, *_] = [answer for answer in answers if answer.status_code == 429]
    problem = assert_problem(refused, 429, "rate_limited")
    assert refused.headers["Retry-After"] == "1"
    assert problem["detail"] == "Retry after 1 second"
    assert RateLimited(retry_after_s=30).detail == "Retry after 30 seconds"


def test_a_code_outside_printable_ascii_is_refused_in_words(admin: Caller) -> None:
    reward = admin.create_reward()
    response = admin.post(f"/rewards/{reward['id']}/codes", {"codes": ["OK-1", "CAFÉ-1"]})
    problem = assert_problem(response, 400, "validation_error")
    words = "must be printable ASCII characters only (0x20-0x7E)"
    assert problem["errors"] == [{"field": "codes.1", "message": words}]
    assert problem["detail"] == f"codes.1: {words}"
    assert admin.reward(reward["id"])["available_codes"] == 0


def test_a_generated_code_prefix_with_a_space_is_refused_in_words(
    admin: Caller, runtime: Runtime, tenant: TestTenant
) -> None:
    response = admin.post(
        "/rewards", {"name": "Gen", "type": "coupon", "code_generation": {"prefix": "A B"}}
    )
    assert assert_problem(response, 400, "validation_error")["errors"] == [
        {
            "field": "code_generation.prefix",
            "message": "must be printable ASCII characters other than space only (0x21-0x7E)",
        }
    ]
    assert reward_rows(runtime, tenant) == 0


def test_a_validator_message_has_no_value_error_prefix(admin: Caller, server: Caller) -> None:
    reward = admin.create_reward()
    claim = server.claim(reward["id"], {"participant_id": " alice"}, key=new_id("key"))
    problem = assert_problem(claim, 400, "validation_error")
    assert problem["errors"] == [
        {"field": "participant_id", "message": "must not start or end with whitespace"}
    ]
    assert problem["detail"] == "participant_id: must not start or end with whitespace"

    multiplier = admin.post(
        "/rewards",
        {
            "name": "Double",
            "type": "points_multiplier",
            "multiplier": {"factor": "2", "duration_days": 7},
        },
    )
    problem = assert_problem(multiplier, 400, "validation_error")
    assert {"field": "multiplier.factor", "message": "must be a number"} in problem["errors"]
    assert "Value error" not in problem["detail"]
