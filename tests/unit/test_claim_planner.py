"""The order of checks and the in-memory bookkeeping of a batch, without a database."""

from __future__ import annotations

import datetime as dt

import pytest

from core.claims.planner import ClaimPlanner, Grant, Refusal
from core.claims.state import InventoryState, ParticipantState, PendingClaim, RewardState

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def reward(**overrides: object) -> RewardState:
    fields = {
        "id": "rwd_1", "tenant_id": "ten_1", "mode": "live", "name": "10% Off", "type": "coupon",
        "points_cost": 500, "max_claims_per_user": 1, "starts_at": None, "expires_at": None,
        "deactivated_at": None, "code_expiry_days": None, "code_prefix": None, "code_length": None,
        "low_stock_threshold": None,
    }  # fmt: skip
    return RewardState(**{**fields, **overrides})  # type: ignore[arg-type]


def claim(
    n: int = 1, participant: str = "user_42", *, deduct: bool = True, **overrides: object
) -> PendingClaim:
    fields = {
        "claim_pk": n, "claim_id": f"clm_{n}", "idempotency_record_id": n, "tenant_id": "ten_1",
        "mode": "live", "reward_id": "rwd_1", "participant_external_id": participant,
        "points_deduction": deduct, "request_id": None, "accepted_at": NOW,
    }  # fmt: skip
    return PendingClaim(**{**fields, **overrides})  # type: ignore[arg-type]


def planner(
    *, rewards: list[RewardState], codes: int = 10, balance: int = 1000, held: int = 0
) -> ClaimPlanner:
    return ClaimPlanner(
        rewards={r.id: r for r in rewards},
        inventories={r.id: InventoryState(r.id, codes, 0, 0, False, False) for r in rewards},
        participants={
            ("ten_1", "live", "user_42"): ParticipantState(1, "user_42", balance),
            ("ten_1", "live", "user_7"): ParticipantState(2, "user_7", balance),
        },
        holdings={(1, "rwd_1"): held} if held else {},
        now=NOW,
    )


def refusal_code(decision: object) -> str:
    assert isinstance(decision, Refusal), decision
    return decision.error.code


def test_a_grant_takes_the_next_position_and_debits_the_cost() -> None:
    plan = planner(rewards=[reward(code_expiry_days=30)])
    first, second = plan.decide(claim(1)), plan.decide(claim(2, "user_7"))
    assert isinstance(first, Grant) and isinstance(second, Grant)
    assert [(g.source, g.position) for g in (first, second)] == [("pool", 1), ("pool", 2)]
    assert (first.points_deducted, first.new_balance) == (500, 500)
    assert first.expires_at == NOW + dt.timedelta(days=30)


def test_deactivation_wins_over_every_later_check() -> None:
    plan = planner(rewards=[reward(deactivated_at=NOW, expires_at=NOW)], codes=0, balance=0, held=5)
    assert refusal_code(plan.decide(claim())) == "reward_inactive"


def test_not_yet_started_is_inactive_and_expiry_is_inclusive() -> None:
    later = NOW + dt.timedelta(seconds=1)
    assert (
        refusal_code(planner(rewards=[reward(starts_at=later)]).decide(claim()))
        == "reward_inactive"
    )
    assert (
        refusal_code(planner(rewards=[reward(expires_at=NOW)]).decide(claim())) == "reward_expired"
    )


def test_limit_is_checked_before_points_and_points_before_inventory() -> None:
    assert (
        refusal_code(planner(rewards=[reward()], codes=0, balance=0, held=1).decide(claim()))
        == "max_claims_exceeded"
    )
    assert (
        refusal_code(planner(rewards=[reward()], codes=0, balance=0).decide(claim()))
        == "insufficient_points"
    )
    assert (
        refusal_code(planner(rewards=[reward()], codes=0).decide(claim())) == "inventory_exhausted"
    )


def test_a_free_claim_or_one_without_deduction_moves_no_points() -> None:
    free = planner(rewards=[reward(points_cost=None)], balance=0).decide(claim())
    undeducted = planner(rewards=[reward()], balance=0).decide(claim(deduct=False))
    assert isinstance(free, Grant) and free.points_deducted == 0 and free.new_balance == 0
    assert isinstance(undeducted, Grant) and undeducted.points_deducted == 0


def test_claims_in_one_batch_see_each_others_debits_and_holdings() -> None:
    plan = planner(rewards=[reward(max_claims_per_user=3)], balance=1200)
    decisions = [plan.decide(claim(n)) for n in range(1, 5)]
    assert [isinstance(d, Grant) for d in decisions] == [True, True, False, False]
    assert refusal_code(decisions[2]) == "insufficient_points"
    assert refusal_code(decisions[3]) == "insufficient_points"
    assert plan.participants[("ten_1", "live", "user_42")].balance == 200


def test_a_refused_claim_changes_nothing_for_the_next_one() -> None:
    plan = planner(rewards=[reward()], codes=1)
    assert (
        refusal_code(plan.decide(claim(1, deduct=True, reward_id="rwd_missing")))
        == "reward_not_found"
    )
    granted = plan.decide(claim(2))
    assert isinstance(granted, Grant) and (granted.source, granted.position) == ("pool", 1)


def test_pre_loaded_codes_go_first_then_generated_ones() -> None:
    plan = planner(rewards=[reward(code_prefix="GEN-", code_length=8, points_cost=None)], codes=1)
    first, second = plan.decide(claim(1)), plan.decide(claim(2, "user_7"))
    assert isinstance(first, Grant) and (first.source, first.position) == ("pool", 1)
    assert isinstance(second, Grant) and second.source == "generated"


def test_another_tenants_reward_is_not_found() -> None:
    plan = planner(rewards=[reward(tenant_id="ten_other")])
    assert refusal_code(plan.decide(claim())) == "reward_not_found"


@pytest.mark.parametrize("mode", ["test"])
def test_another_modes_reward_is_not_found(mode: str) -> None:
    plan = planner(rewards=[reward(mode=mode)])
    assert refusal_code(plan.decide(claim())) == "reward_not_found"


def test_returned_codes_are_granted_before_uploaded_ones_and_count_as_stock() -> None:
    plan = planner(rewards=[reward(points_cost=None)], codes=1)
    plan.inventories["rwd_1"].returned_count = 2
    plan.participants.update(
        {("ten_1", "live", f"user-{n}"): ParticipantState(10 + n, f"user-{n}", 0) for n in range(5)}
    )
    grants = [plan.decide(claim(n, f"user-{n}")) for n in range(1, 5)]
    assert [(g.source, g.position) for g in grants[:3] if isinstance(g, Grant)] == [
        ("returned", 0),
        ("returned", 1),
        ("pool", 1),
    ]
    assert [g.available_after for g in grants[:3] if isinstance(g, Grant)] == [2, 1, 0]
    assert refusal_code(grants[3]) == "inventory_exhausted"


def test_refusal_reports_without_granting() -> None:
    plan = planner(rewards=[reward()], codes=1, balance=100)
    refused = plan.refusal(claim(1))
    assert refused is not None and refused.error.code == "insufficient_points"
    assert plan.inventories["rwd_1"].available == 1
    rich = planner(rewards=[reward()], codes=1)
    assert rich.refusal(claim(1)) is None
    assert rich.inventories["rwd_1"].available == 1
