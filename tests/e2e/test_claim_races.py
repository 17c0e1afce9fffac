"""Races over HTTP against gunicorn, a Celery worker and PostgreSQL: the database wins."""

from __future__ import annotations

import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

from core.db import Database
from tests.support.client import Api


def outcome(response: requests.Response) -> str:
    assert response.status_code in (201, 409), response.text
    return "succeeded" if response.status_code == 201 else response.json()["code"]


def test_a_stampede_of_500_claims_on_100_codes_hands_out_each_code_once(api: Api) -> None:
    reward = api.create_reward()
    codes = [f"STAMPEDE-{n:03d}" for n in range(100)]
    api.upload(reward["id"], codes)

    with ThreadPoolExecutor(64) as pool:
        responses = list(pool.map(lambda n: api.claim(reward["id"], f"fan-{n}"), range(500)))

    assert Counter(outcome(r) for r in responses) == {"succeeded": 100, "inventory_exhausted": 400}
    handed_out = [r.json()["code_value"] for r in responses if r.status_code == 201]
    assert sorted(handed_out) == codes
    assert api.get(f"/rewards/{reward['id']}").json()["available_codes"] == 0


def test_one_participant_with_many_keys_never_exceeds_max_claims_per_user(api: Api) -> None:
    reward = api.create_reward(max_claims_per_user=2)
    api.upload(reward["id"], [f"LIMIT-{n}" for n in range(50)])
    with ThreadPoolExecutor(32) as pool:
        responses = list(pool.map(lambda _: api.claim(reward["id"], "bot"), range(40)))
    assert Counter(outcome(r) for r in responses) == {"succeeded": 2, "max_claims_exceeded": 38}
    assert api.get("/participants/bot/rewards").json()["total_claimed"] == 2


def test_racing_paid_claims_never_take_the_balance_below_zero(api: Api) -> None:
    reward = api.create_reward(points_cost=300, max_claims_per_user=100)
    api.upload(reward["id"], [f"PAID-{n}" for n in range(50)])
    api.credit("spender", 1000)
    with ThreadPoolExecutor(32) as pool:
        responses = list(
            pool.map(lambda _: api.claim(reward["id"], "spender", points_deduction=True), range(30))
        )
    assert Counter(outcome(r) for r in responses) == {"succeeded": 3, "insufficient_points": 27}
    ledger = api.get("/participants/spender/points").json()
    assert ledger["balance"] == 100
    assert sum(e["amount"] for e in ledger["entries"]) == 100
    assert sorted(e["balance_after"] for e in ledger["entries"] if e["kind"] == "claim_debit") == [
        100,
        400,
        700,
    ]


def test_concurrent_retries_with_one_key_allocate_one_code(api: Api, stack_db: Database) -> None:
    reward = api.create_reward()
    api.upload(reward["id"], ["ONE-1", "ONE-2"])
    key = f"double-click-{uuid.uuid4().hex}"
    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(lambda _: api.claim(reward["id"], "clicker", key=key), range(20)))
    assert {r.status_code for r in responses} <= {201, 202}
    claim_ids = {r.json()["claim_id"] for r in responses}
    assert len(claim_ids) == 1
    assert sum(1 for r in responses if "Idempotent-Replayed" not in r.headers) == 1
    assert {r.json()["code_value"] for r in responses if r.status_code == 201} == {"ONE-1"}
    assert api.get(f"/rewards/{reward['id']}").json()["available_codes"] == 1
