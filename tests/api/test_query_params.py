"""Unknown query parameters are a 400 validation_error on every endpoint (CONTRACT §4).

The operations come from the served OpenAPI document, so a new endpoint is
covered without touching this file.
"""

from __future__ import annotations

import re

from flask import Flask

from api.openapi import DOCUMENT_PATH
from core.runtime import Runtime
from tests.api.conftest import Caller, assert_problem, error_fields, new_id, reward_rows
from tests.support.tenants import TestTenant


def every_operation(app: Flask) -> list[tuple[str, str, str]]:
    """(operationId, method, path with each path parameter filled in) from the document."""
    spec = app.test_client().get(DOCUMENT_PATH).get_json()
    return [
        (op["operationId"], method.upper(), re.sub(r"\{\w+\}", "x1", path))
        for path, item in spec["paths"].items()
        for method, op in item.items()
    ]


def test_every_documented_operation_refuses_an_unknown_query_parameter_naming_it(
    app: Flask, tenant: TestTenant
) -> None:
    client = app.test_client()
    operations = every_operation(app)

    for operation_id, method, path in operations:
        response = client.open(
            f"{path}?no_such_parameter=1", method=method, headers=tenant.auth("live", "admin")
        )
        problem = assert_problem(response, 400, "validation_error")
        assert problem["errors"] == [
            {"field": "no_such_parameter", "message": "is not a query parameter of this endpoint"}
        ], operation_id
    assert len(operations) >= 16  # every endpoint of CONTRACT §4-§6 and §9


def test_known_parameters_beside_an_unknown_one_name_only_the_unknown(admin: Caller) -> None:
    assert error_fields(admin.get("/rewards?limit=5&reward_type=coupon&bogus=1")) == {"bogus"}
    assert error_fields(admin.get("/rewards?one=1&two=2")) == {"one", "two"}


def test_a_parameter_of_one_endpoint_is_unknown_at_another(admin: Caller) -> None:
    reward = admin.create_reward()

    assert error_fields(admin.get(f"/rewards/{reward['id']}?limit=5")) == {"limit"}
    assert error_fields(admin.get(f"/participants/{new_id()}/points?cursor=abc")) == {"cursor"}


def test_a_refused_write_stores_nothing_and_leaves_its_key_unused(
    admin: Caller, runtime: Runtime, tenant: TestTenant
) -> None:
    before = reward_rows(runtime, tenant)
    participant, key = new_id(), new_id("key")

    created = admin.post("/rewards?dry_run=1", {"name": "Ghost", "type": "coupon"})
    credited = admin.post(
        f"/participants/{participant}/points?notify=1",
        {"amount": 5},
        headers={"Idempotency-Key": key},
    )
    retried = admin.credit(participant, 5, key=key)

    assert error_fields(created) == {"dry_run"}
    assert error_fields(credited) == {"notify"}
    assert reward_rows(runtime, tenant) == before
    assert retried.status_code == 201 and retried.json["balance"] == 5  # type: ignore[index]


def test_an_empty_or_valueless_unknown_parameter_is_refused_too(admin: Caller) -> None:
    assert error_fields(admin.get("/rewards?flag")) == {"flag"}
    assert error_fields(admin.get("/rewards?=1")) == {"query"}  # a nameless one: the query


def test_a_declared_parameter_with_a_bad_value_is_refused_naming_it(admin: Caller) -> None:
    assert error_fields(admin.get(f"/participants/{new_id()}/rewards?include=all")) == {"include"}
    assert error_fields(admin.get("/rewards?participant_id=a%01b")) == {"participant_id"}
    assert admin.get(f"/participants/{new_id()}/rewards?include=reversed").status_code == 200


def test_every_declared_query_parameter_given_twice_is_refused_naming_it(
    app: Flask, tenant: TestTenant
) -> None:
    """`?limit=1&limit=2` used to keep one value silently (a tester's report)."""
    client = app.test_client()
    spec = client.get(DOCUMENT_PATH).get_json()
    shared = spec["components"]["parameters"]
    checked = 0
    for path, item in spec["paths"].items():
        for method, op in item.items():
            for given in op.get("parameters", []):
                parameter = shared[given["$ref"].rsplit("/", 1)[1]] if "$ref" in given else given
                if parameter["in"] != "query":
                    continue
                name, filled = parameter["name"], re.sub(r"\{\w+\}", "x1", path)
                response = client.open(
                    f"{filled}?{name}=1&{name}=2",
                    method=method.upper(),
                    headers=tenant.auth("live", "admin"),
                )
                problem = assert_problem(response, 400, "validation_error")
                assert problem["errors"] == [{"field": name, "message": "is given more than once"}]
                checked += 1
    assert checked >= 5


def test_a_repeated_parameter_beside_good_ones_is_the_only_one_named(admin: Caller) -> None:
    response = admin.get("/rewards?reward_type=coupon&limit=1&limit=1")
    assert error_fields(response) == {"limit"}
    assert admin.get("/rewards?limit=1&reward_type=coupon").status_code == 200


def test_an_unknown_parameter_given_twice_is_named_as_unknown(admin: Caller) -> None:
    assert assert_problem(admin.get("/rewards?bogus=1&bogus=2"), 400, "validation_error")[
        "errors"
    ] == [{"field": "bogus", "message": "is not a query parameter of this endpoint"}]
