"""The storefront's one door to Coffer: every call that needs the server key.

The server key lives here and nowhere else; the browser only ever sees
participant tokens (CONTRACT §10). Claims follow the seed's Pattern 1: the
Idempotency-Key is tied to the order, so a checkout retry collapses to the
original claim and a new order gets a new code.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import httpx

API = "/api/v1/gamify"
# Coffer's stable problem codes (CONTRACT §3) -> what the shop tells the customer.
REFUSALS = {
    "insufficient_points": "Not enough points",
    "inventory_exhausted": "Sold out",
    "max_claims_exceeded": "You already have this reward",
    "reward_expired": "This reward has ended",
    "reward_inactive": "This reward is not available",
    "reward_not_found": "This reward is not available",
    "idempotency_key_reused": "This order was already used for another reward",
}


class Refused(Exception):
    """Coffer said no for a business reason; `message` is the customer-facing copy."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = message


class CofferGateway:
    """Server-key calls to one Coffer, with retries where a retry is safe."""

    def __init__(self, base_url: str, server_key: str, *, timeout_s: float = 10) -> None:
        self.http = httpx.Client(
            base_url=base_url.rstrip("/") + API,
            headers={"Authorization": f"Bearer {server_key}"},
            timeout=timeout_s,
        )

    def close(self) -> None:
        self.http.close()

    def catalog(self, participant_id: str) -> list[dict[str, Any]]:
        """Active rewards, each with `eligibility` for this participant (CONTRACT §4)."""
        query = {"participant_id": participant_id, "limit": 100}
        response = self.http.get("/rewards", params=query)
        response.raise_for_status()
        return response.json()["rewards"]

    def balance(self, participant_id: str) -> int:
        response = self.http.get(f"/participants/{_segment(participant_id)}/points")
        response.raise_for_status()
        return response.json()["balance"]

    def issue_token(self, participant_id: str, ttl_seconds: int) -> dict[str, str]:
        """A participant token the browser may use to read this participant's rewards."""
        response = self.http.post(
            f"/participants/{_segment(participant_id)}/tokens", json={"ttl_seconds": ttl_seconds}
        )
        response.raise_for_status()
        return response.json()

    def redeem(self, participant_id: str, reward_id: str, order_id: str) -> dict[str, Any]:
        """Claim `reward_id` for the order (seed Pattern 1). Returns the claim response;
        raises Refused for a business refusal. Network errors and 5xx are retried with
        the same key, so the retry can only ever replay the first claim."""
        key = f"order-{order_id}-reward-{reward_id}"
        body = {"participant_id": participant_id, "points_deduction": True}
        for attempt in range(3):
            try:
                response = self.http.post(
                    f"/rewards/{reward_id}/claim", json=body, headers={"Idempotency-Key": key}
                )
            except httpx.TransportError:
                if attempt == 2:
                    raise
            else:
                if response.status_code < 500 or attempt == 2:
                    break
            time.sleep(0.2 * 2**attempt)
        if response.status_code == 202:
            return self._settled(response.headers["Location"])
        if response.is_success:
            return response.json()
        return _refusal(response.json(), response)

    def _settled(self, location: str) -> dict[str, Any]:
        """Follow a 202 to the claim's outcome (it is decided within seconds)."""
        path = location.split(API, 1)[-1]
        for _ in range(60):
            claim = self.http.get(path).raise_for_status().json()
            if claim["status"] == "succeeded":
                return claim
            if claim["status"] == "failed":
                return _refusal(claim["error"], None)
            time.sleep(0.5)
        raise TimeoutError(f"claim at {location} still pending after 30 s")


def _refusal(problem: dict[str, Any], response: httpx.Response | None) -> Any:
    code = problem.get("code", "")
    if code in REFUSALS:
        raise Refused(code, REFUSALS[code])
    if response is not None:
        response.raise_for_status()
    raise RuntimeError(f"unexpected claim error: {code}")


def _segment(participant_id: str) -> str:
    """The id as one path segment, percent-encoded as CONTRACT §5 expects."""
    return quote(participant_id, safe="")
