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
from typing import Literal

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
from core.lifecycle import status_of

CodeSource = Literal["returned", "pool", "generated", "reference"]


@dataclass(frozen=True)
class Grant:
    """A claim that succeeds: where its code comes from, and the debit.

    `source` is `returned` (the `position`-th oldest code a reversal gave back,
    counted from 0 within this batch), `pool` (the uploaded code with seq
    `position`), `generated` (made at write time) or `reference` (a points
    multiplier's `MULT-` activation reference: no code, no inventory).
    `available_after` is the reward's stock right after this grant, for the
    inventory alerts.
    """

    claim: PendingClaim
    reward: RewardState
    participant: ParticipantState
    source: CodeSource
    position: int
    available_after: int
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
        """Grant or refuse one claim, moving the in-memory state as a grant would."""
        refusal = self.refusal(claim)
        if refusal is not None:
            return refusal
        reward = self.rewards[claim.reward_id]
        participant = self.participants[claim.participant_key]
        return self._grant(claim, reward, participant, self.inventories[reward.id])

    def refusal(self, claim: PendingClaim) -> Refusal | None:
        """The refusal this claim would get now, or None: the checks without the grant
        (also what `GET /rewards?participant_id=` reports as eligibility)."""
        reward = self.rewards.get(claim.reward_id)
        if reward is None or (reward.tenant_id, reward.mode) != (claim.tenant_id, claim.mode):
            return Refusal(claim, RewardNotFound(f"No reward {claim.reward_id}"))
        participant = self.participants[claim.participant_key]
        inventory = self.inventories[reward.id]
        error = self._first_failed_check(claim, reward, participant, inventory)
        return None if error is None else Refusal(claim, error)

    def held(self, participant: ParticipantState, reward_id: str) -> int:
        """Claims of the reward the participant holds (succeeded, not reversed)."""
        return self.holdings[(participant.pk, reward_id)]

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
        if inventory.available <= 0 and reward.code_length is None and not reward.is_multiplier:
            return InventoryExhausted()
        return None

    def _reward_unavailable(self, reward: RewardState) -> ClaimRejected | None:
        status = status_of(reward, self.now)
        if status == "inactive":
            return RewardInactive("The reward has been deactivated")
        if status == "expired":
            return RewardExpired()
        if status == "scheduled":
            return RewardInactive("The reward has not started yet")
        return None

    def _grant(
        self,
        claim: PendingClaim,
        reward: RewardState,
        participant: ParticipantState,
        inventory: InventoryState,
    ) -> Grant:
        source: CodeSource = "reference"  # a multiplier's MULT- reference: no inventory
        position = 0
        if not reward.is_multiplier:
            source, position = self._take_code(inventory)
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
            source=source,
            position=position,
            available_after=inventory.available,
            points_deducted=cost,
            new_balance=participant.balance,
            claimed_at=self.now,
            expires_at=expires,
        )

    @staticmethod
    def _take_code(inventory: InventoryState) -> tuple[CodeSource, int]:
        """Returned codes first (they were handed out before), then uploads in order,
        then a generated code."""
        if inventory.returned_count > 0:
            inventory.returned_count -= 1
            inventory.returned_taken += 1
            return "returned", inventory.returned_taken - 1
        if inventory.uploaded_count > inventory.allocated_count:
            inventory.allocated_count += 1
            return "pool", inventory.allocated_count
        return "generated", 0

    @staticmethod
    def _cost(claim: PendingClaim, reward: RewardState) -> int:
        return (reward.points_cost or 0) if claim.points_deduction else 0
