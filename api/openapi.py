"""The OpenAPI 3.1 document served at GET /api/v1/openapi.json, generated from the app.

Paths, methods and path parameters come from the Flask url_map; query
parameters from the query model each view declares (api/query.py); request
bodies from core/inputs.py and response bodies from core/schemas, through
pydantic's JSON Schema (draft 2020-12, which OpenAPI 3.1 speaks); error codes,
statuses and titles from core/errors.py. What the code cannot say (summary,
contract section, access level, the error codes a route can answer) is the
table OPERATIONS below, keyed by Flask endpoint: a route without an entry
stops the document from being built, so no route goes undocumented.

An operation's access level adds 401/403/429, a request body 413, and every
operation can answer 400 validation_error (an unknown query parameter); list
only the other error codes it can return.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from api.query import query_model
from core import errors
from core.inputs import ClaimBody, CodeUpload, PointsCredit, RewardDefinition, RewardPatch
from core.schemas import (
    ClaimPending,
    ClaimStatus,
    ClaimSucceeded,
    CodeUploadResult,
    FieldError,
    Health,
    ParticipantRewards,
    PointsCredited,
    PointsSummary,
    Problem,
    Readiness,
    RewardEntry,
    RewardPage,
)

DOCUMENT_PATH = "/api/v1/openapi.json"
PROBLEM_JSON = "application/problem+json"
JSON = "application/json"
Schema = dict[str, Any]
Shape = type[BaseModel] | str | None  # a model, a name in RAW_SCHEMAS, or no body


def ref(name: str, kind: str = "schemas") -> Schema:
    return {"$ref": f"#/components/{kind}/{name}"}


def _error_catalog() -> dict[str, type[errors.CofferError]]:
    """Every stable error code defined in core/errors.py, with its class."""
    found: dict[str, type[errors.CofferError]] = {}
    pending: list[type[errors.CofferError]] = [errors.CofferError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if "code" in vars(cls):  # ClaimRejected only groups the 409s
            found[cls.code] = cls
    return found


ERRORS = _error_catalog()
CLAIM_REJECTIONS = sorted(c.code for c in ERRORS.values() if issubclass(c, errors.ClaimRejected))

# Bodies that are not JSON objects, so not pydantic models.
RAW_SCHEMAS: dict[str, Schema] = {
    "PrometheusText": {"type": "string", "description": "Prometheus text exposition format."},
    "OpenAPIDocument": {
        "type": "object",
        "required": ["openapi", "info", "paths"],
        "description": "This document.",
    },
    "HtmlPage": {"type": "string", "description": "An HTML page."},
}

HEADERS: dict[str, Schema] = {
    "X-Request-ID": {
        "description": "The request id (the one sent, if well-formed), also in the logs.",
        "required": True,
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,64}$"},
    },
    "Location": {
        "description": "Where the object can be read.",
        "required": True,
        "schema": {"type": "string"},
    },
    "Idempotent-Replayed": {
        "description": "Present on a replay of an earlier request under the same key.",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Preference-Applied": {
        "description": "The Prefer preference honoured: respond-async or wait=N (capped).",
        "schema": {"type": "string"},
    },
    "Retry-After": {
        "description": "Seconds until the key may send again.",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    },
}


def _id(prefix: str) -> Schema:
    return {"type": "string", "examples": [f"{prefix}_01jd3x8k2m9q4r7t5v6w8y0z1a"]}


PARAMETERS: dict[str, Schema] = {
    "RewardId": {"name": "reward_id", "in": "path", "required": True, "schema": _id("rwd")},
    "ClaimId": {"name": "claim_id", "in": "path", "required": True, "schema": _id("clm")},
    "ParticipantId": {
        "name": "participant_id",
        "in": "path",
        "required": True,
        "description": "The tenant's own id: 1-255 characters without control characters "
        "(400 otherwise; Coffer never accepts such an id, so none needs addressing). It may "
        "contain `/` (percent-encoded or not). A line feed inside the path matches no route "
        "(404 not_found).",
        "schema": {
            "type": "string",
            "minLength": 1,
            "maxLength": 255,
            "pattern": "^[^\\x00-\\x1f\\x7f]+$",
        },
    },
    "IdempotencyKey": {
        "name": "Idempotency-Key",
        "in": "header",
        "required": True,
        "description": "1-255 printable ASCII characters; a quoted structured-field string "
        '`"abc"` is the same key as `abc`. Scoped to tenant and mode; never expires.',
        "schema": {"type": "string", "minLength": 1, "maxLength": 257},
    },
    "Prefer": {
        "name": "Prefer",
        "in": "header",
        "description": "`respond-async` answers 202 at once; `wait=N` waits up to N seconds "
        "(capped by COFFER_CLAIM_WAIT_MS, the default wait). Not part of the request a key "
        "is compared against.",
        "schema": {"type": "string", "examples": ["respond-async", "wait=2"]},
    },
    "RequestId": {
        "name": "X-Request-ID",
        "in": "header",
        "description": "A request id to log under (1-64 of `A-Za-z0-9._:-`); else one is made.",
        "schema": {"type": "string"},
    },
}
PATH_PARAMETERS = {  # path argument -> name in PARAMETERS
    "reward_id": "RewardId",
    "claim_id": "ClaimId",
    "participant_id": "ParticipantId",
}
SECTIONS = {
    "§4": "Catalog and admin",
    "§5": "Points",
    "§6": "Claims",
    "§9": "Operations",
}


@dataclass(frozen=True)
class Reply:
    """A success response: its body's shape and the headers it carries."""

    description: str
    shape: Shape = None
    headers: tuple[str, ...] = ()
    media: str = JSON


@dataclass(frozen=True)
class Operation:
    """What the code cannot tell about an endpoint.

    `access` is public (no key), server (server or admin key) or admin;
    `section` is the CONTRACT.md section that specifies it.
    """

    operation_id: str
    summary: str
    section: str
    tag: str
    access: str
    responses: dict[int, Reply]
    errors: tuple[str, ...] = ()
    body: dict[str, type[BaseModel] | Schema] | None = None  # media type -> model or schema
    headers: tuple[str, ...] = ()  # header parameters, names in PARAMETERS
    description: str = ""
    error_headers: dict[int, tuple[str, ...]] = field(default_factory=dict)  # status -> names


CLAIM_HEADERS = ("Idempotent-Replayed", "Preference-Applied")
ENTRY = Reply("The catalog entry.", RewardEntry)

OPERATIONS: dict[str, Operation] = {
    "rewards.list_rewards": Operation(
        "listRewards", "List the catalog", "§4", "Catalog", "server",
        {200: Reply("A page of catalog entries.", RewardPage)},
        description="Active, started, unexpired rewards in creation order, `limit` at a time; "
        "`total` counts all matching rewards, `next_cursor` reads the next page.",
    ),
    "rewards.create_reward": Operation(
        "createReward", "Create a reward", "§4", "Catalog", "admin",
        {201: Reply("The new catalog entry.", RewardEntry, headers=("Location",))},
        body={JSON: RewardDefinition},
        description="Creates a definition with an empty inventory.",
    ),
    "rewards.get_reward": Operation(
        "getReward", "Read a reward", "§4", "Catalog", "server",
        {200: ENTRY}, errors=("reward_not_found",),
        description="Also for a scheduled, expired or deactivated reward (see `status`).",
    ),
    "rewards.update_reward": Operation(
        "updateReward", "Change a reward", "§4", "Catalog", "admin",
        {200: ENTRY}, errors=("reward_not_found",), body={JSON: RewardPatch},
        description="Only the fields present change; `null` clears a nullable field.",
    ),
    "rewards.deactivate_reward": Operation(
        "deactivateReward", "Deactivate a reward", "§4", "Catalog", "admin",
        {204: Reply("Deactivated; existing claims stay readable.")},
        errors=("reward_not_found",),
        description="No new claims of it; `GET /rewards/{reward_id}` shows it `inactive`.",
    ),
    "rewards.upload_codes": Operation(
        "uploadCodes", "Upload codes", "§4", "Inventory", "admin",
        {200: Reply("What the upload added.", CodeUploadResult)},
        errors=("reward_not_found",),
        body={
            JSON: CodeUpload,
            "text/csv": {"type": "string", "description": "One code a line; blank lines skipped."},
        },
        description="Codes are unique per reward: one already present, or repeated within the "
        "upload, counts as a duplicate and is added once. Codes are allocated oldest upload "
        "first, in upload order.",
    ),
    "claims.claim": Operation(
        "claimReward", "Claim a reward", "§6", "Claims", "server",
        {
            201: Reply("The claim succeeded.", ClaimSucceeded, headers=CLAIM_HEADERS),
            202: Reply(
                "Accepted, still pending.", ClaimPending, headers=("Location", *CLAIM_HEADERS)
            ),
        },
        headers=("IdempotencyKey", "Prefer"), body={JSON: ClaimBody},
        error_headers={409: CLAIM_HEADERS},  # a business failure is an outcome, like 201
        errors=(
            "idempotency_key_missing", "reward_not_found", "idempotency_key_reused",
            *CLAIM_REJECTIONS,
        ),
        description="Records the claim under its key, queues it and waits for the worker "
        "(COFFER_CLAIM_WAIT_MS, or as `Prefer` asks): 201 on success, the business failure "
        "as its problem, else 202. Checks run in this order, the first failing one wins: "
        "reward_not_found, reward_inactive, reward_expired, max_claims_exceeded, "
        "insufficient_points, inventory_exhausted. The same key and request returns the "
        "original outcome with `Idempotent-Replayed: true`; the same key with another request "
        "is 422.",
    ),
    "claims.get_claim": Operation(
        "getClaim", "Read a claim", "§6", "Claims", "server",
        {200: Reply("Pending, failed (with its problem) or succeeded.", ClaimStatus)},
        errors=("claim_not_found",),
        description="The claim's current state, told apart by `status`.",
    ),
    "participants.credit": Operation(
        "creditPoints", "Credit points", "§5", "Participants", "server",
        {201: Reply("Credited (or the replay of the original credit).", PointsCredited,
                    headers=("Idempotent-Replayed",))},
        headers=("IdempotencyKey",), body={JSON: PointsCredit},
        errors=("idempotency_key_missing", "idempotency_key_reused", "not_found"),
        description="Adds `amount` points and appends a `credit` ledger entry, creating the "
        "participant on first use; once per Idempotency-Key (a replay returns the original "
        "answer with `Idempotent-Replayed: true`).",
    ),
    "participants.balance": Operation(
        "getPoints", "Read a participant's points", "§5", "Participants", "server",
        {200: Reply("Balance and ledger.", PointsSummary)},
        errors=("not_found",),
        description="The balance and the newest 1,000 ledger entries, newest first; an "
        "unknown participant has balance 0 and no entries (200, not 404).",
    ),
    "participants.rewards": Operation(
        "getParticipantRewards", "List a participant's claimed rewards", "§6", "Participants",
        "server", {200: Reply("The participant's claims.", ParticipantRewards)},
        errors=("not_found",),
        description="Every claim the participant holds, newest first (the newest 1,000; "
        "`total_claimed` counts all); none for an unknown participant.",
    ),
    "ops.healthz": Operation(
        "healthz", "Process is up", "§9", "Operations", "public",
        {200: Reply("Up.", Health)}, description="Answers while the process runs.",
    ),
    "ops.readyz": Operation(
        "readyz", "Dependencies reachable", "§9", "Operations", "public",
        {200: Reply("Ready.", Readiness), 503: Reply("Not ready.", Readiness)},
        description="Ready when the database and the broker both answer.",
    ),
    "metrics.metrics": Operation(
        "metrics", "Prometheus metrics", "§9", "Operations", "public",
        {200: Reply("Prometheus text exposition.", "PrometheusText", media="text/plain")},
        description="Claims by outcome, claim latency, queue depth; no ids in labels.",
    ),
    "ops.openapi": Operation(
        "openapi", "This OpenAPI document", "§9", "Operations", "public",
        {200: Reply("The OpenAPI 3.1 document.", "OpenAPIDocument")},
        description="Generated from the routes and the pydantic models they use.",
    ),
    "docs.docs": Operation(
        "docs", "Interactive API reference", "§9", "Operations", "public",
        {200: Reply("Swagger UI over this document.", "HtmlPage", media="text/html")},
        description="Works without internet access: every asset is served from this origin.",
    ),
}  # fmt: skip
UNDOCUMENTED = frozenset({"docs.asset"})  # the files of the /docs page


class UndocumentedRoute(LookupError):
    """A route has no entry in OPERATIONS."""


def _error_codes(op: Operation) -> list[str]:
    """The codes an operation can answer: its own, plus those its access and body imply."""
    implied = ["validation_error"]  # an unknown query parameter, on every endpoint
    if op.body is not None:
        implied.append("payload_too_large")
    if op.access != "public":
        implied += ["unauthorized", "rate_limited"]
    if op.access == "admin":
        implied.append("forbidden")
    return list(dict.fromkeys([*implied, *op.errors]))


def _error_responses(op: Operation) -> dict[str, Schema]:
    by_status: dict[int, list[str]] = {}
    for code in _error_codes(op):
        by_status.setdefault(ERRORS[code].status, []).append(code)
    out: dict[str, Schema] = {}
    for status, codes in sorted(by_status.items()):
        headers = {"X-Request-ID": ref("X-Request-ID", "headers")}
        if status == 429:
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
    detail = cls.title if code != "rate_limited" else "Retry after 1 seconds"
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


def _operation(op: Operation, path_args: list[str], view: Any) -> Schema:
    access_note = {
        "public": "No key needed.",
        "server": "A server or admin key.",
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
        "security": [] if op.access == "public" else [{"bearerAuth": []}],
        "x-coffer-access": op.access,
        "x-coffer-contract-section": op.section,
        "responses": {
            **{str(status): _reply(reply) for status, reply in op.responses.items()},
            **_error_responses(op),
        },
    }
    if op.body is not None:
        out["requestBody"] = {
            "required": True,
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


def _schemas() -> dict[str, Schema]:
    """The models' JSON Schemas: requests as they validate, responses as they serialize."""
    requests, responses = _models()
    _, schema = models_json_schema(
        [(model, "validation") for model in requests]
        + [(model, "serialization") for model in responses],
        ref_template="#/components/schemas/{model}",
    )
    defs: dict[str, Schema] = schema["$defs"]
    # A patch changes only the fields present: no defaults, and the required fields of a
    # definition refuse null (the model's validator says so; its schema cannot).
    for name, prop in defs["RewardPatch"]["properties"].items():
        prop.pop("default", None)
        if name in ("name", "type", "max_claims_per_user"):
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
                }
            },
        },
    }


def document(app: Flask) -> dict[str, Any]:
    """The app's document, built once per app (treat it as read-only)."""
    if "coffer.openapi" not in app.extensions:
        app.extensions["coffer.openapi"] = build(app)
    return app.extensions["coffer.openapi"]  # type: ignore[no-any-return]
