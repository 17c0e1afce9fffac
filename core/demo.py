"""`coffer demo`: a demo tenant with a small catalog, codes and points."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from core.catalog import create_reward
from core.idempotency import fingerprint
from core.inputs import CodeUpload, PointsCredit, RewardDefinition
from core.inventory import upload_codes
from core.points import credit_points
from core.tenants import Principal, create_tenant

_CATALOG: list[dict[str, Any]] = [
    {
        "definition": {"name": "10% Off Coupon", "type": "coupon", "points_cost": 500,
                       "description": "10% discount on next purchase", "code_expiry_days": 30,
                       "low_stock_threshold": 10},
        "codes": [f"SAVE10-{n:06d}" for n in range(1, 51)],
    },
    {
        "definition": {"name": "Free Shipping", "type": "voucher", "points_cost": None,
                       "description": "Free shipping on one order", "code_expiry_days": 14,
                       "code_generation": {"prefix": "SHIP-", "length": 8}},
        "codes": [],
    },
    {
        "definition": {"name": "Canvas Tote Bag", "type": "physical", "points_cost": 1500,
                       "description": "Ships within 5 days", "max_claims_per_user": 2},
        "codes": [f"TOTE-ORDER-{n:04d}" for n in range(1, 21)],
    },
]  # fmt: skip
DEMO_PARTICIPANT = "user_42"


def seed_demo(session: Session) -> dict[str, Any]:
    """Create the demo tenant; returns its keys and the catalog's reward ids."""
    tenant, keys = create_tenant(session, name="Coffer Demo Store")
    admin = Principal(key_id="demo", tenant_id=tenant.id, mode="live", scope="admin")
    reward_ids = []
    for item in _CATALOG:
        entry = create_reward(
            session, principal=admin, definition=RewardDefinition.model_validate(item["definition"])
        )
        if item["codes"]:
            upload = CodeUpload(codes=item["codes"])
            upload_codes(session, principal=admin, reward_id=entry.id, upload=upload)
        reward_ids.append(entry.id)
    credit = PointsCredit(amount=1500, reason="demo welcome bonus")
    path = f"/api/v1/gamify/participants/{DEMO_PARTICIPANT}/points"
    credit_points(
        session, principal=admin, external_id=DEMO_PARTICIPANT, credit=credit,
        key="demo-welcome", print_=fingerprint("POST", path, credit.model_dump()),
    )  # fmt: skip
    return {"tenant_id": tenant.id, "keys": keys, "reward_ids": reward_ids}
