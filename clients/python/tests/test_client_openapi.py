"""The client's types and endpoints against the OpenAPI document a real Coffer serves.

Any drift fails here: a member added, removed, renamed, made optional or
retyped on either side; an endpoint moved or answering another shape; a new
server-key endpoint the client does not call; an error code with no exception.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from coffer_client._operations import ENDPOINTS
from coffer_client.errors import BY_CODE, ClaimStillPending
from coffer_client.models import CLAIM_STATE, SCHEMAS, ClaimPending
from conftest import Server
from pydantic import BaseModel, create_model

Schema = dict[str, Any]


@pytest.fixture(scope="module")
def document(server: Server) -> Schema:
    response = httpx.get(f"{server.base_url}/api/v1/openapi.json", timeout=10)
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def kinds(schema: Schema) -> frozenset[Any]:  # noqa: PLR0911 - one return per form
    """What values a JSON Schema admits, in a form both sides' schemas reduce to."""
    if "$ref" in schema:
        return frozenset({("ref", schema["$ref"].rsplit("/", 1)[-1])})
    for union in ("anyOf", "oneOf"):
        if union in schema:
            return frozenset().union(*(kinds(part) for part in schema[union]))
    if "const" in schema:
        return frozenset({("enum", (schema["const"],))})
    if "enum" in schema:
        return frozenset({("enum", tuple(sorted(schema["enum"])))})
    kind = schema.get("type")
    if kind == "array":
        return frozenset({("array", kinds(schema.get("items", {})))})
    if kind == "string" and schema.get("format") == "date-time":
        return frozenset({"date-time"})
    return frozenset({kind or "any"})


def differences(model: type[BaseModel], served: Schema) -> list[str]:
    """How the model differs from the served schema of the same name ([] when it does not).

    A member the server may leave out (not required) is `None` in the client when
    absent, so a `null` the client alone admits for it is no difference.
    """
    mine = model.model_json_schema(mode="validation", ref_template="#/$defs/{model}")
    theirs_props: Schema = served.get("properties", {})
    mine_props: Schema = mine.get("properties", {})
    found = []
    if set(mine_props) != set(theirs_props):
        found.append(f"members: client {sorted(mine_props)} != served {sorted(theirs_props)}")
    if set(mine.get("required", [])) != set(served.get("required", [])):
        found.append(
            f"required: client {sorted(mine.get('required', []))} "
            f"!= served {sorted(served.get('required', []))}"
        )
    for name in set(mine_props) & set(theirs_props):
        client, server = kinds(mine_props[name]), kinds(theirs_props[name])
        if name not in served.get("required", []):
            client -= {"null"} - server
        if client != server:
            found.append(
                f"{name}: client {sorted(map(str, client))} != served {sorted(map(str, server))}"
            )
    return found


def test_every_model_matches_its_schema_in_the_served_document(document: Schema) -> None:
    served = document["components"]["schemas"]
    drift = {name: differences(model, served[name]) for name, model in SCHEMAS.items()}

    assert {name: found for name, found in drift.items() if found} == {}


def test_the_check_fails_on_drift(document: Schema) -> None:
    served = document["components"]["schemas"]["ClaimPending"]
    extra = create_model("ClaimPending", __base__=ClaimPending, queue_position=(int, ...))
    retyped = create_model("ClaimPending", claim_id=(int, ...), status=(str, ...))

    assert differences(ClaimPending, served) == []
    assert differences(extra, served) and differences(retyped, served)


def test_a_claims_state_is_the_served_union(document: Schema) -> None:
    served = document["components"]["schemas"]["ClaimStatus"]
    mine = CLAIM_STATE.json_schema(ref_template="#/$defs/{model}")

    assert kinds(mine) == kinds(served) == {
        ("ref", "ClaimView"), ("ref", "ClaimPending"), ("ref", "ClaimFailed"),
    }  # fmt: skip


def test_every_endpoint_the_client_calls_is_served_with_the_shapes_it_parses(
    document: Schema,
) -> None:
    schemas = document["components"]["schemas"]
    for method_name, endpoint in ENDPOINTS.items():
        operation = document["paths"][endpoint.path][endpoint.method.lower()]
        for status, schema_name in endpoint.answers.items():
            body = operation["responses"][str(status)]["content"]["application/json"]["schema"]
            assert kinds(body) == {("ref", schema_name)}, (method_name, status)
        query = {p["name"] for p in operation["parameters"] if p.get("in") == "query"}
        assert set(endpoint.query) == query, method_name
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        members = (
            set(schemas[body["schema"]["$ref"].rsplit("/", 1)[-1]]["properties"]) if body else set()
        )
        assert set(endpoint.body) == members, method_name


def test_the_client_calls_every_endpoint_a_server_key_may_call(document: Schema) -> None:
    served = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if operation.get("x-coffer-access") in ("server", "participant")
    }

    assert served == {(e.method, e.path) for e in ENDPOINTS.values()}


def test_every_served_error_code_has_its_own_exception(document: Schema) -> None:
    codes = {
        code
        for item in document["paths"].values()
        for operation in item.values()
        for answer in operation["responses"].values()
        for code in answer.get("content", {})
        .get("application/problem+json", {})
        .get("schema", {})
        .get("properties", {})
        .get("code", {})
        .get("enum", [])
    }

    assert codes and codes <= set(BY_CODE)
    assert ClaimStillPending.CODE not in codes  # the client's own, never a served one
