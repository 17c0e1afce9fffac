"""A small HTTP client for the API, speaking as one tenant's key."""

from __future__ import annotations

import uuid
from typing import Any

import requests

GAMIFY = "/api/v1/gamify"


class Api:
    def __init__(self, base_url: str, key: str, tenant_id: str | None = None) -> None:
        self.base_url = base_url
        self.tenant_id = tenant_id
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def url(self, path: str) -> str:
        return f"{self.base_url}{GAMIFY}{path}"

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.url(path), timeout=30, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return self.session.post(self.url(path), json=body, timeout=30, **kwargs)

    def create_reward(self, **fields: Any) -> dict[str, Any]:
        body = {"name": "10% Off Coupon", "type": "coupon", **fields}
        response = self.post("/rewards", body)
        assert response.status_code == 201, response.text
        return response.json()

    def upload(self, reward_id: str, codes: list[str]) -> dict[str, Any]:
        response = self.post(f"/rewards/{reward_id}/codes", {"codes": codes})
        assert response.status_code == 200, response.text
        return response.json()

    def credit(self, participant: str, amount: int) -> dict[str, Any]:
        response = self.post(
            f"/participants/{participant}/points",
            {"amount": amount, "reason": "test credit"},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert response.status_code == 201, response.text
        return response.json()

    def claim(
        self,
        reward_id: str,
        participant: str,
        *,
        key: str | None = None,
        points_deduction: bool = False,
        prefer: str | None = None,
    ) -> requests.Response:
        headers = {"Idempotency-Key": key or uuid.uuid4().hex}
        if prefer:
            headers["Prefer"] = prefer
        body = {"participant_id": participant, "points_deduction": points_deduction}
        return self.post(f"/rewards/{reward_id}/claim", body, headers=headers)
