"""Points multipliers (CONTRACT §7, docs/multipliers.md): a points_multiplier claim activates
its factor for duration_days; credits in the window are floor(amount * factor), the ledger
keeps base_amount and multiplier_claim_id; the highest active factor wins; a reversed or
expired activation no longer applies. Claims are decided by running the drain in the test.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from core.checks import claims_within_codes
from core.claims.drain import Drain
from core.clock import utcnow
from core.models import Claim, Fact, Reward, RewardCode
from core.runtime import Runtime
from tests.api.conftest import Caller, assert_problem, error_fields, ledger_sum, new_id
from tests.support.tenants import TestTenant


def multiplier_reward(admin: Caller, factor: Any, days: int = 7, **fields: Any) -> dict[str, Any]:
    return admin.create_reward(
        name=f"x{factor} points",
        type="points_multiplier",
        multiplier={"factor": factor, "duration_days": days},
        **fields,
    )


def decided_claim(
    runtime: Runtime, server: Caller, reward_id: str, participant: str, *, deduct: bool = False
) -> dict[str, Any]:
    body = {"participant_id": participant, "points_deduction": deduct}
    accepted = server.claim(reward_id, body, key=new_id("key"))
    assert accepted.status_code == 202, accepted.get_data(as_text=True)
    Drain(runtime.db, runtime.publisher, batch_size=50).run()
    claim = server.get(f"/claims/{accepted.json['claim_id']}").json  # type: ignore[index]
    assert claim is not None
    return claim


def credit(server: Caller, participant: str, amount: int) -> dict[str, Any]:
    response = server.credit(participant, amount)
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.json
    assert body is not None
    assert list(body) == ["participant_id", "balance", "entry_id"]  # the shape stays (§5)
    return body


def newest_entry(server: Caller, participant: str) -> dict[str, Any]:
    return server.get(f"/participants/{participant}/points").json["entries"][0]  # type: ignore[index]


def move_claimed_at(runtime: Runtime, claim_id: str, ago: timedelta) -> None:
    with runtime.db.transaction() as session:
        session.execute(
            update(Claim).where(Claim.claim_id == claim_id).values(claimed_at=utcnow() - ago)
        )


def test_a_multiplier_definition_shows_to_admins_and_needs_no_codes(
    admin: Caller, server: Caller
) -> None:
    reward = multiplier_reward(admin, 1.5, days=30)

    assert reward["multiplier"] == {"factor": 1.5, "duration_days": 30}
    assert reward["code_generation"] is None
    assert reward["available_codes"] is None  # no inventory cap
    public = server.get(f"/rewards/{reward['id']}").json
    assert public is not None
    assert "multiplier" not in public and "code_generation" not in public  # admin keys only
    assert public["available_codes"] is None
    generated = admin.create_reward(code_generation={"prefix": "GEN-", "length": 10})
    assert generated["code_generation"] == {"prefix": "GEN-", "length": 10}
    assert generated["multiplier"] is None
    listed = {e["id"]: e for e in admin.get("/rewards?limit=200").json["rewards"]}  # type: ignore[index]
    assert listed[reward["id"]]["multiplier"] == {"factor": 1.5, "duration_days": 30}


def test_a_claim_activates_the_factor_and_credits_are_floored_products(
    runtime: Runtime, tenant: TestTenant, admin: Caller, server: Caller
) -> None:
    reward = multiplier_reward(admin, 1.5)
    participant, bystander = new_id(), new_id()

    claim = decided_claim(runtime, server, reward["id"], participant)
    other = decided_claim(runtime, server, reward["id"], bystander)

    assert claim["status"] == "succeeded", claim
    assert claim["code_value"].startswith("MULT-")
    assert other["code_value"].startswith("MULT-") and other["code_value"] != claim["code_value"]
    credited = credit(server, participant, 7)  # 7 * 1.5 = 10.5 -> 10
    assert credited["balance"] == 10
    entry = newest_entry(server, participant)
    assert (entry["entry_id"], entry["amount"], entry["kind"]) == (
        credited["entry_id"],
        10,
        "credit",
    )
    assert (entry["base_amount"], entry["multiplier_claim_id"]) == (7, claim["claim_id"])
    assert credit(server, participant, 3)["balance"] == 14  # 4.5 -> 4
    assert ledger_sum(runtime, tenant, participant) == admin.balance(participant) == 14
    # Someone without a multiplier is credited as asked, with both fields null.
    plain = new_id()
    assert credit(server, plain, 7)["balance"] == 7
    assert newest_entry(server, plain)["base_amount"] is None
    assert newest_entry(server, plain)["multiplier_claim_id"] is None
    # The claim took nothing from an inventory: no stock alert, the invariant check holds.
    with runtime.db.transaction() as session:
        alerts = session.scalar(
            select(func.count())
            .select_from(Fact)
            .where(Fact.tenant_id == tenant.id, Fact.type.like("reward.inventory_%"))
        )
        assert alerts == 0
        assert [v for v in claims_within_codes(session, utcnow()) if reward["id"] in v.detail] == []


def test_overlapping_multipliers_do_not_stack_the_highest_factor_applies(
    runtime: Runtime, tenant: TestTenant, admin: Caller, server: Caller
) -> None:
    triple = multiplier_reward(admin, 3)
    one_and_half = multiplier_reward(admin, 1.5)
    participant = new_id()

    strongest = decided_claim(runtime, server, triple["id"], participant)
    decided_claim(runtime, server, one_and_half["id"], participant)  # later, weaker

    assert credit(server, participant, 10)["balance"] == 30  # not 10 * 3 * 1.5
    entry = newest_entry(server, participant)
    assert (entry["base_amount"], entry["multiplier_claim_id"]) == (10, strongest["claim_id"])
    assert ledger_sum(runtime, tenant, participant) == 30


def test_the_window_is_duration_days_from_claimed_at(
    runtime: Runtime, tenant: TestTenant, admin: Caller, server: Caller
) -> None:
    reward = multiplier_reward(admin, 2, days=7)
    participant = new_id()
    claim = decided_claim(runtime, server, reward["id"], participant)

    move_claimed_at(runtime, claim["claim_id"], timedelta(days=6, hours=23))
    assert credit(server, participant, 5)["balance"] == 10  # still inside the 7 days
    move_claimed_at(runtime, claim["claim_id"], timedelta(days=7, seconds=1))
    assert credit(server, participant, 5)["balance"] == 15  # expired: credited as asked
    entry = newest_entry(server, participant)
    assert (entry["amount"], entry["base_amount"], entry["multiplier_claim_id"]) == (5, None, None)
    assert ledger_sum(runtime, tenant, participant) == 15


def test_a_reversed_multiplier_stops_applying_and_refunds_as_usual(
    runtime: Runtime, tenant: TestTenant, admin: Caller, server: Caller
) -> None:
    reward = multiplier_reward(admin, 2, points_cost=100)
    participant = new_id()
    credit(server, participant, 100)
    claim = decided_claim(runtime, server, reward["id"], participant, deduct=True)
    assert (claim["status"], claim["new_balance"]) == ("succeeded", 0)
    assert credit(server, participant, 10)["balance"] == 20

    reversed_ = admin.post(
        f"/claims/{claim['claim_id']}/reverse",
        {"reason": "refund", "restock": True},
        headers={"Idempotency-Key": new_id("key")},
    )

    assert reversed_.status_code == 200, reversed_.get_data(as_text=True)
    assert reversed_.json["reversal"]["points_refunded"] == 100  # type: ignore[index]
    assert reversed_.json["reversal"]["restocked"] is False  # type: ignore[index]  # no code
    assert admin.balance(participant) == 120
    assert credit(server, participant, 10)["balance"] == 130  # no longer doubled
    assert newest_entry(server, participant)["multiplier_claim_id"] is None
    assert ledger_sum(runtime, tenant, participant) == 130
    # Its slot is free again: a new claim activates it anew with a new reference.
    again = decided_claim(runtime, server, reward["id"], participant, deduct=True)
    assert again["status"] == "succeeded" and again["code_value"] != claim["code_value"]
    assert credit(server, participant, 10)["balance"] == 50  # 130 - 100 + 20


@pytest.mark.parametrize(
    ("multiplier", "field"),
    [
        ({"factor": 1, "duration_days": 7}, "multiplier.factor"),
        ({"factor": 0.5, "duration_days": 7}, "multiplier.factor"),
        ({"factor": 10.01, "duration_days": 7}, "multiplier.factor"),
        ({"factor": 1.234, "duration_days": 7}, "multiplier.factor"),
        ({"factor": "2", "duration_days": 7}, "multiplier.factor"),
        ({"factor": True, "duration_days": 7}, "multiplier.factor"),
        ({"factor": None, "duration_days": 7}, "multiplier.factor"),
        ({"duration_days": 7}, "multiplier.factor"),
        ({"factor": 2, "duration_days": 0}, "multiplier.duration_days"),
        ({"factor": 2, "duration_days": 3651}, "multiplier.duration_days"),
        ({"factor": 2, "duration_days": 1.5}, "multiplier.duration_days"),
        ({"factor": 2, "duration_days": "7"}, "multiplier.duration_days"),
        ({"factor": 2}, "multiplier.duration_days"),
        ({"factor": 2, "duration_days": 7, "stack": True}, "multiplier.stack"),
        ("x2", "multiplier"),
    ],
)
def test_bad_multiplier_fields_are_refused_naming_the_field(
    runtime: Runtime, tenant: TestTenant, admin: Caller, multiplier: Any, field: str
) -> None:
    before = _rewards(runtime, tenant)
    response = admin.post(
        "/rewards", {"name": "x", "type": "points_multiplier", "multiplier": multiplier}
    )
    assert field in error_fields(response)
    assert _rewards(runtime, tenant) == before


def test_multiplier_is_required_for_its_type_and_refused_for_the_others(
    runtime: Runtime, tenant: TestTenant, admin: Caller
) -> None:
    before = _rewards(runtime, tenant)
    missing = admin.post("/rewards", {"name": "x", "type": "points_multiplier"})
    assert error_fields(missing) == {"multiplier"}
    for reward_type in ("coupon", "voucher", "physical", "digital"):
        body = {"name": "x", "type": reward_type, "multiplier": {"factor": 2, "duration_days": 7}}
        assert error_fields(admin.post("/rewards", body)) == {"multiplier"}
    assert _rewards(runtime, tenant) == before

    coupon = admin.create_reward()
    multiplier = multiplier_reward(admin, 2)
    refused = [
        (coupon, {"multiplier": {"factor": 2, "duration_days": 7}}),
        (coupon, {"type": "points_multiplier"}),
        (multiplier, {"type": "coupon"}),
        (multiplier, {"multiplier": None}),
    ]
    for reward, patch in refused:
        response = admin.patch(f"/rewards/{reward['id']}", patch)
        assert error_fields(response) == {"multiplier"}, patch
        assert admin.reward(reward["id"]) == reward  # nothing changed

    # Both changed together is a consistent definition.
    changed = admin.patch(f"/rewards/{multiplier['id']}", {"type": "coupon", "multiplier": None})
    assert changed.status_code == 200 and changed.json["multiplier"] is None  # type: ignore[index]
    raised = admin.patch(
        f"/rewards/{coupon['id']}",
        {"type": "points_multiplier", "multiplier": {"factor": 2.5, "duration_days": 3650}},
    )
    assert raised.status_code == 200
    assert raised.json["multiplier"] == {"factor": 2.5, "duration_days": 3650}  # type: ignore[index]


def test_a_server_key_cannot_set_a_multiplier(server: Caller) -> None:
    body = {
        "name": "x",
        "type": "points_multiplier",
        "multiplier": {"factor": 2, "duration_days": 1},
    }
    assert_problem(server.post("/rewards", body), 403, "forbidden")


def _rewards(runtime: Runtime, tenant: TestTenant) -> int:
    with runtime.db.transaction() as session:
        return session.scalar(
            select(func.count()).select_from(Reward).where(Reward.tenant_id == tenant.id)
        )  # type: ignore[return-value]


# A type change to or from points_multiplier once codes or claims depend on the type
# (a tester's report: coupon -> multiplier kept taking uploads that GET showed as null).

TO_MULTIPLIER = {"type": "points_multiplier", "multiplier": {"factor": 2, "duration_days": 7}}


def test_a_coupon_with_codes_cannot_become_a_multiplier(admin: Caller) -> None:
    coupon = admin.create_reward()
    admin.upload(coupon["id"], ["A-1", "A-2"])
    response = admin.patch(f"/rewards/{coupon['id']}", TO_MULTIPLIER)
    problem = assert_problem(response, 400, "validation_error")
    assert problem["errors"] == [
        {
            "field": "type",
            "message": "cannot change from coupon to points_multiplier: the reward has "
            "2 uploaded code(s); create a new reward instead",
        }
    ]
    after = admin.reward(coupon["id"])
    assert (after["type"], after["available_codes"]) == ("coupon", 2)


def test_a_multiplier_with_claims_cannot_become_a_coupon(
    runtime: Runtime, admin: Caller, server: Caller
) -> None:
    multiplier = multiplier_reward(admin, 2)
    decided_claim(runtime, server, multiplier["id"], new_id())
    response = admin.patch(f"/rewards/{multiplier['id']}", {"type": "coupon", "multiplier": None})
    [error] = assert_problem(response, 400, "validation_error")["errors"]
    assert error["field"] == "type" and "1 claim(s)" in error["message"]
    assert admin.reward(multiplier["id"])["type"] == "points_multiplier"


def test_a_change_within_the_code_taking_types_stays_free(admin: Caller) -> None:
    coupon = admin.create_reward()
    admin.upload(coupon["id"], ["B-1"])
    changed = admin.patch(f"/rewards/{coupon['id']}", {"type": "voucher"})
    assert changed.status_code == 200
    assert (changed.json["type"], changed.json["available_codes"]) == ("voucher", 1)  # type: ignore[index]


def test_codes_are_not_uploaded_to_a_multiplier(
    runtime: Runtime, tenant: TestTenant, admin: Caller
) -> None:
    multiplier = multiplier_reward(admin, 2)
    as_json = admin.post(f"/rewards/{multiplier['id']}/codes", {"codes": ["C-1"]})
    as_csv = admin.post(f"/rewards/{multiplier['id']}/codes", data="C-1\n", content_type="text/csv")
    for response in (as_json, as_csv):
        assert assert_problem(response, 400, "validation_error")["errors"] == [
            {
                "field": "codes",
                "message": "a points_multiplier reward takes no codes: its claims hand out none",
            }
        ]
    with runtime.db.transaction() as session:
        stored = session.scalar(
            select(func.count())
            .select_from(RewardCode)
            .where(RewardCode.reward_id == multiplier["id"])
        )
    assert stored == 0
