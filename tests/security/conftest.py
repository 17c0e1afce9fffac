"""A tenant that owns one object of every kind an id names, and an intruder tenant.

Built once per module through the API (the delivery through core: it needs a
fact relayed to the endpoint), on the session database of tests/conftest.py.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from core.models import WebhookDelivery
from core.runtime import Runtime
from tests.support.receiver import new_delivery
from tests.support.tenants import TestTenant, make_tenant

G = "/api/v1/gamify"
PUBLIC_URL = "https://93.184.215.14/hooks"  # a global address: registration resolves, never calls


@dataclass
class World:
    """The owner's objects, keyed by the path parameter that names them."""

    owner: TestTenant
    intruder: TestTenant
    ids: dict[str, str]

    def snapshot(self, app: Flask) -> dict[str, Any]:
        """Everything the owner can read about its objects, to compare before and after."""
        client, auth = app.test_client(), self.owner.auth("live", "admin")
        reads = {
            "reward": f"/rewards/{self.ids['reward_id']}",
            "claim": f"/claims/{self.ids['claim_id']}",
            "points": f"/participants/{self.ids['participant_id']}/points",
            "claimed": f"/participants/{self.ids['participant_id']}/rewards",
            "endpoint": f"/webhook-endpoints/{self.ids['endpoint_id']}",
            "deliveries": f"/webhook-endpoints/{self.ids['endpoint_id']}/deliveries",
            "campaign": f"/campaigns/{self.ids['campaign_id']}",
            "rewards": "/rewards?limit=200",
            "endpoints": "/webhook-endpoints",
            "campaigns": "/campaigns",
        }
        found = {}
        for name, path in reads.items():
            response = client.get(G + path, headers=auth)
            assert response.status_code == 200, (name, response.get_data(as_text=True))
            found[name] = response.get_json()
        return found


def _ok(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()  # type: ignore[no-any-return]


def build_world(app: Flask, runtime: Runtime) -> World:
    owner, intruder = make_tenant(runtime.db), make_tenant(runtime.db)
    client, auth = app.test_client(), owner.auth("live", "admin")

    def post(path: str, body: Any, status: int, key: bool = False) -> dict[str, Any]:
        headers = {**auth, "Idempotency-Key": uuid.uuid4().hex} if key else auth
        if path.endswith("/claim"):
            headers["Prefer"] = "respond-async"
        return _ok(client.post(G + path, json=body, headers=headers), status)

    reward = post("/rewards", {"name": "Owner's coupon", "type": "coupon"}, 201)["id"]
    post(f"/rewards/{reward}/codes", {"codes": ["OWNER-1", "OWNER-2", "OWNER-3"]}, 200)
    participant = f"owner-{uuid.uuid4().hex[:8]}"
    post(f"/participants/{participant}/points", {"amount": 50}, 201, key=True)
    claim = post(f"/rewards/{reward}/claim", {"participant_id": participant}, 202, key=True)
    endpoint = post("/webhook-endpoints", {"url": PUBLIC_URL, "event_types": ["*"]}, 201)["id"]
    campaign = post("/campaigns", {"reward_id": reward, "participant_ids": ["c1"]}, 202, key=True)
    delivery_pk = new_delivery(runtime.db, owner)
    with runtime.db.transaction() as session:
        delivery = session.scalars(
            select(WebhookDelivery.delivery_id).where(WebhookDelivery.id == delivery_pk)
        ).one()
    ids = {
        "reward_id": reward,
        "claim_id": claim["claim_id"],
        "participant_id": participant,
        "endpoint_id": endpoint,
        "delivery_id": delivery,
        "campaign_id": campaign["campaign_id"],
    }
    return World(owner, intruder, ids)


@pytest.fixture(scope="module")
def world(app: Flask, runtime: Runtime) -> World:
    return build_world(app, runtime)
