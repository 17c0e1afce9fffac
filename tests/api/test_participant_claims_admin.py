"""Admin-only members on a participant's claim RECORDs (an extension, docs/api-extensions.md):
admin keys get each claim's `status` and `fulfillment_status` in one GET; server keys and
participant tokens get CONTRACT §6's RECORD unchanged."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from core.claims.drain import Drain
from core.runtime import Runtime
from tests.api.conftest import Caller, new_id

RECORD_KEYS = [
    "claim_id",
    "reward_id",
    "reward_name",
    "reward_type",
    "code_value",
    "claimed_at",
    "expires_at",
]  # CONTRACT §6
ADMIN_RECORD_KEYS = [*RECORD_KEYS, "status", "fulfillment_status"]
HOOK_URL = "https://93.184.215.14/hooks"  # a global address: registration never calls it


def decide(runtime: Runtime, server: Caller, reward_id: str, participant: str) -> str:
    accepted = server.claim(reward_id, {"participant_id": participant}, key=new_id("key"))
    assert accepted.status_code == 202, accepted.get_data(as_text=True)
    Drain(runtime.db, runtime.publisher, batch_size=50).run()
    claim_id: str = accepted.json["claim_id"]  # type: ignore[index]
    assert server.get(f"/claims/{claim_id}").json["status"] == "succeeded"  # type: ignore[index]
    return claim_id


@pytest.fixture
def held(runtime: Runtime, admin: Caller, server: Caller) -> dict[str, Any]:
    """A participant with a plain claim, a claim awaiting fulfillment, and a reversed claim."""
    participant = new_id()
    plain = admin.create_reward(name="Plain", code_generation={"prefix": "P-", "length": 6})
    hook = admin.post("/webhook-endpoints", {"url": HOOK_URL})
    assert hook.status_code == 201, hook.get_data(as_text=True)
    shipped = admin.create_reward(
        name="Shipped",
        type="physical",
        code_generation={"prefix": "S-", "length": 6},
        fulfillment={"endpoint_id": hook.json["id"], "on_failure": "keep"},  # type: ignore[index]
    )
    undone = admin.create_reward(name="Undone", code_generation={"prefix": "U-", "length": 6})
    reversed_id = decide(runtime, server, undone["id"], participant)
    reversal = admin.post(
        f"/claims/{reversed_id}/reverse",
        {"reason": "test", "restock": False},
        headers={"Idempotency-Key": new_id("key")},
    )
    assert reversal.status_code == 200, reversal.get_data(as_text=True)
    return {
        "participant": participant,
        "plain": decide(runtime, server, plain["id"], participant),
        "shipped": decide(runtime, server, shipped["id"], participant),
        "reversed": reversed_id,
    }


def test_an_admin_key_sees_each_claims_status_and_fulfillment_status(
    admin: Caller, held: dict[str, Any]
) -> None:
    body = admin.get(f"/participants/{held['participant']}/rewards").json
    assert body is not None and body["total_claimed"] == 2
    records = {r["claim_id"]: r for r in body["rewards"]}
    assert set(records) == {held["plain"], held["shipped"]}  # reversed left out, as for all keys
    assert all(list(r) == ADMIN_RECORD_KEYS for r in body["rewards"])
    assert records[held["plain"]]["fulfillment_status"] == "not_required"
    assert records[held["shipped"]]["fulfillment_status"] == "pending"
    assert {r["status"] for r in body["rewards"]} == {"succeeded"}


def test_an_admin_key_with_include_reversed_sees_the_reversal_too(
    admin: Caller, held: dict[str, Any]
) -> None:
    body = admin.get(f"/participants/{held['participant']}/rewards?include=reversed").json
    assert body is not None and body["total_claimed"] == 3
    records = {r["claim_id"]: r for r in body["rewards"]}
    assert records[held["reversed"]]["status"] == "reversed"
    assert records[held["reversed"]]["fulfillment_status"] == "not_required"
    for claim_id, record in records.items():  # the same answer GET /claims/{id} gives
        view = admin.get(f"/claims/{claim_id}").json
        assert view is not None
        assert (record["status"], record["fulfillment_status"]) == (
            view["status"],
            view["fulfillment_status"],
        )


def test_a_server_key_sees_the_contract_record_unchanged(
    server: Caller, held: dict[str, Any]
) -> None:
    plain = server.get(f"/participants/{held['participant']}/rewards").json
    assert plain is not None and len(plain["rewards"]) == 2
    assert all(list(r) == RECORD_KEYS for r in plain["rewards"])
    with_reversed = server.get(f"/participants/{held['participant']}/rewards?include=reversed").json
    assert with_reversed is not None and len(with_reversed["rewards"]) == 3
    assert all(list(r) == [*RECORD_KEYS, "status"] for r in with_reversed["rewards"])


def test_a_participant_token_sees_the_contract_record_unchanged(
    client: FlaskClient, admin: Caller, held: dict[str, Any]
) -> None:
    issued = admin.post(f"/participants/{held['participant']}/tokens")
    assert issued.status_code == 201
    token = Caller(client, {"Authorization": f"Bearer {issued.json['token']}"})  # type: ignore[index]
    body = token.get(f"/participants/{held['participant']}/rewards").json
    assert body is not None and len(body["rewards"]) == 2
    assert all(list(r) == RECORD_KEYS for r in body["rewards"])
