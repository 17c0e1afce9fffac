"""Reading (and locking) what a batch of claims is decided against: rewards with their
inventories, and the claims each participant already holds."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from core.claims.state import InventoryState, ParticipantState, RewardState
from core.models import Claim, Inventory, Reward

_REWARD_COLUMNS = [getattr(Reward, name) for name in RewardState.__dataclass_fields__]
_INVENTORY_COLUMNS = (
    Inventory.uploaded_count,
    Inventory.allocated_count,
    Inventory.returned_count,
    Inventory.low_stock_notified,
    Inventory.exhausted_notified,
)
# Statements built once (bind parameters, expanding IN): reused objects keep their
# compiled form and cache key, a per-batch fixed cost otherwise (issue 11).
_REWARDS = (
    select(*_REWARD_COLUMNS, *_INVENTORY_COLUMNS)
    .join(Inventory, Inventory.reward_id == Reward.id)
    .where(Reward.id.in_(bindparam("reward_ids", expanding=True)))
    .order_by(Reward.id)
)
_REWARDS_LOCKED = _REWARDS.with_for_update(of=Inventory)
_HOLDINGS = (
    select(Claim.participant_id, Claim.reward_id, func.count())
    .where(
        Claim.participant_id.in_(bindparam("participant_pks", expanding=True)),
        Claim.reward_id.in_(bindparam("reward_ids", expanding=True)),
        Claim.status == "succeeded",
    )
    .group_by(Claim.participant_id, Claim.reward_id)
)


def rewards_with_inventory(
    session: Session, reward_ids: set[str], *, lock: bool
) -> tuple[dict[str, RewardState], dict[str, InventoryState]]:
    """The rewards and their inventory counters; with `lock`, the inventory rows are locked
    in reward id order (the lock order every writer of them follows)."""
    query = _REWARDS_LOCKED if lock else _REWARDS
    rewards, inventories = {}, {}
    width = len(_REWARD_COLUMNS)
    for row in session.connection().execute(query, {"reward_ids": sorted(reward_ids)}):
        reward = RewardState(*row[:width])
        rewards[reward.id] = reward
        inventories[reward.id] = InventoryState(reward.id, *row[width:])
    return rewards, inventories


def holdings(
    session: Session, participants: Iterable[ParticipantState], reward_ids: Iterable[str]
) -> dict[tuple[int, str], int]:
    """(participant row id, reward id) -> claims held: succeeded and not reversed (§6)."""
    pks = [p.pk for p in participants]
    rows = session.connection().execute(
        _HOLDINGS, {"participant_pks": pks, "reward_ids": list(reward_ids)}
    )
    return {(pk, reward_id): count for pk, reward_id, count in rows if pk is not None}
