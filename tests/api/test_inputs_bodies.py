"""Request bodies (CONTRACT §4): the size limit holds for streamed (chunked) bodies too, and
a JSON member named twice is a 400, at every endpoint that takes a body."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from core.runtime import Runtime
from tests.api.conftest import (
    GAMIFY,
    Caller,
    assert_problem,
    codes_in_seq_order,
    error_fields,
    ledger_sum,
    limits_changed,
    new_id,
    reward_rows,
)
from tests.support.tenants import TestTenant

LIMIT = 2048


def json_headers(caller: Caller) -> dict[str, str]:
    return {**caller.headers, "Content-Type": "application/json"}


def streamed(
    client: FlaskClient, method: str, path: str, body: bytes, headers: dict[str, str]
) -> TestResponse:
    """The body without a Content-Length, as gunicorn hands on a chunked one (it marks the
    stream as terminated by the server: `wsgi.input_terminated`)."""
    return client.open(
        GAMIFY + path,
        method=method,
        input_stream=io.BytesIO(body),
        headers={**headers, "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )


def over_limit_json(body: dict[str, Any]) -> bytes:
    """`body` padded with whitespace to one byte over the limit: valid JSON, just too long."""
    raw = json.dumps(body).encode()
    return raw + b" " * (LIMIT + 1 - len(raw))


def codes_csv(count: int) -> bytes:
    return "".join(f"CODE-{n:05d}\n" for n in range(count)).encode()


def test_a_streamed_csv_upload_over_the_limit_is_413_and_stores_no_code(
    app: Flask, client: FlaskClient, admin: Caller, runtime: Runtime
) -> None:
    reward = admin.create_reward()
    admin.upload(reward["id"], ["FIRST"])
    body = codes_csv(300)  # 3,300 bytes: the limit falls inside a code
    assert len(body) > LIMIT

    with limits_changed(app, max_body_bytes=LIMIT):
        response = streamed(
            client,
            "POST",
            f"/rewards/{reward['id']}/codes",
            body,
            {**admin.headers, "Content-Type": "text/csv"},
        )

    problem = assert_problem(response, 413, "payload_too_large")
    assert str(LIMIT) in problem["detail"]
    assert codes_in_seq_order(runtime, reward["id"]) == [(1, "FIRST")]


def test_a_streamed_json_code_upload_over_the_limit_is_413_and_stores_no_code(
    app: Flask, client: FlaskClient, admin: Caller, runtime: Runtime
) -> None:
    reward = admin.create_reward()
    body = json.dumps({"codes": [f"CODE-{n:05d}" for n in range(300)]}).encode()

    with limits_changed(app, max_body_bytes=LIMIT):
        response = streamed(
            client, "POST", f"/rewards/{reward['id']}/codes", body, json_headers(admin)
        )

    assert_problem(response, 413, "payload_too_large")
    assert codes_in_seq_order(runtime, reward["id"]) == []


def test_a_streamed_body_at_the_limit_is_read_whole(
    app: Flask, client: FlaskClient, admin: Caller, runtime: Runtime
) -> None:
    reward = admin.create_reward()
    body = codes_csv(186)  # 186 * 11 = 2,046 bytes
    body += b"\n" * (LIMIT - len(body))

    with limits_changed(app, max_body_bytes=LIMIT):
        response = streamed(
            client,
            "POST",
            f"/rewards/{reward['id']}/codes",
            body,
            {**admin.headers, "Content-Type": "text/csv"},
        )

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["added"] == 186
    assert codes_in_seq_order(runtime, reward["id"])[-1] == (186, "CODE-00185")


def test_a_streamed_reward_over_the_limit_creates_nothing(
    app: Flask, client: FlaskClient, admin: Caller, tenant: TestTenant, runtime: Runtime
) -> None:
    body = over_limit_json({"name": "Big", "type": "coupon"})
    with limits_changed(app, max_body_bytes=LIMIT):
        response = streamed(client, "POST", "/rewards", body, json_headers(admin))
    assert_problem(response, 413, "payload_too_large")
    assert reward_rows(runtime, tenant) == 0


def test_a_streamed_patch_over_the_limit_changes_nothing(
    app: Flask, client: FlaskClient, admin: Caller
) -> None:
    reward = admin.create_reward(name="Before")
    body = over_limit_json({"name": "After"})
    with limits_changed(app, max_body_bytes=LIMIT):
        response = streamed(client, "PATCH", f"/rewards/{reward['id']}", body, json_headers(admin))
    assert_problem(response, 413, "payload_too_large")
    assert admin.reward(reward["id"])["name"] == "Before"


def test_a_streamed_credit_over_the_limit_credits_nothing_and_keeps_its_key(
    app: Flask, client: FlaskClient, admin: Caller, recorded: Callable[[str], int]
) -> None:
    participant, key = new_id(), new_id("key")
    headers = {**json_headers(admin), "Idempotency-Key": key}
    with limits_changed(app, max_body_bytes=LIMIT):
        response = streamed(
            client, "POST", f"/participants/{participant}/points", over_limit_json({"amount": 5}),
            headers,
        )  # fmt: skip
    assert_problem(response, 413, "payload_too_large")
    assert admin.balance(participant) == 0
    assert recorded(key) == 0


def test_a_streamed_claim_over_the_limit_is_not_recorded(
    app: Flask, client: FlaskClient, admin: Caller, server: Caller, recorded: Callable[[str], int]
) -> None:
    reward, key = admin.create_reward(), new_id("key")
    headers = {**server.headers, "Content-Type": "application/json", "Idempotency-Key": key}
    body = over_limit_json({"participant_id": new_id()})
    with limits_changed(app, max_body_bytes=LIMIT):
        response = streamed(client, "POST", f"/rewards/{reward['id']}/claim", body, headers)
    assert_problem(response, 413, "payload_too_large")
    assert recorded(key) == 0


def test_a_streamed_claim_under_the_limit_is_accepted(
    client: FlaskClient, admin: Caller, server: Caller
) -> None:
    reward = admin.create_reward()
    headers = {
        **server.headers,
        "Content-Type": "application/json",
        "Idempotency-Key": new_id("key"),
        "Prefer": "respond-async",
    }
    body = json.dumps({"participant_id": new_id()}).encode()
    response = streamed(client, "POST", f"/rewards/{reward['id']}/claim", body, headers)
    assert response.status_code == 202, response.get_data(as_text=True)


# Repeated member names: RFC 8259 leaves their meaning open, so Coffer refuses them.


def raw_json(caller: Caller, method: str, path: str, text: str, **headers: str) -> TestResponse:
    return caller.client.open(
        GAMIFY + path,
        method=method,
        data=text.encode(),
        headers={**json_headers(caller), **headers},
    )


def test_a_claim_naming_its_participant_twice_is_refused_and_not_recorded(
    admin: Caller, server: Caller, recorded: Callable[[str], int]
) -> None:
    reward, key = admin.create_reward(), new_id("key")
    body = '{"participant_id": "alice", "participant_id": "mallory"}'

    response = raw_json(
        server, "POST", f"/rewards/{reward['id']}/claim", body, **{"Idempotency-Key": key}
    )

    assert error_fields(response) == {"participant_id"}
    assert recorded(key) == 0


def test_a_credit_with_a_repeated_amount_credits_nothing(
    admin: Caller, tenant: TestTenant, runtime: Runtime, recorded: Callable[[str], int]
) -> None:
    participant, key = new_id(), new_id("key")
    response = raw_json(
        admin, "POST", f"/participants/{participant}/points", '{"amount": 1, "amount": 1000}',
        **{"Idempotency-Key": key},
    )  # fmt: skip
    assert error_fields(response) == {"amount"}
    assert ledger_sum(runtime, tenant, participant) == 0
    assert recorded(key) == 0


def test_a_reward_with_a_repeated_member_at_any_depth_is_not_created(
    admin: Caller, tenant: TestTenant, runtime: Runtime
) -> None:
    top = '{"name": "A", "type": "coupon", "name": "B"}'
    nested = (
        '{"name": "A", "type": "coupon", '
        '"code_generation": {"prefix": "X-", "length": 8, "prefix": "Y-"}}'
    )
    assert error_fields(raw_json(admin, "POST", "/rewards", top)) == {"name"}
    assert error_fields(raw_json(admin, "POST", "/rewards", nested)) == {"code_generation.prefix"}
    assert reward_rows(runtime, tenant) == 0


def test_a_patch_with_a_repeated_member_changes_nothing(admin: Caller) -> None:
    reward = admin.create_reward(name="Before", points_cost=10)
    body = '{"points_cost": 20, "points_cost": 30}'
    response = raw_json(admin, "PATCH", f"/rewards/{reward['id']}", body)
    assert error_fields(response) == {"points_cost"}
    assert admin.reward(reward["id"])["points_cost"] == 10


def test_a_code_upload_with_repeated_codes_members_stores_nothing(
    admin: Caller, runtime: Runtime
) -> None:
    reward = admin.create_reward()
    body = '{"codes": ["A-1"], "codes": ["B-1"]}'
    response = raw_json(admin, "POST", f"/rewards/{reward['id']}/codes", body)
    assert error_fields(response) == {"codes"}
    assert codes_in_seq_order(runtime, reward["id"]) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"codes": [{"a": 1, "a": 2}]}', "codes.0.a"),
        ('{"codes": [[{"x": {"y": 1, "y": 2}}]]}', "codes.0.0.x.y"),
        ('{"codes": ["A"], "extra": {"k": 1, "k": 1}}', "extra.k"),
    ],
)
def test_the_refusal_names_where_the_repeated_member_is(
    admin: Caller, body: str, field: str
) -> None:
    reward = admin.create_reward()
    response = raw_json(admin, "POST", f"/rewards/{reward['id']}/codes", body)
    assert error_fields(response) == {field}


def test_the_same_name_in_different_objects_is_not_a_repetition(admin: Caller) -> None:
    body = (
        '{"name": "A", "type": "coupon", "description": "d", '
        '"code_generation": {"prefix": "A-", "length": 8}, "starts_at": "2020-01-01T00:00:00Z"}'
    )
    response = raw_json(admin, "POST", "/rewards", body)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.json["starts_at"] == "2020-01-01T00:00:00Z"  # JSON mode: ISO strings


def test_malformed_json_is_still_reported_as_such(admin: Caller) -> None:
    for text in ('{"name": "A",', "[" * 100_000, '{"name": "A"} trailing'):
        problem = assert_problem(raw_json(admin, "POST", "/rewards", text), 400, "validation_error")
        assert problem["errors"][0]["field"] == "body"


# A body not sent as JSON (curl -d without -H 'Content-Type: application/json').

FORM = "application/x-www-form-urlencoded"
NOT_JSON = [
    {
        "field": "Content-Type",
        "message": "a JSON body sent with Content-Type application/json is required",
    }
]


def test_a_claim_sent_as_a_form_is_refused_not_read_as_json(
    admin: Caller, server: Caller, recorded: Callable[[str], int]
) -> None:
    reward, key = admin.create_reward(), new_id("key")
    response = server.post(
        f"/rewards/{reward['id']}/claim",
        data='{"participant_id": "alice"}',
        headers={"Content-Type": FORM, "Idempotency-Key": key},
    )
    assert assert_problem(response, 400, "validation_error")["errors"] == NOT_JSON
    assert recorded(key) == 0
    retried = server.claim(reward["id"], {"participant_id": "alice"}, key=key)
    assert retried.status_code in (201, 202)  # the key was not consumed by the refusal


CAMPAIGN_TYPES = [
    {
        "field": "Content-Type",
        "message": "must be application/json, text/csv or multipart/form-data",
    }
]


@pytest.mark.parametrize("content_type", [FORM, "text/plain", None])
def test_every_json_endpoint_refuses_a_body_that_is_not_sent_as_json(
    admin: Caller, tenant: TestTenant, runtime: Runtime, content_type: str | None
) -> None:
    reward = admin.create_reward(name="Before", points_cost=10)
    participant = new_id()
    writes = [
        ("POST", "/rewards", '{"name": "Ghost", "type": "coupon"}'),
        ("PATCH", f"/rewards/{reward['id']}", '{"points_cost": 20}'),
        ("POST", f"/rewards/{reward['id']}/codes", '{"codes": ["A-1"]}'),
        ("POST", f"/participants/{participant}/points", '{"amount": 5}'),
        ("POST", f"/participants/{participant}/tokens", '{"ttl_seconds": 600}'),
        ("POST", "/webhook-endpoints", '{"url": "https://example.com/x"}'),
        ("POST", "/campaigns", '{"reward_id": "x", "participant_ids": ["a"]}'),
        ("POST", "/claims/clm_x/reverse", '{"reason": "x"}'),
        ("POST", "/claims/clm_x/fulfillment", '{"status": "shipped"}'),
    ]
    before = reward_rows(runtime, tenant)
    for method, path, body in writes:
        headers = {**admin.headers, "Idempotency-Key": new_id("key")}
        if content_type is not None:
            headers["Content-Type"] = content_type
        response = admin.client.open(GAMIFY + path, method=method, data=body, headers=headers)
        problem = assert_problem(response, 400, "validation_error")
        expected = NOT_JSON if path != "/campaigns" else CAMPAIGN_TYPES  # it takes CSV too
        assert problem["errors"] == expected, (method, path, problem)
    assert reward_rows(runtime, tenant) == before
    assert admin.reward(reward["id"])["points_cost"] == 10
    assert admin.reward(reward["id"])["available_codes"] == 0
    assert ledger_sum(runtime, tenant, participant) == 0


def test_a_json_body_with_a_charset_or_a_json_structured_type_is_read(admin: Caller) -> None:
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = admin.client.post(
            GAMIFY + "/rewards",
            data='{"name": "Typed", "type": "coupon"}',
            headers={**admin.headers, "Content-Type": content_type},
        )
        assert response.status_code == 201, (content_type, response.get_data(as_text=True))
