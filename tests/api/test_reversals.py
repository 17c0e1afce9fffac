"""POST /claims/{id}/reverse (CONTRACT §7): refund, restock, freed slot, idempotency, refusals.

Claims are decided by running the drain in the test (no worker process here).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from core.claims.drain import Drain
from core.models import Fact
from core.runtime import Runtime
from tests.api.conftest import Caller, assert_problem, ledger_sum, new_id
from tests.support.tenants import TestTenant


def decided_claim(
    runtime: Runtime, server: Caller, reward_id: str, participant: str, *, deduct: bool = True
) -> dict[str, Any]:
    body = {"participant_id": participant, "points_deduction": deduct}
    accepted = server.claim(reward_id, body, key=new_id("key"))
    assert accepted.status_code == 202
    Drain(runtime.db, runtime.publisher, batch_size=50).run()
    claim = server.get(f"/claims/{accepted.json['claim_id']}").json  # type: ignore[index]
    assert claim is not None
    return claim


def reverse(admin: Caller, claim_id: str, *, restock: bool = False, key: str | None = None) -> Any:
    return admin.post(
        f"/claims/{claim_id}/reverse",
        {"reason": "order cancelled", "restock": restock},
        headers={"Idempotency-Key": key or new_id("key")},
    )


@pytest.fixture
def paid(admin: Caller) -> dict[str, Any]:
    reward = admin.create_reward(points_cost=300, max_claims_per_user=1)
    admin.upload(reward["id"], ["PAID-1", "PAID-2"])
    return reward


def facts_of(runtime: Runtime, tenant: TestTenant, type_: str) -> list[dict[str, Any]]:
    with runtime.db.transaction() as session:
        query = select(Fact.data).where(Fact.tenant_id == tenant.id, Fact.type == type_)
        return list(session.scalars(query))


def test_a_reversal_refunds_restocks_frees_the_slot_and_appends_one_fact(
    runtime: Runtime, tenant: TestTenant, admin: Caller, server: Caller, paid: dict[str, Any]
) -> None:
    participant = new_id()
    assert admin.credit(participant, 1000).status_code == 201
    claim = decided_claim(runtime, server, paid["id"], participant)
    assert (claim["status"], claim["code_value"], claim["new_balance"]) == (
        "succeeded",
        "PAID-1",
        700,
    )

    reversed_ = reverse(admin, claim["claim_id"], restock=True)

    assert reversed_.status_code == 200
    body = reversed_.json
    assert body["status"] == "reversed" and body["code_value"] == "PAID-1"
    assert body["reversal"]["points_refunded"] == 300 and body["reversal"]["restocked"] is True
    assert body["reversal"]["reason"] == "order cancelled"
    assert server.get(f"/claims/{claim['claim_id']}").json == body
    assert admin.balance(participant) == 1000 == ledger_sum(runtime, tenant, participant)
    entries = admin.get(f"/participants/{participant}/points").json["entries"]
    assert (entries[0]["kind"], entries[0]["amount"], entries[0]["claim_id"]) == (
        "reversal_refund", 300, claim["claim_id"],
    )  # fmt: skip
    assert admin.reward(paid["id"])["available_codes"] == 2
    held = server.get(f"/participants/{participant}/rewards").json
    assert (held["rewards"], held["total_claimed"]) == ([], 0)
    with_reversed = server.get(f"/participants/{participant}/rewards?include=reversed").json
    assert [r["status"] for r in with_reversed["rewards"]] == ["reversed"]
    assert with_reversed["total_claimed"] == 1
    reversed_facts = facts_of(runtime, tenant, "reward.claim_reversed")
    assert [f["claim_id"] for f in reversed_facts] == [claim["claim_id"]]
    # The slot is free and the returned code is offered before the never-used one.
    again = decided_claim(runtime, server, paid["id"], participant)
    assert (again["status"], again["code_value"]) == ("succeeded", "PAID-1")


def test_without_restock_the_code_is_not_offered_again(
    runtime: Runtime, admin: Caller, server: Caller, paid: dict[str, Any]
) -> None:
    first = decided_claim(runtime, server, paid["id"], new_id(), deduct=False)
    assert reverse(admin, first["claim_id"]).json["reversal"]["restocked"] is False
    assert admin.reward(paid["id"])["available_codes"] == 1
    second = decided_claim(runtime, server, paid["id"], new_id(), deduct=False)
    assert second["code_value"] == "PAID-2"


def test_a_reversal_replays_under_its_key_and_another_key_changes_nothing(
    runtime: Runtime, tenant: TestTenant, admin: Caller, server: Caller, paid: dict[str, Any]
) -> None:
    participant = new_id()
    admin.credit(participant, 300)
    claim = decided_claim(runtime, server, paid["id"], participant)
    key = new_id("key")
    first = reverse(admin, claim["claim_id"], key=key, restock=True)
    replay = reverse(admin, claim["claim_id"], key=key, restock=True)
    other = reverse(admin, claim["claim_id"], restock=True)

    assert replay.status_code == 200 and replay.json == first.json
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 200 and other.json == first.json
    assert admin.balance(participant) == 300 == ledger_sum(runtime, tenant, participant)
    assert admin.reward(paid["id"])["available_codes"] == 2  # restocked once
    assert len(facts_of(runtime, tenant, "reward.claim_reversed")) == 1
    same_key_other_body = admin.post(
        f"/claims/{claim['claim_id']}/reverse",
        {"restock": False},
        headers={"Idempotency-Key": key},
    )
    assert_problem(same_key_other_body, 422, "idempotency_key_reused")


def test_pending_and_failed_claims_are_not_reversible_and_keep_the_key(
    runtime: Runtime, admin: Caller, server: Caller, paid: dict[str, Any]
) -> None:
    pending = server.claim(paid["id"], {"participant_id": new_id()}, key=new_id("key"))
    key = new_id("key")
    assert_problem(reverse(admin, pending.json["claim_id"], key=key), 409, "claim_not_reversible")
    failed = decided_claim(runtime, server, paid["id"], new_id())  # no points: refused
    assert failed["status"] == "failed"
    assert_problem(reverse(admin, failed["claim_id"]), 409, "claim_not_reversible")
    # The refused reversal did not consume its key: the now-decided claim reverses with it.
    decided = server.get(f"/claims/{pending.json['claim_id']}").json
    assert decided["status"] == "succeeded"
    assert reverse(admin, pending.json["claim_id"], key=key).status_code == 200


def test_reversal_needs_an_admin_key_of_the_claims_tenant_and_mode(
    runtime: Runtime,
    admin: Caller,
    server: Caller,
    other_admin: Caller,
    test_admin: Caller,
    paid: dict[str, Any],
) -> None:
    claim = decided_claim(runtime, server, paid["id"], new_id(), deduct=False)
    assert_problem(reverse(server, claim["claim_id"]), 403, "forbidden")
    assert_problem(reverse(other_admin, claim["claim_id"]), 404, "claim_not_found")
    assert_problem(reverse(test_admin, claim["claim_id"]), 404, "claim_not_found")
    no_key = admin.post(f"/claims/{claim['claim_id']}/reverse", {"restock": True})
    assert_problem(no_key, 400, "idempotency_key_missing")
    bad = admin.post(
        f"/claims/{claim['claim_id']}/reverse",
        {"restock": "yes"},
        headers={"Idempotency-Key": new_id("key")},
    )
    assert_problem(bad, 400, "validation_error")
    assert server.get(f"/claims/{claim['claim_id']}").json["status"] == "succeeded"


def test_reversals_count_in_the_ledger_and_the_claims_table(
    runtime: Runtime, tenant: TestTenant, admin: Caller, server: Caller, paid: dict[str, Any]
) -> None:
    participant = new_id()
    admin.credit(participant, 600)
    claim = decided_claim(runtime, server, paid["id"], participant)
    reverse(admin, claim["claim_id"])
    with runtime.db.transaction() as session:
        claimed = session.scalar(
            select(func.count())
            .select_from(Fact)
            .where(Fact.tenant_id == tenant.id, Fact.type == "reward.reward_claimed")
        )
    assert claimed == 1  # the original claim's fact stays; the reversal has its own
    assert admin.balance(participant) == 600 == ledger_sum(runtime, tenant, participant)
