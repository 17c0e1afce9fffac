"""The OpenAPI 3.1 document served at GET /api/v1/openapi.json, generated from the app.

Paths, methods and path parameters come from the Flask url_map; query
parameters from the query model each view declares (api/query.py); request
bodies from core/inputs.py and response bodies from core/schemas, through
pydantic's JSON Schema (draft 2020-12, which OpenAPI 3.1 speaks); error codes,
statuses and titles from core/errors.py. What the code cannot say (summary,
contract section, access level, the error codes a route can answer) is the
table OPERATIONS in api/operations.py, keyed by Flask endpoint: a route without
an entry stops the document from being built, so no route goes undocumented.

An operation's access level adds 401/403/429 and 503 (the key is checked in the
database), a request body 413, and every operation can answer 400 validation_error
(an unknown query parameter); list only the other error codes it can return.
"""

from __future__ import annotations

import re
from importlib import metadata
from typing import Any

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from api.operations import (
    ERRORS,
    HEADERS,
    OPERATIONS,
    PARAMETERS,
    PATH_PARAMETERS,
    RAW_SCHEMAS,
    SECTIONS,
    UNDOCUMENTED,
    Operation,
    Reply,
    Schema,
)
from api.query import query_model
from core.schemas import FieldError, Problem

DOCUMENT_PATH = "/api/v1/openapi.json"
PROBLEM_JSON = "application/problem+json"


def ref(name: str, kind: str = "schemas") -> Schema:
    return {"$ref": f"#/components/{kind}/{name}"}


class UndocumentedRoute(LookupError):
    """A route has no entry in OPERATIONS."""


def _error_codes(op: Operation) -> list[str]:
    """The codes an operation can answer: its own, plus those its access and body imply."""
    implied = ["validation_error"]  # an unknown query parameter, on every endpoint
    if op.body is not None:
        implied.append("payload_too_large")
    if op.access != "public":
        # forbidden: an admin endpoint with a server key, or a participant token outside
        # its participant's reads (CONTRACT §10).
        implied += ["unauthorized", "forbidden", "rate_limited", "service_unavailable"]
    return list(dict.fromkeys([*implied, *op.errors]))


def _error_responses(op: Operation) -> dict[str, Schema]:
    by_status: dict[int, list[str]] = {}
    for code in _error_codes(op):
        by_status.setdefault(ERRORS[code].status, []).append(code)
    out: dict[str, Schema] = {}
    for status, codes in sorted(by_status.items()):
        headers = {"X-Request-ID": ref("X-Request-ID", "headers")}
        if status in (429, 503):
            headers["Retry-After"] = ref("Retry-After", "headers")
        headers |= {name: ref(name, "headers") for name in op.error_headers.get(status, ())}
        schema = {
            "allOf": [ref("Problem")],
            "properties": {
                "code": {"enum": codes},
                "type": {"enum": codes},
                "status": {"const": status},
            },
        }
        examples = {code: {"value": _example_problem(code)} for code in codes}
        out[str(status)] = {
            "description": " or ".join(f"`{code}`" for code in codes),
            "headers": headers,
            "content": {PROBLEM_JSON: {"schema": schema, "examples": examples}},
        }
    return out


def _example_problem(code: str) -> Schema:
    cls = ERRORS[code]
    detail = cls.title if code != "rate_limited" else "Retry after 1 second"
    problem = Problem(type=code, code=code, title=cls.title, status=cls.status, detail=detail)
    if code == "validation_error":
        problem = problem.model_copy(
            update={"errors": [FieldError(field="name", message="Field required")]}
        )
    return problem.model_dump(mode="json")


def _schema_ref(shape: type[BaseModel] | str | Schema) -> Schema:
    if isinstance(shape, dict):
        return shape
    return ref(shape if isinstance(shape, str) else shape.__name__)


def _reply(reply: Reply) -> Schema:
    out: Schema = {"description": reply.description}
    if reply.shape is not None:
        out["content"] = {reply.media: {"schema": _schema_ref(reply.shape)}}
    out["headers"] = {name: ref(name, "headers") for name in ("X-Request-ID", *reply.headers)}
    return out


def _query_parameters(view: Any) -> list[Schema]:
    """The view's query model as OpenAPI parameters (a query value is never null)."""
    schema = query_model(view).model_json_schema(mode="validation")
    required = set(schema.get("required", ()))
    out = []
    for name, given in schema.get("properties", {}).items():
        prop = {k: v for k, v in given.items() if k != "title" and v is not None}
        description = prop.pop("description", None)
        variants = [v for v in prop.pop("anyOf", []) if v != {"type": "null"}]
        if variants:
            prop.update(variants[0])
        param: Schema = {"name": name, "in": "query", "required": name in required}
        if description:
            param["description"] = description
        out.append({**param, "schema": prop})
    return out


_SECURITY: dict[str, list[Schema]] = {
    "public": [],
    "server": [{"bearerAuth": []}],
    "participant": [{"bearerAuth": []}, {"participantToken": []}],
    "admin": [{"bearerAuth": []}],
}


def _operation(op: Operation, path_args: list[str], view: Any) -> Schema:
    access_note = {
        "public": "No key needed.",
        "server": "A server or admin key.",
        "participant": "A server or admin key, or a participant token for this participant.",
        "admin": "An admin key; a server key is `403 forbidden`.",
    }[op.access]
    section = f"Contract: {op.section} {SECTIONS[op.section]}."
    out: Schema = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "description": f"{op.description} {access_note} {section}".strip(),
        "tags": [op.tag],
        "parameters": [
            *(ref(PATH_PARAMETERS[name], "parameters") for name in path_args),
            *_query_parameters(view),
            *(ref(name, "parameters") for name in (*op.headers, "RequestId")),
        ],
        "security": _SECURITY[op.access],
        "x-coffer-access": op.access,
        "x-coffer-contract-section": op.section,
        "responses": {
            **{str(status): _reply(reply) for status, reply in op.responses.items()},
            **_error_responses(op),
        },
    }
    if op.body is not None:
        out["requestBody"] = {
            "required": op.body_required,
            "content": {media: {"schema": _schema_ref(s)} for media, s in op.body.items()},
        }
    return out


def _models() -> tuple[list[type[BaseModel]], list[type[BaseModel]]]:
    """The request models and the response models the operations name."""
    requests: dict[str, type[BaseModel]] = {}
    responses: dict[str, type[BaseModel]] = {"Problem": Problem}
    for op in OPERATIONS.values():
        for body in (op.body or {}).values():
            if isinstance(body, type):
                requests[body.__name__] = body
        for reply in op.responses.values():
            if isinstance(reply.shape, type):
                responses[reply.shape.__name__] = reply.shape
    return list(requests.values()), list(responses.values())


# Fields of a patch body that refuse null (RewardPatch's validator; update_endpoint in
# core/webhooks/endpoints.py): documented without the null variant.
_PATCH_NOT_NULL = {
    "RewardPatch": ("name", "type", "max_claims_per_user"),
    "EndpointPatch": ("url", "event_types", "enabled"),
}


def _schemas() -> dict[str, Schema]:
    """The models' JSON Schemas: requests as they validate, responses as they serialize."""
    requests, responses = _models()
    _, schema = models_json_schema(
        [(model, "validation") for model in requests]
        + [(model, "serialization") for model in responses],
        ref_template="#/components/schemas/{model}",
    )
    defs: dict[str, Schema] = schema["$defs"]
    # A patch changes only the fields present: no defaults, and the fields that cannot be
    # cleared refuse null (the model's validator or core says so; its schema cannot).
    for model, not_null in _PATCH_NOT_NULL.items():
        for name, prop in defs[model]["properties"].items():
            prop.pop("default", None)
            if name in not_null:
                prop.update(prop.pop("anyOf")[0])
    return {**defs, **RAW_SCHEMAS}


def template(rule: str) -> str:
    """A Flask rule as an OpenAPI path: `<path:participant_id>` -> `{participant_id}`."""
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule)


def _paths(app: Flask) -> dict[str, Schema]:
    paths: dict[str, Schema] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint in UNDOCUMENTED:
            continue
        if rule.endpoint not in OPERATIONS:
            raise UndocumentedRoute(f"{rule.rule} ({rule.endpoint}) has no entry in OPERATIONS")
        op = OPERATIONS[rule.endpoint]
        path_args = re.findall(r"<(?:\w+:)?(\w+)>", rule.rule)
        view = app.view_functions[rule.endpoint]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(template(rule.rule), {})[method.lower()] = _operation(
                op, path_args, view
            )
    return paths


def _version() -> str:
    try:
        return metadata.version("coffer")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "0.0.0"


def build(app: Flask) -> dict[str, Any]:
    """The whole OpenAPI 3.1 document for this app's routes."""
    paths = _paths(app)
    tags = dict.fromkeys(op.tag for op in OPERATIONS.values())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Coffer",
            "version": _version(),
            "summary": "A headless rewards engine: catalog, code inventory, points, claims.",
            "description": "Every error is `application/problem+json` (RFC 9457) with `type` "
            "and `code` holding the same stable code. A key sees only its own tenant's rows in "
            "its own mode: another tenant's object is 404. Unknown query parameters are "
            "`400 validation_error` on every endpoint, unknown paths `404 not_found`, unknown "
            "methods `405 method_not_allowed`.",
        },
        "tags": [{"name": name} for name in tags],
        "paths": paths,
        "components": {
            "schemas": _schemas(),
            "headers": HEADERS,
            "parameters": PARAMETERS,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "ck_live_... or ck_test_...",
                    "description": "A tenant's API key; its mode (live or test) picks the "
                    "rows it sees, its scope (server or admin) what it may do.",
                },
                "participantToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "cpt_...",
                    "description": "A participant token (POST /participants/{participant_id}/"
                    "tokens): reads only that participant's rewards and points, until it "
                    "expires or the key that issued it is revoked (CONTRACT §10).",
                },
            },
        },
    }


def document(app: Flask) -> dict[str, Any]:
    """The app's document, built once per app (treat it as read-only)."""
    if "coffer.openapi" not in app.extensions:
        app.extensions["coffer.openapi"] = build(app)
    return app.extensions["coffer.openapi"]  # type: ignore[no-any-return]
