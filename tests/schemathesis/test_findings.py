"""Regression tests for what the full-stack schemathesis run found (issue 10 item 4).

Each finding keeps one test here, on the real database, through the API where the
finding was an HTTP one:

1. A webhook endpoint URL with a long host (valid: up to 2,048 characters) made the
   worker's delivery task crash: the attempt's error quotes the host and overflowed
   webhook_attempts.error (VARCHAR 500), so the attempt was never recorded.
2. Idempotency-Key was documented as any 1-257 characters; the API takes printable
   ASCII only (1-255, or a quoted structured-field string of that).
3. PATCH /webhook-endpoints/{id} documented `null` for url, event_types and enabled;
   the API refuses null there (400), as it does for a reward's name, type and limit.
4. A webhook URL was documented as any string; the API takes http(s) URLs with a host.
5. `cursor` / `after` were documented as any string, `?cursor=` included; the API
   answers 400 to anything that is not a cursor it issued (base64url text).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from sqlalchemy import select

from api.openapi import DOCUMENT_PATH
from core.errors import ValidationFailed
from core.idempotency import parse_key
from core.models import WebhookAttempt
from core.runtime import Runtime
from core.webhooks.dispatch import DeliveryPolicy, attempt
from core.webhooks.sender import ERROR_CAP
from tests.support.receiver import new_delivery, register
from tests.support.tenants import TestTenant

API = "/api/v1/gamify"
POLICY = DeliveryPolicy(timeout_s=2, allow_private=True, schedule=(60,))


@pytest.fixture(scope="module")
def document(app: Flask) -> dict[str, Any]:
    served: dict[str, Any] = app.test_client().get(DOCUMENT_PATH).get_json()
    return served


def test_a_refused_url_longer_than_the_error_column_is_recorded_not_crashed(
    runtime: Runtime, tenant: TestTenant
) -> None:
    # Finding 1: an unresolvable host of 1,900 characters, as schemathesis registered one.
    url = f"http://{'0' * 1900}/hooks"
    register(runtime.db, tenant, url)
    pk = new_delivery(runtime.db, tenant)

    done = attempt(runtime.db, delivery_pk=pk, policy=POLICY)

    assert done is not None and done.outcome == "retrying"
    with runtime.db.transaction() as session:
        (recorded,) = session.scalars(
            select(WebhookAttempt).where(WebhookAttempt.delivery_pk == pk)
        )
        assert recorded.status_code is None and recorded.error is not None
        assert recorded.error.startswith("refused: url") and recorded.error.endswith("...")
        assert len(recorded.error) == ERROR_CAP


def idempotency_key_schema(document: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(document["components"]["parameters"]["IdempotencyKey"]["schema"])


@pytest.mark.parametrize(
    "key",
    ["k", "x" * 255, '"' + "x" * 255 + '"', '"a\\"b"', "with space", '"\\\\"', "~!@#$%^&*()"],
)
def test_the_documented_idempotency_key_accepts_what_the_api_accepts(
    document: dict[str, Any], key: str
) -> None:
    # Finding 2, the valid side: the document's pattern and core.idempotency agree.
    assert idempotency_key_schema(document).is_valid(key)
    assert parse_key(key)


@pytest.mark.parametrize("key", ["", '""', "x" * 256, '"' + "x" * 256 + '"', "é", "tab\there"])
def test_the_documented_idempotency_key_refuses_what_the_api_refuses(
    document: dict[str, Any], client: FlaskClient, tenant: TestTenant, key: str
) -> None:
    # Finding 2, the refused side: the document refuses it, and so does the API (400).
    assert not idempotency_key_schema(document).is_valid(key)
    with pytest.raises(ValidationFailed):
        parse_key(key)
    response = client.post(
        f"{API}/participants/p-{uuid.uuid4().hex}/points",
        json={"amount": 1},
        headers={**tenant.auth("live", "admin"), "Idempotency-Key": key.encode().decode("latin-1")},
    )
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["code"] in {"validation_error", "idempotency_key_missing"}


@pytest.mark.parametrize("field", ["url", "event_types", "enabled"])
def test_a_webhook_patch_documents_no_null_where_the_api_refuses_it(
    document: dict[str, Any], client: FlaskClient, runtime: Runtime, tenant: TestTenant, field: str
) -> None:
    # Finding 3: null is not in the documented schema, and the API answers 400 naming it.
    prop = document["components"]["schemas"]["EndpointPatch"]["properties"][field]
    assert "anyOf" not in prop and prop.get("type") != "null" and "default" not in prop
    endpoint_id = register(runtime.db, tenant, "http://127.0.0.1:9/hooks")
    response = client.patch(
        f"{API}/webhook-endpoints/{endpoint_id}",
        json={field: None},
        headers=tenant.auth("live", "admin"),
    )
    assert response.status_code == 400
    assert [e["field"] for e in response.get_json()["errors"]] == [field]


@pytest.mark.parametrize("url", ["0", "ftp://example.com/x", "https://", "//example.com/x"])
def test_a_webhook_url_that_is_not_http_is_refused_by_document_and_api(
    document: dict[str, Any], client: FlaskClient, tenant: TestTenant, url: str
) -> None:
    # Finding 4.
    url_schema = document["components"]["schemas"]["EndpointCreate"]["properties"]["url"]
    assert not re.search(url_schema["pattern"], url)
    response = client.post(
        f"{API}/webhook-endpoints", json={"url": url}, headers=tenant.auth("live", "admin")
    )
    assert response.status_code == 400
    assert [e["field"] for e in response.get_json()["errors"]] == ["url"]


def test_a_webhook_url_the_api_takes_matches_the_documented_pattern(
    document: dict[str, Any],
) -> None:
    url_schema = document["components"]["schemas"]["EndpointCreate"]["properties"]["url"]
    for url in ("https://example.com/hooks", "HTTP://host:8080", "http://h?x=1#y"):
        assert re.search(url_schema["pattern"], url), url


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/rewards?cursor=", "cursor"),
        ("/campaigns?cursor=", "cursor"),
        ("/webhook-endpoints?cursor=", "cursor"),
        ("/events?after=", "after"),
        ("/rewards?cursor=a%2Fb", "cursor"),
    ],
)
def test_an_empty_or_foreign_cursor_is_refused_by_document_and_api(
    document: dict[str, Any], client: FlaskClient, tenant: TestTenant, path: str, field: str
) -> None:
    # Finding 5: the documented cursor has minLength 1 and the base64url alphabet.
    operation = document["paths"][f"{API}{path.split('?', maxsplit=1)[0]}"]["get"]
    (param,) = [p for p in operation["parameters"] if p.get("name") == field]
    value = path.split("=", 1)[1].replace("%2F", "/")
    assert not Draft202012Validator(param["schema"]).is_valid(value)
    response = client.get(f"{API}{path}", headers=tenant.auth("live", "admin"))
    assert response.status_code == 400
    assert [e["field"] for e in response.get_json()["errors"]] == [field]
