"""The OpenAPI 3.1 document served at GET /api/v1/openapi.json, built from the code it describes.

Request bodies come from the pydantic models the routes validate with
(core/inputs.py); response shapes are written out below, matching what
core/catalog.py, core/points.py and core/claims/ produce; error codes, statuses
and titles come from core/errors.py. tests/api/test_openapi_conformance.py
drives every operation through the real app and checks it against this document.

To describe a new endpoint, add an `Operation` to OPERATIONS (and any new
response shape to RESPONSE_SCHEMAS). Its access level adds 401/403/429, a
request body adds 400/413; list only the other error codes it can return.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from typing import Any

from pydantic.json_schema import models_json_schema

from core import catalog, errors
from core.inputs import (
    ClaimBody,
    CodeUpload,
    PointsCredit,
    ReversalBody,
    RewardDefinition,
    RewardPatch,
)
from core.models import REWARD_TYPES

API = "/api/v1/gamify"
DOCUMENT_PATH = "/api/v1/openapi.json"
PROBLEM_JSON = "application/problem+json"
Schema = dict[str, Any]


def ref(name: str, kind: str = "schemas") -> Schema:
    return {"$ref": f"#/components/{kind}/{name}"}


def _nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def _closed(properties: dict[str, Schema], description: str) -> Schema:
    """An object with exactly these members, all present (the code always writes every key)."""
    return {
        "type": "object",
        "description": description,
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def _id(prefix: str) -> Schema:
    return {
        "type": "string",
        "pattern": f"^{prefix}_[0-9a-z]{{26}}$",
        "examples": [f"{prefix}_01jd3x8k2m9q4r7t5v6w8y0z1a"],
    }


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


TIMESTAMP: Schema = {
    "type": "string",
    "format": "date-time",
    "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$",
    "description": "RFC 3339, UTC, to the second.",
}
COUNT: Schema = {"type": "integer", "minimum": 0}
REWARD_TYPE: Schema = {"type": "string", "enum": list(REWARD_TYPES)}
CLAIM_SHAPE: dict[str, Schema] = {
    "claim_id": _id("clm"),
    "reward_id": _id("rwd"),
    "reward_name": {"type": "string"},
    "reward_type": REWARD_TYPE,
    "code_value": {"type": "string"},
    "claimed_at": TIMESTAMP,
    "expires_at": {**_nullable(TIMESTAMP), "description": "claimed_at + code_expiry_days"},
}

# The shapes the code writes (core/catalog.py, core/inventory.py, core/points.py, core/claims/).
RESPONSE_SCHEMAS: dict[str, Schema] = {
    "RewardEntry": _closed(
        {
            "id": _id("rwd"),
            "name": {"type": "string"},
            "type": REWARD_TYPE,
            "description": _nullable({"type": "string"}),
            "points_cost": _nullable({"type": "integer", "minimum": 1}),
            "available_codes": {
                **_nullable(COUNT),
                "description": "Unallocated codes left; null when the reward generates codes.",
            },
            "max_claims_per_user": {"type": "integer", "minimum": 1},
            "expires_at": _nullable(TIMESTAMP),
            "starts_at": _nullable(TIMESTAMP),
            "code_expiry_days": _nullable({"type": "integer", "minimum": 1}),
            "low_stock_threshold": _nullable(COUNT),
            "status": {"type": "string", "enum": ["active", "scheduled", "expired", "inactive"]},
            "created_at": TIMESTAMP,
        },
        "A catalog entry (CONTRACT §4).",
    ),
    "RewardList": _closed(
        {
            "rewards": {"type": "array", "items": ref("RewardEntry")},
            "total": {**COUNT, "description": "All matching rewards, not just this page."},
            "next_cursor": _nullable({"type": "string"}),
        },
        "One page of active, started, unexpired rewards in creation order.",
    ),
    "CodeUploadResult": _closed(
        {"added": COUNT, "duplicates": COUNT, "available_codes": COUNT},
        "Codes added, codes refused as already present or repeated, and codes left.",
    ),
    "ClaimSucceeded": _closed(
        {
            "claim_id": CLAIM_SHAPE["claim_id"],
            "status": {"const": "succeeded"},
            "participant_id": {"type": "string"},
            **{k: v for k, v in CLAIM_SHAPE.items() if k != "claim_id"},
            "points_deducted": COUNT,
            "new_balance": COUNT,
        },
        "The claim response (CONTRACT §6).",
    ),
    "ClaimView": _closed(
        {
            "claim_id": CLAIM_SHAPE["claim_id"],
            "status": {"type": "string", "enum": ["succeeded", "reversed"]},
            "participant_id": {"type": "string"},
            **{k: v for k, v in CLAIM_SHAPE.items() if k != "claim_id"},
            "points_deducted": COUNT,
            "new_balance": COUNT,
            "fulfillment_status": {
                "type": "string",
                "enum": ["not_required", "pending", "fulfilled", "failed"],
            },
            "reversal": {
                "type": "object",
                "properties": {
                    "reversed_at": TIMESTAMP,
                    "reason": _nullable({"type": "string"}),
                    "points_refunded": COUNT,
                    "restocked": {"type": "boolean"},
                },
            },
        },
        "A succeeded (or reversed) claim as it stands now (CONTRACT §6, §7).",
    )
    | {
        "required": [
            *CLAIM_SHAPE,
            "status",
            "participant_id",
            "points_deducted",
            "new_balance",
            "fulfillment_status",
        ]
    },
    "ClaimPending": _closed(
        {"claim_id": _id("clm"), "status": {"const": "pending"}},
        "Accepted and queued; GET the Location for the outcome.",
    ),
    "ClaimFailed": _closed(
        {"claim_id": _id("clm"), "status": {"const": "failed"}, "error": ref("ClaimRejection")},
        "Decided and refused by a business rule; `error` is the problem the claim answered.",
    ),
    "ClaimStatus": {
        "oneOf": [ref("ClaimView"), ref("ClaimPending"), ref("ClaimFailed")],
        "discriminator": {
            "propertyName": "status",
            "mapping": {
                "succeeded": "#/components/schemas/ClaimView",
                "reversed": "#/components/schemas/ClaimView",
                "pending": "#/components/schemas/ClaimPending",
                "failed": "#/components/schemas/ClaimFailed",
            },
        },
    },
    "ClaimRecord": _closed(CLAIM_SHAPE, "One claim a participant holds."),
    "ParticipantRewards": _closed(
        {
            "participant_id": {"type": "string"},
            "rewards": {"type": "array", "items": ref("ClaimRecord"), "maxItems": 1000},
            "total_claimed": COUNT,
        },
        "The participant's claims, newest first (the newest 1,000; total_claimed counts all).",
    ),
    "LedgerEntry": _closed(
        {
            "entry_id": _id("pte"),
            "amount": {"type": "integer", "description": "Credits > 0, debits < 0."},
            "kind": {"type": "string", "enum": ["credit", "claim_debit", "reversal_refund"]},
            "reason": _nullable({"type": "string"}),
            "claim_id": _nullable(_id("clm")),
            "balance_after": COUNT,
            "created_at": TIMESTAMP,
        },
        "One append-only points ledger entry.",
    ),
    "PointsSummary": _closed(
        {
            "participant_id": {"type": "string"},
            "balance": COUNT,
            "entries": {"type": "array", "items": ref("LedgerEntry"), "maxItems": 1000},
        },
        "Balance and ledger, newest first; an unknown participant has balance 0 and no entries.",
    ),
    "PointsCredited": _closed(
        {"participant_id": {"type": "string"}, "balance": COUNT, "entry_id": _id("pte")},
        "The balance after the credit and the ledger entry it wrote.",
    ),
    "FieldError": _closed(
        {"field": {"type": "string"}, "message": {"type": "string"}}, "One refused field."
    ),
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details; `type` and `code` carry the same stable code.",
        "properties": {
            "type": {"type": "string"},
            "code": {"type": "string"},
            "title": {"type": "string", "minLength": 1},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string", "minLength": 1},
            "errors": {"type": "array", "items": ref("FieldError"), "minItems": 1},
        },
        "required": ["type", "code", "title", "status", "detail"],
        "additionalProperties": False,
        "if": {"properties": {"code": {"const": "validation_error"}}, "required": ["code"]},
        "then": {"required": ["errors"]},
    },
    "ClaimRejection": {
        "allOf": [ref("Problem")],
        "properties": {"code": {"enum": CLAIM_REJECTIONS}, "status": {"const": 409}},
    },
    "Health": _closed({"status": {"const": "ok"}}, "The process is up."),
    "Readiness": _closed(
        {
            "status": {"type": "string", "enum": ["ready", "unavailable"]},
            "checks": _closed(
                {"database": {"type": "boolean"}, "broker": {"type": "boolean"}},
                "Whether each dependency answered.",
            ),
        },
        "Ready when the database and the broker both answer.",
    ),
    "PrometheusText": {"type": "string", "description": "Prometheus text exposition format."},
    "OpenAPIDocument": {
        "type": "object",
        "required": ["openapi", "info", "paths"],
        "description": "This document.",
    },
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

PARAMETERS: dict[str, Schema] = {
    "RewardId": {"name": "reward_id", "in": "path", "required": True, "schema": _id("rwd")},
    "ClaimId": {"name": "claim_id", "in": "path", "required": True, "schema": _id("clm")},
    "ParticipantId": {
        "name": "participant_id",
        "in": "path",
        "required": True,
        "description": "The tenant's own id: 1-255 characters, no leading or trailing "
        "whitespace, no control or formatting characters (Unicode Cc, Cf) and no `.` or `..` "
        "path segments (400 validation_error otherwise, at every endpoint; Coffer never "
        "accepts such an id, so none needs addressing). It may contain `/`, also at its "
        "start or end or doubled, percent-encoded or not: paths are taken as sent, never "
        "redirected (docs/inputs.md).",
        "schema": {
            "type": "string",
            "minLength": 1,
            "maxLength": 255,
            "pattern": "^[^\\x00-\\x1f\\x7f-\\x9f]+$",
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
        "(capped by COFFER_CLAIM_WAIT_MS, the default wait).",
        "schema": {"type": "string", "examples": ["respond-async", "wait=2"]},
    },
    "RequestId": {
        "name": "X-Request-ID",
        "in": "header",
        "description": "A request id to log under (1-64 of `A-Za-z0-9._:-`); else one is made.",
        "schema": {"type": "string"},
    },
    "RewardType": {"name": "reward_type", "in": "query", "schema": REWARD_TYPE},
    "Limit": {
        "name": "limit",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": catalog.MAX_PAGE, "default": 50},
    },
    "Cursor": {
        "name": "cursor",
        "in": "query",
        "description": "The next_cursor of the previous page.",
        "schema": {"type": "string"},
    },
}


def _request_schemas() -> dict[str, Schema]:
    """The pydantic models' JSON Schemas (draft 2020-12, which OpenAPI 3.1 speaks)."""
    models = (RewardDefinition, RewardPatch, CodeUpload, PointsCredit, ClaimBody, ReversalBody)
    _, schema = models_json_schema(
        [(model, "validation") for model in models], ref_template="#/components/schemas/{model}"
    )
    defs: dict[str, Schema] = schema["$defs"]
    # A patch changes only the fields present: no defaults, and the required fields of a
    # definition refuse null (the model's validator says so; its schema cannot).
    for name, prop in defs["RewardPatch"]["properties"].items():
        prop.pop("default", None)
        if name in ("name", "type", "max_claims_per_user"):
            prop.update(prop.pop("anyOf")[0])
    return defs


@dataclass(frozen=True)
class Operation:
    """One endpoint. `access` is public (no key), server (server or admin key) or admin."""

    method: str
    path: str
    operation_id: str
    summary: str
    tag: str
    access: str
    responses: dict[int, Schema]
    errors: tuple[str, ...] = ()
    body: dict[str, Schema] | None = None  # media type -> schema
    parameters: tuple[str, ...] = ()  # names in PARAMETERS
    description: str = ""
    error_headers: dict[int, tuple[str, ...]] = field(default_factory=dict)  # status -> names


def reply(
    description: str,
    schema: str | None = None,
    *,
    headers: tuple[str, ...] = (),
    media: str = "application/json",
) -> Schema:
    """A success response: a named schema (or none, as for 204) and the headers it carries."""
    out: Schema = {"description": description}
    if schema is not None:
        out["content"] = {media: {"schema": ref(schema)}}
    out["headers"] = {name: ref(name, "headers") for name in ("X-Request-ID", *headers)}
    return out


JSON = "application/json"
ENTRY = reply("The catalog entry.", "RewardEntry")
CLAIM_HEADERS = ("Idempotent-Replayed", "Preference-Applied")

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "get", f"{API}/rewards", "listRewards", "List the catalog", "Catalog", "server",
        {200: reply("A page of catalog entries.", "RewardList")},
        parameters=("RewardType", "Limit", "Cursor"), errors=("validation_error",),
    ),
    Operation(
        "post", f"{API}/rewards", "createReward", "Create a reward", "Catalog", "admin",
        {201: reply("The new catalog entry.", "RewardEntry", headers=("Location",))},
        body={JSON: ref("RewardDefinition")},
    ),
    Operation(
        "get", f"{API}/rewards/{{reward_id}}", "getReward", "Read a reward", "Catalog", "server",
        {200: ENTRY}, parameters=("RewardId",), errors=("reward_not_found",),
        description="Also for a scheduled, expired or deactivated reward (see `status`).",
    ),
    Operation(
        "patch", f"{API}/rewards/{{reward_id}}", "updateReward", "Change a reward", "Catalog",
        "admin", {200: ENTRY}, parameters=("RewardId",), errors=("reward_not_found",),
        body={JSON: ref("RewardPatch")},
        description="Only the fields present change; `null` clears a nullable field.",
    ),
    Operation(
        "delete", f"{API}/rewards/{{reward_id}}", "deactivateReward", "Deactivate a reward",
        "Catalog", "admin", {204: reply("Deactivated; existing claims stay readable.")},
        parameters=("RewardId",), errors=("reward_not_found",),
    ),
    Operation(
        "post", f"{API}/rewards/{{reward_id}}/codes", "uploadCodes", "Upload codes", "Inventory",
        "admin", {200: reply("What the upload added.", "CodeUploadResult")},
        parameters=("RewardId",), errors=("reward_not_found",),
        body={
            JSON: ref("CodeUpload"),
            "text/csv": {"type": "string", "description": "One code a line; blank lines skipped."},
        },
        description="Codes are unique per reward and allocated oldest upload first, in order.",
    ),
    Operation(
        "post", f"{API}/rewards/{{reward_id}}/claim", "claimReward", "Claim a reward", "Claims",
        "server",
        {
            201: reply("The claim succeeded.", "ClaimSucceeded", headers=CLAIM_HEADERS),
            202: reply(
                "Accepted, still pending.", "ClaimPending", headers=("Location", *CLAIM_HEADERS)
            ),
        },
        parameters=("RewardId", "IdempotencyKey", "Prefer"), body={JSON: ref("ClaimBody")},
        error_headers={409: CLAIM_HEADERS},  # a business failure is an outcome, like 201
        errors=(
            "idempotency_key_missing", "reward_not_found", "idempotency_key_reused",
            *CLAIM_REJECTIONS,
        ),
        description="Checks run in this order, the first failing one wins: reward_not_found, "
        "reward_inactive, reward_expired, max_claims_exceeded, insufficient_points, "
        "inventory_exhausted. The same key and request returns the original outcome with "
        "`Idempotent-Replayed: true`.",
    ),
    Operation(
        "get", f"{API}/claims/{{claim_id}}", "getClaim", "Read a claim", "Claims", "server",
        {200: reply("Pending, failed (with its problem) or succeeded.", "ClaimStatus")},
        parameters=("ClaimId",), errors=("claim_not_found",),
    ),
    Operation(
        "post", f"{API}/claims/{{claim_id}}/reverse", "reverseClaim", "Reverse a claim",
        "Claims", "admin",
        {200: reply("The claim, reversed (or the replay).", "ClaimStatus",
                    headers=("Idempotent-Replayed",))},
        parameters=("ClaimId", "IdempotencyKey"), body={JSON: ref("ReversalBody")},
        errors=(
            "idempotency_key_missing", "claim_not_found", "idempotency_key_reused",
            "claim_not_reversible",
        ),
        description="Refunds the points, optionally restocks the code, frees the slot.",
    ),
    Operation(
        "post", f"{API}/participants/{{participant_id}}/points", "creditPoints", "Credit points",
        "Participants", "server",
        {201: reply("Credited (or the replay of the original credit).", "PointsCredited",
                    headers=("Idempotent-Replayed",))},
        parameters=("ParticipantId", "IdempotencyKey"), body={JSON: ref("PointsCredit")},
        errors=("idempotency_key_missing", "idempotency_key_reused"),
        description="Creates the participant on first use.",
    ),
    Operation(
        "get", f"{API}/participants/{{participant_id}}/points", "getPoints",
        "Read a participant's points", "Participants", "server",
        {200: reply("Balance and ledger.", "PointsSummary")},
        parameters=("ParticipantId",), errors=("validation_error",),
    ),
    Operation(
        "get", f"{API}/participants/{{participant_id}}/rewards", "getParticipantRewards",
        "List a participant's claimed rewards", "Participants", "server",
        {200: reply("The participant's claims.", "ParticipantRewards")},
        parameters=("ParticipantId",), errors=("validation_error",),
    ),
    Operation(
        "get", "/healthz", "healthz", "Process is up", "Operations", "public",
        {200: reply("Up.", "Health")},
    ),
    Operation(
        "get", "/readyz", "readyz", "Dependencies reachable", "Operations", "public",
        {200: reply("Ready.", "Readiness"), 503: reply("Not ready.", "Readiness")},
    ),
    Operation(
        "get", "/metrics", "metrics", "Prometheus metrics", "Operations", "public",
        {200: reply("Prometheus text exposition.", "PrometheusText", media="text/plain")},
    ),
    Operation(
        "get", DOCUMENT_PATH, "openapi", "This OpenAPI document", "Operations", "public",
        {200: reply("The OpenAPI 3.1 document.", "OpenAPIDocument")},
    ),
)  # fmt: skip


def _error_codes(op: Operation) -> list[str]:
    """The codes an operation can answer: its own, plus those its access and body imply."""
    implied: list[str] = []
    if op.body is not None:
        implied += ["validation_error", "payload_too_large"]
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
    problem = {"type": code, "code": code, "title": cls.title, "status": cls.status}
    problem["detail"] = cls.title if code != "rate_limited" else "Retry after 1 seconds"
    if code == "validation_error":
        problem["errors"] = [{"field": "name", "message": "Field required"}]
    return problem


def _operation(op: Operation) -> Schema:
    out: Schema = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": [ref(name, "parameters") for name in (*op.parameters, "RequestId")],
        "security": [] if op.access == "public" else [{"bearerAuth": []}],
        "x-coffer-access": op.access,
        "responses": {
            **{str(status): copy.deepcopy(r) for status, r in op.responses.items()},
            **_error_responses(op),
        },
    }
    access_note = {
        "public": "No key needed.",
        "server": "A server or admin key.",
        "admin": "An admin key; a server key is `403 forbidden`.",
    }[op.access]
    out["description"] = f"{op.description} {access_note}".strip()
    if op.body is not None:
        out["requestBody"] = {
            "required": True,
            "content": {media: {"schema": schema} for media, schema in op.body.items()},
        }
    return out


def _version() -> str:
    try:
        return metadata.version("coffer")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "0.0.0"


@cache
def document() -> dict[str, Any]:
    """The whole OpenAPI 3.1 document (built once; treat it as read-only)."""
    paths: dict[str, Schema] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Coffer",
            "version": _version(),
            "summary": "A headless rewards engine: catalog, code inventory, points, claims.",
            "description": "Every error is `application/problem+json` (RFC 9457) with `type` "
            "and `code` holding the same stable code. A key sees only its own tenant's rows in "
            "its own mode: another tenant's object is 404. Unknown paths are `404 not_found`, "
            "unknown methods `405 method_not_allowed`.",
        },
        "tags": [{"name": name} for name in dict.fromkeys(op.tag for op in OPERATIONS)],
        "paths": paths,
        "components": {
            "schemas": {**_request_schemas(), **RESPONSE_SCHEMAS},
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
