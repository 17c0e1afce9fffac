"""COFFER_MAX_BODY_BYTES (413) and COFFER_RATE_LIMIT (429), and that neither consumes a key."""

from __future__ import annotations

import json

from flask import Flask

from core.runtime import Runtime
from tests.api.conftest import (
    Caller,
    assert_problem,
    limits_changed,
    new_id,
    requests_under_key,
    reward_rows,
)
from tests.support.tenants import TestTenant

LIMIT = 2048


def padded(body: dict[str, object], size: int) -> bytes:
    """The JSON body, padded with trailing whitespace to exactly `size` bytes."""
    raw = json.dumps(body).encode()
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


def test_a_body_over_the_limit_is_413_and_creates_nothing(
    app: Flask, admin: Caller, tenant: TestTenant, runtime: Runtime
) -> None:
    body = {"name": "Big", "type": "coupon", "description": "d" * 1900}
    json_type = {"Content-Type": "application/json"}

    with limits_changed(app, max_body_bytes=LIMIT):
        over = admin.post("/rewards", data=padded(body, LIMIT + 1), headers=json_type)
        problem = assert_problem(over, 413, "payload_too_large")
        assert str(LIMIT) in problem["detail"]
        assert reward_rows(runtime, tenant) == 0

        at_limit = admin.post("/rewards", data=padded(body, LIMIT), headers=json_type)
        assert at_limit.status_code == 201
        assert reward_rows(runtime, tenant) == 1


def test_a_code_upload_over_the_limit_adds_no_code(app: Flask, admin: Caller) -> None:
    reward = admin.create_reward()
    codes = [f"CODE-{n:05d}" for n in range(300)]  # about 3 KB as CSV, 4 KB as JSON

    with limits_changed(app, max_body_bytes=LIMIT):
        as_json = admin.post(f"/rewards/{reward['id']}/codes", {"codes": codes})
        as_csv = admin.post(
            f"/rewards/{reward['id']}/codes",
            data="\n".join(codes),
            headers={"Content-Type": "text/csv"},
        )

    assert_problem(as_json, 413, "payload_too_large")
    assert_problem(as_csv, 413, "payload_too_large")
    assert admin.reward(reward["id"])["available_codes"] == 0


def test_a_credit_over_the_limit_credits_nothing_and_does_not_consume_its_key(
    app: Flask, admin: Caller, tenant: TestTenant, runtime: Runtime
) -> None:
    participant, key = new_id(), new_id("key")

    with limits_changed(app, max_body_bytes=LIMIT):
        response = admin.post(
            f"/participants/{participant}/points",
            data=padded({"amount": 10}, LIMIT + 100),
            headers={"Idempotency-Key": key, "Content-Type": "application/json"},
        )

    assert_problem(response, 413, "payload_too_large")
    assert admin.balance(participant) == 0
    assert requests_under_key(runtime, tenant, key) == 0
    fresh = admin.credit(participant, 10, key=key)
    assert fresh.status_code == 201
    assert "Idempotent-Replayed" not in fresh.headers


def test_a_claim_over_the_limit_does_not_consume_its_key(
    app: Flask, admin: Caller, server: Caller, tenant: TestTenant, runtime: Runtime
) -> None:
    reward = admin.create_reward()
    key = new_id("key")

    with limits_changed(app, max_body_bytes=LIMIT):
        response = server.post(
            f"/rewards/{reward['id']}/claim",
            data=padded({"participant_id": "u1"}, LIMIT * 2),
            headers={"Idempotency-Key": key, "Content-Type": "application/json"},
        )

    assert_problem(response, 413, "payload_too_large")
    assert requests_under_key(runtime, tenant, key) == 0
    fresh = server.claim(reward["id"], {"participant_id": "u1"}, key=key)
    assert fresh.status_code == 202
    assert "Idempotent-Replayed" not in fresh.headers


def test_requests_past_the_rate_limit_are_429_with_retry_after(
    app: Flask, admin: Caller, tenant: TestTenant, runtime: Runtime
) -> None:
    with limits_changed(app, rate_limit="3/minute"):
        allowed = [admin.get("/rewards").status_code for _ in range(3)]
        refused = admin.post("/rewards", {"name": "Late", "type": "coupon"})

    assert allowed == [200, 200, 200]
    assert_problem(refused, 429, "rate_limited")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert reward_rows(runtime, tenant) == 0


def test_the_rate_limit_counts_per_key(app: Flask, admin: Caller, server: Caller) -> None:
    with limits_changed(app, rate_limit="2/minute"):
        statuses = [admin.get("/rewards").status_code for _ in range(3)]
        other_key = server.get("/rewards").status_code

    assert statuses == [200, 200, 429]
    assert other_key == 200  # its own budget


def test_a_rate_limited_claim_and_credit_do_not_consume_their_keys(
    app: Flask, admin: Caller, server: Caller, tenant: TestTenant, runtime: Runtime
) -> None:
    reward = admin.create_reward()
    claim_key, credit_key, participant = new_id("key"), new_id("key"), new_id()

    with limits_changed(app, rate_limit="1/minute"):
        assert server.get("/rewards").status_code == 200  # the one allowed request
        claim = server.claim(reward["id"], {"participant_id": participant}, key=claim_key)
        credit = server.credit(participant, 10, key=credit_key)

    assert_problem(claim, 429, "rate_limited")
    assert_problem(credit, 429, "rate_limited")
    assert "Retry-After" in claim.headers
    assert requests_under_key(runtime, tenant, claim_key) == 0
    assert requests_under_key(runtime, tenant, credit_key) == 0
    assert admin.balance(participant) == 0
    fresh_claim = server.claim(reward["id"], {"participant_id": participant}, key=claim_key)
    fresh_credit = server.credit(participant, 10, key=credit_key)
    assert fresh_claim.status_code == 202
    assert fresh_credit.status_code == 201
    assert "Idempotent-Replayed" not in fresh_claim.headers
    assert "Idempotent-Replayed" not in fresh_credit.headers
