"""Points over HTTP: idempotent credits, the ledger, and balances that add up."""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy import func, select

from core.models import Participant
from core.runtime import Runtime
from core.schemas import PointsCredited
from tests.api.conftest import (
    Caller,
    assert_problem,
    error_fields,
    ledger_sum,
    new_id,
    requests_under_key,
)
from tests.support.claims import drain_all
from tests.support.tenants import TestTenant


def points_path(participant: str) -> str:
    return f"/participants/{quote(participant, safe='')}/points"


def test_a_credit_without_an_idempotency_key_is_refused_and_credits_nothing(
    admin: Caller,
) -> None:
    participant = new_id()

    response = admin.post(points_path(participant), {"amount": 100})

    assert_problem(response, 400, "idempotency_key_missing")
    assert admin.get(points_path(participant)).json == {
        "participant_id": participant,
        "balance": 0,
        "entries": [],
    }


def test_a_credit_answers_201_with_the_new_balance_and_its_entry(admin: Caller) -> None:
    participant = new_id()

    first = admin.credit(participant, 150)
    second = admin.credit(participant, 50)

    assert first.status_code == second.status_code == 201
    assert list(first.json) == list(PointsCredited.model_fields)
    assert first.json["participant_id"] == participant
    assert (first.json["balance"], second.json["balance"]) == (150, 200)
    assert first.json["entry_id"].startswith("pte_")
    assert first.json["entry_id"] != second.json["entry_id"]
    assert "Idempotent-Replayed" not in first.headers


def test_a_replay_returns_the_same_answer_marked_replayed_and_credits_once(
    admin: Caller, runtime: Runtime, tenant: TestTenant
) -> None:
    participant, key = new_id(), new_id("key")

    original = admin.credit(participant, 75, key=key)
    admin.credit(participant, 25)  # a different credit in between
    replay = admin.credit(participant, 75, key=key)

    assert replay.status_code == original.status_code == 201
    assert replay.json == original.json  # the original balance (75), not today's (100)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert admin.balance(participant) == 100
    assert len(admin.get(points_path(participant)).json["entries"]) == 2
    assert requests_under_key(runtime, tenant, key) == 1


def test_a_replay_is_the_same_request_whatever_its_key_order_or_explicit_defaults(
    admin: Caller,
) -> None:
    participant, key = new_id(), new_id("key")
    path = points_path(participant)
    headers = {"Idempotency-Key": key, "Content-Type": "application/json"}

    original = admin.post(path, data=b'{"amount": 5}', headers=headers)
    reordered = admin.post(path, data=b'{ "reason" : null ,\n "amount":5 }', headers=headers)

    assert original.status_code == reordered.status_code == 201
    assert reordered.json == original.json
    assert reordered.headers["Idempotent-Replayed"] == "true"
    assert admin.balance(participant) == 5


def test_the_same_key_with_a_different_body_is_422_and_credits_nothing(admin: Caller) -> None:
    participant, key = new_id(), new_id("key")
    admin.credit(participant, 10, key=key)

    changed_amount = admin.credit(participant, 11, key=key)
    changed_reason = admin.post(
        points_path(participant),
        {"amount": 10, "reason": "other"},
        headers={"Idempotency-Key": key},
    )
    other_participant = admin.credit(new_id(), 10, key=key)

    for response in (changed_amount, changed_reason, other_participant):
        assert_problem(response, 422, "idempotency_key_reused")
    assert admin.balance(participant) == 10


def test_a_quoted_key_is_the_same_key_as_the_bare_one(admin: Caller) -> None:
    participant, key = new_id(), new_id("key")

    original = admin.credit(participant, 30, key=f'"{key}"')
    replay = admin.credit(participant, 30, key=key)

    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json == original.json
    assert admin.balance(participant) == 30


def test_keys_are_scoped_to_tenant_and_mode(
    admin: Caller, test_admin: Caller, other_admin: Caller
) -> None:
    participant, key = new_id(), new_id("key")

    answers = [
        caller.credit(participant, 20, key=key) for caller in (admin, test_admin, other_admin)
    ]

    for response in answers:
        assert response.status_code == 201
        assert "Idempotent-Replayed" not in response.headers
        assert response.json["balance"] == 20
    assert len({response.json["entry_id"] for response in answers}) == 3


def test_an_admin_and_a_server_key_of_one_tenant_and_mode_share_keys(
    admin: Caller, server: Caller
) -> None:
    participant, key = new_id(), new_id("key")

    admin.credit(participant, 20, key=key)
    replay = server.credit(participant, 20, key=key)

    assert replay.headers["Idempotent-Replayed"] == "true"
    assert server.balance(participant) == 20


def test_a_malformed_key_is_a_validation_error_and_credits_nothing(admin: Caller) -> None:
    participant = new_id()

    for key in ("", '""', "k" * 256, "caf\u00e9"):
        response = admin.credit(participant, 5, key=key)
        assert error_fields(response) == {"Idempotency-Key"}, key

    assert admin.credit(participant, 5, key="k" * 255).status_code == 201
    assert admin.balance(participant) == 5


def test_an_unknown_participant_has_balance_zero_no_entries_and_no_rewards(
    server: Caller,
) -> None:
    participant = new_id()

    points = server.get(points_path(participant))
    rewards = server.get(f"/participants/{participant}/rewards")

    assert points.status_code == rewards.status_code == 200
    assert points.json == {"participant_id": participant, "balance": 0, "entries": []}
    assert rewards.json == {"participant_id": participant, "rewards": [], "total_claimed": 0}


def test_reading_an_unknown_participant_does_not_create_one(
    admin: Caller, runtime: Runtime, tenant: TestTenant
) -> None:
    participant = new_id()

    admin.get(points_path(participant))

    with runtime.db.transaction() as session:
        rows = session.scalar(
            select(func.count())
            .select_from(Participant)
            .where(Participant.tenant_id == tenant.id, Participant.external_id == participant)
        )
    assert rows == 0


def test_participant_ids_are_the_tenants_own_strings(admin: Caller) -> None:
    for participant in ("user 42", "emails@example.com", "ünïcødé-用户", "a/b", "x" * 255):
        response = admin.post(
            points_path(participant), {"amount": 3}, headers={"Idempotency-Key": new_id("key")}
        )
        assert response.status_code == 201, participant
        assert response.json["participant_id"] == participant
        assert admin.get(points_path(participant)).json["balance"] == 3


def test_the_ledger_is_newest_first_with_running_balances(
    admin: Caller, runtime: Runtime, tenant: TestTenant
) -> None:
    participant = new_id()
    for amount, reason in ((100, "signup"), (20, "review"), (5, None)):
        admin.post(
            points_path(participant),
            {"amount": amount, "reason": reason},
            headers={"Idempotency-Key": new_id("key")},
        )

    ledger = admin.get(points_path(participant)).json

    assert ledger["balance"] == 125
    entries = ledger["entries"]
    assert [(e["amount"], e["kind"], e["reason"], e["balance_after"]) for e in entries] == [
        (5, "credit", None, 125),
        (20, "credit", "review", 120),
        (100, "credit", "signup", 100),
    ]
    for entry in entries:
        assert set(entry) == {
            "entry_id",
            "amount",
            "kind",
            "reason",
            "claim_id",
            "balance_after",
            "created_at",
            "base_amount",
            "multiplier_claim_id",
        }
        assert entry["claim_id"] is None
        assert entry["created_at"].endswith("Z")
    assert sum(e["amount"] for e in entries) == ledger["balance"]
    assert ledger_sum(runtime, tenant, participant) == 125


def test_a_claim_debit_appears_as_a_negative_entry_and_the_balance_still_sums(
    admin: Caller, runtime: Runtime, tenant: TestTenant
) -> None:
    participant = new_id()
    reward = admin.create_reward(points_cost=30)
    admin.upload(reward["id"], [f"{reward['id']}-1"])
    admin.credit(participant, 100)
    accepted = admin.claim(
        reward["id"], {"participant_id": participant, "points_deduction": True}, key=new_id("key")
    )
    assert accepted.status_code == 202
    drain_all(runtime.db)  # what a worker would do

    ledger = admin.get(points_path(participant)).json

    assert ledger["balance"] == 70
    newest, oldest = ledger["entries"]
    assert (newest["amount"], newest["kind"], newest["balance_after"]) == (-30, "claim_debit", 70)
    assert newest["claim_id"] == accepted.json["claim_id"]
    assert (oldest["amount"], oldest["kind"], oldest["balance_after"]) == (100, "credit", 100)
    assert sum(e["amount"] for e in ledger["entries"]) == ledger["balance"]
    assert ledger_sum(runtime, tenant, participant) == 70


def test_a_credit_key_reused_for_a_claim_is_a_different_request(
    admin: Caller, runtime: Runtime, tenant: TestTenant
) -> None:
    participant, key = new_id(), new_id("key")
    reward = admin.create_reward()
    admin.credit(participant, 10, key=key)

    response = admin.claim(reward["id"], {"participant_id": participant}, key=key)

    assert_problem(response, 422, "idempotency_key_reused")
    assert requests_under_key(runtime, tenant, key) == 1
