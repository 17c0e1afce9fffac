"""The storefront's one door to Coffer: every call that needs the server key, through
coffer-client (clients/python).

The server key lives here and nowhere else; the browser only ever sees
participant tokens (CONTRACT §10). Claims follow the seed's Pattern 1: the
Idempotency-Key is tied to the order, so a checkout retry collapses to the
original claim and a new order gets a new code. coffer-client retries network
errors and 5xx under that same key and follows a 202 to the outcome.
"""

from __future__ import annotations

from typing import Any

from coffer_client import (
    ClaimRejected,
    ClaimSucceeded,
    ClaimView,
    Coffer,
    IdempotencyKeyReused,
    RewardNotFound,
)

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
    """Server-key calls to one Coffer."""

    def __init__(self, base_url: str, server_key: str) -> None:
        self.coffer = Coffer(base_url, server_key)

    def close(self) -> None:
        self.coffer.close()

    def catalog(self, participant_id: str) -> list[dict[str, Any]]:
        """Active rewards, each with `eligibility` for this participant (CONTRACT §4)."""
        entries = self.coffer.iter_rewards(participant_id=participant_id)
        return [entry.model_dump(mode="json") for entry in entries]

    def balance(self, participant_id: str) -> int:
        return self.coffer.points(participant_id).balance

    def issue_token(self, participant_id: str, ttl_seconds: int) -> dict[str, Any]:
        """A participant token the browser may use to read this participant's rewards."""
        token = self.coffer.create_participant_token(participant_id, ttl_seconds=ttl_seconds)
        return token.model_dump(mode="json")

    def redeem(
        self, participant_id: str, reward_id: str, order_id: str
    ) -> ClaimSucceeded | ClaimView:
        """Claim `reward_id` for the order (seed Pattern 1); raises Refused for a business
        refusal. A repeat of the same order replays the first claim."""
        try:
            return self.coffer.claim(
                reward_id,
                participant_id,
                points_deduction=True,
                idempotency_key=f"order-{order_id}-reward-{reward_id}",
            )
        except (ClaimRejected, RewardNotFound, IdempotencyKeyReused) as refused:
            raise Refused(refused.code, REFUSALS.get(refused.code, "Not available")) from refused
