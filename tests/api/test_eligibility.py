"""GET /rewards?participant_id= (CONTRACT §4): each entry says what a paid claim would meet now.

The verdicts come from the claim planner's own checks, so each case here is
also decided by a real claim afterwards and the two must agree.
"""

from __future__ import annotations

from typing import Any

from core.claims.drain import Drain
from core.runtime import Runtime
from tests.api.conftest import Caller, assert_problem, new_id


def verdicts(server: Caller, participant: str) -> dict[str, dict[str, Any]]:
    response = server.get(f"/rewards?limit=200&participant_id={participant}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return {entry["id"]: entry["eligibility"] for entry in response.json["rewards"]}


def claim_outcome(runtime: Runtime, server: Caller, reward_id: str, participant: str) -> str:
    body = {"participant_id": participant, "points_deduction": True}
    accepted = server.claim(reward_id, body, key=new_id("key"))
    Drain(runtime.db, runtime.publisher, batch_size=50).run()
    claim = server.get(f"/claims/{accepted.json['claim_id']}").json
    return "succeeded" if claim["status"] == "succeeded" else claim["error"]["code"]


def test_each_entry_carries_the_verdict_a_real_claim_then_gets(
    runtime: Runtime, admin: Caller, server: Caller
) -> None:
    participant = new_id()
    admin.credit(participant, 500)
    affordable = admin.create_reward(points_cost=500)
    admin.upload(affordable["id"], ["A-1", "A-2"])
    too_dear = admin.create_reward(points_cost=501)
    admin.upload(too_dear["id"], ["D-1"])
    sold_out = admin.create_reward()
    free_and_generated = admin.create_reward(code_generation={"prefix": "G-", "length": 6})

    before = verdicts(server, participant)

    assert before[affordable["id"]] == {"eligible": True, "reason": None, "claims_held": 0}
    assert before[too_dear["id"]] == {
        "eligible": False, "reason": "insufficient_points", "claims_held": 0,
    }  # fmt: skip
    assert before[sold_out["id"]]["reason"] == "inventory_exhausted"
    assert before[free_and_generated["id"]]["eligible"] is True
    for reward_id, verdict in before.items():
        if reward_id in (affordable["id"], too_dear["id"], sold_out["id"]):
            assert claim_outcome(runtime, server, reward_id, participant) == (
                verdict["reason"] or "succeeded"
            )
    after = verdicts(server, participant)
    assert after[affordable["id"]] == {
        "eligible": False, "reason": "max_claims_exceeded", "claims_held": 1,
    }  # fmt: skip
    assert after[too_dear["id"]]["reason"] == "insufficient_points"  # balance now 0


def test_an_unknown_participant_has_nothing_and_a_listing_without_one_has_no_verdicts(
    admin: Caller, server: Caller
) -> None:
    paid = admin.create_reward(points_cost=10)
    admin.upload(paid["id"], ["P-1"])
    assert verdicts(server, new_id())[paid["id"]]["reason"] == "insufficient_points"
    plain = server.get("/rewards?limit=200").json
    assert all("eligibility" not in entry for entry in plain["rewards"])


def test_a_participant_id_that_could_not_be_claimed_for_is_refused(server: Caller) -> None:
    assert_problem(server.get("/rewards?participant_id="), 400, "validation_error")
    assert_problem(server.get("/rewards?participant_id=a%01b"), 400, "validation_error")
