"""Refused requests: problem+json with the field named, and nothing changed afterwards."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from core.runtime import Runtime
from tests.api.conftest import (
    Caller,
    assert_problem,
    error_fields,
    new_id,
    requests_under_key,
    reward_rows,
    unchanged_rewards,
)
from tests.support.tenants import TestTenant

VALID = {"name": "10% Off Coupon", "type": "coupon"}


@pytest.mark.parametrize(
    "raw",
    [
        b"{",
        b"{'name': 'single quotes'}",
        b'{"name": "x", "type": "coupon",}',
        b"\xff\xfe\x00",
        b"NaN",
    ],
)
def test_malformed_json_is_a_validation_error_naming_the_body(
    admin: Caller, runtime: Runtime, tenant: TestTenant, raw: bytes
) -> None:
    with unchanged_rewards(runtime, tenant):
        response = admin.post("/rewards", data=raw, headers={"Content-Type": "application/json"})

        assert error_fields(response) == {"body"}


@pytest.mark.parametrize("raw", [b"", b"   ", b"[]", b'"a string"', b"null", b"42"])
def test_a_body_that_is_not_a_json_object_is_a_validation_error(
    admin: Caller, runtime: Runtime, tenant: TestTenant, raw: bytes
) -> None:
    with unchanged_rewards(runtime, tenant):
        response = admin.post("/rewards", data=raw, headers={"Content-Type": "application/json"})

        assert error_fields(response) == {"body"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", 5),
        ("name", None),
        ("type", "gift"),
        ("type", None),
        ("points_cost", "5"),
        ("points_cost", 5.0),
        ("points_cost", 5.5),
        ("points_cost", True),
        ("max_claims_per_user", "1"),
        ("max_claims_per_user", False),
        ("max_claims_per_user", None),
        ("code_expiry_days", "30"),
        ("low_stock_threshold", True),
        ("description", 12),
        ("starts_at", "tomorrow"),
        ("starts_at", "2030-01-01T00:00:00"),  # no offset
        ("starts_at", 1893456000),
        ("expires_at", "2030-13-01T00:00:00Z"),
        ("code_generation", "SAVE-"),
        ("code_generation", True),
    ],
)
def test_wrong_types_are_refused_strictly(
    admin: Caller, runtime: Runtime, tenant: TestTenant, field: str, value: Any
) -> None:
    with unchanged_rewards(runtime, tenant):
        response = admin.post("/rewards", {**VALID, field: value})

        assert error_fields(response) == {field}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("points_cost", 0),
        ("points_cost", -10),
        ("points_cost", 10**13),
        ("max_claims_per_user", 0),
        ("max_claims_per_user", -1),
        ("code_expiry_days", 0),
        ("low_stock_threshold", -1),
        ("name", ""),
        ("name", "   "),
        ("name", "n" * 201),
        ("description", "d" * 2001),
        ("name", "nul\u0000byte"),
        ("description", "nul\u0000byte"),
        ("expires_at", "9999-12-31T23:59:59-14:00"),  # past year 9999 in UTC
        ("starts_at", "0001-01-01T00:00:00Z"),  # not a four-digit year on the wire
    ],
)
def test_out_of_range_values_are_refused_naming_the_field(
    admin: Caller, runtime: Runtime, tenant: TestTenant, field: str, value: Any
) -> None:
    with unchanged_rewards(runtime, tenant):
        assert error_fields(admin.post("/rewards", {**VALID, field: value})) == {field}


@pytest.mark.parametrize(
    "generation",
    [{"prefix": "X-", "length": 3}, {"prefix": "X-", "length": 65}, {"prefix": "has space"}],
)
def test_an_impossible_code_generation_is_refused(
    admin: Caller, runtime: Runtime, tenant: TestTenant, generation: dict[str, Any]
) -> None:
    with unchanged_rewards(runtime, tenant):
        fields = error_fields(admin.post("/rewards", {**VALID, "code_generation": generation}))

        assert len(fields) == 1
        assert next(iter(fields)).startswith("code_generation.")


@pytest.mark.parametrize(
    ("starts_at", "expires_at"),
    [
        ("2030-01-02T00:00:00Z", "2030-01-01T00:00:00Z"),
        ("2030-01-01T00:00:00Z", "2030-01-01T00:00:00Z"),
        ("2030-01-01T02:00:00+02:00", "2030-01-01T00:00:00Z"),  # the same instant
    ],
)
def test_an_expiry_not_after_the_start_is_refused_naming_expires_at(
    admin: Caller, runtime: Runtime, tenant: TestTenant, starts_at: str, expires_at: str
) -> None:
    with unchanged_rewards(runtime, tenant):
        body = {**VALID, "starts_at": starts_at, "expires_at": expires_at}

        assert error_fields(admin.post("/rewards", body)) == {"expires_at"}


@pytest.mark.parametrize("field", ["id", "status", "available_codes", "created_at", "updated_at"])
def test_read_only_fields_are_refused_on_create_and_patch(
    admin: Caller, runtime: Runtime, tenant: TestTenant, field: str
) -> None:
    reward = admin.create_reward()

    with unchanged_rewards(runtime, tenant):
        assert error_fields(admin.post("/rewards", {**VALID, field: "x"})) == {field}
        assert error_fields(admin.patch(f"/rewards/{reward['id']}", {field: "x"})) == {field}

    assert admin.reward(reward["id"]) == reward


def test_unknown_fields_are_refused_and_each_is_named(
    admin: Caller, runtime: Runtime, tenant: TestTenant
) -> None:
    with unchanged_rewards(runtime, tenant):
        response = admin.post("/rewards", {**VALID, "colour": "red", "tenant_id": "ten_x"})

        assert error_fields(response) == {"colour", "tenant_id"}


def test_every_bad_field_is_listed_in_one_response(admin: Caller) -> None:
    response = admin.post("/rewards", {"type": "gift", "points_cost": 0, "extra": 1})

    assert error_fields(response) == {"name", "type", "points_cost", "extra"}


def test_a_refused_patch_changes_no_field_even_the_valid_ones(admin: Caller) -> None:
    reward = admin.create_reward(name="Original", points_cost=100)

    for body in (
        {"name": "Renamed", "points_cost": 0},
        {"name": "Renamed", "max_claims_per_user": "2"},
        {"name": "Renamed", "id": "rwd_other"},
        {
            "name": "Renamed",
            "starts_at": "2030-02-01T00:00:00Z",
            "expires_at": "2030-01-01T00:00:00Z",
        },
    ):
        assert_problem(admin.patch(f"/rewards/{reward['id']}", body), 400, "validation_error")

    assert admin.reward(reward["id"]) == reward


def test_a_refused_points_credit_changes_no_balance_and_does_not_consume_its_key(
    admin: Caller, runtime: Runtime, tenant: TestTenant
) -> None:
    participant, key = new_id(), new_id("key")
    admin.credit(participant, 10)
    path = f"/participants/{participant}/points"

    for body, field in (
        ({"amount": 0}, "amount"),
        ({"amount": -5}, "amount"),
        ({"amount": "5"}, "amount"),
        ({"amount": 5.0}, "amount"),
        ({"amount": True}, "amount"),
        ({"amount": 10**13}, "amount"),
        ({}, "amount"),
        ({"amount": 5, "reason": 3}, "reason"),
        ({"amount": 5, "reason": "r" * 501}, "reason"),
        ({"amount": 5, "reason": "nul\u0000"}, "reason"),
        ({"amount": 5, "balance": 1000}, "balance"),
    ):
        response = admin.post(path, body, headers={"Idempotency-Key": key})
        assert error_fields(response) == {field}, body

    assert admin.balance(participant) == 10
    assert requests_under_key(runtime, tenant, key) == 0
    assert admin.credit(participant, 5, key=key).status_code == 201


def test_a_participant_id_over_255_characters_is_a_validation_error(admin: Caller) -> None:
    key, participant = new_id("key"), "p" * 256

    for response in (
        admin.get(f"/participants/{participant}/points"),
        admin.get(f"/participants/{participant}/rewards"),
        admin.credit(participant, 5, key=key),
    ):
        assert error_fields(response) == {"participant_id"}
    assert admin.balance("p" * 255) == 0


def test_a_participant_id_holding_nul_is_a_validation_error_like_any_control_character(
    admin: Caller, recorded: Callable[[str], int]
) -> None:
    key = new_id("key")

    for response in (
        admin.get("/participants/bad%00id/points"),
        admin.get("/participants/bad%00id/rewards"),
        admin.credit("bad%00id", 5, key=key),
    ):
        assert error_fields(response) == {"participant_id"}
    assert recorded(key) == 0


def test_every_error_is_problem_json_including_unknown_paths_and_methods(
    client: FlaskClient, admin: Caller
) -> None:
    assert_problem(admin.get("/no-such-endpoint"), 404, "not_found")
    put = client.put("/api/v1/gamify/rewards", headers=admin.headers)
    assert_problem(put, 405, "method_not_allowed")
    assert set(put.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


def test_a_validation_problem_carries_the_contract_fields(admin: Caller) -> None:
    response = admin.post("/rewards", {"name": "x", "type": "coupon", "points_cost": "5"})

    problem = assert_problem(response, 400, "validation_error")
    assert problem["title"] == "The request is not valid"
    assert problem["errors"] == [
        {"field": "points_cost", "message": problem["errors"][0]["message"]}
    ]
    assert "points_cost" in problem["detail"]


def test_refusals_leave_the_catalog_empty(
    admin: Caller, runtime: Runtime, tenant: TestTenant
) -> None:
    admin.post("/rewards", {"type": "coupon"})
    admin.post("/rewards", {**VALID, "points_cost": 0})
    admin.post("/rewards", data=b"{", headers={"Content-Type": "application/json"})

    assert reward_rows(runtime, tenant) == 0
    assert admin.get("/rewards").json == {"rewards": [], "total": 0, "next_cursor": None}
