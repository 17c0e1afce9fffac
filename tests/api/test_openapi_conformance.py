"""The OpenAPI document is valid, describes every route, and the running API conforms to it.

Every request below goes through the Flask test client; every response (status,
headers, body) is validated against GET /api/v1/openapi.json with openapi-core,
and the (operation, status, error code) triples seen are counted: the last
test asserts that every documented one was produced at least once.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select
from werkzeug.test import EnvironBuilder, TestResponse
from werkzeug.wrappers import Request

import core.schemas
from api import create_app
from api.openapi import (
    DOCUMENT_PATH,
    PROBLEM_JSON,
    UndocumentedRoute,
    build,
    document,
    template,
)
from api.operations import UNDOCUMENTED
from core.claims.drain import Drain
from core.models import IdempotencyRecord, WebhookDelivery
from core.runtime import Runtime, build_runtime
from core.schemas import ClaimFailed, ClaimPending, CodeUploadResult
from core.settings import Settings
from core.webhooks.dispatch import DeliveryPolicy, attempt
from tests.support.receiver import Answer, Receiver, new_delivery
from tests.support.tenants import TestTenant

API = "/api/v1/gamify"
# The headers Coffer itself sets: each one a response carries must be documented for it.
COFFER_HEADERS = ("Location", "Idempotent-Replayed", "Preference-Applied", "Retry-After")
Seen = set[tuple[str, int, str | None]]  # (operationId, status, error code)
# Registration never calls a URL, and no worker runs here to deliver: nothing leaves the host.
HOOK_URL = "http://127.0.0.1:9/hooks"


def path_pattern(path: str) -> str:
    """An OpenAPI path as a regular expression: each `{name}` is one path segment."""
    parts = re.split(r"(\{\w+\})", path)
    return "".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts)


def later(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_key() -> str:
    return f"key-{uuid.uuid4().hex}"


@dataclass
class Conformance:
    """Sends requests and holds each response to the document."""

    app: Flask
    spec: dict[str, Any]
    openapi: OpenAPI
    seen: Seen

    def call(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        json_body: Any = None,
        data: str | bytes | None = None,
        content_type: str | None = None,
        app: Flask | None = None,
        valid_request: bool = True,
    ) -> TestResponse:
        """One request; `valid_request` also holds the request itself to the document."""
        kwargs: dict[str, Any] = {"method": method, "headers": headers or {}}
        if json_body is not None:
            kwargs["json"] = json_body
        if data is not None:
            kwargs["data"] = data
        if content_type is not None:
            kwargs["content_type"] = content_type
        response = (app or self.app).test_client().open(path, **kwargs)
        request = Request(EnvironBuilder(path, **kwargs).get_environ())
        if valid_request:
            self.openapi.validate_request(WerkzeugOpenAPIRequest(request))
        self.openapi.validate_response(
            WerkzeugOpenAPIRequest(request), WerkzeugOpenAPIResponse(response)
        )
        operation = self._documented_response(request, response)
        self._check_headers(operation, response)
        code = response.get_json()["code"] if response.mimetype == PROBLEM_JSON else None
        self.seen.add((operation["operationId"], response.status_code, code))
        return response

    def _documented_response(self, request: Request, response: TestResponse) -> dict[str, Any]:
        """The operation the request is documented under (by path template, as clients see it)."""
        method = request.method.lower()
        matches = [
            item[method]
            for path, item in self.spec["paths"].items()
            if method in item and re.fullmatch(path_pattern(path), request.path)
        ]
        assert len(matches) == 1, (request.method, request.path)
        operation: dict[str, Any] = matches[0]
        assert str(response.status_code) in operation["responses"], response.get_data(True)
        return operation

    @staticmethod
    def _check_headers(operation: dict[str, Any], response: TestResponse) -> None:
        documented = operation["responses"][str(response.status_code)].get("headers", {})
        for name in COFFER_HEADERS:
            if name in response.headers:
                assert name in documented, f"{name} is not documented for this response"
        if response.status_code == 204:
            assert response.get_data() == b""


@pytest.fixture(scope="module")
def app(settings: Settings) -> Iterator[Flask]:
    """The session's app, but registering webhook URLs on 127.0.0.1 (COFFER_WEBHOOK_ALLOW_PRIVATE).

    The session app keeps the address check on: tests/integration/test_webhook_api.py
    proves the refusals through it.
    """
    changed = {**settings.model_dump(), "webhook_allow_private": True}
    runtime = build_runtime(Settings(**changed, _env_file=None))  # type: ignore[call-arg]
    yield create_app(runtime)
    runtime.close()


@pytest.fixture(scope="module")
def seen() -> Seen:
    return set()


@pytest.fixture(scope="module")
def served(app: Flask) -> tuple[dict[str, Any], OpenAPI]:
    """The document as the API serves it, and openapi-core's validator for it."""
    spec = app.test_client().get(DOCUMENT_PATH).get_json()
    # openapi-core decodes application/json only: these two are JSON and text too.
    media = {PROBLEM_JSON: json.loads, "text/csv": bytes.decode}
    return spec, OpenAPI.from_dict(spec, config=Config(extra_media_type_deserializers=media))


@pytest.fixture
def conf(app: Flask, served: tuple[dict[str, Any], OpenAPI], seen: Seen) -> Conformance:
    return Conformance(app, *served, seen)


@pytest.fixture
def variant(settings: Settings) -> Iterator[Callable[..., Flask]]:
    """Another app on the same database and broker with some settings changed."""
    runtimes: list[Runtime] = []

    def make(*, check_schema: bool = True, **overrides: Any) -> Flask:
        changed = {
            **settings.model_dump(),
            "redis_url": None,
            "webhook_allow_private": True,
            **overrides,
        }
        runtime = build_runtime(Settings(**changed, _env_file=None))  # type: ignore[call-arg]
        runtimes.append(runtime)
        return create_app(runtime, check_schema=check_schema)

    yield make
    for runtime in runtimes:
        runtime.close()


@dataclass
class World:
    """One tenant's rewards and participants, and a valid request for every operation."""

    tenant: TestTenant
    reward_id: str
    claim_id: str
    participant: str
    endpoint_id: str = ""
    delivery_id: str = ""  # a pending delivery to endpoint_id

    def auth(self, scope: str = "admin") -> dict[str, str]:
        return self.tenant.auth("live", scope)

    def samples(self, conf: Conformance) -> dict[str, dict[str, Any]]:
        """operationId -> a request that succeeds (fresh objects where it consumes one)."""
        rid, pid = self.reward_id, quote(self.participant, safe="")
        eid = self.endpoint_id
        return {
            "listRewards": {"method": "GET", "path": f"{API}/rewards"},
            "createReward": {
                "method": "POST",
                "path": f"{API}/rewards",
                "json_body": {"name": "Sample", "type": "voucher"},
            },
            "getReward": {"method": "GET", "path": f"{API}/rewards/{rid}"},
            "updateReward": {
                "method": "PATCH",
                "path": f"{API}/rewards/{rid}",
                "json_body": {"description": "Changed"},
            },
            "deactivateReward": {
                "method": "DELETE",
                "path": f"{API}/rewards/{create_reward(conf, self, name='Doomed')['id']}",
            },
            "uploadCodes": {
                "method": "POST",
                "path": f"{API}/rewards/{rid}/codes",
                "json_body": {"codes": [f"C-{uuid.uuid4().hex}"]},
            },
            "claimReward": {
                "method": "POST",
                "path": f"{API}/rewards/{rid}/claim",
                "headers": {"Idempotency-Key": new_key(), "Prefer": "respond-async"},
                "json_body": {"participant_id": self.participant},
            },
            "getClaim": {"method": "GET", "path": f"{API}/claims/{self.claim_id}"},
            "createCampaign": {
                "method": "POST",
                "path": f"{API}/campaigns",
                "headers": {"Idempotency-Key": new_key()},
                "json_body": {"reward_id": rid, "participant_ids": ["gift-1", "gift-2"]},
            },
            "listCampaigns": {"method": "GET", "path": f"{API}/campaigns"},
            "getCampaign": {"method": "GET", "path": f"{API}/campaigns/{self.campaign(conf)}"},
            "getCampaignResults": {
                "method": "GET",
                "path": f"{API}/campaigns/{self.campaign(conf)}/results",
            },
            "cancelCampaign": {
                "method": "POST",
                "path": f"{API}/campaigns/{self.campaign(conf)}/cancel",
            },
            "reverseClaim": {
                "method": "POST",
                "path": f"{API}/claims/{self.decided_claim(conf)}/reverse",
                "headers": {"Idempotency-Key": new_key()},
                "json_body": {"reason": "sample", "restock": True},
            },
            "reportFulfillment": {
                "method": "POST",
                "path": f"{API}/claims/{self.claim_to_fulfil(conf)}/fulfillment",
                "json_body": {"status": "fulfilled", "reference": "SHIP-1"},
            },
            "creditPoints": {
                "method": "POST",
                "path": f"{API}/participants/{pid}/points",
                "headers": {"Idempotency-Key": new_key()},
                "json_body": {"amount": 10, "reason": "sample"},
            },
            "getPoints": {"method": "GET", "path": f"{API}/participants/{pid}/points"},
            "getParticipantRewards": {"method": "GET", "path": f"{API}/participants/{pid}/rewards"},
            "issueParticipantToken": {
                "method": "POST",
                "path": f"{API}/participants/{pid}/tokens",
                "json_body": {"ttl_seconds": 600},
            },
            "createWebhookEndpoint": {
                "method": "POST",
                "path": f"{API}/webhook-endpoints",
                "json_body": {
                    "url": HOOK_URL,
                    "event_types": ["reward.reward_claimed"],
                    "description": "sample",
                },
            },
            "listWebhookEndpoints": {"method": "GET", "path": f"{API}/webhook-endpoints"},
            "getWebhookEndpoint": {"method": "GET", "path": f"{API}/webhook-endpoints/{eid}"},
            "updateWebhookEndpoint": {
                "method": "PATCH",
                "path": f"{API}/webhook-endpoints/{eid}",
                "json_body": {"description": "changed"},
            },
            "deleteWebhookEndpoint": {
                "method": "DELETE",
                "path": f"{API}/webhook-endpoints/{create_endpoint(conf, self)['id']}",
            },
            "rotateWebhookSecret": {
                "method": "POST",
                "path": f"{API}/webhook-endpoints/{eid}/rotate-secret",
            },
            "listWebhookDeliveries": {
                "method": "GET",
                "path": f"{API}/webhook-endpoints/{eid}/deliveries",
            },
            "retryWebhookDelivery": {
                "method": "POST",
                "path": f"{API}/webhook-deliveries/{self.delivery_id}/retry",
            },
            "listEvents": {"method": "GET", "path": f"{API}/events"},
            "healthz": {"method": "GET", "path": "/healthz"},
            "readyz": {"method": "GET", "path": "/readyz"},
            "metrics": {"method": "GET", "path": "/metrics"},
            "openapi": {"method": "GET", "path": DOCUMENT_PATH},
            "docs": {"method": "GET", "path": "/docs"},
            "adminDashboard": {"method": "GET", "path": "/admin"},
        }

    def campaign(self, conf: Conformance) -> str:
        """A fresh campaign gifting the world's reward to two participants."""
        created = conf.call(
            "POST",
            f"{API}/campaigns",
            headers={**self.auth(), "Idempotency-Key": new_key()},
            json_body={"reward_id": self.reward_id, "participant_ids": ["c-1", "c-2"]},
        )
        assert created.status_code == 202, created.get_data(as_text=True)
        return created.get_json()["campaign_id"]  # type: ignore[no-any-return]

    def decided_claim(self, conf: Conformance) -> str:
        """A fresh claim of the world's reward, decided (succeeded)."""
        accepted = conf.call(
            "POST",
            f"{API}/rewards/{self.reward_id}/claim",
            headers={**self.auth(), "Idempotency-Key": new_key(), "Prefer": "respond-async"},
            json_body={"participant_id": self.participant},
        )
        drain_claims(conf_runtime(conf))
        return accepted.get_json()["claim_id"]  # type: ignore[no-any-return]

    def claim_to_fulfil(self, conf: Conformance) -> str:
        """A fresh decided claim of a reward fulfilled through the world's endpoint."""
        fulfillment = {"endpoint_id": self.endpoint_id, "on_failure": "keep"}
        reward = create_reward(
            conf, self, code_generation={"prefix": "F-"}, fulfillment=fulfillment
        )
        assert reward["fulfillment"] == fulfillment
        accepted = conf.call(
            "POST",
            f"{API}/rewards/{reward['id']}/claim",
            headers={**self.auth(), "Idempotency-Key": new_key(), "Prefer": "respond-async"},
            json_body={"participant_id": self.participant},
        )
        drain_claims(conf_runtime(conf))
        return accepted.get_json()["claim_id"]  # type: ignore[no-any-return]


def create_reward(conf: Conformance, world: World, **fields: Any) -> dict[str, Any]:
    body = {"name": "10% Off Coupon", "type": "coupon", **fields}
    response = conf.call("POST", f"{API}/rewards", headers=world.auth(), json_body=body)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()  # type: ignore[no-any-return]


def create_endpoint(conf: Conformance, world: World, **fields: Any) -> dict[str, Any]:
    body = {"url": HOOK_URL, **fields}
    response = conf.call("POST", f"{API}/webhook-endpoints", headers=world.auth(), json_body=body)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()  # type: ignore[no-any-return]


def delivery_id(runtime: Runtime, pk: int) -> str:
    with runtime.db.transaction() as session:
        return session.get_one(WebhookDelivery, pk).delivery_id


@pytest.fixture
def world(conf: Conformance, tenant: TestTenant) -> World:
    partial = World(tenant, "", "", f"user:{uuid.uuid4().hex}@shop")
    generated = {"prefix": "GEN-", "length": 8}
    reward = create_reward(conf, partial, code_generation=generated, max_claims_per_user=100)
    claimed = conf.call(
        "POST",
        f"{API}/rewards/{reward['id']}/claim",
        headers={**partial.auth(), "Idempotency-Key": new_key(), "Prefer": "respond-async"},
        json_body={"participant_id": partial.participant},
    )
    assert claimed.status_code == 202
    endpoint = create_endpoint(conf, partial, event_types=["*"])
    pending = new_delivery(conf_runtime(conf).db, tenant)  # a fact relayed to the endpoint
    return World(
        tenant,
        reward["id"],
        claimed.get_json()["claim_id"],
        partial.participant,
        endpoint["id"],
        delivery_id(conf_runtime(conf), pending),
    )


def operations(spec: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """operationId -> (method, path, operation object)."""
    return {
        op["operationId"]: (method, path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
    }


def conf_runtime(conf: Conformance) -> Runtime:
    return conf.app.extensions["coffer"].runtime  # type: ignore[no-any-return]


def drain_claims(runtime: Runtime) -> int:
    return Drain(runtime.db, runtime.publisher, batch_size=100).run().decided


def draining_soon(runtime: Runtime) -> threading.Thread:
    """A thread draining until it has decided a claim: a waiting request then gets 201/409.

    Whatever was pending before is decided first, so the claim it decides is the next one.
    """
    drain_claims(runtime)

    def run() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not drain_claims(runtime):
            time.sleep(0.02)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def claim(
    conf: Conformance,
    world: World,
    reward_id: str,
    *,
    key: str | None = None,
    prefer: str = "respond-async",
    participant: str | None = None,
    deduct: bool = False,
) -> TestResponse:
    headers = {**world.auth("server"), "Idempotency-Key": key or new_key(), "Prefer": prefer}
    body = {"participant_id": participant or world.participant, "points_deduction": deduct}
    return conf.call("POST", f"{API}/rewards/{reward_id}/claim", headers=headers, json_body=body)


# The document itself.


def test_the_served_document_is_valid_openapi_3_1_and_needs_no_key(client: FlaskClient) -> None:
    response = client.get(DOCUMENT_PATH)

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    served = response.get_json()
    validate(served)
    assert served["openapi"] == "3.1.0"
    assert served == json.loads(json.dumps(document(client.application)))


def test_every_route_is_documented_and_every_documented_operation_is_routed(app: Flask) -> None:
    routed = {
        (template(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in UNDOCUMENTED  # the files of the /docs and /admin pages
        for method in rule.methods or ()
        if method not in {"HEAD", "OPTIONS"}
    }
    documented = {
        (path, method) for path, item in document(app)["paths"].items() for method in item
    }

    assert {r for r in routed if r[0].startswith("/api/v1")} <= documented
    assert routed == documented


def test_a_route_without_an_entry_in_the_table_stops_the_document_from_building() -> None:
    bare = Flask("bare", static_folder=None)
    bare.add_url_rule("/api/v1/gamify/secret", "secret", lambda: "")

    with pytest.raises(UndocumentedRoute, match="/api/v1/gamify/secret"):
        build(bare)


def test_every_operation_has_a_summary_and_a_description_naming_its_contract_section(
    app: Flask,
) -> None:
    for operation_id, (_, _, op) in operations(document(app)).items():
        assert op["summary"], operation_id
        assert re.search(r"Contract: §\d+ \w", op["description"]), operation_id


def test_every_response_body_schema_is_a_model_from_core_schemas(app: Flask) -> None:
    """No response shape is written by hand: each JSON one is a model's schema."""
    models = {name for name in dir(core.schemas) if isinstance(getattr(core.schemas, name), type)}
    for operation_id, (_, _, op) in operations(document(app)).items():
        for status, response in op["responses"].items():
            json_body = response.get("content", {}).get("application/json")
            if json_body and operation_id != "openapi":
                name = json_body["schema"]["$ref"].rsplit("/", 1)[-1]
                assert name in models, (operation_id, status, name)


def test_every_operation_has_a_sample_request(conf: Conformance, world: World) -> None:
    assert set(world.samples(conf)) == set(operations(conf.spec))


# Success responses.


def test_every_operation_succeeds_as_documented(conf: Conformance, world: World) -> None:
    for operation_id, sample in world.samples(conf).items():
        headers = {**world.auth(), **sample.pop("headers", {})}
        response = conf.call(**sample, headers=headers)
        assert response.status_code < 300, (operation_id, response.get_data(as_text=True))


def test_catalog_entries_conform_in_every_status(conf: Conformance, world: World) -> None:
    full = create_reward(
        conf,
        world,
        description="Ten percent off",
        points_cost=500,
        max_claims_per_user=2,
        expires_at=later(30),
        code_expiry_days=30,
        low_stock_threshold=5,
    )
    scheduled = create_reward(conf, world, starts_at=later(1))
    expired = create_reward(conf, world, starts_at=later(-3), expires_at=later(-1))
    patched = conf.call(
        "PATCH",
        f"{API}/rewards/{full['id']}",
        headers=world.auth(),
        json_body={"points_cost": None, "code_generation": None, "name": "Renamed"},
    )
    gone = conf.call("DELETE", f"{API}/rewards/{full['id']}", headers=world.auth())
    statuses = [
        conf.call("GET", f"{API}/rewards/{reward['id']}", headers=world.auth()).get_json()["status"]
        for reward in (full, scheduled, expired)
    ]

    assert (scheduled["status"], expired["status"], statuses) == (
        "scheduled",
        "expired",
        ["inactive", "scheduled", "expired"],
    )
    assert patched.status_code == 200 and patched.get_json()["points_cost"] is None
    assert gone.status_code == 204


def test_a_catalog_page_conforms_with_and_without_a_next_cursor(
    conf: Conformance, world: World
) -> None:
    create_reward(conf, world, name="Second")
    first = conf.call("GET", f"{API}/rewards?limit=1", headers=world.auth("server"))
    cursor = first.get_json()["next_cursor"]
    rest = conf.call(
        "GET", f"{API}/rewards?limit=200&reward_type=coupon&cursor={cursor}", headers=world.auth()
    )

    assert isinstance(cursor, str)
    assert rest.get_json()["next_cursor"] is None


def test_a_csv_code_upload_conforms(conf: Conformance, world: World) -> None:
    response = conf.call(
        "POST",
        f"{API}/rewards/{world.reward_id}/codes",
        headers=world.auth(),
        data="CSV-1\nCSV-2\n\nCSV-1\n",
        content_type="text/csv",
    )

    assert response.get_json() == CodeUploadResult(added=2, duplicates=1, available_codes=2).wire()


def test_points_credits_replays_debits_and_ledgers_conform(conf: Conformance, world: World) -> None:
    path = f"{API}/participants/{quote(world.participant, safe='')}/points"
    headers = {**world.auth("server"), "Idempotency-Key": new_key()}
    first = conf.call("POST", path, headers=headers, json_body={"amount": 300})
    replay = conf.call("POST", path, headers=headers, json_body={"amount": 300})
    priced = create_reward(conf, world, points_cost=100, code_generation={})
    drainer = draining_soon(conf_runtime(conf))
    paid = claim(conf, world, priced["id"], deduct=True, prefer="wait=5")
    drainer.join()
    ledger = conf.call("GET", path, headers=world.auth("server"))

    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json() == first.get_json()
    assert (paid.get_json()["points_deducted"], paid.get_json()["new_balance"]) == (100, 200)
    debit = ledger.get_json()["entries"][0]
    assert (debit["kind"], debit["amount"], debit["claim_id"]) == (
        "claim_debit",
        -100,
        paid.get_json()["claim_id"],
    )


def test_a_points_multiplier_its_claim_and_multiplied_credits_conform(
    conf: Conformance, world: World
) -> None:
    multiplier = {"factor": 1.5, "duration_days": 7}
    reward = create_reward(conf, world, type="points_multiplier", multiplier=multiplier)
    public = conf.call("GET", f"{API}/rewards/{reward['id']}", headers=world.auth("server"))
    participant = f"mult-{new_key()}"
    drain_claims(conf_runtime(conf))
    accepted = claim(conf, world, reward["id"], participant=participant)
    drain_claims(conf_runtime(conf))
    activated = conf.call(
        "GET", f"{API}/claims/{accepted.get_json()['claim_id']}", headers=world.auth("server")
    )
    path = f"{API}/participants/{quote(participant, safe='')}/points"
    headers = {**world.auth("server"), "Idempotency-Key": new_key()}
    credited = conf.call("POST", path, headers=headers, json_body={"amount": 7})
    ledger = conf.call("GET", path, headers=world.auth("server"))

    assert reward["multiplier"] == multiplier and "multiplier" not in public.get_json()
    assert activated.get_json()["code_value"].startswith("MULT-")
    assert credited.get_json()["balance"] == 10
    entry = ledger.get_json()["entries"][0]
    assert (entry["base_amount"], entry["multiplier_claim_id"]) == (
        7,
        activated.get_json()["claim_id"],
    )


# Webhooks: endpoints, deliveries with attempts, events.


def test_an_endpoint_conforms_created_changed_rotated_and_listed_a_page_at_a_time(
    conf: Conformance, world: World
) -> None:
    made = create_endpoint(conf, world, event_types=["reward.claim_reversed"], description="ops")
    path = f"{API}/webhook-endpoints/{made['id']}"
    disabled = conf.call("PATCH", path, headers=world.auth(), json_body={"enabled": False})
    rotated = conf.call("POST", f"{path}/rotate-secret", headers=world.auth())
    shown = conf.call("GET", path, headers=world.auth())
    first = conf.call("GET", f"{API}/webhook-endpoints?limit=1", headers=world.auth())
    cursor = first.get_json()["next_cursor"]
    rest = conf.call(
        "GET", f"{API}/webhook-endpoints?limit=100&cursor={cursor}", headers=world.auth()
    )

    assert made["secret"].startswith("whsec_") and "secret" not in shown.get_json()
    assert disabled.get_json()["disabled_reason"] == "disabled by an admin"
    assert rotated.get_json()["secret"] not in (made["secret"], None)
    assert shown.get_json()["enabled"] is False
    assert isinstance(cursor, str) and rest.get_json()["next_cursor"] is None
    listed = [e["id"] for e in first.get_json()["webhook_endpoints"]]
    listed += [e["id"] for e in rest.get_json()["webhook_endpoints"]]
    assert listed == [world.endpoint_id, made["id"]]


def test_deliveries_with_attempts_conform_and_a_delivered_one_is_not_retryable(
    conf: Conformance, world: World
) -> None:
    db = conf_runtime(conf).db
    policy = DeliveryPolicy(timeout_s=2, allow_private=True, schedule=(0,))
    only_campaigns = {"event_types": ["campaign.completed"]}  # the world's endpoint: none here
    conf.call(
        "PATCH", f"{API}/webhook-endpoints/{world.endpoint_id}", headers=world.auth(),
        json_body=only_campaigns,
    )  # fmt: skip
    with Receiver() as receiver:
        endpoint = create_endpoint(conf, world, url=receiver.url)
        receiver.secrets.append(endpoint["secret"])
        receiver.default = Answer(500)
        pk = new_delivery(db, world.tenant)
        attempt(db, delivery_pk=pk, policy=policy)
        attempt(db, delivery_pk=pk, policy=policy)
        path = f"{API}/webhook-endpoints/{endpoint['id']}/deliveries"
        failed = conf.call("GET", f"{path}?limit=1", headers=world.auth())
        retry = f"{API}/webhook-deliveries/{delivery_id(conf_runtime(conf), pk)}/retry"
        retried = conf.call("POST", retry, headers=world.auth())
        receiver.default = Answer(200)
        attempt(db, delivery_pk=pk, policy=policy)
        delivered = conf.call("GET", path, headers=world.auth())
        again = conf.call("POST", retry, headers=world.auth())

    (shown,) = failed.get_json()["deliveries"]
    assert (shown["status"], shown["next_attempt_at"]) == ("failed", None)
    assert [a["status_code"] for a in shown["attempts"]] == [500, 500]
    assert retried.get_json()["status"] == "pending"
    assert retried.get_json()["next_attempt_at"] is not None
    assert [d["status"] for d in delivered.get_json()["deliveries"]] == ["delivered"]
    assert (again.status_code, again.get_json()["code"]) == (409, "delivery_not_retryable")


def test_events_conform_filtered_and_a_page_at_a_time(conf: Conformance, world: World) -> None:
    new_delivery(conf_runtime(conf).db, world.tenant)  # a second fact of the type
    path = f"{API}/events?type=reward.reward_claimed"
    first = conf.call("GET", f"{path}&limit=1", headers=world.auth())
    cursor = first.get_json()["next_cursor"]
    rest = conf.call("GET", f"{path}&limit=500&after={cursor}", headers=world.auth())
    (event,) = first.get_json()["events"]
    by_id = conf.call("GET", f"{API}/events?after={event['id']}", headers=world.auth())

    assert isinstance(cursor, str) and rest.get_json()["next_cursor"] is None
    assert event["type"] == "reward.reward_claimed" and event["data"] == {"claim_id": "clm_x"}
    assert rest.get_json()["events"] == by_id.get_json()["events"]
    assert len(rest.get_json()["events"]) == 1


def test_webhook_requests_refused_conform(
    conf: Conformance, world: World, other_tenant: TestTenant
) -> None:
    eid, whe, whd = world.endpoint_id, f"whe_{'0' * 26}", f"whd_{'0' * 26}"
    stranger = other_tenant.auth("live", "admin")
    refusals = [
        (400, "validation_error", req("POST", "/webhook-endpoints", json_body={"url": "ftp://x"})),
        (400, "validation_error", req("POST", "/webhook-endpoints",
                                      json_body={"url": HOOK_URL, "event_types": []})),
        (400, "validation_error", req("GET", "/webhook-endpoints?limit=101")),
        (400, "validation_error", req("GET", "/webhook-endpoints?cursor=nope")),
        (404, "not_found", req("GET", f"/webhook-endpoints/{whe}")),
        (404, "not_found", req("PATCH", f"/webhook-endpoints/{whe}", json_body={})),
        (400, "validation_error", req("PATCH", f"/webhook-endpoints/{eid}",
                                      json_body={"url": None})),
        (404, "not_found", req("DELETE", f"/webhook-endpoints/{whe}")),
        (404, "not_found", req("POST", f"/webhook-endpoints/{whe}/rotate-secret")),
        (404, "not_found", req("GET", f"/webhook-endpoints/{whe}/deliveries")),
        (400, "validation_error", req("GET", f"/webhook-endpoints/{eid}/deliveries?cursor=x")),
        (404, "not_found", req("POST", f"/webhook-deliveries/{whd}/retry")),
        (400, "validation_error", req("GET", "/events?limit=501")),
        (400, "validation_error", req("GET", "/events?type=reward.unknown")),
        (400, "validation_error", req("GET", "/events?after=nope")),
        (400, "validation_error", req("GET", f"/events?after=evt_{'0' * 26}")),
        # Another tenant's endpoints and deliveries are 404, never 403.
        (404, "not_found", req("GET", f"/webhook-endpoints/{eid}", headers=stranger)),
        (404, "not_found", req("POST", f"/webhook-deliveries/{world.delivery_id}/retry",
                               headers=stranger)),
    ]  # fmt: skip

    for status, code, request in refusals:
        headers = {**world.auth(), **request.pop("headers", {})}
        response = conf.call(**request, headers=headers, valid_request=False)
        assert (response.status_code, response.get_json()["code"]) == (status, code), request


# Claims: 202, pending, 201 (fresh and replayed), and every business failure.


def test_an_accepted_claim_is_202_pending_then_201_once_decided(
    conf: Conformance, world: World
) -> None:
    key = new_key()
    accepted = claim(conf, world, world.reward_id, key=key)
    again = claim(conf, world, world.reward_id, key=key)
    claim_id = accepted.get_json()["claim_id"]
    pending = conf.call("GET", f"{API}/claims/{claim_id}", headers=world.auth("server"))
    drain_claims(conf_runtime(conf))
    succeeded = conf.call("GET", f"{API}/claims/{claim_id}", headers=world.auth("server"))
    replayed = claim(conf, world, world.reward_id, key=key)
    held = conf.call(
        "GET",
        f"{API}/participants/{quote(world.participant, safe='')}/rewards",
        headers=world.auth("server"),
    )

    assert (accepted.status_code, again.status_code) == (202, 202)
    assert accepted.headers["Location"] == f"{API}/claims/{claim_id}"
    assert accepted.headers["Preference-Applied"] == "respond-async"
    assert again.headers["Idempotent-Replayed"] == "true"
    assert pending.get_json() == ClaimPending(claim_id=claim_id).wire()
    assert succeeded.get_json()["status"] == "succeeded"
    now = succeeded.get_json()
    assert now.pop("fulfillment_status") == "not_required"
    assert replayed.status_code == 201 and replayed.get_json() == now
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert held.get_json()["total_claimed"] == 2  # with the world's own claim


def test_a_claim_that_waits_for_the_worker_is_201(conf: Conformance, world: World) -> None:
    reward = create_reward(conf, world, code_expiry_days=7, code_generation={})
    drainer = draining_soon(conf_runtime(conf))
    response = claim(conf, world, reward["id"], prefer="wait=5")
    drainer.join()

    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.headers["Preference-Applied"] == "wait=5"
    assert "Idempotent-Replayed" not in response.headers
    assert response.get_json()["expires_at"] is not None


def test_every_business_failure_conforms_fresh_replayed_and_read_back(
    conf: Conformance, world: World
) -> None:
    costly = create_reward(conf, world, points_cost=10**6, code_generation={})
    empty = create_reward(conf, world)
    once = create_reward(conf, world, code_generation={})
    inactive = create_reward(conf, world, code_generation={})
    expired = create_reward(conf, world, expires_at=later(-1), starts_at=later(-2))
    conf.call("DELETE", f"{API}/rewards/{inactive['id']}", headers=world.auth())
    claim(conf, world, once["id"], prefer="wait=0")
    drain_claims(conf_runtime(conf))
    cases = {
        "insufficient_points": {"reward_id": costly["id"], "deduct": True},
        "inventory_exhausted": {"reward_id": empty["id"]},
        "max_claims_exceeded": {"reward_id": once["id"]},
        "reward_inactive": {"reward_id": inactive["id"]},
        "reward_expired": {"reward_id": expired["id"]},
    }

    for code, case in cases.items():
        key = new_key()
        drainer = draining_soon(conf_runtime(conf))
        fresh = claim(conf, world, **case, key=key, prefer="wait=5")
        drainer.join()
        replayed = claim(conf, world, **case, key=key)
        claim_id = claim_id_under(conf, world, key)
        failed = conf.call("GET", f"{API}/claims/{claim_id}", headers=world.auth("server"))

        assert (fresh.status_code, fresh.get_json()["code"]) == (409, code)
        assert replayed.get_json() == fresh.get_json()
        assert replayed.headers["Idempotent-Replayed"] == "true"
        assert failed.get_json() == ClaimFailed(claim_id=claim_id, error=fresh.get_json()).wire()


def claim_id_under(conf: Conformance, world: World, key: str) -> str:
    """A claim's id when its answer (a problem) does not carry it."""
    with conf_runtime(conf).db.transaction() as session:
        return session.scalar(  # type: ignore[no-any-return]
            select(IdempotencyRecord.resource_id).where(
                IdempotencyRecord.tenant_id == world.tenant.id,
                IdempotencyRecord.idempotency_key == key,
            )
        )


# Refusals: each error code each operation documents.


def req(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    return {"method": method, "path": API + path, **kwargs}


def test_requests_refused_before_acceptance_conform(
    conf: Conformance, world: World, other_tenant: TestTenant
) -> None:
    rid, pid = world.reward_id, quote(world.participant, safe="")
    unknown, too_long, stranger = f"rwd_{'0' * 26}", "u" * 256, other_tenant.auth("live", "server")
    claimant = {"participant_id": "u"}
    unknown_campaign = f"cmp_{'0' * 26}"
    gift = {"reward_id": rid, "participant_ids": ["x"]}
    refusals = [
        (400, "idempotency_key_missing", req("POST", "/campaigns", json_body=gift)),
        (404, "reward_not_found", req("POST", "/campaigns", headers={"Idempotency-Key": new_key()},
                                      json_body={**gift, "reward_id": unknown})),
        (400, "validation_error", req("POST", "/campaigns", headers={"Idempotency-Key": new_key()},
                                      json_body={**gift, "participant_ids": ["ok", " "]})),
        (404, "not_found", req("GET", f"/campaigns/{unknown_campaign}")),
        (404, "not_found", req("GET", f"/campaigns/{unknown_campaign}/results")),
        (404, "not_found", req("POST", f"/campaigns/{unknown_campaign}/cancel")),
        (400, "validation_error", req("GET", "/rewards?limit=0")),
        (400, "validation_error", req("GET", "/rewards?cursor=nope")),
        (404, "reward_not_found", req("GET", f"/rewards/{unknown}")),
        (404, "reward_not_found", req("PATCH", f"/rewards/{unknown}", json_body={"name": "x"})),
        (404, "reward_not_found", req("DELETE", f"/rewards/{unknown}")),
        (404, "reward_not_found", req("POST", f"/rewards/{unknown}/codes",
                                      json_body={"codes": ["A"]})),
        (400, "validation_error", req("POST", f"/rewards/{rid}/codes", data="A,B\n",
                                      content_type="text/csv")),
        (404, "reward_not_found", req("POST", f"/rewards/{unknown}/claim", json_body=claimant,
                                      headers={"Idempotency-Key": new_key()})),
        (400, "idempotency_key_missing", req("POST", f"/rewards/{rid}/claim", json_body=claimant)),
        (400, "validation_error", req("POST", f"/rewards/{rid}/claim", json_body=claimant,
                                      headers={"Idempotency-Key": "k" * 256})),
        (404, "claim_not_found", req("GET", f"/claims/clm_{'0' * 26}")),
        (400, "idempotency_key_missing", req("POST", f"/participants/{pid}/points",
                                             json_body={"amount": 1})),
        (400, "validation_error", req("GET", f"/participants/{too_long}/points")),
        (400, "validation_error", req("GET", f"/participants/{too_long}/rewards")),
        # A line feed is a control character like any other: refused at every endpoint.
        (400, "validation_error", req("GET", "/participants/a%0Ab/points")),
        (400, "validation_error", req("GET", "/participants/a%0Ab/rewards")),
        (400, "validation_error", req("POST", "/participants/a%0Ab/points",
                                      json_body={"amount": 1},
                                      headers={"Idempotency-Key": new_key()})),
        (400, "idempotency_key_missing", req("POST", f"/claims/{world.claim_id}/reverse",
                                             json_body={"restock": True})),
        (404, "claim_not_found", req("POST", f"/claims/clm_{'0' * 26}/reverse",
                                     json_body={}, headers={"Idempotency-Key": new_key()})),
        (409, "claim_not_reversible", req("POST", f"/claims/{world.claim_id}/reverse",
                                          json_body={}, headers={"Idempotency-Key": new_key()})),
        (404, "claim_not_found", req("POST", f"/claims/clm_{'0' * 26}/fulfillment",
                                     json_body={"status": "fulfilled"})),
        (400, "validation_error", req("POST", f"/claims/{world.claim_id}/fulfillment",
                                      json_body={"status": "shipped"})),
        # A pending claim (as world.claim_id is: nothing here drains) takes no report.
        (409, "fulfillment_not_changeable", req("POST", f"/claims/{world.claim_id}/fulfillment",
                                                json_body={"status": "fulfilled"})),
        (400, "validation_error", req("POST", "/rewards", json_body={
            "name": "x", "type": "physical", "fulfillment": {"endpoint_id": "whe_nope"}})),
        # Another tenant's objects are 404, never 403.
        (404, "claim_not_found", req("GET", f"/claims/{world.claim_id}", headers=stranger)),
        (404, "reward_not_found", req("GET", f"/rewards/{rid}", headers=stranger)),
    ]  # fmt: skip

    for status, code, request in refusals:
        admin_reads = request["path"].startswith(f"{API}/campaigns")
        scope = "server" if request["method"] == "GET" and not admin_reads else "admin"
        headers = {**world.auth(scope), **request.pop("headers", {})}
        response = conf.call(**request, headers=headers, valid_request=False)
        assert (response.status_code, response.get_json()["code"]) == (status, code), request


def test_a_reused_idempotency_key_is_422_on_every_keyed_operation(
    conf: Conformance, world: World
) -> None:
    key = new_key()
    claim(conf, world, world.reward_id, key=key)
    reused_claim = claim(conf, world, world.reward_id, key=key, participant="someone-else")
    path = f"{API}/participants/{quote(world.participant, safe='')}/points"
    headers = {**world.auth("server"), "Idempotency-Key": new_key()}
    conf.call("POST", path, headers=headers, json_body={"amount": 1})
    reused_credit = conf.call("POST", path, headers=headers, json_body={"amount": 2})

    reverse = f"{API}/claims/{world.decided_claim(conf)}/reverse"
    headers = {**world.auth(), "Idempotency-Key": new_key()}
    conf.call("POST", reverse, headers=headers, json_body={"restock": True})
    reused_reversal = conf.call("POST", reverse, headers=headers, json_body={"restock": False})

    headers = {**world.auth(), "Idempotency-Key": new_key()}
    gift = {"reward_id": world.reward_id, "participant_ids": ["g-1"]}
    first = conf.call("POST", f"{API}/campaigns", headers=headers, json_body=gift)
    again = conf.call("POST", f"{API}/campaigns", headers=headers, json_body=gift)
    reused_campaign = conf.call(
        "POST", f"{API}/campaigns", headers=headers, json_body={**gift, "name": "other"}
    )
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.get_json() == first.get_json() and again.headers["Idempotent-Replayed"]

    codes = {
        reused_claim.get_json()["code"],
        reused_credit.get_json()["code"],
        reused_reversal.get_json()["code"],
        reused_campaign.get_json()["code"],
    }
    assert codes == {"idempotency_key_reused"}


def test_an_unknown_query_parameter_is_400_on_every_operation(
    conf: Conformance, world: World
) -> None:
    for operation_id, sample in world.samples(conf).items():
        headers = {**world.auth(), **sample.pop("headers", {})}
        path = sample.pop("path") + "?unexpected=1"
        response = conf.call(**sample, path=path, headers=headers, valid_request=False)
        problem = response.get_json()
        fields = [error["field"] for error in problem["errors"]]
        assert (response.status_code, problem["code"], fields) == (
            400,
            "validation_error",
            ["unexpected"],
        ), operation_id


def test_every_operation_without_a_key_is_401(conf: Conformance, world: World) -> None:
    for operation_id, sample in world.samples(conf).items():
        if operations(conf.spec)[operation_id][2]["x-coffer-access"] == "public":
            continue
        response = conf.call(**sample, valid_request=False)
        assert response.status_code == 401, operation_id


def test_every_admin_operation_with_a_server_key_is_403(conf: Conformance, world: World) -> None:
    for operation_id, sample in world.samples(conf).items():
        if operations(conf.spec)[operation_id][2]["x-coffer-access"] != "admin":
            continue
        headers = {**world.auth("server"), **sample.pop("headers", {})}
        response = conf.call(**sample, headers=headers)
        assert response.status_code == 403, operation_id


def test_a_participant_token_reads_its_participant_and_is_403_everywhere_else(
    conf: Conformance, world: World
) -> None:
    """CONTRACT §10: a token may only GET its own participant's rewards and points."""
    pid = quote(world.participant, safe="")
    issued = conf.call(
        "POST", f"{API}/participants/{pid}/tokens", headers=world.auth("server"), json_body={}
    )
    assert issued.status_code == 201
    default = conf.call("POST", f"{API}/participants/{pid}/tokens", headers=world.auth("server"))
    assert default.status_code == 201  # no body at all: every default
    token = {"Authorization": f"Bearer {issued.get_json()['token']}"}
    reads = {"getPoints", "getParticipantRewards"}
    for operation_id, sample in world.samples(conf).items():
        if operations(conf.spec)[operation_id][2]["x-coffer-access"] == "public":
            continue
        headers = {**sample.pop("headers", {}), **token}
        response = conf.call(**sample, headers=headers)
        assert response.status_code == (200 if operation_id in reads else 403), operation_id
        if operation_id in reads:  # another participant's reads are forbidden too
            other = sample["path"].replace(pid, "someone-else")
            assert conf.call("GET", other, headers=token).status_code == 403


def test_every_body_that_is_not_valid_json_is_400(conf: Conformance, world: World) -> None:
    for operation_id, sample in world.samples(conf).items():
        if "json_body" not in sample:
            continue
        del sample["json_body"]
        headers = {**world.auth(), **sample.pop("headers", {})}
        response = conf.call(
            **sample, headers=headers, data="{nope", content_type="application/json",
            valid_request=False,
        )  # fmt: skip
        assert response.get_json()["code"] == "validation_error", operation_id


def test_every_body_over_the_size_limit_is_413(
    conf: Conformance, world: World, variant: Callable[..., Flask]
) -> None:
    small = variant(max_body_bytes=1024)
    for operation_id, sample in world.samples(conf).items():
        if "json_body" not in sample:
            continue
        del sample["json_body"]
        headers = {**world.auth(), **sample.pop("headers", {})}
        response = conf.call(
            **sample, headers=headers, data=" " * 2048, content_type="application/json",
            app=small, valid_request=False,
        )  # fmt: skip
        assert response.status_code == 413, operation_id


def test_every_keyed_operation_over_the_rate_limit_is_429(
    conf: Conformance, world: World, variant: Callable[..., Flask]
) -> None:
    limited = variant(rate_limit="1/hour")
    allowed = world.samples(conf)["listRewards"]
    conf.call(**allowed, headers=world.auth(), app=limited)  # the one request the hour allows
    for operation_id, sample in world.samples(conf).items():
        if operations(conf.spec)[operation_id][2]["x-coffer-access"] == "public":
            continue
        headers = {**world.auth(), **sample.pop("headers", {})}
        response = conf.call(**sample, headers=headers, app=limited)
        assert response.status_code == 429, operation_id
        assert int(response.headers["Retry-After"]) >= 1


def test_readiness_without_a_database_is_503(
    conf: Conformance, variant: Callable[..., Flask]
) -> None:
    broken = variant(
        database_url="postgresql+psycopg://postgres@127.0.0.1:1/none", check_schema=False
    )
    response = conf.call("GET", "/readyz", app=broken)

    assert response.status_code == 503
    assert response.get_json()["checks"]["database"] is False


# Fuzzing: generated valid and invalid requests to every operation, deterministically.

FUZZ_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
FUZZ_SETTINGS = settings(
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


def test_generated_requests_get_documented_responses_and_never_a_500(
    app: Flask, tenant: TestTenant
) -> None:
    # The document is the app's (so its url_map), hence built here rather than at import.
    schema = schemathesis.openapi.from_dict(json.loads(json.dumps(document(app))))
    schema.config.generation.update(deterministic=True, database="none")
    modes = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
    operations_fuzzed = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        cases = st.one_of(*(operation.as_strategy(generation_mode=mode) for mode in modes))

        @FUZZ_SETTINGS
        @given(case=cases)
        def fuzz(case: schemathesis.Case) -> None:
            case.call_and_validate(
                app=app, headers=tenant.auth("live", "admin"), checks=FUZZ_CHECKS
            )

        fuzz()
        operations_fuzzed += 1

    assert operations_fuzzed == len(operations(document(app)))


# Last: every documented response was produced by some request above.


def test_every_documented_status_and_error_code_was_exercised(
    request: pytest.FixtureRequest, seen: Seen, app: Flask
) -> None:
    module = sys.modules[__name__]
    selected = {
        getattr(item, "originalname", item.name)
        for item in request.session.items
        if getattr(item, "module", None) is module
    }
    if selected != {name for name in dir(module) if name.startswith("test_")}:
        pytest.skip("needs every test of this module")
    documented: Seen = set()
    for operation_id, (_, _, op) in operations(document(app)).items():
        for status, response in op["responses"].items():
            problem = response.get("content", {}).get(PROBLEM_JSON)
            codes = problem["schema"]["properties"]["code"]["enum"] if problem else [None]
            documented |= {(operation_id, int(status), code) for code in codes}

    assert sorted(documented - seen, key=str) == []
    assert sorted(seen - documented, key=str) == []
