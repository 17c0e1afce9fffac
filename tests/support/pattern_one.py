"""The seed's Pattern 1 storefront handler (`redeemCoupon`), transcribed line for line."""

from __future__ import annotations

from typing import Any

from tests.support.client import Api


def redeem_coupon(api: Api, participant_id: str, reward_id: str, order_id: str) -> dict[str, Any]:
    res = api.claim(
        reward_id, participant_id, key=f"order-{order_id}-reward-{reward_id}", points_deduction=True
    )
    if not res.ok:
        error = res.json()
        # Map structured errors to user-visible messages
        if error["type"] == "insufficient_points":
            return {"ok": False, "reason": "low_balance"}
        if error["type"] == "inventory_exhausted":
            return {"ok": False, "reason": "sold_out"}
        if error["type"] == "max_claims_exceeded":
            return {"ok": False, "reason": "limit"}
        raise AssertionError(f"unexpected reward error: {error['code']}")
    claim = res.json()
    return {"ok": True, "code": claim["code_value"], "newBalance": claim["new_balance"]}
