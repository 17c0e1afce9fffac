"""The seed's happy path and its storefront handler (Pattern 1), over HTTP against the stack."""

from __future__ import annotations

import datetime as dt

from tests.support.client import Api
from tests.support.pattern_one import redeem_coupon


def test_paid_claim_debits_points_and_hands_out_the_first_uploaded_code(api: Api) -> None:
    reward = api.create_reward(points_cost=500, code_expiry_days=30)
    api.upload(reward["id"], ["SAVE10-ABC123", "SAVE10-DEF456"])
    api.credit("user_42", 1500)

    response = api.claim(reward["id"], "user_42", key="order-12345-coupon", points_deduction=True)

    assert response.status_code == 201, response.text
    claim = response.json()
    assert claim["code_value"] == "SAVE10-ABC123"
    assert claim["points_deducted"] == 500
    assert claim["new_balance"] == 1000
    assert claim["participant_id"] == "user_42"
    assert claim["reward_name"] == "10% Off Coupon"
    assert claim["reward_type"] == "coupon"
    claimed_at = dt.datetime.fromisoformat(claim["claimed_at"])
    assert dt.datetime.fromisoformat(claim["expires_at"]) == claimed_at + dt.timedelta(days=30)
    assert api.get("/participants/user_42/points").json()["balance"] == 1000
    assert api.get(f"/rewards/{reward['id']}").json()["available_codes"] == 1


def test_pattern_one_handler_maps_every_structured_error(api: Api) -> None:
    reward = api.create_reward(points_cost=500)
    api.upload(reward["id"], ["ONLY-ONE"])
    api.credit("rich", 5000)

    assert redeem_coupon(api, "poor", reward["id"], "1") == {"ok": False, "reason": "low_balance"}
    assert redeem_coupon(api, "rich", reward["id"], "2") == {
        "ok": True,
        "code": "ONLY-ONE",
        "newBalance": 4500,
    }
    assert redeem_coupon(api, "rich", reward["id"], "2") == {
        "ok": True,
        "code": "ONLY-ONE",
        "newBalance": 4500,
    }
    assert redeem_coupon(api, "rich", reward["id"], "3") == {"ok": False, "reason": "limit"}
    api.credit("rich2", 5000)
    assert redeem_coupon(api, "rich2", reward["id"], "4") == {"ok": False, "reason": "sold_out"}
