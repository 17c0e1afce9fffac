"""Deciding a batch of claims, one after another, against locked in-memory state.

The batch's rows (inventories, participants) are locked before the planner
runs, so deciding claims in request order here gives exactly the outcomes that
running them one at a time would, while the writes go out as a few statements.
Checks run in the contract's order; the first failing one wins.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.claims.state import InventoryState, ParticipantState, PendingClaim, RewardState
from core.errors import (
    ClaimRejected,
    InsufficientPoints,
    InventoryExhausted,
    MaxClaimsExceeded,
    RewardExpired,
    RewardInactive,
    RewardNotFound,
)


@dataclass(frozen=True)
class Grant:
    """A claim that succeeds: which pool position (or a generated code) and the debit."""

    claim: PendingClaim
    reward: RewardState
    participant: ParticipantState
    seq: int | None  # None: a generated code
    points_deducted: int
    new_balance: int
    claimed_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True)
class Refusal:
    claim: PendingClaim
    error: ClaimRejected | RewardNotFound


Decision = Grant | Refusal


class ClaimPlanner:
    def __init__(
        self,
        *,
        rewards: dict[str, RewardState],
        inventories: dict[str, InventoryState],
        participants: dict[tuple[str, str, str], ParticipantState],
        holdings: dict[tuple[int, str], int],
        now: datetime,
    ) -> None:
        self.rewards = rewards
        self.inventories = inventories
        self.participants = participants
        self.holdings: defaultdict[tuple[int, str], int] = defaultdict(int, holdings)
        self.now = now

    def decide(self, claim: PendingClaim) -> Decision:
        reward = self.rewards.get(claim.reward_id)
        if reward is None or (reward.tenant_id, reward.mode) != (claim.tenant_id, claim.mode):
            return Refusal(claim, RewardNotFound(f"No reward {claim.reward_id}"))
        participant = self.participants[claim.participant_key]
        inventory = self.inventories[reward.id]
        error = self._first_failed_check(claim, reward, participant, inventory)
        if error is not None:
            return Refusal(claim, error)
        return self._grant(claim, reward, participant, inventory)

    def _first_failed_check(
        self,
        claim: PendingClaim,
        reward: RewardState,
        participant: ParticipantState,
        inventory: InventoryState,
    ) -> ClaimRejected | None:
        unavailable = self._reward_unavailable(reward)
        if unavailable is not None:
            return unavailable
        if self.holdings[(participant.pk, reward.id)] >= reward.max_claims_per_user:
            limit = reward.max_claims_per_user
            return MaxClaimsExceeded(f"The participant already holds {limit} claim(s) of it")
        cost = self._cost(claim, reward)
        if participant.balance < cost:
            return InsufficientPoints(
                f"The reward costs {cost} points; the balance is {participant.balance}"
            )
        if inventory.available <= 0 and reward.code_length is None:
            return InventoryExhausted()
        return None

    def _reward_unavailable(self, reward: RewardState) -> ClaimRejected | None:
        if reward.deactivated_at is not None:
            return RewardInactive("The reward has been deactivated")
        if reward.starts_at is not None and self.now < reward.starts_at:
            return RewardInactive("The reward has not started yet")
        if reward.expires_at is not None and self.now >= reward.expires_at:
            return RewardExpired()
        return None

    def _grant(
        self,
        claim: PendingClaim,
        reward: RewardState,
        participant: ParticipantState,
        inventory: InventoryState,
    ) -> Grant:
        seq = None
        if inventory.available > 0:  # pre-loaded codes first, generated ones after
            inventory.allocated_count += 1
            seq = inventory.allocated_count
        cost = self._cost(claim, reward)
        participant.balance -= cost
        self.holdings[(participant.pk, reward.id)] += 1
        expires = None
        if reward.code_expiry_days is not None:
            expires = self.now + timedelta(days=reward.code_expiry_days)
        return Grant(
            claim=claim,
            reward=reward,
            participant=participant,
            seq=seq,
            points_deducted=cost,
            new_balance=participant.balance,
            claimed_at=self.now,
            expires_at=expires,
        )

    @staticmethod
    def _cost(claim: PendingClaim, reward: RewardState) -> int:
        return (reward.points_cost or 0) if claim.points_deduction else 0
