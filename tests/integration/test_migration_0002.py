"""Migration 0002 on a database filled at 0001: balances, claims and stored replays survive.

The rows are written with the SQL the 0001-era code wrote (claim state in
`requests`, allocations in `claims`), then `coffer db upgrade`'s migration runs,
then the API and a worker run on the result.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic import command
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from core.claims.drain import Drain
from core.idempotency import fingerprint
from core.migrate import alembic_config, upgrade
from core.runtime import Runtime, build_runtime
from core.settings import Settings
from core.tenants import hash_key
from tests.support.services import fresh_database

API = "/api/v1/gamify"
KEY = "ck_live_" + "m" * 43
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
SUCCEEDED = {
    "claim_id": "clm_old_ok", "status": "succeeded", "participant_id": "alice",
    "reward_id": "rwd_old", "reward_name": "Old Coupon", "reward_type": "coupon",
    "code_value": "OLD-1", "claimed_at": "2026-11-20T10:00:00Z", "expires_at": None,
    "points_deducted": 300, "new_balance": 700,
}  # fmt: skip
FAILED = {
    "type": "insufficient_points", "code": "insufficient_points",
    "title": "The participant's balance is below the points cost", "status": 409,
    "detail": "The reward costs 300 points; the balance is 0",
}  # fmt: skip
CREDITED = {"participant_id": "alice", "balance": 1000, "entry_id": "pte_old_1"}
CLAIM_PATH = f"{API}/rewards/rwd_old/claim"
CREDIT_PATH = f"{API}/participants/alice/points"


ROWS: list[tuple[str, list[dict[str, Any]]]] = [
    ("tenants", [{"id": "ten_old", "name": "Old Shop", "created_at": NOW}]),
    ("api_keys", [{
        "id": "key_old", "tenant_id": "ten_old", "mode": "live", "scope": "admin",
        "prefix": KEY[:16], "key_hash": hash_key(KEY), "created_at": NOW,
    }]),
    ("rewards", [{
        "id": "rwd_old", "name": "Old Coupon", "type": "coupon", "points_cost": 300,
        "max_claims_per_user": 1, "created_at": NOW, "updated_at": NOW,
        "tenant_id": "ten_old", "mode": "live",
    }]),
    ("inventories", [{
        "reward_id": "rwd_old", "uploaded_count": 3, "allocated_count": 1,
        "low_stock_notified": False, "tenant_id": "ten_old", "mode": "live",
    }]),
    ("reward_codes", [
        {"id": n, "reward_id": "rwd_old", "value": f"OLD-{n}", "seq": n, "created_at": NOW,
         "tenant_id": "ten_old", "mode": "live"} for n in (1, 2, 3)
    ]),
    ("participants", [
        {"id": pk, "external_id": name, "balance": balance, "created_at": NOW,
         "tenant_id": "ten_old", "mode": "live"}
        for pk, name, balance in ((1, "alice", 700), (2, "bob", 0), (3, "carol", 500))
    ]),
    ("ledger_entries", [
        {"entry_id": "pte_old_1", "participant_id": 1, "amount": 1000, "kind": "credit",
         "reason": None, "claim_id": None, "balance_after": 1000, "created_at": NOW,
         "tenant_id": "ten_old", "mode": "live"},
        {"entry_id": "pte_old_2", "participant_id": 1, "amount": -300, "kind": "claim_debit",
         "reason": "Old Coupon", "claim_id": "clm_old_ok", "balance_after": 700,
         "created_at": NOW, "tenant_id": "ten_old", "mode": "live"},
        {"entry_id": "pte_old_3", "participant_id": 3, "amount": 500, "kind": "credit",
         "reason": None, "claim_id": None, "balance_after": 500, "created_at": NOW,
         "tenant_id": "ten_old", "mode": "live"},
    ]),
    ("requests", [
        {"id": 1, "idempotency_key": "credit-1", "kind": "points_credit",
         "status": "succeeded", "response_status": 201, "response_body": json.dumps(CREDITED),
         "fingerprint": fingerprint("POST", CREDIT_PATH, {"amount": 1000, "reason": None})},
        {"id": 2, "idempotency_key": "order-1", "kind": "claim", "status": "succeeded",
         "claim_id": "clm_old_ok", "participant_external_id": "alice",
         "response_status": 201, "response_body": json.dumps(SUCCEEDED)},
        {"id": 3, "idempotency_key": "order-2", "kind": "claim", "status": "failed",
         "claim_id": "clm_old_no", "participant_external_id": "bob",
         "response_status": 409, "response_body": json.dumps(FAILED)},
        {"id": 4, "idempotency_key": "order-3", "kind": "claim", "status": "pending",
         "claim_id": "clm_old_wait", "participant_external_id": "carol"},
    ]),
    ("claims", [{
        "claim_id": "clm_old_ok", "request_id": 2, "reward_id": "rwd_old",
        "participant_id": 1, "participant_external_id": "alice", "code_id": 1,
        "code_value": "OLD-1", "reward_name": "Old Coupon", "reward_type": "coupon",
        "points_deducted": 300, "new_balance": 700, "idempotency_key": "order-1",
        "claimed_at": NOW, "expires_at": None, "tenant_id": "ten_old", "mode": "live",
    }]),
    ("facts", [{
        "event_id": "evt_old", "type": "reward.reward_claimed", "data": json.dumps(SUCCEEDED),
        "created_at": NOW, "tenant_id": "ten_old", "mode": "live",
    }]),
]  # fmt: skip


def _request_row(row: dict[str, Any]) -> dict[str, Any]:
    """Fill in what 0001-era code wrote on a journalled claim request."""
    full = {
        "claim_id": None, "reward_id": None, "participant_external_id": None,
        "points_deduction": None, "trace_id": "trace", "response_status": None,
        "response_body": None, "created_at": NOW, "completed_at": None,
        "tenant_id": "ten_old", "mode": "live", **row,
    }  # fmt: skip
    if row["kind"] == "claim":
        body = {"participant_id": row["participant_external_id"], "points_deduction": True}
        full.update(reward_id="rwd_old", points_deduction=True)
        full["fingerprint"] = fingerprint("POST", CLAIM_PATH, body)
    if full["response_status"] is not None:
        full["completed_at"] = NOW
    return full


def _fill_at_0001(url: str) -> None:
    """One tenant, a reward with three codes, alice credited 1000 and paid 300 for a claim,
    bob refused for points, carol's claim still pending, as 0001-era code wrote them."""
    engine = create_engine(url)
    with engine.begin() as connection:
        for table, given in ROWS:
            rows = [_request_row(row) for row in given] if table == "requests" else given
            columns = list(rows[0])
            statement = text(
                f"INSERT INTO {table} ({', '.join(columns)})"  # noqa: S608 - fixed test tables
                f" VALUES ({', '.join(':' + c for c in columns)})"
            )
            connection.execute(statement, rows)
        for table in ("requests", "participants", "reward_codes"):
            connection.execute(
                text("SELECT setval(pg_get_serial_sequence(:t, 'id'), 10)"), {"t": table}
            )
    engine.dispose()


@pytest.fixture(scope="module")
def upgraded(settings: Settings) -> Iterator[tuple[Runtime, dict[str, str]]]:
    with fresh_database("migration") as url:
        command.upgrade(alembic_config(url), "0001")
        _fill_at_0001(url)
        engine = create_engine(url)
        with engine.connect() as connection:
            query = text("SELECT idempotency_key, response_body::text FROM requests")
            before = {key: body for key, body in connection.execute(query)}
        engine.dispose()
        upgrade(url)
        runtime = build_runtime(settings.model_copy(update={"database_url": url}))
        yield runtime, before
        runtime.close()


def _one(runtime: Runtime, sql: str) -> Any:
    with runtime.db.transaction() as session:
        return session.execute(text(sql)).one()


def test_stored_responses_keep_their_exact_text(upgraded: tuple[Runtime, dict[str, str]]) -> None:
    runtime, before = upgraded
    with runtime.db.transaction() as session:
        query = text("SELECT idempotency_key, response_body::text FROM idempotency_keys")
        after = {key: body for key, body in session.execute(query)}
    assert after["credit-1"] == before["credit-1"]
    assert after["order-1"] == before["order-1"]
    assert after["order-2"] == before["order-2"]
    assert after["order-3"] is None  # pending: no response yet


def test_balances_ledger_and_claims_carry_over(upgraded: tuple[Runtime, dict[str, str]]) -> None:
    runtime, _ = upgraded
    balance, ledger = _one(
        runtime,
        "SELECT p.balance, (SELECT sum(amount) FROM ledger_entries l WHERE l.participant_id = p.id)"
        " FROM participants p WHERE external_id = 'alice'",
    )
    assert (balance, ledger) == (700, 700)
    rows = {
        claim_id: (status, code_id, error_code)
        for claim_id, status, code_id, error_code in _rows(
            runtime, "SELECT claim_id, status, code_id, error_code FROM claims"
        )
    }
    assert rows == {
        "clm_old_ok": ("succeeded", 1, None),
        "clm_old_no": ("failed", None, "insufficient_points"),
        "clm_old_wait": ("pending", None, None),
    }
    assert _one(runtime, "SELECT returned_count, exhausted_notified FROM inventories") == (0, False)


def _rows(runtime: Runtime, sql: str) -> list[Any]:
    with runtime.db.transaction() as session:
        return list(session.execute(text(sql)))


def test_replays_answer_the_original_response_through_the_api(
    upgraded: tuple[Runtime, dict[str, str]],
) -> None:
    runtime, _ = upgraded
    client: FlaskClient = __import__("api").create_app(runtime).test_client()
    auth = {"Authorization": f"Bearer {KEY}"}

    def claim(participant: str, key: str) -> Any:
        body = {"participant_id": participant, "points_deduction": True}
        return client.post(CLAIM_PATH, json=body, headers={**auth, "Idempotency-Key": key})

    replayed, refused = claim("alice", "order-1"), claim("bob", "order-2")
    credited = client.post(
        CREDIT_PATH, json={"amount": 1000}, headers={**auth, "Idempotency-Key": "credit-1"}
    )
    for response, status, original in (
        (replayed, 201, SUCCEEDED), (refused, 409, FAILED), (credited, 201, CREDITED),
    ):  # fmt: skip
        assert response.status_code == status
        assert response.headers["Idempotent-Replayed"] == "true"
        # Same members in the same order as the response first given.
        assert json.loads(response.get_data(), object_pairs_hook=list) == list(original.items())
    assert claim("alice", "credit-1").status_code == 422  # a key stays bound to its request
    held = client.get(f"{API}/claims/clm_old_ok", headers=auth).get_json()
    assert {k: held[k] for k in SUCCEEDED} == SUCCEEDED
    failed = client.get(f"{API}/claims/clm_old_no", headers=auth).get_json()
    assert failed == {"claim_id": "clm_old_no", "status": "failed", "error": FAILED}
    Drain(runtime.db, runtime.publisher, batch_size=10).run()
    decided = client.get(f"{API}/claims/clm_old_wait", headers=auth).get_json()
    assert (decided["status"], decided["code_value"], decided["new_balance"]) == (
        "succeeded",
        "OLD-2",
        200,
    )
    rewards = client.get(f"{API}/participants/alice/rewards", headers=auth).get_json()
    assert [r["claim_id"] for r in rewards["rewards"]] == ["clm_old_ok"]
    assert client.get(f"{API}/rewards/rwd_old", headers=auth).get_json()["available_codes"] == 1
