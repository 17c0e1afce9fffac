"""What the code cannot tell about each endpoint, for the OpenAPI document (api/openapi.py).

Paths, parameters and body shapes come from the routes and the models; this
table adds each endpoint's summary, the CONTRACT.md section that specifies it,
its access level and the error codes it can answer, keyed by Flask endpoint.
A new route needs an entry here, or the document refuses to build.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from core import errors
from core.idempotency import KEY_PATTERN
from core.inputs import (
    CampaignBody,
    ClaimBody,
    CodeUpload,
    FulfillmentReport,
    PointsCredit,
    ReversalBody,
    RewardDefinition,
    RewardPatch,
)
from core.schemas import (
    CampaignCreated,
    CampaignPage,
    CampaignResults,
    CampaignView,
    ClaimPending,
    ClaimStatus,
    ClaimSucceeded,
    CodeUploadResult,
    DeliveryPage,
    DeliveryView,
    EventPage,
    Health,
    ParticipantRewards,
    ParticipantToken,
    PointsCredited,
    PointsSummary,
    Readiness,
    RewardEntry,
    RewardPage,
    WebhookEndpointPage,
    WebhookEndpointView,
    WebhookEndpointWithSecret,
)
from core.tokens import TokenRequest
from core.webhooks.inputs import EndpointCreate, EndpointPatch

JSON = "application/json"
Schema = dict[str, Any]
Shape = type[BaseModel] | str | None  # a model, a name in RAW_SCHEMAS, or no body


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
        "description": "Seconds to wait before sending again (429: this key; 503: anyone).",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    },
}


def _id(prefix: str) -> Schema:
    return {"type": "string", "examples": [f"{prefix}_01jd3x8k2m9q4r7t5v6w8y0z1a"]}


PARAMETERS: dict[str, Schema] = {
    "RewardId": {
        "name": "reward_id",
        "in": "path",
        "required": True,
        "description": "The reward's id, as its catalog entry's `id` gives it.",
        "schema": _id("rwd"),
    },
    "ClaimId": {
        "name": "claim_id",
        "in": "path",
        "required": True,
        "description": "The claim's id, as the claim response's `claim_id` gives it.",
        "schema": _id("clm"),
    },
    "ParticipantId": {
        "name": "participant_id",
        "in": "path",
        "required": True,
        "description": "The tenant's own id: 1-255 characters, no leading or trailing "
        "whitespace, no control, formatting or line-break characters (Unicode Cc, Cf, Zl, "
        "Zp) and no `.` or `..` path segments (400 validation_error otherwise, at every "
        "endpoint; Coffer never accepts such an id, so none needs addressing). It may "
        "contain `/`, also at its start or end or doubled, percent-encoded or not: paths are "
        "taken as sent, never redirected (docs/inputs.md).",
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
        # What core.idempotency.parse_key accepts: 1-255 printable ASCII characters, or
        # the same inside a structured-field string (quotes and backslashes escaped).
        "schema": {
            "type": "string",
            "minLength": 1,
            "pattern": KEY_PATTERN,
        },
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
PARAMETERS |= {
    "CampaignId": {
        "name": "campaign_id",
        "in": "path",
        "required": True,
        "description": "The campaign's id, as POST /campaigns gave it.",
        "schema": _id("cmp"),
    },
    "WebhookEndpointId": {
        "name": "endpoint_id",
        "in": "path",
        "required": True,
        "description": "The webhook endpoint's id, as its object's `id` gives it.",
        "schema": _id("whe"),
    },
    "WebhookDeliveryId": {
        "name": "delivery_id",
        "in": "path",
        "required": True,
        "description": "The delivery's id, as the deliveries list's `id` gives it.",
        "schema": _id("whd"),
    },
}
PATH_PARAMETERS = {  # path argument -> name in PARAMETERS
    "campaign_id": "CampaignId",
    "reward_id": "RewardId",
    "claim_id": "ClaimId",
    "participant_id": "ParticipantId",
    "endpoint_id": "WebhookEndpointId",
    "delivery_id": "WebhookDeliveryId",
}
SECTIONS = {
    "§4": "Catalog and admin",
    "§5": "Points",
    "§6": "Claims",
    "§7": "Facts, fulfillment and webhooks",
    "§8": "Campaigns (batch gifting)",
    "§9": "Operations",
    "§10": "Clients",
    "§11": "Admin dashboard",
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

    `access` is public (no key), server (server or admin key), participant (server or
    admin key, or a participant token for that participant) or admin; `section` is the
    CONTRACT.md section that specifies it. `body_required` is false where an empty body
    takes every default.
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
    body_required: bool = True


CLAIM_HEADERS = ("Idempotent-Replayed", "Preference-Applied")
ENTRY = Reply("The catalog entry.", RewardEntry)

OPERATIONS: dict[str, Operation] = {
    "rewards.list_rewards": Operation(
        "listRewards", "List the catalog", "§4", "Catalog", "server",
        {200: Reply("A page of catalog entries.", RewardPage)},
        description="Active, started, unexpired rewards in creation order, `limit` at a time; "
        "`total` counts all matching rewards, `next_cursor` reads the next page. With "
        "`participant_id`, each entry carries that participant's `eligibility`: what a claim "
        "with `points_deduction: true` would meet right now. Extension (admin keys only): "
        "`status` lists scheduled, expired or inactive rewards instead, or `all` of them; "
        "any `status` but `active` with another key is 403 forbidden.",
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
        description="No new claims of it; `GET /rewards/{reward_id}` shows it `inactive`. "
        "`POST /rewards/{reward_id}/activate` undoes it.",
    ),
    "rewards.activate_reward": Operation(
        "activateReward", "Reactivate a reward", "§4", "Catalog", "admin",
        {200: ENTRY}, errors=("reward_not_found",),
        description="Extension (docs/api-extensions.md): undoes a deactivation, so claims are "
        "judged by `starts_at` and `expires_at` again (`status` then reads active, scheduled "
        "or expired). A reward that is not deactivated is left as it is; no body.",
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
        {200: Reply("Pending, failed (with its problem), succeeded or reversed.", ClaimStatus)},
        errors=("claim_not_found",),
        description="The claim's current state, told apart by `status`: a succeeded claim "
        "also carries its `fulfillment_status`, a reversed one its `reversal`.",
    ),
    "claims.reverse": Operation(
        "reverseClaim", "Reverse a claim", "§7", "Claims", "admin",
        {200: Reply("The claim, reversed (or the replay).", ClaimStatus,
                    headers=("Idempotent-Replayed",))},
        headers=("IdempotencyKey",), body={JSON: ReversalBody},
        errors=(
            "idempotency_key_missing", "claim_not_found", "idempotency_key_reused",
            "claim_not_reversible",
        ),
        description="Refunds the deducted points with a `reversal_refund` entry, returns the "
        "code to the inventory with `restock: true` (offered again before codes never handed "
        "out), frees the participant's max_claims_per_user slot; answers the claim as "
        "`GET /claims/{claim_id}` shows it. A pending or failed claim is 409 "
        "claim_not_reversible.",
    ),
    "claims.fulfillment": Operation(
        "reportFulfillment", "Report a claim's fulfillment", "§7", "Claims", "admin",
        {200: Reply("The claim with its new fulfillment_status.", ClaimStatus)},
        body={JSON: FulfillmentReport},
        errors=("claim_not_found", "fulfillment_not_changeable"),
        description="A fulfillment team's late word on a claim of a reward with fulfillment: "
        "`fulfilled` always wins (over a pending or failed delivery); `failed` on a claim not "
        "yet failed is a final failure (a `reward.fulfillment_failed` fact and, with "
        "`on_failure: reverse`, the reversal). `reference` is kept with the claim. A pending, "
        "failed or reversed claim, or one whose reward has no fulfillment, is 409 "
        "fulfillment_not_changeable.",
    ),
    "participants.credit": Operation(
        "creditPoints", "Credit points", "§5", "Participants", "server",
        {201: Reply("Credited (or the replay of the original credit).", PointsCredited,
                    headers=("Idempotent-Replayed",))},
        headers=("IdempotencyKey",), body={JSON: PointsCredit},
        errors=("idempotency_key_missing", "idempotency_key_reused"),
        description="Adds `amount` points and appends a `credit` ledger entry, creating the "
        "participant on first use; once per Idempotency-Key (a replay returns the original "
        "answer with `Idempotent-Replayed: true`).",
    ),
    "participants.balance": Operation(
        "getPoints", "Read a participant's points", "§5", "Participants", "participant",
        {200: Reply("Balance and ledger.", PointsSummary)},
        description="The balance and the newest 1,000 ledger entries, newest first; an "
        "unknown participant has balance 0 and no entries (200, not 404).",
    ),
    "participants.rewards": Operation(
        "getParticipantRewards", "List a participant's claimed rewards", "§6", "Participants",
        "participant", {200: Reply("The participant's claims.", ParticipantRewards)},
        description="Every claim the participant holds, newest first (the newest 1,000; "
        "`total_claimed` counts all); none for an unknown participant. Extension "
        "(docs/api-extensions.md): for an admin key each record also carries `status` and "
        "`fulfillment_status`, so a dashboard needs no `GET /claims/{claim_id}` per claim.",
    ),
    "participants.issue_token": Operation(
        "issueParticipantToken", "Issue a participant token", "§10", "Participants", "server",
        {201: Reply("The token and when it expires.", ParticipantToken)},
        body={JSON: TokenRequest}, body_required=False,
        description="A short-lived `cpt_` token a storefront hands to the participant's "
        "browser: it may only GET this participant's rewards and points, in the key's tenant "
        "and mode, with no Origin or from an origin in COFFER_CORS_ORIGINS (anything else is "
        "403 forbidden; expired or tampered, 401). `ttl_seconds` is 60 to 86400, default 3600; "
        "an empty body takes the default. Verified without a database read; a token stops "
        "working when the key that issued it is revoked (docs/clients.md gives the bound).",
    ),
    "webhooks.create": Operation(
        "createWebhookEndpoint", "Register a webhook endpoint", "§7", "Webhooks", "admin",
        {201: Reply("The new endpoint, with its secret (shown this once).",
                    WebhookEndpointWithSecret, headers=("Location",))},
        body={JSON: EndpointCreate},
        description="An enabled endpoint for the key's tenant and mode, subscribed to "
        "`event_types` (default `[\"*\"]`: every type). A URL that resolves to a private, "
        "loopback, link-local or otherwise non-global address is 400 naming `url` unless "
        "COFFER_WEBHOOK_ALLOW_PRIVATE is set; registration never calls it.",
    ),
    "webhooks.list_all": Operation(
        "listWebhookEndpoints", "List webhook endpoints", "§7", "Webhooks", "admin",
        {200: Reply("A page of endpoints.", WebhookEndpointPage)},
        description="Endpoints of the key's tenant and mode, oldest first, `limit` at a time; "
        "`next_cursor` reads the next page. A deleted endpoint is not listed.",
    ),
    "webhooks.read": Operation(
        "getWebhookEndpoint", "Read a webhook endpoint", "§7", "Webhooks", "admin",
        {200: Reply("The endpoint (never its secret).", WebhookEndpointView)},
        errors=("not_found",),
        description="A disabled endpoint says why in `disabled_reason`; a deleted one, or "
        "another tenant's or mode's, is 404.",
    ),
    "webhooks.update": Operation(
        "updateWebhookEndpoint", "Change a webhook endpoint", "§7", "Webhooks", "admin",
        {200: Reply("The endpoint as changed.", WebhookEndpointView)},
        errors=("not_found",), body={JSON: EndpointPatch},
        description="Only the fields present change (`url`, `event_types` and `enabled` refuse "
        "null). A new URL passes the same address check as at registration. `enabled: false` "
        "stops deliveries; `enabled: true` clears the reason and the failure streak.",
    ),
    "webhooks.delete": Operation(
        "deleteWebhookEndpoint", "Delete a webhook endpoint", "§7", "Webhooks", "admin",
        {204: Reply("Deleted; its deliveries stay on record.")},
        errors=("not_found",),
        description="Nothing more is delivered to it; it is 404 from then on. Its pending "
        "deliveries end `failed` in the same transaction, with a last attempt whose error is "
        "`endpoint deleted`, and the claims they fulfil fail as after a final failure "
        "(`reward.fulfillment_failed`; with `on_failure: \"reverse\"` the reversal).",
    ),
    "webhooks.rotate": Operation(
        "rotateWebhookSecret", "Rotate a webhook endpoint's secret", "§7", "Webhooks", "admin",
        {200: Reply("The endpoint with its new secret (shown this once).",
                    WebhookEndpointWithSecret)},
        errors=("not_found",),
        description="For 24 hours the previous secret signs beside the new one (two `v1,` "
        "entries in `webhook-signature`), so a receiver can switch without missing a delivery.",
    ),
    "webhooks.deliveries": Operation(
        "listWebhookDeliveries", "List an endpoint's deliveries", "§7", "Webhooks", "admin",
        {200: Reply("A page of deliveries, each with its attempts.", DeliveryPage)},
        errors=("not_found",),
        description="Newest first, `limit` at a time; each delivery lists every attempt "
        "(oldest first) with its status code, error and duration. A deleted endpoint's "
        "deliveries stay listed here.",
    ),
    "webhooks.retry": Operation(
        "retryWebhookDelivery", "Retry a delivery", "§7", "Webhooks", "admin",
        {200: Reply("The delivery, pending and due now.", DeliveryView)},
        errors=("not_found", "delivery_not_retryable"),
        description="Makes a pending or failed delivery due now and sends it at once (a "
        "failed one gets one more attempt); an already delivered one, or one whose endpoint "
        "was deleted, is 409 delivery_not_retryable.",
    ),
    "events.events": Operation(
        "listEvents", "List events", "§7", "Webhooks", "admin",
        {200: Reply("A page of facts.", EventPage)},
        description="The facts of the key's tenant and mode, oldest first, as their webhooks "
        "carry them; a fact's `id` is the `webhook-id` of its deliveries. `after` takes a "
        "`next_cursor` or any event id of this tenant and mode (anything else is 400). "
        "Extension (docs/api-extensions.md): `order=desc` lists newest first and its "
        "`next_cursor` goes in `before` (facts older than it); `after` and `before` bound "
        "either order.",
    ),
    "ops.healthz": Operation(
        "healthz", "Process is up", "§9", "Operations", "public",
        {200: Reply("Up.", Health)}, description="Answers while the process runs.",
    ),
    "ops.readyz": Operation(
        "readyz", "Dependencies reachable", "§9", "Operations", "public",
        {
            200: Reply("Ready, or degraded (only an optional dependency is down).", Readiness),
            503: Reply("Unavailable: the database or the broker is down.", Readiness),
        },
        description="Each dependency by name (database, broker, redis) with its status and "
        "whether it is required; 503 while a required one is down.",
    ),
    "metrics.metrics": Operation(
        "metrics", "Prometheus metrics", "§9", "Operations", "public",
        {200: Reply("Prometheus text exposition.", "PrometheusText", media="text/plain")},
        errors=("service_unavailable",),
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
    "admin.page": Operation(
        "adminDashboard", "Admin dashboard", "§11", "Operations", "public",
        {200: Reply("The dashboard's page; it asks for an admin key.", "HtmlPage",
                    media="text/html")},
        description="Every call it makes is a public API call with the admin key the person "
        "enters (kept in the browser session only); its files are served from this origin.",
    ),
    "campaigns.create": Operation(
        "createCampaign", "Gift a reward to a list of participants", "§8", "Campaigns",
        "admin",
        {202: Reply("Accepted and running (or the replay).", CampaignCreated,
                    headers=("Location", "Idempotent-Replayed"))},
        headers=("IdempotencyKey",),
        body={
            JSON: CampaignBody,
            "text/csv": {"type": "string", "description": "One participant id a line; "
                         "`header=present` skips the first line. reward_id, name and "
                         "points_deduction are query parameters."},
            "multipart/form-data": {
                "type": "object", "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary",
                                        "description": "One participant id a line."}},
            },
        },
        errors=("idempotency_key_missing", "reward_not_found", "idempotency_key_reused"),
        description="Up to 1,000,000 ids: blank lines, surrounding whitespace and a UTF-8 BOM "
        "are ignored, a repeated id counts once, and an invalid id refuses the whole upload "
        "naming its line, creating nothing. Each participant's claim uses the key "
        "`campaign:{campaign_id}:{participant_id}` and the checks of a single claim; the "
        "campaign runs through the queue in chunks.",
    ),
    "campaigns.index": Operation(
        "listCampaigns", "List campaigns", "§8", "Campaigns", "admin",
        {200: Reply("A page of campaigns, newest first.", CampaignPage)},
        description="Newest first, `limit` at a time; `next_cursor` reads the next page.",
    ),
    "campaigns.show": Operation(
        "getCampaign", "Read a campaign", "§8", "Campaigns", "admin",
        {200: Reply("The campaign with its counts.", CampaignView)}, errors=("not_found",),
        description="succeeded + failed + pending == total at every moment.",
    ),
    "campaigns.results": Operation(
        "getCampaignResults", "A campaign's results", "§8", "Campaigns", "admin",
        {200: Reply("One entry per participant, in upload order.", CampaignResults)},
        errors=("not_found",),
        description="Each participant's status, claim and code or error code; filter by "
        "`status`, page with `cursor`.",
    ),
    "campaigns.cancel": Operation(
        "cancelCampaign", "Cancel a campaign", "§8", "Campaigns", "admin",
        {200: Reply("The campaign, cancelled (or as it finished).", CampaignView)},
        errors=("not_found",),
        description="Participants not yet decided end `failed` with `campaign_cancelled`; "
        "decided ones stay. Appends `campaign.completed`.",
    ),
}  # fmt: skip
UNDOCUMENTED = frozenset({"docs.asset", "admin.asset"})  # the files of /docs and /admin
